"""Custody transfers (CustodyProposed and the event that settled it): who signed a batch away, who
received it, when, and the transactions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Row

from node_api.domain import TransferStatus

from .. import schema as t
from .common import ANCESTORS_CTE
from .reference import Reference


def transfer(r: Row, ref: Reference) -> dict[str, Any]:
    """One transfer (a row of ``idx_transfers``) as the API shows it."""
    m = r._mapping
    out = {
        "transfer_id": m["transfer_id"],
        "batch_id": m["batch_id"],
        "status": m["status"],
        "signer": ref.who(m["from_address"], m["proposed_block"]),
        "receiver": ref.who(m["to_address"], m["proposed_block"]),
        "quantity": m["quantity"],
        "certified_quantity": m["certified_quantity"],
        "declaration": m["certified_quantity"] > 0,
        "nonce": m["nonce"],
        "deadline": m["deadline"],
        "sender_signature": m["signature"],
        "proposed": {"tx_hash": m["proposed_tx"], "block_number": m["proposed_block"], "time": m["proposed_time"],
                     "log_index": m["proposed_log_index"]},
        "settled": None,
    }
    if m["settled_tx"] is not None:
        cancelled = m["status"] == TransferStatus.CANCELLED.label
        out["settled"] = {"tx_hash": m["settled_tx"], "block_number": m["settled_block"], "time": m["settled_time"],
                          "log_index": m["settled_log_index"], "signature": m["settle_signature"],
                          "signed_by": out["signer"] if cancelled else out["receiver"]}
    return out


def custody(conn: Connection, batch_id: int, ref: Reference, *, with_ancestors: bool = True) -> list[dict[str, Any]]:
    """Every custody transfer of the batch (and of its ancestors), in chain order."""
    if with_ancestors:
        q = text(f"{ANCESTORS_CTE}, n(id) AS (SELECT id FROM anc UNION SELECT :root) "
                 "SELECT tr.* FROM n JOIN idx_transfers tr ON tr.batch_id = n.id "
                 "ORDER BY tr.proposed_block, tr.proposed_log_index")
    else:
        q = text("SELECT * FROM idx_transfers WHERE batch_id = :root ORDER BY proposed_block, proposed_log_index")
    return [transfer(r, ref) for r in conn.execute(q, {"root": batch_id})]


def pending(conn: Connection, wallets: list[str], ref: Reference) -> dict[str, list[dict[str, Any]]]:
    """Transfers still pending from and to ``wallets``, in the order they were proposed."""
    if not wallets:
        return {"outgoing": [], "incoming": []}
    tr = t.transfers.c
    is_pending = tr.status == TransferStatus.PENDING.label
    return {direction: [transfer(r, ref) for r in conn.execute(
        select(t.transfers).where(is_pending, side.in_(wallets)).order_by(tr.proposed_block))]
        for direction, side in (("outgoing", tr.from_address), ("incoming", tr.to_address))}
