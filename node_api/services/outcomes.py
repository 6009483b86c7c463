"""What a client is told about a relayed transaction: its outcome when mined (the ids it created, the
decoded events) or a revert mapped to its error, and the status of any transaction this node relayed.
"""

from __future__ import annotations

import json
from typing import Any

from ..db import Database
from ..errors import ApiError, contract_error
from .contracts import Contracts

#: Events whose argument is the id a client wants back (result summary of a submit).
RESULT_FIELDS: dict[str, list[str]] = {
    "BatchCreated": ["batchId"],
    "CustodyProposed": ["transferId"],
    "ParticipantRegistered": ["participantId"],
    "SiteAdded": ["siteId"],
    "CertificationRecorded": ["certificationId"],
    "MaterialRegistered": ["material"],
    "SchemeRegistered": ["scheme"],
    "CharacteristicRegistered": ["characteristic"],
    "ProcessRegistered": ["processId"],
    "CertificatesIssued": ["certificateId"],
    "CertificatesRetired": ["retirementId"],
    "AttributesPledged": ["pledgeId", "releasedBatchId"],
}

#: how far a chain of re-signed transactions is followed
_MAX_REPLACEMENTS = 16


def summarize(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The ids a client wants back from the decoded events of one transaction."""
    result: dict[str, Any] = {}
    for ev in events:
        for f in RESULT_FIELDS.get(ev["event"], []):
            v = ev["args"].get(f)
            if v in (None, 0) and f == "releasedBatchId":
                continue
            if f == "batchId" and ev["event"] == "BatchCreated":
                result.setdefault("batchIds", []).append(v)
            else:
                result[f] = v
    return result


class Outcomes:
    def __init__(self, contracts: Contracts, db: Database):
        self.contracts = contracts
        self.db = db

    def outcome_body(self, outcome: dict[str, Any]) -> dict[str, Any]:
        """The answer for a settled transaction; raises the mapped ApiError if it reverted."""
        events = self.contracts.decode_logs(outcome.get("logs") or [])
        if outcome["status"] == "reverted":
            err = outcome.get("error") or {"name": "", "args": {}}
            raise contract_error(err.get("name", ""), err.get("args", {}), tx_hash=outcome["txHash"])
        return {
            "txHash": outcome["txHash"],
            "status": outcome["status"],
            "action": outcome.get("action"),
            "signer": outcome.get("signer"),
            "blockNumber": outcome.get("blockNumber"),
            "gasUsed": outcome.get("gasUsed"),
            "result": summarize(events),
            "events": events,
        }

    def tx_status(self, tx_hash: str) -> dict[str, Any]:
        row = self.db.tx(tx_hash)
        if row is None:
            raise ApiError(404, "UnknownTransaction", f"this node relayed no transaction {tx_hash}", {"txHash": tx_hash})
        return self.row_body(row)

    def row_body(self, row: dict[str, Any]) -> dict[str, Any]:
        """The status of a relayed transaction. One the relayer had to sign again (its nonce was
        taken or the chain refused it) answers with its replacement's status, naming both."""
        original = row["hash"]
        for _ in range(_MAX_REPLACEMENTS):
            if row["status"] != "replaced":
                break
            link = json.loads(row["error"] or "{}").get("replacedBy")
            nxt = self.db.tx(link) if link else None
            if nxt is None:  # being signed again right now
                return {"txHash": original, "status": "pending", "action": row["action"], "signer": row["signer"],
                        "nonce": row["nonce"], "blockNumber": None, "gasUsed": None}
            row = nxt
        body = self._row_body(row)
        if row["hash"] != original:
            body["replaces"] = original
        return body

    def _row_body(self, row: dict[str, Any]) -> dict[str, Any]:
        status = {"signed": "pending", "sent": "pending"}.get(row["status"], row["status"])
        body: dict[str, Any] = {
            "txHash": row["hash"], "status": status, "action": row["action"], "signer": row["signer"],
            "nonce": row["nonce"], "blockNumber": row["block_number"], "gasUsed": row["gas_used"],
        }
        if row["logs"]:
            events = self.contracts.decode_logs(json.loads(row["logs"]))
            body["result"] = summarize(events)
            body["events"] = events
        if row["error"]:
            err = json.loads(row["error"])
            if row["status"] == "reverted":
                e = contract_error(err.get("name", ""), err.get("args", {}))
                body["error"] = {"error": e.error, "message": e.message, "details": e.details}
            else:
                body["error"] = {"error": err.get("name"), "message": err.get("message")}
        return body

    def refresh(self, body: dict[str, Any], *, replayed: bool) -> dict[str, Any]:
        """A recorded answer with the current status of its transactions: one that was pending and
        settled since, and one the chain lost since it was answered (sent again: ``pending`` until
        mined again; not recoverable: ``lost`` with the reason). Never a stale ``mined``."""
        def one(b: dict[str, Any]) -> dict[str, Any]:
            if not b.get("txHash"):
                return b
            row = self.db.tx(b["txHash"])
            if row is None:
                return b
            if b.get("status") == "pending":
                return {**b, **self.row_body(row)}
            now = self.row_body(row)
            if now["status"] == b.get("status") and now.get("blockNumber") == b.get("blockNumber"):
                return b
            kept = {k: v for k, v in b.items() if k not in ("result", "events", "error")}
            return {**kept, **now}

        body = dict(body)
        if "items" in body:
            body["items"] = [one(b) for b in body["items"]]
        else:
            body = one(body)
        body["replayed"] = replayed
        return body
