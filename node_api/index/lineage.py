"""Lineage, materialised at ingest: a batch's whole ancestry is one range scan at query time.

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
factors of that chain, applied in SQL. Splitting a big batch into many pieces therefore adds no rows;
a long series of merges that each add a little to one big batch (a silo topped up) stores the whole
ancestry at every step, which is quadratic in that case.

Numbers: the factors of a chain are exact fractions rounded once to a double; the stored values are
doubles summed in a fixed order (parents by position, then ancestors by id), so an index rebuilt from
the chain holds bit-identical values, on SQLite and PostgreSQL alike. The JSON shows them as the
database converts a double to text (SQLite: 15 significant digits; PostgreSQL: the shortest exact
form), at ingest and at query time alike.

Rendering: the facts shown about a batch never change once it is created (names are fixed at
registration, the certification status is the one at creation), and neither does an anchor's
ancestry, so both are rendered to JSON at ingest (``idx_lineage_nodes.node_json``,
``idx_lineage.attr_json``). The lineage of an anchor is then one ordered range scan whose rows the
database concatenates; the lineage of a batch below an anchor is the same scan with the attribution
scaled and rendered in SQL. No per-row work in Python either way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

from . import schema as t
from .queries import CERT_STATUS, KIND_NAMES, MODEL_NAMES, _certification_base, _certifications, checksum

#: Columns of a row of ``nodes`` in the compact answer: the batch's facts (immutable, rendered at
#: ingest), its origin facts (origins only, else null), then its attribution to the answered batch.
NODE_COLUMNS = (
    "batch_id", "kind", "material", "unit", "material_id", "characteristic", "characteristic_id", "model",
    "model_id", "share_ppm", "origin_batch_id", "creator", "creator_id", "created_by", "quantity", "tx_hash",
    "block_number", "log_index", "time",
    "site_id", "site", "geolocation_hash", "dds_reference", "evidence_hash", "production_date",
    "certification_id", "certification_scheme", "certificate_number", "certification_status_at_time",
    "certification_valid_at_time",
    "quantity_taken", "contribution", "weakest_model_id", "toward",
)
EDGE_COLUMNS = ("child_id", "parent_id", "quantity")
_BASE = NODE_COLUMNS.index("site_id")
_ORIGIN_END = NODE_COLUMNS.index("quantity_taken")

_NODE_COLS = ("batch_id, kind, model, quantity, parent_count, parent_id, parent_quantity, certification_id, "
              "certification_ids")


@dataclass(frozen=True)
class NodeInfo:
    kind: int
    model: int
    quantity: int
    parent_count: int
    parent_id: int | None
    parent_quantity: int | None
    certification_id: int | None = None
    certification_ids: str | None = None  # anchors: every origin certification in the ancestry

    def certifications(self) -> set[int]:
        return {int(c) for c in self.certification_ids.split(",") if c} if self.certification_ids else set()


@dataclass
class Chain:
    """A batch (the root) and its single parents up to the nearest batch that has not exactly one
    parent (the anchor), with exact attribution relative to the root; ``ft``/``fc``/``w`` turn the
    anchor's stored rows into the root's."""

    nodes: list[tuple[int, Fraction, Fraction, int, int | None]]  # (id, taken, contribution, weakest, toward)
    anchor: int
    anchor_has_rows: bool
    ft: Fraction
    fc: Fraction
    w: int


def resolve(root: int, info_of: Callable[[int], NodeInfo]) -> Chain:
    r = info_of(root)
    whole = Fraction(r.quantity)
    nodes: list[tuple[int, Fraction, Fraction, int, int | None]] = [(root, whole, whole, r.model, None)]
    cur, ci, taken, weakest = root, r, whole, r.model
    while ci.parent_count == 1:
        p = ci.parent_id
        assert p is not None and ci.parent_quantity is not None
        pi = info_of(p)
        taken = taken * ci.parent_quantity / ci.quantity
        weakest = min(weakest, pi.model)
        nodes.append((p, taken, whole, weakest, cur))
        cur, ci = p, pi
    return Chain(nodes, cur, ci.parent_count >= 2, taken / ci.quantity, whole / ci.quantity, weakest)


# ---------------------------------------------------------------------- ingest
def _in_chunks(conn: Connection, sql: str, ids: Iterable[Any], size: int = 500) -> list[Any]:
    ids = sorted(set(ids))
    out: list[Any] = []
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
        self.rows: dict[int, list[tuple[int, float, float, int, int]]] = {}  # anchors computed in this range

    # -- lookups -----------------------------------------------------------
    def prefetch(self, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self.info]
        for r in _in_chunks(self.conn, f"SELECT {_NODE_COLS} FROM idx_lineage_nodes WHERE batch_id IN (:ids)", missing):
            self.info[r[0]] = NodeInfo(*r[1:])

    def info_of(self, bid: int) -> NodeInfo:
        if bid not in self.info:
            self.prefetch([bid])
        return self.info[bid]

    def rows_of(self, anchor: int) -> Sequence[tuple[int, float, float, int, int]]:
        rows = self.rows.get(anchor)
        if rows is None:
            rows = [tuple(r) for r in self.conn.execute(text(
                "SELECT ancestor_id, taken, contribution, weakest, toward FROM idx_lineage WHERE batch_id = :a "
                "ORDER BY ancestor_id"), {"a": anchor})]
        return rows

    # -- the ancestry of a batch with two or more parents -----------------------------------
    def ancestry(self, bid: int, parents: list[tuple[int, int]]) -> tuple[list[tuple[int, float, float, int, int]], set[int]]:
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
    """Names and certification facts for the batches of one range (small IN queries)."""

    def __init__(self, conn: Connection, batches: list[dict[str, Any]], origins: dict[int, dict[str, Any]]):
        def load(sql: str, ids: Iterable[int]) -> dict[int, tuple]:
            return {r[0]: tuple(r[1:]) for r in _in_chunks(conn, sql, [i for i in ids if i])}

        self.materials = load("SELECT material, name, unit FROM idx_materials WHERE material IN (:ids)",
                              {b["material"] for b in batches})
        self.characteristics = load("SELECT characteristic, name FROM idx_characteristics WHERE characteristic IN (:ids)",
                                    {b["characteristic"] for b in batches})
        self.participants = load("SELECT participant_id, name FROM idx_participants WHERE participant_id IN (:ids)",
                                 {b["creator"] for b in batches})
        self.sites = load("SELECT site_id, name FROM idx_sites WHERE site_id IN (:ids)",
                          {o["site_id"] for o in origins.values()})
        cert_ids = {o["certification_id"] for o in origins.values()}
        self.certs = load("SELECT certification_id, scheme, certificate_number, valid_from, valid_to "
                          "FROM idx_certifications WHERE certification_id IN (:ids)", cert_ids)
        self.status: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for r in _in_chunks(conn, "SELECT certification_id, block_number, log_index, status FROM idx_certification_status "
                                  "WHERE certification_id IN (:ids) ORDER BY block_number, log_index", cert_ids):
            self.status[r[0]].append((r[1], r[2], r[3]))

    def certification_at(self, cid: int, block: int, log_index: int, when: int) -> list[Any]:
        """[scheme, number, status name, valid] of certification ``cid`` just before (block, log_index)."""
        c = self.certs.get(cid)
        if c is None:
            return [None, None, None, None]
        status = 1
        for b, li, s in self.status.get(cid, ()):
            if (b, li) < (block, log_index):
                status = s
        return [c[0], c[1], CERT_STATUS[status], status == 1 and c[2] <= when <= c[3]]

    def render(self, b: dict[str, Any], o: dict[str, Any] | None) -> str:
        mat = self.materials.get(b["material"]) or (f"material {b['material']}", "")
        char = b["characteristic"]
        cname = ((self.characteristics.get(char) or (f"characteristic {char}",))[0]) if char else None
        creator = self.participants.get(b["creator"])
        vals: list[Any] = [
            b["batch_id"], KIND_NAMES[b["kind"]], mat[0], mat[1], b["material"], cname, char, MODEL_NAMES[b["model"]],
            b["model"], b["share"], b["origin"] or None, creator[0] if creator else None, b["creator"],
            checksum(b["holder"]), b["quantity"], b["tx_hash"], b["block_number"], b["log_index"], b["block_time"],
        ]
        if o is not None:
            site = self.sites.get(o["site_id"])
            cid = o["certification_id"] or None
            vals += [o["site_id"], site[0] if site else None, o["geolocation_hash"], o["dds_reference"],
                     o["evidence_hash"], o["production_date"], cid]
            vals += self.certification_at(cid, b["block_number"], b["log_index"], b["block_time"]) if cid else [None] * 4
        else:
            vals += [None] * (_ORIGIN_END - _BASE)
        return json.dumps(vals, separators=(",", ":"), ensure_ascii=False)[:-1]


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
            "node_json": names.render(b, o),
            "edges_json": ",".join(f"[{bid},{p},{q}]" for p, q in ps) or None,
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
            conn.execute(text(f"UPDATE idx_lineage SET attr_json = {_attr_expr('')} WHERE batch_id = :b"), {"b": bid})


# ---------------------------------------------------------------------- query
_CHAIN_SQL = f"""
WITH RECURSIVE ch(id) AS (
    SELECT CAST(:root AS BIGINT)
    UNION ALL
    SELECT n.parent_id FROM ch JOIN idx_lineage_nodes n ON n.batch_id = ch.id WHERE n.parent_count = 1
)
SELECT {", ".join("n." + c.strip() for c in _NODE_COLS.split(","))}, n.node_json, n.edges_json
FROM ch JOIN idx_lineage_nodes n ON n.batch_id = ch.id"""

_ANCESTRY_FROM = "FROM idx_lineage l JOIN idx_lineage_nodes n ON n.batch_id = l.ancestor_id WHERE l.batch_id = :anchor"

def _attr_expr(col: str, ft: str = "", fc: str = "", w: str | None = None) -> str:
    """SQL rendering ``,taken,contribution,weakest,toward]`` of an ``idx_lineage`` row (optionally
    scaled): the database's own float-to-text conversion, the same at ingest and at query time."""
    weakest = f"{col}weakest" if w is None else f"CASE WHEN {col}weakest < {w} THEN {col}weakest ELSE {w} END"
    return (f"',' || CAST({col}taken{ft} AS TEXT) || ',' || CAST({col}contribution{fc} AS TEXT) || ',' || "
            f"CAST({weakest} AS TEXT) || ',' || CAST({col}toward AS TEXT) || ']'")


#: Every ancestor of the anchor as a JSON array (node_json closed by the attribution), its parent
#: edges, whether it is an origin. SQLite concatenates them itself, in ancestor order (an ordered
#: subquery under an aggregate is not flattened, and the scan is in key order anyway); PostgreSQL
#: returns the rendered rows in order and Python joins them (its ordered string_agg sorts the wide
#: rows, which costs more than sending them).
_AGG = {
    "sqlite": ("SELECT group_concat(r, ','), group_concat(e, ','), count(*), sum(o) FROM (SELECT {row} AS r, "
               "n.edges_json AS e, CASE WHEN n.kind = 0 THEN 1 ELSE 0 END AS o "
               f"{_ANCESTRY_FROM} ORDER BY l.ancestor_id) q"),
    "postgresql": f"SELECT {{row}}, n.edges_json, n.kind {_ANCESTRY_FROM} ORDER BY l.ancestor_id",
}
#: the answered batch is the anchor: its rows are stored as they are shown
_ANCHOR_SQL = {d: q.format(row="n.node_json || l.attr_json") for d, q in _AGG.items()}
#: the answered batch descends from the anchor through single parents: the anchor's rows, scaled
_SCALED_SQL = {d: q.format(row=f"n.node_json || ({_attr_expr('l.', ' * :ft', ' * :fc', ':w')})") for d, q in _AGG.items()}


def _ancestry(conn: Connection, sql: dict[str, str], args: dict[str, Any]) -> tuple[str | None, str | None, int, int]:
    """(rows, edges, ancestor count, origin count) of an anchor's stored ancestry, rendered."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(sql["postgresql"]), args).all()
        return (",".join([r[0] for r in rows]), ",".join([r[1] for r in rows if r[1]]), len(rows),
                sum(1 for r in rows if r[2] == 0))
    r, e, n, o = conn.execute(text(sql["sqlite"]), args).one()
    return r, e, n or 0, o or 0


def _render_numbers(conn: Connection, values: list[float]) -> list[str]:
    """Floats as the database renders them in the rows above (one small query)."""
    if not values:
        return []
    sql = "SELECT " + ", ".join(f"CAST(CAST(:v{i} AS DOUBLE PRECISION) AS TEXT)" for i in range(len(values)))
    return list(conn.execute(text(sql), {f"v{i}": float(v) for i, v in enumerate(values)}).one())


class _Names1:
    """Participant names for the certification details (holder, certifier) of one answer."""

    def __init__(self, names: dict[int, str]):
        self.names = names

    def participant_name(self, pid: int | None) -> str | None:
        return self.names.get(pid) if pid else None


def _certification_details(conn: Connection, ids: set[int]) -> dict[int, dict[str, Any]]:
    certs, status = _certifications(conn, ids)
    people = {r[0]: r[1] for r in _in_chunks(conn, "SELECT participant_id, name FROM idx_participants "
                                                   "WHERE participant_id IN (:ids)",
                                             [c["holder"] for c in certs.values()] + [c["certifier"] for c in certs.values()])}
    ref = _Names1(people)
    return {cid: _certification_base(c, status.get(cid, []), ref) for cid, c in sorted(certs.items())}  # type: ignore[arg-type]


def node_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A batch as the API's object answers show it, from the facts part of a ``NODE_COLUMNS`` row."""
    node = {
        "batch_id": row[0], "kind": row[1], "material_id": row[4], "material": row[2], "unit": row[3],
        "characteristic_id": row[6], "characteristic": row[5], "model_id": row[8], "model": row[7], "share_ppm": row[9],
        "origin_batch_id": row[10], "creator_id": row[12], "creator": row[11], "created_by": row[13],
        "quantity": row[14], "tx_hash": row[15], "block_number": row[16], "log_index": row[17], "time": row[18],
    }
    if row[1] == "origin":
        node.update(site_id=row[19], site=row[20], certification_id=row[25], geolocation_hash=row[21],
                    dds_reference=row[22], evidence_hash=row[23], production_date=row[24])
    return node


def lineage_json(conn: Connection, batch_id: int) -> bytes | None:
    """The lineage of ``batch_id`` as compact JSON (UTF-8), or None if the index has no such batch.

    Shape: ``{"batch_id", "shape": "rows", "ancestor_count", "origin_count", "batch": {...},
    "columns": NODE_COLUMNS, "nodes": [[...], ...], "edge_columns": EDGE_COLUMNS, "edges": [[...], ...],
    "model_names": [...], "certifications": {id: {...}}}``. ``nodes`` holds every ancestor and the
    batch itself (last), by ascending id; origins are the rows of kind "origin" (the batch itself
    when it is one). ``weakest_model_id`` indexes ``model_names``; ``toward`` is the next batch on one
    path to the answered batch; ``contribution`` is in the answered batch's unit.

    Reads: the chain of single parents (a few rows, one recursive query), then the anchor's ancestry
    in one ordered range scan of ``idx_lineage`` joined to ``idx_lineage_nodes`` by primary key."""
    chain_rows = {r[0]: r for r in conn.execute(text(_CHAIN_SQL), {"root": batch_id})}
    if batch_id not in chain_rows:
        return None
    info = {bid: NodeInfo(*r[1:9]) for bid, r in chain_rows.items()}
    ch = resolve(batch_id, info.__getitem__)
    rows_sql = edges_sql = None
    n_sql = o_sql = 0
    cert_ids: set[int] = set()
    if ch.anchor_has_rows:
        cert_ids = info[ch.anchor].certifications()
        if len(ch.nodes) == 1:
            rows_sql, edges_sql, n_sql, o_sql = _ancestry(conn, _ANCHOR_SQL, {"anchor": ch.anchor})
        else:
            rows_sql, edges_sql, n_sql, o_sql = _ancestry(conn, _SCALED_SQL, {
                "ft": float(ch.ft), "fc": float(ch.fc), "w": ch.w, "anchor": ch.anchor})
    own_rows, own_edges = [], []
    chain = list(reversed(ch.nodes))  # ascending ids: the anchor ... the batch itself
    nums = _render_numbers(conn, [float(x) for _, tk, ct, _w, _tw in chain for x in (tk, ct)])
    for i, (bid, _tk, _ct, w, tw) in enumerate(chain):
        r = chain_rows[bid]
        own_rows.append(f"{r[9]},{nums[2 * i]},{nums[2 * i + 1]},{w},{'null' if tw is None else tw}]")
        if r[10]:
            own_edges.append(r[10])
        if r[7]:
            cert_ids.add(r[7])
        o_sql += info[bid].kind == 0
    root = node_dict(json.loads(f"{chain_rows[batch_id][9]}]"))
    head = {
        "batch_id": batch_id, "shape": "rows", "ancestor_count": n_sql + len(ch.nodes) - 1, "origin_count": o_sql,
        "batch": root, "columns": NODE_COLUMNS, "edge_columns": EDGE_COLUMNS, "model_names": MODEL_NAMES,
        "certifications": _certification_details(conn, cert_ids) if cert_ids else {},
    }
    nodes = ",".join(x for x in (rows_sql, ",".join(own_rows)) if x)
    edges = ",".join(x for x in (edges_sql, ",".join(own_edges)) if x)
    out = json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1]
    return f'{out},"nodes":[{nodes}],"edges":[{edges}]}}'.encode()
