"""Verify the GS1 identifiers bound to product tokens (contract ProductIdentifiers, issue 14) from the chain alone.

    coc-audit identifiers --rpc URL --registry ADDR --contract ADDR [--json]

ProductIdentifiers is not linked in the registry, so its address is given. The auditor checks that the contract is
wired to this ledger (its registry, its batch ledger, its trusted forwarder), then replays the ledger and checks
every ProductIdentifierBound event with its own code: the GTIN's GS1 check digit (mod 10, weights 3 and 1 from the
right) and range, the lot or serial (1 to 20 characters of GS1 character set 82), the key, the signer's wallet bound
to the participant the event names, that participant active with the supplier or brand role, the signer holding
some of the batch just before the binding (from the replayed token moves), each identifier bound once, and the
contract's view ``batchOf`` answering the same token. Each problem is a finding with the binding's event.

Exit status: 0 when every binding holds, 1 on any finding, 2 on usage or connection errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak

from .abi import Decoder, function
from .audit import AuditError, discover, replay
from .replay import Replay
from .rpc import Rpc, RpcError

ROLE_SUPPLIER, ROLE_BRAND = 4, 32
ACTIVE = 1
KINDS = {0: ("lot", "10"), 1: ("serial", "21")}
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


def gs1_check_digit_ok(gtin: int) -> bool:
    """A GTIN (up to 14 digits, as a number) whose last digit is the GS1 check digit of the others."""
    if not 0 < gtin < 10**14:
        return False
    digits = [int(c) for c in str(gtin)]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _pos(ref: dict[str, Any]) -> tuple[int, int]:
    return ref["block"], ref["logIndex"]


def wallet_at(r: Replay, wallet: str, pos: tuple[int, int]) -> int | None:
    """The participant ``wallet`` was bound to at event position ``pos`` (None: unbound then)."""
    pid = None
    for h in r.wallet_history:
        if h["wallet"] != wallet:
            continue
        ref = h.get("added") or h.get("removed")
        if _pos(ref) >= pos:
            break
        pid = h["participant"] if "added" in h else None
    return pid


def participant_at(r: Replay, pid: int, ts: int) -> tuple[int, int]:
    """(roles, status) of participant ``pid`` at time ``ts``."""
    roles, status = 0, 0
    for when, ro, st, _ in r.participants.get(pid, {}).get("history", []):
        if when <= ts:
            roles, status = ro, st
    return roles, status


def balance_before(r: Replay, holder: str, batch_id: int, pos: tuple[int, int]) -> int:
    """``holder``'s balance of ``batch_id`` from the replayed ERC-1155 moves before event position ``pos``."""
    bal = 0
    for ref in r.batch_moves.get(batch_id, []):
        if _pos(ref) >= pos:
            continue
        e = r.event_at[(ref["tx"], ref["logIndex"])]
        pairs = [(e.a["id"], e.a["value"])] if e.name == "TransferSingle" else list(zip(e.a["ids"], e.a["values"]))
        for bid, v in pairs:
            if bid != batch_id:
                continue
            if e.a["to"] == holder:
                bal += v
            if e.a["from"] == holder:
                bal -= v
    return bal


def _view(rpc: Rpc, address: str, name: str, *args: Any) -> Any:
    fn = function("ProductIdentifiers", name, len(args))
    return fn.decode(rpc.call("eth_call", [{"to": address, "data": fn.encode(*args)}, "latest"]))


def verify_identifiers(rpc: Rpc, address: str, registry: str, from_block: int | None = None) -> dict[str, Any]:
    address = address.lower()
    d = discover(rpc, registry, from_block)
    findings: list[dict[str, Any]] = []
    try:
        wiring = {"registry": _view(rpc, address, "registry").lower(), "ledger": _view(rpc, address, "ledger").lower(),
                  "forwarder": _view(rpc, address, "trustedForwarder").lower()}
    except (RpcError, KeyError, ValueError) as exc:
        raise AuditError(f"no ProductIdentifiers contract at {address}: {exc}") from None
    for what, want in (("registry", d.registry), ("ledger", d.ledger), ("forwarder", d.forwarder)):
        if wiring[what] != want.lower():
            findings.append({"rule": "identifiers.wiring", "message": f"the contract's {what} is {wiring[what]}, "
                             f"not this ledger's {want.lower()}: its bindings name tokens of another ledger",
                             "evidence": None})
    r = replay(rpc, d)
    spec = next(s for s in Decoder().by_contract["identifiers"].values() if s.name == "ProductIdentifierBound")
    logs = rpc.call("eth_getLogs", [{"address": address, "fromBlock": hex(d.deploy_block), "toBlock": hex(d.head),
                                     "topics": [spec.topic0]}])
    seen: dict[str, dict[str, Any]] = {}
    bindings = []
    for lg in logs:
        a = spec.decode(lg["topics"], lg["data"])
        ref = {"event": "ProductIdentifierBound", "tx": lg["transactionHash"], "block": int(lg["blockNumber"], 16),
               "logIndex": int(lg["logIndex"], 16)}
        pos = _pos(ref)
        kind, ai = KINDS.get(a["kind"], ("?", "?"))
        b = {"batchId": a["batchId"], "gtin": str(a["gtin"]).zfill(14), "kind": kind, "ai": ai, "value": a["value"],
             "by": a["by"], "participantId": a["participantId"], "evidence": ref, "problems": []}
        p = b["problems"]
        if not gs1_check_digit_ok(a["gtin"]):
            p.append(f"GTIN {a['gtin']} fails the GS1 check digit or range")
        if a["kind"] not in KINDS or not _CSET82.match(a["value"] or ""):
            p.append(f"{kind} {a['value']!r} is not 1 to 20 characters of GS1 character set 82")
        key = "0x" + keccak(abi_encode(["uint64", "uint8", "string"], [a["gtin"], a["kind"], a["value"]])).hex()
        if key != a["key"]:
            p.append(f"key {a['key']} is not keccak256(abi.encode(gtin, kind, value)) = {key}")
        if key in seen:
            p.append(f"identifier already bound to batch {seen[key]['batchId']} (tx {seen[key]['evidence']['tx']})")
        seen.setdefault(key, b)
        if a["batchId"] not in r.batches or _pos(r.batches[a["batchId"]]["ref"]) >= pos:
            p.append(f"batch {a['batchId']} did not exist when it was bound")
        pid = wallet_at(r, a["by"], pos)
        if pid != a["participantId"]:
            p.append(f"wallet {a['by']} was bound to participant {pid}, not {a['participantId']}, at the binding")
        roles, status = participant_at(r, a["participantId"], r.block_time.get(ref["block"], d.head_ts))
        if status != ACTIVE or not roles & (ROLE_SUPPLIER | ROLE_BRAND):
            p.append(f"participant {a['participantId']} was not an active supplier or brand at the binding")
        if balance_before(r, a["by"], a["batchId"], pos) <= 0:
            p.append(f"wallet {a['by']} held none of batch {a['batchId']} when it bound the identifier")
        if not p and seen[key] is b:
            now = _view(rpc, address, "batchOf", a["gtin"], a["kind"], a["value"])
            if now != a["batchId"]:
                p.append(f"the contract answers batch {now} for this identifier, the event says {a['batchId']}")
        for msg in p:
            findings.append({"rule": "identifiers.binding", "message": msg, "evidence": ref})
        bindings.append(b)
    return {"ok": not findings, "contract": address, "chainId": d.chain_id, "ledger": d.ledger, "toBlock": d.head,
            "wiring": wiring, "bindings": bindings, "findings": findings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="coc-audit identifiers",
                                 description="verify the GS1 identifiers bound to product tokens against the chain")
    ap.add_argument("--rpc", required=True, help="JSON-RPC URL of any node of the chain")
    ap.add_argument("--registry", required=True, help="ParticipantRegistry address (everything else is discovered)")
    ap.add_argument("--contract", required=True, help="the ProductIdentifiers contract's address")
    ap.add_argument("--from-block", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        res = verify_identifiers(Rpc(args.rpc), args.contract, args.registry, args.from_block)
    except (AuditError, RpcError, OSError, ValueError) as exc:
        print(f"coc-audit identifiers: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(res, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(f"coc-audit identifiers {res['contract']}: {len(res['bindings'])} binding(s) on chain {res['chainId']}")
        for b in res["bindings"]:
            mark = "FAIL" if b["problems"] else " ok "
            print(f"  [{mark}] /01/{b['gtin']}/{b['ai']}/{b['value']} -> batch {b['batchId']} by {b['by']} "
                  f"(tx {b['evidence']['tx']})")
        for f in res["findings"]:
            print(f"  {f['rule']}: {f['message']}")
        print("RESULT: " + ("every binding holds" if res["ok"] else f"{len(res['findings'])} finding(s)"))
    return 0 if res["ok"] else 1
