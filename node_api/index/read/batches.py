"""Batches: what a batch is, where it came from directly, who holds it; its descendants.

Descendants are recursive SQL (``WITH RECURSIVE``) over ``idx_edges``: the cost of the answer grows
with its size, not with the size of the ledger. Every object carries the transaction hash and block
number of the event it comes from."""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from node_api.domain import ConsumeReason, Model, TransferStatus

from .. import schema as t
from ..spelling import checksum, kind_name
from .common import DESCENDANTS_CTE, fact
from .holdings import holders
from .reference import Reference

#: A batch and its origin facts (NULL unless it is an origin), as ``batch_node`` reads them by name.
_NODE_COLUMNS = ("b.batch_id, b.kind, b.material, b.characteristic, b.model, b.share, b.origin, b.creator, "
                 "b.holder, b.quantity, b.block_number, b.log_index, b.tx_hash, b.block_time, "
                 "o.site_id AS o_site_id, o.certification_id AS o_certification_id, "
                 "o.geolocation_hash AS o_geolocation_hash, o.dds_reference AS o_dds_reference, "
                 "o.evidence_hash AS o_evidence_hash, o.production_date AS o_production_date")
_ORIGIN_JOIN = "LEFT JOIN idx_origins o ON o.batch_id = b.batch_id"


def batch_node(m: Mapping[str, Any], ref: Reference) -> dict[str, Any]:
    """A batch as the API shows it, from a row of ``_NODE_COLUMNS`` (by name)."""
    char = m["characteristic"]
    node = {
        "batch_id": m["batch_id"], "kind": kind_name(m["kind"]), "material_id": m["material"],
        "material": ref.material_name(m["material"]), "unit": ref.unit(m["material"]),
        "characteristic_id": char, "characteristic": ref.characteristic_name(char),
        "model_id": m["model"], "model": Model(m["model"]).label, "share_ppm": m["share"],
        "origin_batch_id": m["origin"] or None, "creator_id": m["creator"],
        "creator": ref.participant_name(m["creator"]), "created_by": checksum(m["holder"]), "quantity": m["quantity"],
        "tx_hash": m["tx_hash"], "block_number": m["block_number"], "log_index": m["log_index"], "time": m["block_time"],
    }
    if m["o_site_id"] is not None:  # an origin batch (OriginRecorded, same transaction)
        node["site_id"] = m["o_site_id"]
        node["site"] = ref.site_name(m["o_site_id"])
        node["certification_id"] = m["o_certification_id"] or None
        node["geolocation_hash"] = m["o_geolocation_hash"]
        node["dds_reference"] = m["o_dds_reference"]
        node["evidence_hash"] = m["o_evidence_hash"]
        node["production_date"] = m["o_production_date"]
    return node


def batch(conn: Connection, batch_id: int, ref: Reference) -> dict[str, Any] | None:
    """The batch itself: what it is, where it came from directly, who holds it now."""
    row = conn.execute(text(f"SELECT {_NODE_COLUMNS} FROM idx_batches b {_ORIGIN_JOIN} WHERE b.batch_id = :id"),
                       {"id": batch_id}).first()
    if row is None:
        return None
    node = batch_node(row._mapping, ref)
    node["parents"] = [{"batch_id": r.parent_id, "quantity": r.quantity} for r in conn.execute(
        text("SELECT parent_id, quantity FROM idx_edges WHERE child_id = :id ORDER BY position"), {"id": batch_id})]
    node["children"] = [{"batch_id": r.child_id, "quantity": r.quantity} for r in conn.execute(
        text("SELECT child_id, quantity FROM idx_edges WHERE parent_id = :id ORDER BY child_id"), {"id": batch_id})]
    tr = conn.execute(select(t.transforms).where(t.transforms.c.output_batch_id == batch_id)).first()
    if tr is not None:
        m = tr._mapping
        proc = ref.processes.get(m["process_id"])
        node["transform"] = {"process_id": m["process_id"], "process": proc.name if proc else None,
                             "factor_ppm": proc.factor if proc else None, "input_quantity": m["input_quantity"],
                             "output_quantity": m["output_quantity"], "loss": m["loss"],
                             "credits_converted": m["credits_converted"], "credits_produced": m["credits_produced"],
                             **fact(tr)}
    node["holders"] = holders(conn, "ledger", batch_id, ref)
    node["in_transit"] = sum(r.quantity for r in conn.execute(
        select(t.transfers.c.quantity).where(t.transfers.c.batch_id == batch_id,
                                             t.transfers.c.status == TransferStatus.PENDING.label)))
    node["consumed"] = [{"holder": ref.who(r.holder, r.block_number), "quantity": r.quantity,
                         "reason": ConsumeReason(r.reason).label, "ref": r.ref, **fact(r)}
                        for r in conn.execute(select(t.consumptions).where(t.consumptions.c.batch_id == batch_id)
                                              .order_by(t.consumptions.c.block_number, t.consumptions.c.log_index))]
    return node


def exists(conn: Connection, batch_id: int) -> bool:
    return conn.execute(select(t.batches.c.batch_id).where(t.batches.c.batch_id == batch_id)).first() is not None


def descendants(conn: Connection, batch_id: int, ref: Reference) -> dict[str, Any]:
    """Every batch made (partly) of this one, and the edges between them."""
    nodes = [batch_node(r._mapping, ref) for r in conn.execute(text(
        f"{DESCENDANTS_CTE} SELECT {_NODE_COLUMNS} FROM des JOIN idx_batches b ON b.batch_id = des.id {_ORIGIN_JOIN} "
        "ORDER BY b.batch_id"), {"root": batch_id}).fetchall()]
    edges = [dict(r._mapping) for r in conn.execute(text(
        f"{DESCENDANTS_CTE}, n(id) AS (SELECT id FROM des UNION SELECT :root) "
        "SELECT e.child_id, e.parent_id, e.quantity FROM n JOIN idx_edges e ON e.parent_id = n.id "
        "ORDER BY e.child_id, e.position"), {"root": batch_id})]
    return {"batch_id": batch_id, "descendant_count": len(nodes), "nodes": nodes, "edges": edges}
