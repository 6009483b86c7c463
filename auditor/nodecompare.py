"""Compare a node's provenance answers with the replay (rule ``node.match``).

For every batch, certificate issuance and participant on chain the comparator asks the node the
question a brand or an auditor would ask, and checks every fact of the answer that the replay can
vouch for, each leaf separately (a node may answer more: the claim's wording, block times, EPCIS and
the ``facts`` digest are not compared; names are, as the registry's events gave them).
The endpoints and the parts of their answers compared (the node's own JSON shape, snake_case):

GET {node}/provenance/status
    ``chain_id`` (a node following another chain fails); ``last_indexed_block`` against the audited
    head (a node behind or ahead is a warning: its answers may then differ by that lag).
GET {node}/provenance/batches/{id}
    ``batch``: kind, material, characteristic, model (ids and names), share_ppm, origin_batch_id,
      creator, created_by, quantity, tx_hash, block_number; an origin's site, certification_id,
      geolocation_hash, dds_reference, evidence_hash, production_date; ``parents`` (in order),
      ``children``, ``transform`` (process, factor, input, output, loss, credits converted/produced),
      current ``holders`` (address, participant, quantity; the ledger's escrow excluded),
      ``in_transit``, ``consumed``;
    ``lineage``: every ancestor (core fields), every edge, ``ancestor_count``, every ``origin`` of the
      ancestry with the quantity of it taken into this batch and the part of this batch it accounts
      for (exact proportional attribution through every split, merge and transform), the weakest model
      on its paths, a path that really leads from it to this batch, the producer's certification as it
      stood at creation; the certifications' details and status changes;
    ``descendants``: every descendant and edge;
    ``custody``: every transfer of the batch and of its ancestors: parties (address and participant at
      the proposal), quantity, declared certified quantity, nonce, deadline, signatures, status,
      proposal and settlement transactions;
    ``book_and_claim``: the pledges of this batch (or released into its ancestry), their issuances,
      retirements and revocation;
    ``claim``: kind, percent, the certified origins with their contribution, the mass-balance certified
      quantity with its declarations, the book & claim units, and the evidence transactions.
GET {node}/provenance/certificates/{id}
    issuer, producer, recipient, amount, unit size and label, material, characteristic, period,
    evidence hash, pledge (source, quantity, batches), the holders over time and now, every
    retirement (holder, retiredBy, amount, beneficiary, period, purpose), units retired, revocation.
GET {node}/provenance/participants/{id}
    name, roles, status, sites, wallets, batches held, transfers in transit, certificates held,
    retirements, certifications (validity period, models, status now and every change; not the
    ``status_at_time``/``valid_at_time`` of that answer, which the node computes at no meaningful time)
    and every mass-balance credit account: parameters, balance, every booking, the period statements
    and the closed periods.

Every difference is a failing ``node.match`` finding naming the endpoint, the field (a path such as
``custody[transfer_id=0x..].status``), what the node says and what the chain says, with the events
that prove the chain's value as evidence. Pluggable: a :class:`Probe` names an endpoint, the ids to
ask about and the expected answer (see :func:`node_document` for the answer an honest node gives,
as far as the replay can tell).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Callable, Iterable

from .model import (
    CERT_STATUS,
    CONSUME_REASONS,
    CONTROLLED_BLENDING,
    KINDS,
    MASS_BALANCE,
    MODELS,
    PARTICIPANT_STATUS,
    PPM,
    ROLE_NAMES,
    SEGREGATED,
    SOURCES,
    TRANSFER_STATUS,
    WARN,
    ZERO,
    Findings,
)
from .replay import Replay

ACCEPTED, PENDING = 2, 1


# ---------------------------------------------------------------------------------------------- expectations
class Approx(float):
    """A number the node computes in floating point (rounded to 6 decimals): equal within rounding."""

    def __new__(cls, exact: Fraction) -> "Approx":
        obj = super().__new__(cls, round(float(exact), 6))
        obj.exact = exact
        return obj

    def matches(self, got: Any) -> bool:
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return False
        return abs(Fraction(got) - self.exact) <= Fraction(1, 10**6) + abs(self.exact) / 10**9


class Percent(str):
    """A percentage the node words as text: exact ("25", "33.5") or rounded to 2 places ("~33.33")."""

    def __new__(cls, exact: Fraction) -> "Percent":
        obj = super().__new__(cls, _percent_text(exact))
        obj.exact = exact
        return obj

    def matches(self, got: Any) -> bool:
        if not isinstance(got, str):
            return False
        text = got.strip()
        approx = text.startswith("~")
        try:
            value = Fraction(Decimal(text.lstrip("~")))
        except (InvalidOperation, ValueError):
            return False
        return abs(value - self.exact) <= (Fraction(1, 200) if approx else Fraction(1, 10**6)) + Fraction(1, 10**9)


def _percent_text(exact: Fraction) -> str:
    p = exact
    for places in range(0, 3):
        if (p * 10**places).denominator == 1:
            return f"{float(p):.{places}f}" if places else str(p.numerator)
    return f"~{float(p):.2f}"


class Valid:
    """A field whose value the node may choose among several correct ones (e.g. one path of many):
    ``check(got, sibling_answer)`` says whether it is one of them; ``example`` is one."""

    def __init__(self, example: Any, check: Callable[[Any, dict], bool], describe: str):
        self.example, self.check, self.describe = example, check, describe


class Keyed(list):
    """A list whose items are matched by identity fields, not position (``key=()``: a set of scalars)."""

    def __init__(self, items: Iterable[Any], *key: str):
        super().__init__(items)
        self.key = key


ABSENT = object()  # the key must be missing or null
EVIDENCE = "_evidence"  # private key of an expected dict: the events proving that part of the answer


def node_document(value: Any) -> Any:
    """The answer an honest node gives, as far as the replay can tell (plain JSON-able values)."""
    if isinstance(value, Valid):
        return node_document(value.example)
    if isinstance(value, dict):
        return {k: node_document(v) for k, v in value.items() if k != EVIDENCE and v is not ABSENT}
    if isinstance(value, (list, tuple)):
        return [node_document(v) for v in value]
    if isinstance(value, Approx):
        return float(value)
    if isinstance(value, Percent):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _hex(v: Any) -> Any:
    return "0x" + v.hex() if isinstance(v, (bytes, bytearray)) else v


def _ev(name: str, item: dict) -> dict:
    return {"event": name, "tx": item["tx"], "block": item["block"], "logIndex": item["logIndex"]}


class _Facts:
    """Indexes over the replay that the expected answers need (built once per comparison)."""

    def __init__(self, r: Replay):
        self.r = r
        self.bindings: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)  # addr -> (block, li, pid, site)
        self.wallets_of: dict[int, list[str]] = defaultdict(list)
        for w in r.wallet_history:
            if "added" in w:
                ref = w["added"]
                self.bindings[w["wallet"]].append((ref["block"], ref["logIndex"], w["participant"], w["site"]))
                if w["wallet"] not in self.wallets_of[w["participant"]]:
                    self.wallets_of[w["participant"]].append(w["wallet"])
        self.holdings_by_batch: dict[int, dict[str, int]] = defaultdict(dict)
        for (holder, bid), v in r.balances.items():
            if v:
                self.holdings_by_batch[bid][holder] = v
        self.cert_holdings: dict[int, dict[str, int]] = defaultdict(dict)
        for (holder, cid), v in r.holdings.items():
            if v:
                self.cert_holdings[cid][holder] = v
        self.consumed: dict[int, list[dict]] = defaultdict(list)
        for c in r.consumptions:
            self.consumed[c["batchId"]].append(c)
        self.issuances_of_pledge: dict[int, list[int]] = defaultdict(list)
        for cid, iss in r.issuances.items():
            if iss["pledgeId"]:
                self.issuances_of_pledge[iss["pledgeId"]].append(cid)
        self._lineage: dict[int, dict] = {}
        # per participant (wallet), for the participant answers
        self.balances_of: dict[str, list[tuple[int, int]]] = defaultdict(list)  # wallet -> [(batch, quantity)]
        for (holder, bid), v in r.balances.items():
            if v > 0:
                self.balances_of[holder].append((bid, v))
        self.certs_of: dict[str, list[tuple[int, int]]] = defaultdict(list)  # wallet -> [(certificate, units)]
        for (holder, cid), v in r.holdings.items():
            if v > 0:
                self.certs_of[holder].append((cid, v))
        self.pending_from: dict[str, list[str]] = defaultdict(list)
        self.pending_to: dict[str, list[str]] = defaultdict(list)
        for tid, t in r.transfers.items():
            if t["status"] == PENDING:
                self.pending_from[t["from"]].append(tid)
                self.pending_to[t["to"]].append(tid)
        self.accounts_of: dict[int, list[Any]] = defaultdict(list)
        for acct in r.accounts.values():
            self.accounts_of[acct.participant].append(acct)
        self.retired_by: dict[int, list[int]] = defaultdict(list)
        for rid, ret in r.retirements.items():
            self.retired_by[ret["retiredBy"]].append(rid)
        self.certifications_of: dict[int, list[int]] = defaultdict(list)
        for cid, c in r.certifications.items():
            self.certifications_of[c["holder"]].append(cid)
        self.sites_of: dict[int, list[int]] = defaultdict(list)
        for sid, site in r.sites.items():
            self.sites_of[site["owner"]].append(sid)

    def who(self, address: str, block: int | None = None) -> dict[str, Any]:
        """The participant (and site) a wallet was bound to at ``block`` (the latest binding if None), as
        the node's ``{"address", "participant_id", "participant", "site_id", "site"}``."""
        pid = site = None
        for b, _li, p, s in self.bindings.get(address.lower(), ()):
            if block is None or b <= block:
                pid, site = p, s or None
        return {"address": address, "participant_id": pid, "participant": self.name(pid), "site_id": site,
                "site": self.r.sites[site]["name"] if site in self.r.sites else None}

    # names, as the registry's events gave them
    def name(self, pid: int | None) -> str | None:
        p = self.r.participants.get(pid) if pid else None
        return p["name"] if p else None

    def material(self, mid: int) -> str:
        m = self.r.materials.get(mid)
        return m["name"] if m else f"material {mid}"

    def unit(self, mid: int) -> str:
        m = self.r.materials.get(mid)
        return m["unit"] if m else ""

    def characteristic(self, cid: int) -> str | None:
        if not cid:
            return None
        c = self.r.characteristics.get(cid)
        return c["name"] if c else f"characteristic {cid}"

    def scheme_of(self, cid: int) -> str | None:
        c = self.r.characteristics.get(cid) if cid else None
        s = self.r.schemes.get(c["scheme"]) if c else None
        return s["name"] if s else None

    def lineage(self, bid: int) -> dict:
        """Ancestry of ``bid`` with exact proportional attribution (Fractions), weakest model per origin."""
        if bid in self._lineage:
            return self._lineage[bid]
        r = self.r
        ids = sorted({bid, *r.ancestors(bid)})
        root = r.batches[bid]
        taken = {bid: Fraction(root["quantity"])}
        contrib = {bid: Fraction(root["quantity"])}
        weakest = {bid: root["model"]}
        toward: dict[int, int] = {}
        for x in reversed(ids):
            b = r.batches[x]
            if x not in taken or not b["parents"]:
                continue
            f_taken = taken[x] / b["quantity"] if b["quantity"] else Fraction(0)
            total = sum(q for _, q in b["parents"])
            f_contrib = contrib[x] / total if total else Fraction(0)
            for p, q in b["parents"]:
                taken[p] = taken.get(p, Fraction(0)) + q * f_taken
                contrib[p] = contrib.get(p, Fraction(0)) + q * f_contrib
                w = min(r.batches[p]["model"], weakest[x])
                weakest[p] = min(weakest.get(p, 99), w)
                toward.setdefault(p, x)
        out = {"ids": ids, "taken": taken, "contrib": contrib, "weakest": weakest, "toward": toward,
               "origins": [x for x in ids if r.batches[x]["kind"] == 0]}
        self._lineage[bid] = out
        return out


# ---------------------------------------------------------------------------------------------- batches
def _batch_core(fx: _Facts, bid: int) -> dict[str, Any]:
    r = fx.r
    b = r.batches[bid]
    node = {
        "batch_id": bid, "kind": _snake(KINDS[b["kind"]]), "material_id": b["material"],
        "material": fx.material(b["material"]), "unit": fx.unit(b["material"]),
        "characteristic_id": b["characteristic"], "characteristic": fx.characteristic(b["characteristic"]),
        "model_id": b["model"], "model": MODELS[b["model"]], "share_ppm": b["share"],
        "origin_batch_id": b["origin"] or None, "creator_id": b["creator"], "creator": fx.name(b["creator"]),
        "created_by": b["holder"], "quantity": b["quantity"], "tx_hash": b["ref"]["tx"],
        "block_number": b["ref"]["block"],
    }
    info = b["originInfo"]
    if info is not None:
        site = r.sites.get(info["siteId"])
        node.update(site_id=info["siteId"], site=site["name"] if site else None,
                    certification_id=info["certificationId"] or None,
                    geolocation_hash=info["geolocationHash"], dds_reference=info["ddsReference"],
                    evidence_hash=info["evidenceHash"], production_date=info["productionDate"])
    else:
        node["site_id"] = ABSENT
    return node


def _batch_refs(r: Replay, bid: int) -> list[dict]:
    b = r.batches[bid]
    return [b["ref"], (b["originInfo"] or {}).get("ref"), (b["transform"] or {}).get("ref")]


def _certification_at(r: Replay, cid: int, ref: dict, ts: int) -> dict[str, Any] | None:
    c = r.certifications.get(cid)
    if c is None:
        return None
    status = 1
    for ch in c.get("changes", []):
        if (ch["ref"]["block"], ch["ref"]["logIndex"]) < (ref["block"], ref["logIndex"]):
            status = ch["status"]
    return {"certification_id": cid, "scheme": c["scheme"], "certificate_number": c["number"],
            "status_at_time": CERT_STATUS[status].lower(),
            "valid_at_time": status == 1 and c["validFrom"] <= ts <= c["validTo"]}


def _certification(r: Replay, cid: int) -> dict[str, Any]:
    c = r.certifications[cid]
    changes = c.get("changes", [])
    return {
        "certification_id": cid, "scheme": c["scheme"], "certificate_number": c["number"], "holder_id": c["holder"],
        "holder": r.participants.get(c["holder"], {}).get("name"), "certifier_id": c["certifier"],
        "certifier": r.participants.get(c["certifier"], {}).get("name"), "valid_from": c["validFrom"],
        "valid_to": c["validTo"],
        "models": [MODELS[m] for m in range(1, 5) if (c["models"] >> m) & 1],
        "status_now": CERT_STATUS[c["status"]].lower(),
        "recorded": {"tx_hash": c["ref"]["tx"], "block_number": c["ref"]["block"]},
        "status_changes": [{"status": CERT_STATUS[ch["status"]].lower(), "reason_hash": ch["reasonHash"],
                            "tx_hash": ch["ref"]["tx"], "block_number": ch["ref"]["block"], EVIDENCE: [ch["ref"]]}
                           for ch in changes],
        EVIDENCE: [c["ref"]] + [ch["ref"] for ch in changes],
    }


def _transfer(fx: _Facts, tid: str) -> dict[str, Any]:
    t = fx.r.transfers[tid]
    block = t["proposed"]["block"]
    out = {
        "transfer_id": tid, "batch_id": t["batchId"], "status": TRANSFER_STATUS[t["status"]].lower(),
        "signer": fx.who(t["from"], block), "receiver": fx.who(t["to"], block), "quantity": t["quantity"],
        "certified_quantity": t["certifiedQuantity"], "declaration": t["certifiedQuantity"] > 0,
        "nonce": t["nonce"], "deadline": t["deadline"], "sender_signature": _hex(t.get("signature")),
        "proposed": {"tx_hash": t["proposed"]["tx"], "block_number": block, "log_index": t["proposed"]["logIndex"]},
        "settled": None,
        EVIDENCE: [t["proposed"], t["settled"]],
    }
    if t["settled"] is not None:
        out["settled"] = {"tx_hash": t["settled"]["tx"], "block_number": t["settled"]["block"],
                          "log_index": t["settled"]["logIndex"], "signature": _hex(t.get("settleSignature")),
                          "signed_by": out["signer"] if t["status"] == 4 else out["receiver"]}
    return out


def _path_check(r: Replay, origin: int, root: int) -> Callable[[Any, dict], bool]:
    def check(got: Any, _parent: dict) -> bool:
        if not isinstance(got, list) or not got or got[0] != origin or got[-1] != root:
            return False
        for a, b in zip(got, got[1:]):
            if not isinstance(b, int) or b not in r.batches or a not in [p for p, _ in r.batches[b]["parents"]]:
                return False
        return True

    return check


def _path_models_check(r: Replay, origin: int, root: int) -> Callable[[Any, dict], bool]:
    path_ok = _path_check(r, origin, root)

    def check(got: Any, parent: dict) -> bool:
        path = parent.get("path") if isinstance(parent, dict) else None
        return path_ok(path, parent) and got == [MODELS[r.batches[x]["model"]] for x in path]

    return check


def _lineage(fx: _Facts, bid: int) -> dict[str, Any]:
    r = fx.r
    lin = fx.lineage(bid)
    root_qty = r.batches[bid]["quantity"]
    nodes = Keyed([dict(_batch_core(fx, x), **{EVIDENCE: _batch_refs(r, x)}) for x in lin["ids"]], "batch_id")
    edges = Keyed([{"child_id": c, "parent_id": p, "quantity": q, EVIDENCE: [r.batches[c]["ref"]]}
                   for c in lin["ids"] for p, q in r.batches[c]["parents"]], "child_id", "parent_id")
    origins = []
    certs: dict[str, Any] = {}
    for o in lin["origins"]:
        b = r.batches[o]
        path = [o]
        while path[-1] != bid:
            path.append(lin["toward"][path[-1]])
        item = _batch_core(fx, o)
        cid = (b["originInfo"] or {}).get("certificationId") or 0
        item.update(
            quantity_taken=Approx(lin["taken"].get(o, Fraction(0))),
            contribution=Approx(lin["contrib"].get(o, Fraction(0))),
            contribution_percent=Percent(lin["contrib"].get(o, Fraction(0)) * 100 / root_qty if root_qty
                                         else Fraction(0)),
            certification_at_creation=_certification_at(r, cid, b["ref"], b["createdAt"]) if cid else None,
            path=Valid(path, _path_check(r, o, bid), f"a path of batches from origin {o} to batch {bid}"),
            path_models=Valid([MODELS[r.batches[x]["model"]] for x in path], _path_models_check(r, o, bid),
                              "the models of the batches on that path"),
            weakest_model_on_paths=MODELS[lin["weakest"].get(o, b["model"])],
        )
        item[EVIDENCE] = _batch_refs(r, o) + ([r.certifications[cid]["ref"]] if cid in r.certifications else [])
        origins.append(item)
        if cid in r.certifications:
            certs[str(cid)] = _certification(r, cid)
    return {"batch_id": bid, "ancestor_count": len(lin["ids"]) - 1, "nodes": nodes, "edges": edges,
            "origins": Keyed(origins, "batch_id"), "certifications": certs}


def _descendants(r: Replay, bid: int) -> dict[str, Any]:
    seen, stack = set(), [bid]
    while stack:
        for c in r.batches[stack.pop()]["children"]:
            if c not in seen:
                seen.add(c)
                stack.append(c)
    ids = sorted(seen)
    edges = [{"child_id": c, "parent_id": p, "quantity": q, EVIDENCE: [r.batches[c]["ref"]]}
             for c in ids for p, q in r.batches[c]["parents"] if p == bid or p in seen]
    return {"batch_id": bid, "descendant_count": len(ids),
            "nodes": Keyed([{"batch_id": x, EVIDENCE: [r.batches[x]["ref"]]} for x in ids], "batch_id"),
            "edges": Keyed(edges, "child_id", "parent_id")}


def _issuance_summary(r: Replay, cid: int) -> dict[str, Any]:
    iss = r.issuances[cid]
    return {
        "certificate_id": cid, "amount": iss["amount"], "unit_size": iss["unitSize"], "tx_hash": iss["ref"]["tx"],
        "retirements": Keyed([{"retirement_id": x, "amount": r.retirements[x]["amount"],
                               "beneficiary": r.retirements[x]["beneficiary"], "tx_hash": r.retirements[x]["ref"]["tx"],
                               EVIDENCE: [r.retirements[x]["ref"]]} for x in iss["retirements"]], "retirement_id"),
        "revoked": _revocation(iss),
        EVIDENCE: [iss["ref"], iss["revokedRef"]],
    }


def _revocation(iss: dict) -> dict[str, Any] | None:
    if not iss["revoked"]:
        return None
    return {"outstanding": iss["revokedOutstanding"], "reason_hash": iss["revokedReason"],
            "tx_hash": iss["revokedRef"]["tx"], "block_number": iss["revokedRef"]["block"], EVIDENCE: [iss["revokedRef"]]}


def _pledge(fx: _Facts, pid: int) -> dict[str, Any]:
    pl = fx.r.pledges[pid]
    return {"pledge_id": pid, "producer_id": pl["producer"], "producer": fx.name(pl["producer"]),
            "holder": fx.who(pl["holder"], pl["ref"]["block"]), "source": SOURCES[pl["source"]].lower(),
            "material": fx.material(pl["material"]), "characteristic": fx.characteristic(pl["characteristic"]),
            "quantity": pl["quantity"], "batch_id": pl["batchId"] or None,
            "released_batch_id": pl["releasedBatchId"] or None, "tx_hash": pl["ref"]["tx"], EVIDENCE: [pl["ref"]]}


def _pledges_of(r: Replay, bid: int) -> list[int]:
    lineage = {bid, *r.ancestors(bid)}
    return sorted(p for p, pl in r.pledges.items()
                  if pl["batchId"] == bid or (pl["releasedBatchId"] and pl["releasedBatchId"] in lineage))


def _claim(fx: _Facts, bid: int) -> dict[str, Any]:
    """The claim the chain supports for the batch: the figure (share, certified quantity, retired units)
    and the certified origins and declarations behind it."""
    r = fx.r
    b = r.batches[bid]
    model = b["model"]
    lin = fx.lineage(bid)
    out: dict[str, Any] = {"batch_id": bid, "model": MODELS[model],
                           "characteristic": fx.characteristic(b["characteristic"]),
                           "scheme": fx.scheme_of(b["characteristic"]), "material": fx.material(b["material"]),
                           "kind": "none", "percent": None,
                           "origins": Keyed([], "batch_id"), "certified_quantity": None,
                           "declarations": Keyed([], "transfer_id"), "book_and_claim": Keyed([], "pledge_id",
                                                                                                "certificate_id"),
                           EVIDENCE: [b["ref"]]}
    evidence: list[str] = []
    if model >= CONTROLLED_BLENDING:
        certified = [o for o in lin["origins"] if r.batches[o]["model"] >= CONTROLLED_BLENDING
                     and r.batches[o]["characteristic"] == b["characteristic"]]
        out.update(kind="content" if model >= SEGREGATED else "content_share",
                   percent=Percent(Fraction(b["share"] * 100, PPM)))
        out["origins"] = Keyed([{"batch_id": o, "contribution_percent": Percent(
            lin["contrib"].get(o, Fraction(0)) * 100 / b["quantity"] if b["quantity"] else Fraction(0)),
            "quantity_taken": Approx(lin["taken"].get(o, Fraction(0))), "tx_hash": r.batches[o]["ref"]["tx"],
            EVIDENCE: _batch_refs(r, o)} for o in certified], "batch_id")
        evidence += [r.batches[o]["ref"]["tx"] for o in certified]
    elif model == MASS_BALANCE:
        decl = [r.transfers[t] for t in b["transfers"]
                if r.transfers[t]["status"] == ACCEPTED and r.transfers[t]["certifiedQuantity"] > 0]
        total = sum(t["certifiedQuantity"] for t in decl)
        out["certified_quantity"] = total
        out["declarations"] = Keyed([{"transfer_id": t["id"], "quantity": t["quantity"],
                                      "certified_quantity": t["certifiedQuantity"], "tx_hash": t["settled"]["tx"],
                                      "block_number": t["settled"]["block"], EVIDENCE: [t["proposed"], t["settled"]]}
                                     for t in decl], "transfer_id")
        out[EVIDENCE] = [b["ref"]] + [x for t in decl for x in (t["proposed"], t["settled"])]
        evidence += [t["settled"]["tx"] for t in decl]
        if total > 0:
            out["kind"] = "supply_chain"
    items = []
    for p in _pledges_of(r, bid):
        pl = r.pledges[p]
        for cid in fx.issuances_of_pledge.get(p, []):
            iss = r.issuances[cid]
            rets = [r.retirements[x] for x in iss["retirements"]]
            items.append({"pledge_id": p, "pledged_batch_id": pl["batchId"] or None,
                          "released_batch_id": pl["releasedBatchId"] or None, "certificate_id": cid,
                          "units_issued": iss["amount"], "units_retired": sum(x["amount"] for x in rets),
                          "retirement_ids": Keyed([x["retirementId"] for x in rets]),
                          "beneficiaries": sorted({x["beneficiary"] for x in rets}), "revoked": iss["revoked"],
                          EVIDENCE: [pl["ref"], iss["ref"], iss["revokedRef"]] + [x["ref"] for x in rets]})
            evidence += [pl["ref"]["tx"], iss["ref"]["tx"]] + [x["ref"]["tx"] for x in rets]
    out["book_and_claim"] = Keyed(items, "pledge_id", "certificate_id")
    if items and out["kind"] == "none":
        out["kind"] = "book_and_claim" if any(i["units_retired"] for i in items) else "none"
    out["evidence"] = Keyed(dict.fromkeys(evidence))
    return out


def _batch_expected(fx: _Facts, bid: int) -> dict[str, Any]:
    r = fx.r
    b = r.batches[bid]
    node = _batch_core(fx, bid)
    node[EVIDENCE] = _batch_refs(r, bid)
    node["parents"] = [{"batch_id": p, "quantity": q} for p, q in b["parents"]]
    node["children"] = Keyed([{"batch_id": c, "quantity": q, EVIDENCE: [r.batches[c]["ref"]]}
                              for c in sorted(b["children"]) for p, q in r.batches[c]["parents"] if p == bid],
                             "batch_id")
    tr = b["transform"]
    if tr is not None:
        proc = r.processes.get(tr["processId"], {})
        node["transform"] = {"process_id": tr["processId"], "process": proc.get("name"),
                             "factor_ppm": proc.get("factor"),
                             "input_quantity": tr["inputQuantity"], "output_quantity": tr["outputQuantity"],
                             "loss": tr["loss"], "credits_converted": tr["creditsConverted"],
                             "credits_produced": tr["creditsProduced"], "tx_hash": tr["ref"]["tx"],
                             "block_number": tr["ref"]["block"], EVIDENCE: [tr["ref"]]}
    else:
        node["transform"] = ABSENT
    moves = r.batch_moves.get(bid, [])
    node["holders"] = Keyed([dict(fx.who(h), quantity=q, **{EVIDENCE: [b["ref"], *moves]})
                             for h, q in sorted(fx.holdings_by_batch.get(bid, {}).items())
                             if q > 0 and h != r.ledger_addr], "address")
    pending = [r.transfers[t] for t in b["transfers"] if r.transfers[t]["status"] == PENDING]
    node["in_transit"] = sum(t["quantity"] for t in pending)
    node["consumed"] = Keyed([{"holder": fx.who(c["holder"], c["ref"]["block"]), "quantity": c["quantity"],
                               "reason": CONSUME_REASONS[c["reason"]].lower(), "ref": _hex(c.get("consumeRef")),
                               "tx_hash": c["ref"]["tx"], EVIDENCE: [c["ref"]]} for c in fx.consumed.get(bid, [])],
                             "tx_hash")
    custody_ids = [t for x in sorted({bid, *r.ancestors(bid)}) for t in r.batches[x]["transfers"]]
    return {
        "batch": node,
        "lineage": _lineage(fx, bid),
        "descendants": _descendants(r, bid),
        "custody": Keyed([_transfer(fx, t) for t in custody_ids], "transfer_id"),
        "book_and_claim": Keyed([dict(_pledge(fx, p), certificates=Keyed(
            [_issuance_summary(r, c) for c in fx.issuances_of_pledge.get(p, [])], "certificate_id"))
            for p in _pledges_of(r, bid)], "pledge_id"),
        "claim": _claim(fx, bid),
        EVIDENCE: _batch_refs(r, bid),
    }


# ---------------------------------------------------------------------------------------------- certificates
def _cert_expected(fx: _Facts, cid: int) -> dict[str, Any]:
    r = fx.r
    iss = r.issuances[cid]
    block = iss["ref"]["block"]
    out: dict[str, Any] = {
        "certificate_id": cid, "issuer_id": iss["issuer"], "issuer": fx.name(iss["issuer"]),
        "producer_id": iss["producer"], "producer": fx.name(iss["producer"]), "issued_to": fx.who(iss["to"], block),
        "amount": iss["amount"], "unit_size": iss["unitSize"], "unit_label": iss["unitLabel"],
        "material_id": iss["material"], "material": fx.material(iss["material"]),
        "characteristic_id": iss["characteristic"], "characteristic": fx.characteristic(iss["characteristic"]),
        "period_start": iss["periodStart"], "period_end": iss["periodEnd"], "evidence_hash": iss["evidenceHash"],
        "pledge_id": iss["pledgeId"] or None, "tx_hash": iss["ref"]["tx"], "block_number": block,
        EVIDENCE: [iss["ref"]],
    }
    if iss["pledgeId"] and iss["pledgeId"] in r.pledges:
        out["pledge"] = _pledge(fx, iss["pledgeId"])
    history = []
    for frm, to, units, ref in r.cert_moves.get(cid, []):
        kind = "issued" if frm == ZERO else "retired" if to == ZERO else "transferred"
        history.append({"kind": kind, "from": None if frm == ZERO else fx.who(frm, ref["block"]),
                        "to": None if to == ZERO else fx.who(to, ref["block"]), "units": units, "tx_hash": ref["tx"],
                        "block_number": ref["block"], EVIDENCE: [ref]})
    out["holders_over_time"] = history
    moves = [ref for *_, ref in r.cert_moves.get(cid, [])]
    out["holders"] = Keyed([dict(fx.who(h), units=q, **{EVIDENCE: [iss["ref"], *moves]})
                            for h, q in sorted(fx.cert_holdings.get(cid, {}).items()) if q > 0], "address")
    out["retirements"] = Keyed([{
        "retirement_id": x, "certificate_id": cid, "holder": fx.who(ret["holder"], ret["ref"]["block"]),
        "retired_by_id": ret["retiredBy"], "retired_by": fx.name(ret["retiredBy"]), "amount": ret["amount"],
        "beneficiary": ret["beneficiary"], "period_start": ret["periodStart"], "period_end": ret["periodEnd"],
        "purpose_hash": ret["purposeHash"],
        "tx_hash": ret["ref"]["tx"], "block_number": ret["ref"]["block"], EVIDENCE: [ret["ref"]]}
        for x in iss["retirements"] for ret in [r.retirements[x]]], "retirement_id")
    out["retired"] = iss["retired"]
    out["revoked"] = _revocation(iss)
    return out


# ---------------------------------------------------------------------------------------------- participants
def _statements(acct: Any) -> list[dict[str, Any]]:
    periods = sorted({b["period"] for b in acct.bookings})
    out = []
    for p in periods:
        st = acct.statements.get(p)
        if st is None:
            continue
        closing = st["opening"] + st["inflow"] + st["convertedIn"] - st["outflow"] - st["convertedOut"] - st["lapsed"]
        out.append({"period": p, "opening": st["opening"], "inflow": st["inflow"], "converted_in": st["convertedIn"],
                    "outflow": st["outflow"], "converted_out": st["convertedOut"], "lapsed": st["lapsed"],
                    "closing": closing, "bookings": sum(1 for b in acct.bookings if b["period"] == p),
                    EVIDENCE: [_ev("CreditsBooked", b) for b in acct.bookings if b["period"] == p]})
    return out


def _participant_expected(fx: _Facts, pid: int) -> dict[str, Any]:
    r = fx.r
    p = r.participants[pid]
    wallets = fx.wallets_of.get(pid, [])
    held = []
    for bid, h, q in sorted((bid, h, q) for h in wallets for bid, q in fx.balances_of.get(h, [])):
        bb = r.batches[bid]
        held.append({"batch_id": bid, "wallet": h, "quantity": q, "model": MODELS[bb["model"]],
                     "share_ppm": bb["share"], EVIDENCE: [bb["ref"], *r.batch_moves.get(bid, [])]})

    def transit(by_wallet: dict[str, list[str]]) -> Keyed:
        return Keyed([_transfer(fx, t) for h in wallets for t in by_wallet.get(h, [])], "transfer_id")

    accounts = []
    for acct in fx.accounts_of.get(pid, []):
        accounts.append({
            "account": acct.key, "site_id": acct.site, "site": r.sites.get(acct.site, {}).get("name"),
            "material_id": acct.material, "material": fx.material(acct.material), "unit": fx.unit(acct.material),
            "characteristic_id": acct.characteristic, "characteristic": fx.characteristic(acct.characteristic),
            "scheme": r.schemes.get(acct.scheme, {}).get("name"), "period_length": acct.period_length, "anchor": acct.anchor,
            "lapse_after_periods": acct.lapse, "balance": acct.balance,
            "opened": {"tx_hash": acct.opened["tx"], "block_number": acct.opened["block"]},
            "statements": Keyed(_statements(acct), "period"),
            "closed_periods": Keyed([{"period": k, "opening": c["opening"], "inflow": c["inflow"],
                                      "converted_in": c["convertedIn"], "outflow": c["outflow"],
                                      "converted_out": c["convertedOut"], "lapsed": c["lapsed"], "closing": c["closing"],
                                      "tx_hash": c["ref"]["tx"], EVIDENCE: [c["ref"]]}
                                     for k, c in sorted(acct.closed.items())], "period"),
            "bookings": Keyed([{"period": b["period"], "entry": _snake(b["entry"]), "reason": _snake(b["reason"]),
                                "amount": b["amount"], "balance": b["balance"], "ref": b["ref"], "tx_hash": b["tx"],
                                "block_number": b["block"], EVIDENCE: [_ev("CreditsBooked", b)]}
                               for b in acct.bookings], "tx_hash", "entry", "reason"),
            EVIDENCE: [acct.opened] + [_ev("CreditsBooked", b) for b in acct.bookings[-1:]],
        })
    certs_held = [{"certificate_id": cid, "wallet": h, "units": q,
                   EVIDENCE: [r.issuances[cid]["ref"]] + [ref for *_, ref in r.cert_moves.get(cid, [])]}
                  for cid, h, q in sorted((cid, h, q) for h in wallets for cid, q in fx.certs_of.get(h, []))
                  if cid in r.issuances]
    retired = [{"retirement_id": x, "certificate_id": ret["certificateId"], "retired_by_id": pid, "amount": ret["amount"],
                "beneficiary": ret["beneficiary"], "tx_hash": ret["ref"]["tx"], EVIDENCE: [ret["ref"]]}
               for x in fx.retired_by.get(pid, []) for ret in [r.retirements[x]]]
    return {
        "participant_id": pid, "name": p["name"],
        "roles": Keyed([n for bit, n in ROLE_NAMES.items() if p["roles"] & bit]),
        "status": PARTICIPANT_STATUS[p["status"]].lower(),
        "registered": {"tx_hash": p["ref"]["tx"], "block_number": p["ref"]["block"]},
        "sites": Keyed([{"site_id": s, "name": site["name"], "location_ref": site.get("locationRef"),
                         EVIDENCE: [site["ref"]]} for s in sorted(fx.sites_of.get(pid, [])) for site in [r.sites[s]]],
                       "site_id"),
        "wallets": Keyed(wallets),
        "batches_held": Keyed(held, "batch_id", "wallet"),
        "in_transit": {"outgoing": transit(fx.pending_from), "incoming": transit(fx.pending_to)},
        "credit_accounts": Keyed(accounts, "account"),
        "certificates_held": Keyed(certs_held, "certificate_id", "wallet"),
        "retirements": Keyed(retired, "retirement_id"),
        "certifications": Keyed([_certification(r, cid) for cid in sorted(fx.certifications_of.get(pid, []))],
                                "certification_id"),
        EVIDENCE: [p["ref"]] + [x[3] for x in p["history"][1:]],
    }


# ---------------------------------------------------------------------------------------------- probes
@dataclass
class Probe:
    name: str
    path: Callable[[int], str]
    ids: Callable[[Replay], Iterable[int]]
    expected: Callable[[_Facts, int], dict[str, Any]]


DEFAULT_PROBES = [
    Probe("batch", lambda i: f"/provenance/batches/{i}", lambda r: sorted(r.batches), _batch_expected),
    Probe("certificate", lambda i: f"/provenance/certificates/{i}", lambda r: sorted(r.issuances), _cert_expected),
    Probe("participant", lambda i: f"/provenance/participants/{i}", lambda r: sorted(r.participants),
          _participant_expected),
]


def expected_answers(r: Replay, probes: list[Probe] | None = None) -> dict[str, Any]:
    """{endpoint path: expected answer} for every id of every probe (what a test's fake node serves
    after :func:`node_document`)."""
    fx = _Facts(r)
    return {p.path(i): p.expected(fx, i) for p in (probes or DEFAULT_PROBES) for i in p.ids(r)}


# ---------------------------------------------------------------------------------------------- comparison
def _norm(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return "0x" + v.hex()
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("0x") or s.startswith("0X"):
            return s.lower()
        if s.isdigit():
            return int(s)
        return s
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _key_of(item: Any, key: tuple[str, ...]) -> Any:
    if not key:
        return _norm(item)
    if not isinstance(item, dict):
        return ("<not an object>", json.dumps(item, default=str)[:80])
    return tuple(_norm(item.get(k)) for k in key)


def _key_text(key: tuple[str, ...], value: Any) -> str:
    if not key:
        return f"[{value}]"
    return "[" + ",".join(f"{k}={v}" for k, v in zip(key, value)) + "]"


class NodeComparator:
    def __init__(self, base_url: str, probes: list[Probe] | None = None, limit: int | None = None,
                 timeout: float = 20.0, api_key: str | None = None):
        self.base = base_url.rstrip("/")
        self.probes = probes or DEFAULT_PROBES
        self.limit = limit
        self.timeout = timeout
        self.api_key = api_key
        self.asked = 0

    def get(self, path: str) -> tuple[int, Any]:
        req = urllib.request.Request(self.base + path, headers={"Accept": "application/json"})
        if self.api_key:
            req.add_header("X-API-Key", self.api_key)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return 0, str(exc)

    def run(self, r: Replay, f: Findings, head: int | None = None) -> list[dict[str, Any]]:
        differences: list[dict[str, Any]] = []
        if not self._status(r, f, head, differences):
            return differences
        fx = _Facts(r)
        for probe in self.probes:
            ids = list(probe.ids(r))
            if self.limit is not None:
                ids = ids[: self.limit]
            for i in ids:
                self.asked += 1
                path = probe.path(i)
                expected = probe.expected(fx, i)
                evidence = [e for e in expected.get(EVIDENCE, []) if e]
                status, body = self.get(path)
                if status == 0:
                    f.add("node.match", f"node unreachable at {self.base}{path}: {body}", evidence)
                    return differences
                if status != 200 or not isinstance(body, dict):
                    d = {"endpoint": path, "field": None, "node": f"HTTP {status}", "chain": "exists"}
                    differences.append(d)
                    f.add("node.match", f"node answers HTTP {status} for {path}, which exists on chain", evidence, **d)
                    continue
                _Diff(path, f, differences).walk("", expected, body, evidence, body)
        return differences

    def _status(self, r: Replay, f: Findings, head: int | None, differences: list) -> bool:
        status, body = self.get("/provenance/status")
        if status == 0:
            f.add("node.match", f"node unreachable at {self.base}/provenance/status: {body}", [])
            return False
        if status != 200 or not isinstance(body, dict):
            f.add("node.match", f"node answers HTTP {status} for /provenance/status", [], severity=WARN)
            return True
        chain_id = body.get("chain_id")
        if chain_id is not None and _norm(chain_id) != r.chain_id:
            d = {"endpoint": "/provenance/status", "field": "chain_id", "node": chain_id, "chain": r.chain_id}
            differences.append(d)
            f.add("node.match", f"the node follows chain {chain_id}, the audited chain is {r.chain_id}", [], **d)
            return False
        last = body.get("last_indexed_block")
        if head is not None and last is not None and last != head:
            f.add("node.match", f"the node's index stands at block {last}, the audit at block {head}: its answers "
                  "may differ by what happened in between", [], severity=WARN, node_block=last, audit_block=head)
        else:
            f.ok("node.match")
        return True


class _Diff:
    def __init__(self, endpoint: str, f: Findings, out: list[dict[str, Any]]):
        self.endpoint, self.f, self.out = endpoint, f, out

    def differ(self, field: str, got: Any, want: Any, evidence: list, what: str = "") -> None:
        chain = node_document(want) if want is not ABSENT else None
        d = {"endpoint": self.endpoint, "field": field, "node": got, "chain": chain}
        self.out.append(d)
        msg = what or f"node says {_short(got)}, chain says {_short(chain)}"
        self.f.add("node.match", f"GET {self.endpoint}: {field or '(answer)'}: {msg}", evidence, **d)

    def walk(self, field: str, want: Any, got: Any, evidence: list, parent: Any) -> None:
        if isinstance(want, dict) and EVIDENCE in want:
            evidence = [e for e in want[EVIDENCE] if e] or evidence
        if want is ABSENT:
            if got is not None:
                self.differ(field, got, None, evidence, f"node says {_short(got)}, the chain has no such fact")
            else:
                self.f.ok("node.match")
        elif isinstance(want, Valid):
            if want.check(got, parent if isinstance(parent, dict) else {}):
                self.f.ok("node.match")
            else:
                self.differ(field, got, want, evidence, f"node says {_short(got)}, which is not {want.describe} "
                            f"(e.g. {_short(node_document(want.example))})")
        elif isinstance(want, dict):
            if not isinstance(got, dict):
                self.differ(field, got, want, evidence)
                return
            for k, w in want.items():
                if k == EVIDENCE:
                    continue
                sub = f"{field}.{k}" if field else k
                if k not in got:
                    if w is ABSENT or w is None:
                        self.f.ok("node.match")
                    else:
                        self.differ(sub, None, w, evidence, f"the node does not answer it, chain says "
                                    f"{_short(node_document(w))}")
                    continue
                self.walk(sub, w, got[k], evidence, got)
        elif isinstance(want, Keyed):
            self.walk_keyed(field, want, got, evidence)
        elif isinstance(want, list):
            if not isinstance(got, list) or len(got) != len(want):
                self.differ(field, got, want, evidence)
                return
            for n, (w, g) in enumerate(zip(want, got)):
                self.walk(f"{field}[{n}]", w, g, evidence, got)
        elif isinstance(want, (Approx, Percent)):
            if want.matches(got):
                self.f.ok("node.match")
            else:
                self.differ(field, got, want, evidence, f"node says {_short(got)}, chain says {_short(want)} "
                            f"(exactly {_short(str(want.exact))})")
        else:
            g, w = _norm(got), _norm(want)
            if isinstance(g, bool) or isinstance(w, bool):
                equal = isinstance(g, bool) and isinstance(w, bool) and g == w
            else:
                equal = g == w
            if equal:
                self.f.ok("node.match")
            else:
                self.differ(field, got, want, evidence)

    def walk_keyed(self, field: str, want: Keyed, got: Any, evidence: list) -> None:
        if not isinstance(got, list):
            self.differ(field, got, want, evidence)
            return
        key = want.key
        seen: dict[Any, int] = defaultdict(int)
        got_items: dict[Any, Any] = {}
        for item in got:
            k = _key_of(item, key)
            seen[k] += 1
            got_items[(k, seen[k])] = item
        counts: dict[Any, int] = defaultdict(int)
        for w in want:
            k = _key_of(w, key)
            counts[k] += 1
            label = f"{field}{_key_text(key, k)}" + (f"#{counts[k]}" if counts[k] > 1 else "")
            ev = [e for e in w[EVIDENCE] if e] if isinstance(w, dict) and w.get(EVIDENCE) else evidence
            g = got_items.pop((k, counts[k]), None)
            if g is None:
                self.differ(label, None, w, ev, f"missing from the node's answer; chain says "
                            f"{_short(node_document(w))}")
            elif key:
                self.walk(label, w, g, ev, got)
            else:
                self.f.ok("node.match")
        for (k, n), g in got_items.items():
            label = f"{field}{_key_text(key, k)}" + (f"#{n}" if n > 1 else "")
            self.differ(label, g, None, evidence, f"node says {_short(g)}, the chain has no such item")


def _short(v: Any) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) < 200 else s[:197] + "..."
