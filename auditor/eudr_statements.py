"""EUDR due-diligence statements recorded in DueDiligenceRegistry, checked against the replayed ledger.

The registry is not linked in the participant registry, so the auditor is told its address (``coc-audit
--dds-registry``). Its three events are decoded here from their own signatures (the auditor shares only the
contracts' interface, never the node's code), and each is checked (rule ``eudr.statements``): a statement is
recorded only for a batch the replay finds EUDR-traceable, by a participant that exists, with indexes in
sequence per batch and a reference recorded once per batch; an amendment or a retraction names an existing,
unretracted statement of the same participant. The audit lists every statement with its reference and
verification numbers, so a downstream operator can cite them.
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from . import rules
from .model import Findings

EVENTS = {
    "DdsRecorded": ("DdsRecorded(uint256,uint256,uint32,string,string,bytes32)", ["string", "string", "bytes32"],
                    ["referenceNumber", "verificationNumber", "documentHash"]),
    "DdsAmended": ("DdsAmended(uint256,uint256,uint32,string,bytes32)", ["string", "bytes32"],
                   ["verificationNumber", "documentHash"]),
    "DdsRetracted": ("DdsRetracted(uint256,uint256,uint32)", [], []),
}
TOPICS = {"0x" + keccak(text=sig).hex(): (name, types, names) for name, (sig, types, names) in EVENTS.items()}


def decode(log: dict) -> dict[str, Any] | None:
    """One registry log as {event, batchId, index, participantId, ..., ref}; None for another event."""
    topics = log["topics"]
    known = TOPICS.get(topics[0]) if topics else None
    if known is None:
        return None
    name, types, names = known
    values = abi_decode(types, bytes.fromhex(log["data"][2:])) if types else ()
    ev = {"event": name, "batchId": int(topics[1], 16), "index": int(topics[2], 16), "participantId": int(topics[3], 16),
          "ref": {"tx": log["transactionHash"], "block": int(log["blockNumber"], 16), "logIndex": int(log["logIndex"], 16),
                  "event": name}}
    for k, v in zip(names, values):
        ev[k] = "0x" + v.hex() if isinstance(v, bytes) else v
    return ev


def check(events: list[dict[str, Any]], eudr_status: dict[int, int], participants: dict[int, Any],
          f: Findings) -> list[dict[str, Any]]:
    """Checks the decoded events (in chain order); returns the statements as they stand."""
    by_batch: dict[int, list[dict[str, Any]]] = {}
    rule = "eudr.statements"
    for ev in events:
        bid, idx = ev["batchId"], ev["index"]
        rows = by_batch.setdefault(bid, [])
        if ev["event"] == "DdsRecorded":
            problems = []
            if eudr_status.get(bid) != rules.EUDR_TRACEABLE:
                problems.append(f"batch {bid} is not EUDR-traceable (status {eudr_status.get(bid, 'unknown')})")
            if ev["participantId"] not in participants:
                problems.append(f"participant {ev['participantId']} does not exist")
            if idx != len(rows):
                problems.append(f"index {idx} out of sequence (expected {len(rows)})")
            if any(r["referenceNumber"] == ev["referenceNumber"] for r in rows):
                problems.append(f"reference {ev['referenceNumber']} recorded twice")
            rows.append({"batchId": bid, "index": idx, "participantId": ev["participantId"],
                         "referenceNumber": ev["referenceNumber"], "verificationNumber": ev["verificationNumber"],
                         "documentHash": ev["documentHash"], "retracted": False, "amendments": 0, "ref": ev["ref"]})
        else:
            st = rows[idx] if idx < len(rows) else None
            problems = []
            if st is None:
                problems.append(f"{ev['event']} names statement {idx} of batch {bid}, which was never recorded")
            elif st["participantId"] != ev["participantId"]:
                problems.append(f"{ev['event']} by participant {ev['participantId']}, recorded by {st['participantId']}")
            elif st["retracted"]:
                problems.append(f"{ev['event']} of statement {idx} of batch {bid}, already retracted")
            elif ev["event"] == "DdsAmended":
                st.update(verificationNumber=ev["verificationNumber"], documentHash=ev["documentHash"])
                st["amendments"] += 1
            else:
                st["retracted"] = True
        if problems:
            f.add(rule, "; ".join(problems), [ev["ref"]])
        else:
            f.ok(rule)
    return [s for rows in by_batch.values() for s in rows]


def audit_statements(rpc: Any, address: str, from_block: int, to_block: int, replay: Any) -> list[dict[str, Any]]:
    """Fetches the registry's logs and checks them against ``replay`` (its findings get the results)."""
    logs = rpc.call("eth_getLogs", [{"address": address, "fromBlock": hex(from_block), "toBlock": hex(to_block)}])
    logs.sort(key=lambda lg: (int(lg["blockNumber"], 16), int(lg["logIndex"], 16)))
    events = [e for e in map(decode, logs) if e is not None]
    return check(events, replay.eudr_status, replay.participants, replay.f)
