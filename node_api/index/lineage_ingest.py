"""Lineage at ingest (write side): what a lineage answer needs about each new batch, stored once.

For every batch created in an indexed block range, one row of ``idx_lineage_nodes``: the facts the
answer shows about it, which never change once it is created (names are fixed at registration, the
certification status is the one at creation), rendered to a JSON fragment
(``node_api.index.lineage_fragments``), its parent edges rendered alike, and the numbers the
attribution needs (model, quantity, kind, certification) as one short text. The parent edges themselves are the
``idx_edges`` rows of the range.

The ancestry is not stored: ``node_api.index.read.lineage`` computes it at query time from the edges
(``node_api.index.ancestry``), in time proportional to the answer. Storage is therefore one row per
batch and one per edge, linear in the ledger for any sequence of operations (issue 10, K: schema 2
stored the whole ancestry of every merge, 60,300 rows for 200 split+merge rounds and about 30 GB for
10,000, on every member's index).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Row

from node_api.domain import CertificationStatus, Model

from . import schema as t
from .lineage_fragments import edges_fragment, node_fragment
from .spelling import checksum, kind_name

def _in_chunks(conn: Connection, sql: str, ids: Iterable[Any], size: int = 500) -> list[Row]:
    """Rows of ``sql`` (whose ``(:ids)`` is a list of bound parameters) for every id, in chunks."""
    ids = sorted(set(ids))
    out: list[Row] = []
    for i in range(0, len(ids), size):
        chunk = ids[i:i + size]
        names = ", ".join(f":i{j}" for j in range(len(chunk)))
        out.extend(conn.execute(text(sql.replace("(:ids)", f"({names})")), {f"i{j}": v for j, v in enumerate(chunk)}))
    return out


class _Names:
    """Names and certification facts for the batches of one range (small IN queries: the range's
    own registrations are in this transaction, not yet in any reader's cache)."""

    def __init__(self, conn: Connection, batches: list[dict[str, Any]], origins: dict[int, dict[str, Any]]):
        def load(sql: str, key: str, ids: Iterable[int]) -> dict[int, Row]:
            return {r._mapping[key]: r for r in _in_chunks(conn, sql, [i for i in ids if i])}

        self.materials = load("SELECT material, name, unit FROM idx_materials WHERE material IN (:ids)",
                              "material", {b["material"] for b in batches})
        self.characteristics = load("SELECT characteristic, name FROM idx_characteristics WHERE characteristic IN (:ids)",
                                    "characteristic", {b["characteristic"] for b in batches})
        self.participants = load("SELECT participant_id, name FROM idx_participants WHERE participant_id IN (:ids)",
                                 "participant_id", {b["creator"] for b in batches})
        self.sites = load("SELECT site_id, name FROM idx_sites WHERE site_id IN (:ids)",
                          "site_id", {o["site_id"] for o in origins.values()})
        cert_ids = {o["certification_id"] for o in origins.values()}
        self.certs = load("SELECT certification_id, scheme, certificate_number, valid_from, valid_to "
                          "FROM idx_certifications WHERE certification_id IN (:ids)", "certification_id", cert_ids)
        self.status: dict[int, list[Row]] = defaultdict(list)
        for r in _in_chunks(conn, "SELECT certification_id, block_number, log_index, status FROM idx_certification_status "
                                  "WHERE certification_id IN (:ids) ORDER BY block_number, log_index", cert_ids):
            self.status[r.certification_id].append(r)

    def certification_at(self, cid: int, block: int, log_index: int, when: int) -> dict[str, Any]:
        """Certification ``cid`` just before (block, log_index): scheme, number, status, validity."""
        c = self.certs.get(cid)
        if c is None:
            return {}
        status = CertificationStatus.ACTIVE
        for s in self.status.get(cid, ()):
            if (s.block_number, s.log_index) < (block, log_index):
                status = CertificationStatus(s.status)
        return {"certification_scheme": c.scheme, "certificate_number": c.certificate_number,
                "certification_status_at_time": status.label,
                "certification_valid_at_time": status == CertificationStatus.ACTIVE and c.valid_from <= when <= c.valid_to}

    def facts(self, b: dict[str, Any], o: dict[str, Any] | None) -> dict[str, Any]:
        """The facts of a batch (``lineage_fragments.FACT_COLUMNS``) as the lineage answer shows them."""
        mat = self.materials.get(b["material"])
        char = b["characteristic"]
        cname = (c.name if (c := self.characteristics.get(char)) else f"characteristic {char}") if char else None
        creator = self.participants.get(b["creator"])
        facts: dict[str, Any] = {
            "batch_id": b["batch_id"], "kind": kind_name(b["kind"]),
            "material": mat.name if mat else f"material {b['material']}", "unit": mat.unit if mat else "",
            "material_id": b["material"], "characteristic": cname, "characteristic_id": char,
            "model": Model(b["model"]).label, "model_id": b["model"], "share_ppm": b["share"],
            "origin_batch_id": b["origin"] or None, "creator": creator.name if creator else None,
            "creator_id": b["creator"], "created_by": checksum(b["holder"]), "quantity": b["quantity"],
            "tx_hash": b["tx_hash"], "block_number": b["block_number"], "log_index": b["log_index"],
            "time": b["block_time"],
        }
        if o is not None:
            site = self.sites.get(o["site_id"])
            cid = o["certification_id"] or None
            facts.update(site_id=o["site_id"], site=site.name if site else None,
                         geolocation_hash=o["geolocation_hash"], dds_reference=o["dds_reference"],
                         evidence_hash=o["evidence_hash"], production_date=o["production_date"],
                         certification_id=cid)
            if cid:
                facts.update(self.certification_at(cid, b["block_number"], b["log_index"], b["block_time"]))
        return facts


def derive(conn: Connection, batches: list[dict[str, Any]], edges: list[dict[str, Any]],
           origins: list[dict[str, Any]]) -> None:
    """Lineage rows for the batches created in one block range (their BatchCreated, parent edges and
    OriginRecorded rows are already inserted in this transaction): one per batch, nothing per ancestor."""
    if not batches:
        return
    parents: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for e in edges:
        parents[e["child_id"]].append((e["position"], e["parent_id"], e["quantity"]))
    by_origin = {o["batch_id"]: o for o in origins}
    names = _Names(conn, batches, by_origin)
    node_rows = []
    for b in batches:
        bid = b["batch_id"]
        o = by_origin.get(bid)
        cert = (o["certification_id"] or 0) if o is not None else 0
        node_rows.append({
            "batch_id": bid, "numbers": f"{bid},{b['model']},{b['quantity']},{b['kind']},{cert}",
            "node_json": node_fragment(names.facts(b, o)),
            "edges_json": edges_fragment(bid, [(p, q) for _, p, q in sorted(parents.get(bid, ()))]),
        })
    conn.execute(t.lineage_nodes.insert(), node_rows)
