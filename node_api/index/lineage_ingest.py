"""Lineage, materialised at ingest (write side): a batch's whole ancestry becomes one range scan at
query time (``node_api.index.read.lineage``).

For a batch B and each ancestor A (by proportional attribution through every recorded split, merge
and transform, exactly as a walk of the parents from B would compute it):

- ``taken``: the quantity of A, in A's unit, that went into B. B takes its parents' edge quantities;
  a parent X passes on ``taken(X) / quantity(X)`` of each of its own edge quantities.
- ``contribution``: the part of B, in B's unit, that A accounts for. B's quantity is shared among its
  parents in proportion to the edge quantities, and so on up (a transform's loss is shared alike).
- ``weakest``: the weakest chain-of-custody model on any path A -> B, both ends included.
- ``toward``: the batch after A on one path A -> B; following ``toward`` from A reaches B.

These compose over the parents P_i of B (edge quantities q_i, their sum S):

    taken_B(A)        = sum_i q_i / qty(P_i) * taken_P_i(A)                     taken_P(P) = qty(P)
    contribution_B(A) = sum_i q_i * qty(B) / (S * qty(P_i)) * contribution_P_i(A)  contribution_P(P) = qty(P)

so the ancestry of a batch is computed from its parents' when its BatchCreated is indexed, and the
query reads it back instead of walking the graph. Storage: only "anchors", batches with two or more
parents (merges, multi-input transforms), have rows in ``idx_lineage`` (one per ancestor). A batch
with one parent (a split part, a one-input transform, a batch released by a pledge) is answered
from the chain of single parents up to its nearest anchor or origin: the anchor's rows times exact
factors of that chain (``node_api.index.ancestry``), applied in SQL. Splitting a big batch into many
pieces therefore adds no rows; a long series of merges that each add a little to one big batch (a
silo topped up) stores the whole ancestry at every step, which is quadratic in that case.

Numbers: the factors of a chain are exact fractions rounded once to a double; the stored values are
doubles summed in a fixed order (parents by position, then ancestors by id), so an index rebuilt from
the chain holds bit-identical values, on SQLite and PostgreSQL alike. The JSON shows them as the
database converts a double to text (SQLite: 15 significant digits; PostgreSQL: the shortest exact
form), at ingest and at query time alike.

Rendering: the facts shown about a batch never change once it is created (names are fixed at
registration, the certification status is the one at creation), and neither does an anchor's
ancestry, so both are rendered to JSON fragments at ingest (``node_api.index.lineage_fragments``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from fractions import Fraction
from typing import Any, Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection, Row

from node_api.domain import CertificationStatus, Model

from . import schema as t
from .ancestry import NODE_INFO_COLUMNS, NodeInfo, resolve
from .lineage_fragments import attribution_sql, edges_fragment, node_fragment
from .spelling import checksum, kind_name

#: An ancestor's stored attribution: (ancestor id, taken, contribution, weakest model, toward).
AncestryRow = tuple[int, float, float, int, int]


def _in_chunks(conn: Connection, sql: str, ids: Iterable[Any], size: int = 500) -> list[Row]:
    """Rows of ``sql`` (whose ``(:ids)`` is a list of bound parameters) for every id, in chunks."""
    ids = sorted(set(ids))
    out: list[Row] = []
    for i in range(0, len(ids), size):
        chunk = ids[i:i + size]
        names = ", ".join(f":i{j}" for j in range(len(chunk)))
        out.extend(conn.execute(text(sql.replace("(:ids)", f"({names})")), {f"i{j}": v for j, v in enumerate(chunk)}))
    return out


class _Ingest:
    """Everything derived for one indexed block range (called inside its database transaction,
    after the range's own rows are inserted)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.info: dict[int, NodeInfo] = {}
        self.rows: dict[int, list[AncestryRow]] = {}  # anchors computed in this range

    # -- lookups -----------------------------------------------------------
    def prefetch(self, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self.info]
        sql = f"SELECT batch_id, {', '.join(NODE_INFO_COLUMNS)} FROM idx_lineage_nodes WHERE batch_id IN (:ids)"
        for r in _in_chunks(self.conn, sql, missing):
            self.info[r.batch_id] = NodeInfo.of(r._mapping)

    def info_of(self, bid: int) -> NodeInfo:
        if bid not in self.info:
            self.prefetch([bid])
        return self.info[bid]

    def rows_of(self, anchor: int) -> Sequence[AncestryRow]:
        rows = self.rows.get(anchor)
        if rows is None:
            rows = [(r.ancestor_id, r.taken, r.contribution, r.weakest, r.toward) for r in self.conn.execute(text(
                "SELECT ancestor_id, taken, contribution, weakest, toward FROM idx_lineage WHERE batch_id = :a "
                "ORDER BY ancestor_id"), {"a": anchor})]
        return rows

    # -- the ancestry of a batch with two or more parents -----------------------------------
    def ancestry(self, bid: int, parents: list[tuple[int, int]]) -> tuple[list[AncestryRow], set[int]]:
        """(rows by ancestor id, certification ids of the origins) of a batch with 2+ parents."""
        me = self.info[bid]
        certs: set[int] = set()
        total = sum(q for _, q in parents)
        self.prefetch(p for p, _ in parents)
        acc: dict[int, list[Any]] = {}

        def add(a: int, tk: float, ct: float, w: int, tw: int) -> None:
            e = acc.get(a)
            if e is None:
                acc[a] = [tk, ct, w, tw]
            else:
                e[0] += tk
                e[1] += ct
                if w < e[2]:
                    e[2] = w

        for p, q in parents:
            ch = resolve(p, self.info_of)
            pq = self.info[p].quantity
            kt = Fraction(q, pq)
            kc = Fraction(q * me.quantity, total * pq)
            for y, tk, ct, w, tw in ch.nodes:
                add(y, float(tk * kt), float(ct * kc), min(w, me.model), bid if tw is None else tw)
                cid = self.info[y].certification_id
                if cid:
                    certs.add(cid)
            if ch.anchor_has_rows:
                certs |= self.info[ch.anchor].certifications()
                ft, fc, wm = float(ch.ft * kt), float(ch.fc * kc), min(ch.w, me.model)
                for a, tk, ct, w, tw in self.rows_of(ch.anchor):
                    add(a, tk * ft, ct * fc, w if w < wm else wm, tw)
        return [(a, e[0], e[1], e[2], e[3]) for a, e in sorted(acc.items())], certs


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
    OriginRecorded rows are already inserted in this transaction; parents from earlier ranges are read
    back from the database)."""
    if not batches:
        return
    parents: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for e in edges:
        parents[e["child_id"]].append((e["position"], e["parent_id"], e["quantity"]))
    by_origin = {o["batch_id"]: o for o in origins}
    names = _Names(conn, batches, by_origin)
    ing = _Ingest(conn)
    node_rows = []
    anchors = []
    for b in batches:
        bid = b["batch_id"]
        ps = [(p, q) for _, p, q in sorted(parents.get(bid, ()))]
        o = by_origin.get(bid)
        single = ps[0] if len(ps) == 1 else (None, None)
        cid = (o["certification_id"] or None) if o is not None else None
        ing.info[bid] = NodeInfo(b["kind"], b["model"], b["quantity"], len(ps), single[0], single[1], cid)
        node_rows.append({
            "batch_id": bid, "kind": b["kind"], "model": b["model"], "quantity": b["quantity"], "parent_count": len(ps),
            "parent_id": single[0], "parent_quantity": single[1], "certification_id": cid, "certification_ids": None,
            "node_json": node_fragment(names.facts(b, o)),
            "edges_json": edges_fragment(bid, ps),
        })
        if len(ps) >= 2:
            anchors.append((bid, ps))
    out: list[dict[str, Any]] = []
    by_id = {r["batch_id"]: r for r in node_rows}
    for bid, ps in sorted(anchors):
        rows, certs = ing.ancestry(bid, ps)
        ing.rows[bid] = rows
        cert_ids = ",".join(str(c) for c in sorted(certs))
        by_id[bid]["certification_ids"] = cert_ids
        ing.info[bid] = replace(ing.info[bid], certification_ids=cert_ids)
        out.extend({"batch_id": bid, "ancestor_id": a, "taken": tk, "contribution": ct, "weakest": w, "toward": tw,
                    "attr_json": None} for a, tk, ct, w, tw in rows)
    conn.execute(t.lineage_nodes.insert(), node_rows)
    if out:
        conn.execute(t.lineage.insert(), out)
        # rendered by the database, exactly as a query renders the same numbers scaled by 1
        for bid, _ps in anchors:
            conn.execute(text(f"UPDATE idx_lineage SET attr_json = {attribution_sql('')} WHERE batch_id = :b"),
                         {"b": bid})
