"""Verify an ISCC PLUS sustainability declaration (template v4.0) against the chain, independently of the node.

    coc-audit declaration FILE --rpc URL --registry ADDR [--from-block N] [--json]

The auditor replays the ledger from JSON-RPC alone (as for every audit), rebuilds the declaration of the
delivery the file names (``delivery.transfer_id``) from the replayed events with its own code (nothing here
comes from the node), and compares every field of the file with it: each difference is reported with the field,
the value the chain gives (expected) and the value in the file (found). Only the ``document`` section (when and
by whom the file was generated) is not a fact of the chain and is not compared.

The rules are the node's (node_api/iscc/declarations.py, mapping in node_api/iscc/template.py), implemented
separately: a delivery carries a claim when it is an accepted transfer of a mass-balance batch with declared
certified quantity (the credits applied) or of a batch of a physical method (its certified share).

Exit status: 0 when the file matches the chain, 1 on any mismatch (or no declaration for that delivery), 2 on
usage or connection errors.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any

from .audit import AuditError, discover, replay
from .model import ENTRIES, REASONS
from .replay import Replay
from .rpc import Rpc, RpcError

MASS_BALANCE, CONTROLLED_BLENDING = 1, 2
ORIGIN_KIND = 0
ACCEPTED = 2
PPM = 1_000_000
METHODS = {1: ("Mass balance", "mass balance"), 2: ("Controlled blending", "controlled blending"),
           3: ("Physical segregation", "segregated"), 4: ("Identity preservation", "identity preserved")}
NOT_COMPARED = ("document",)


class NoDeclaration(Exception):
    pass


def _ev(ref: dict[str, Any] | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"event": ref["event"], "tx_hash": ref["tx"], "block_number": ref["block"], "log_index": ref["logIndex"]}


def _pos(ref: dict[str, Any]) -> tuple[int, int]:
    return ref["block"], ref["logIndex"]


def _binding(r: Replay, wallet: str, block: int) -> tuple[int | None, int | None]:
    """(participant, site) a wallet was bound to at ``block`` (the last binding added at or before it)."""
    pid = site = None
    for h in r.wallet_history:
        if h["wallet"] == wallet.lower() and "added" in h and h["added"]["block"] <= block:
            pid, site = h["participant"], h["site"]
    return pid, site or None


def _certification(r: Replay, pid: int, material: int, ch: int, model: int, when: int,
                   at: tuple[int, int]) -> dict[str, Any] | None:
    best = None
    for cid, c in sorted(r.certifications.items()):
        if c["holder"] != pid or material not in c["materials"] or ch not in c["characteristics"]:
            continue
        if not (c["validFrom"] <= when <= c["validTo"] and (c["models"] >> model) & 1):
            continue
        status = 1
        for s in c.get("changes", []):
            if _pos(s["ref"]) < at:
                status = s["status"]
        if status == 1:
            best = (cid, c)
    if best is None:
        return None
    cid, c = best
    return {"certification_id": cid, "certificate_number": c["number"], "scheme": c["scheme"],
            "valid_from": c["validFrom"], "valid_to": c["validTo"], "evidence": _ev(c["ref"])}


def _party(r: Replay, wallet: str, block: int, material: int, ch: int, model: int, when: int, at: tuple[int, int]):
    pid, sid = _binding(r, wallet, block)
    p = r.participants.get(pid) if pid else None
    party = {"participant_id": pid, "name": p["name"] if p else None, "wallet": wallet.lower(),
             "certificate": _certification(r, pid, material, ch, model, when, at) if pid else None,
             "evidence": _ev(p["ref"]) if p else None}
    s = r.sites.get(sid) if sid else None
    site = None if s is None else {"site_id": sid, "name": s["name"], "location_ref": s["locationRef"],
                                   "evidence": _ev(s["ref"])}
    return party, site


def _debit(r: Replay, tid: str) -> dict[str, Any] | None:
    """The supplier's booking of the delivery: entry Out, reason Delivery, ref = the transfer id."""
    found = [(bk, key) for key, acct in r.accounts.items() for bk in acct.bookings
             if bk["ref"] == tid and bk["entry"] == ENTRIES[1] and bk["reason"] == REASONS[1]]
    if not found:
        return None
    bk, key = min(found, key=lambda x: (x[0]["block"], x[0]["logIndex"]))
    return {"account": key, "period": bk["period"],
            "evidence": {"event": "CreditsBooked", "tx_hash": bk["tx"], "block_number": bk["block"],
                         "log_index": bk["logIndex"]}}


def _site_transfers(r: Replay, pid: int | None, site: int | None, material: int, ch: int,
                    before: tuple[int, int]) -> list[dict[str, Any]]:
    out = []
    if not site:
        return out
    rows = [t for t in r.transfers.values() if t["status"] == ACCEPTED and t["certifiedQuantity"] > 0]
    for t in sorted(rows, key=lambda t: _pos(t["settled"])):
        b = r.batches[t["batchId"]]
        if _pos(t["settled"]) >= before or b["material"] != material or b["characteristic"] != ch \
                or b["model"] != MASS_BALANCE:
            continue
        fp, fs = _binding(r, t["from"], t["proposed"]["block"])
        tp, ts = _binding(r, t["to"], t["settled"]["block"])
        if fp == pid == tp and ts == site and fs != site:
            out.append({"transfer_id": t["id"], "from_site_id": fs, "to_site_id": ts, "credits": t["certifiedQuantity"],
                        "evidence": _ev(t["settled"])})
    return out


def expected_declaration(r: Replay, chain_id: int, ledger: str, transfer_id: str) -> dict[str, Any] | None:
    """The declaration the chain gives for ``transfer_id`` (None: no such transfer; NoDeclaration: no claim)."""
    tid = transfer_id.lower()
    t = r.transfers.get(tid)
    if t is None:
        return None
    if t["status"] != ACCEPTED:
        raise NoDeclaration(f"transfer {tid} was not accepted: it is no delivery")
    b = r.batches[t["batchId"]]
    model, material, ch = b["model"], b["material"], b["characteristic"]
    if model == 0 or (model == MASS_BALANCE and t["certifiedQuantity"] == 0):
        raise NoDeclaration(f"delivery {tid} carries no claim (uncertified, or mass balance without credits)")
    at, when = _pos(t["settled"]), t["settledAt"]
    supplier, dispatch = _party(r, t["from"], t["proposed"]["block"], material, ch, model, when, at)
    recipient, receipt = _party(r, t["to"], t["settled"]["block"], material, ch, model, when, at)
    m = r.materials[material]
    c = r.characteristics[ch]
    scheme = r.schemes.get(c["scheme"], {}).get("name")
    created, proposed, accepted = _ev(b["ref"]), _ev(t["proposed"]), _ev(t["settled"])
    qty, unit = t["quantity"], m["unit"]
    mb = model == MASS_BALANCE
    credits = share = this_site = None
    upstream: list[dict[str, Any]] = []
    if mb:
        debit = _debit(r, tid) or {"account": None, "period": None, "evidence": None}
        credits = {"value": t["certifiedQuantity"], "unit": unit, **debit}
        certified = t["certifiedQuantity"]
        if supplier["participant_id"] == recipient["participant_id"] and dispatch and receipt \
                and dispatch["site_id"] != receipt["site_id"]:
            this_site = {"transfer_id": tid, "from_site_id": dispatch["site_id"], "to_site_id": receipt["site_id"],
                         "credits": certified, "evidence": accepted}
        upstream = _site_transfers(r, supplier["participant_id"], dispatch["site_id"] if dispatch else None,
                                   material, ch, _pos(t["proposed"]))
    else:
        share = {"ppm": b["share"], "evidence": created}
        certified = qty * b["share"] // PPM
    origins = [] if mb else sorted(x for x in [*r.ancestors(b["id"]), b["id"]]
                                   if r.batches[x]["kind"] == ORIGIN_KIND and r.batches[x]["characteristic"] == ch
                                   and r.batches[x]["model"] >= CONTROLLED_BLENDING)
    return {
        "type": "IsccPlusSustainabilityDeclaration",
        "template": {"name": "ISCC PLUS Sustainability Declaration", "version": "4.0"},
        "id": f"urn:coc:{chain_id}:{ledger.lower()}:iscc-plus-sd:{tid}",
        "chain_id": chain_id, "ledger": ledger.lower(),
        "delivery": {"transfer_id": tid, "batch_id": b["id"],
                     "date": _dt.datetime.fromtimestamp(when, _dt.timezone.utc).date().isoformat(), "time": when,
                     "proposed": proposed, "accepted": accepted},
        "supplier": supplier, "recipient": recipient, "dispatch_address": dispatch, "receipt_address": receipt,
        "material": {"material_id": material, "name": m["name"], "unit": unit, "waste_or_residue": bool(m["waste"]),
                     "evidence": created},
        "quantity": {"value": qty, "unit": unit, "evidence": proposed},
        "chain_of_custody_method": {"method": METHODS[model][0], "model": METHODS[model][1], "evidence": created},
        "sustainability_characteristic": {"characteristic_id": ch, "name": c["name"], "scheme": scheme,
                                          "evidence": created},
        "certified_share": share,
        "credits_applied": credits,
        "certified_quantity": {"value": certified, "unit": unit, "evidence": proposed},
        "input_characteristics": [{"characteristic_id": ch, "name": c["name"], "scheme": scheme,
                                   "waste_or_residue": bool(m["waste"]),
                                   "basis": "mass-balance credits" if mb else "physical share", "origins": origins,
                                   "evidence": credits["evidence"] if mb and credits["evidence"] else created}],
        "extent_of_input_compensation": {"ppm": certified * PPM // qty, "full": certified == qty, "evidence": proposed},
        "multi_site_credit_transfer": {"applies": bool(this_site or upstream), "this_delivery": this_site,
                                       "upstream": upstream},
    }


def _flatten(v: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(v, dict) and v:
        for k, x in v.items():
            _flatten(x, f"{path}.{k}" if path else str(k), out)
    elif isinstance(v, list) and v:
        for i, x in enumerate(v):
            _flatten(x, f"{path}[{i}]", out)
    else:
        out[path] = v


_ABSENT = "<absent>"


def compare(found: Any, expected: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field where the file differs from the chain: {field, expected, found}, in the chain's field order."""
    exp: dict[str, Any] = {}
    got: dict[str, Any] = {}
    _flatten(expected, "", exp)
    _flatten(found if isinstance(found, dict) else {"(document)": found}, "", got)
    skip = lambda p: p.split(".")[0].split("[")[0] in NOT_COMPARED  # noqa: E731
    out = []
    for p in [*exp, *(p for p in got if p not in exp)]:
        if skip(p):
            continue
        e, f = exp.get(p, _ABSENT), got.get(p, _ABSENT)
        if type(e) is not type(f) or e != f:
            out.append({"field": p, "expected": e, "found": f})
    return out


def verify(r: Replay, chain_id: int, ledger: str, doc: Any) -> dict[str, Any]:
    """The verdict on ``doc`` against the replayed chain ``r``."""
    tid = doc.get("delivery", {}).get("transfer_id") if isinstance(doc, dict) else None
    if not isinstance(tid, str):
        return {"ok": False, "transferId": None, "mismatches": [
            {"field": "delivery.transfer_id", "expected": "the transfer id of a delivery", "found": tid}]}
    try:
        exp = expected_declaration(r, chain_id, ledger, tid)
    except NoDeclaration as exc:
        return {"ok": False, "transferId": tid, "mismatches": [
            {"field": "delivery.transfer_id", "expected": str(exc), "found": tid}]}
    if exp is None:
        return {"ok": False, "transferId": tid, "mismatches": [
            {"field": "delivery.transfer_id", "expected": "a custody transfer recorded on chain", "found": tid}]}
    mism = compare(doc, exp)
    return {"ok": not mism, "transferId": tid, "mismatches": mism, "expected": exp}


def verify_file(rpc_url: str, registry: str, path: str, from_block: int | None = None) -> dict[str, Any]:
    with open(path) as fh:
        doc = json.load(fh)
    rpc = Rpc(rpc_url)
    d = discover(rpc, registry, from_block)
    r = replay(rpc, d)
    res = verify(r, d.chain_id, d.ledger, doc)
    res.update(file=path, chainId=d.chain_id, ledger=d.ledger, toBlock=d.head,
               ledgerRuleFailures=len(r.f.failures))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="coc-audit declaration",
                                 description="verify an ISCC PLUS sustainability declaration file against the chain")
    ap.add_argument("file", help="the declaration (JSON, as GET /iscc/declarations/{transfer_id} gives it)")
    ap.add_argument("--rpc", required=True, help="JSON-RPC URL of any node of the chain")
    ap.add_argument("--registry", required=True, help="ParticipantRegistry address (everything else is discovered)")
    ap.add_argument("--from-block", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args = ap.parse_args(argv)
    try:
        res = verify_file(args.rpc, args.registry, args.file, args.from_block)
    except (AuditError, RpcError, OSError, ValueError) as exc:
        print(f"coc-audit declaration: {exc}", file=sys.stderr)
        return 2
    res.pop("expected", None)
    if args.json:
        json.dump(res, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(f"coc-audit declaration {args.file}: delivery {res['transferId']} on chain {res['chainId']} "
              f"(ledger {res['ledger']}, block {res['toBlock']})")
        for m in res["mismatches"]:
            print(f"  MISMATCH {m['field']}: expected {m['expected']!r}, found {m['found']!r}")
        print("RESULT: " + ("the declaration matches the chain" if res["ok"]
                            else f"{len(res['mismatches'])} mismatch(es)"))
    return 0 if res["ok"] else 1
