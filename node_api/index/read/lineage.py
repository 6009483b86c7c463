"""Lineage (ancestry) answers, computed at query time from what the writer stores once per batch
(node_api.index.lineage_ingest: the batch's facts as a pre-rendered JSON fragment; its parent edges
in ``idx_edges``): one recursive query collects the ancestry (each ancestor once, each edge once,
every step a primary-key lookup), ``node_api.index.ancestry`` attributes it in one pass, and the
compact answer is joined from the fragments (node_api.index.lineage_fragments says why); the object
form expands it. Time and memory are proportional to the answer, whatever the ledger's size.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

from node_api.domain import BatchKind, Model

from ..ancestry import Graph, attribute
from ..lineage_fragments import EDGE_COLUMNS, NODE_COLUMNS, close_nodes, join_answer, parse_node
from ..spelling import kind_name
from . import certifications
from .common import percent_of
from .reference import Reference, reference

#: The batch's own facts in an object answer, by ``NODE_COLUMNS`` name, in the order shown.
_NODE_KEYS = ("batch_id", "kind", "material_id", "material", "unit", "characteristic_id", "characteristic",
              "model_id", "model", "share_ppm", "origin_batch_id", "creator_id", "creator", "created_by", "quantity",
              "tx_hash", "block_number", "log_index", "time")
#: What an origin adds.
_ORIGIN_KEYS = ("site_id", "site", "certification_id", "geolocation_hash", "dds_reference", "evidence_hash",
                "production_date")
_ORIGIN = kind_name(BatchKind.ORIGIN)
#: Where each named column sits in a compact row: resolved once, so that expanding ten thousand rows
#: reads them by name at the cost of an index.
_AT = {c: i for i, c in enumerate(NODE_COLUMNS)}
_NODE_AT = tuple((k, _AT[k]) for k in _NODE_KEYS)
_ORIGIN_AT = tuple((k, _AT[k]) for k in _ORIGIN_KEYS)

#: The answered batch and every ancestor: each once (UNION), however many paths lead to it; every
#: step a primary-key lookup of ``idx_edges``. PostgreSQL plans the recursive step once, from the
#: statistics of the moment: right after a bulk ingest (before autoanalyze) it chose a hash join that
#: scans all of ``idx_edges`` at every level (4.6 s for a 3,000-deep chain instead of 17 ms), so there
#: the parents are read by a correlated subquery, an index lookup whatever the statistics say.
_ANC = {
    "sqlite": """WITH RECURSIVE anc(id) AS (
    SELECT CAST(:root AS BIGINT)
    UNION
    SELECT e.parent_id FROM anc JOIN idx_edges e ON e.child_id = anc.id
)
""",
    "postgresql": """WITH RECURSIVE anc(id) AS (
    SELECT CAST(:root AS BIGINT)
    UNION
    SELECT unnest(ARRAY(SELECT e.parent_id FROM idx_edges e WHERE e.child_id = anc.id)) FROM anc
)
""",
}
#: Per batch, by ascending id: its facts (the rendered fragment), its parent edges (rendered), and
#: what the attribution needs (``id,model,quantity,kind,certification``: five integers). SQLite
#: concatenates them itself (the ordered subquery under the aggregate is not flattened, and walks the
#: ancestor ids in order, so no wide row is sorted); Python splits three strings instead of reading
#: ten thousand rows. PostgreSQL returns the rows, unordered.
_META = "n.numbers"  # "id,model,quantity,kind,certification", written at ingest
_NODES = "FROM idx_lineage_nodes n WHERE n.batch_id IN (SELECT id FROM anc) ORDER BY n.batch_id"
ANCESTRY_SQL = {
    "sqlite": _ANC["sqlite"] + ("SELECT group_concat(j, char(30)) AS nodes, group_concat(e, ',') AS edges, "
                      f"group_concat(m, ',') AS meta FROM (SELECT n.node_json AS j, n.edges_json AS e, {_META} AS m "
                      f"{_NODES}) q"),
    # unordered: sorting ten thousand wide rows spills to disk at the default work_mem; Python sorts by id
    "postgresql": _ANC["postgresql"] + (f"SELECT n.batch_id AS id, n.node_json AS j, n.edges_json AS e, {_META} AS m "
                                        "FROM anc JOIN idx_lineage_nodes n ON n.batch_id = anc.id"),
}
_SEP = "\x1e"  # never inside a fragment: JSON escapes every control character


def _ancestry(conn: Connection, batch_id: int) -> tuple[list[str], str, str] | None:
    """(node fragments, edges joined, meta arrays joined) of the batch and its ancestors by id."""
    if conn.dialect.name == "postgresql":
        # the driver's own cursor, in this transaction: SQLAlchemy's row objects cost more than the
        # query for ten thousand wide rows (140 ms against 56 ms for the P of scripts/bench_lineage.py)
        cur = conn.connection.driver_connection.cursor()
        try:
            cur.execute(ANCESTRY_SQL["postgresql"].replace(":root", "%(root)s"), {"root": batch_id})
            rows = sorted(cur.fetchall())  # (id, node_json, edges_json, numbers)
        finally:
            cur.close()
        if not rows:
            return None
        return [r[1] for r in rows], ",".join([r[2] for r in rows if r[2]]), ",".join([r[3] for r in rows])
    r = conn.execute(text(ANCESTRY_SQL["sqlite"]), {"root": batch_id}).one()
    if r.nodes is None:
        return None
    return r.nodes.split(_SEP), r.edges or "", r.meta


#: The distinct numbers of an answer as the database writes them, in the order given (SQLite: a
#: VALUES list read in order; at most 30,000 bound values per statement).
_RENDER = {
    "sqlite": "SELECT group_concat(CAST(column1 AS TEXT), char(31)) FROM (VALUES {values})",
    "postgresql": ("SELECT string_agg(CAST(v AS TEXT), chr(31) ORDER BY i) "
                   "FROM unnest(CAST(:vs AS DOUBLE PRECISION[])) WITH ORDINALITY AS u(v, i)"),
}
_CHUNK = 30_000


def render_numbers(conn: Connection, values: Iterable[float]) -> dict[float, str]:
    """{value: text} for the distinct ``values``, rendered by the database in one query (per 30,000)."""
    distinct = list(dict.fromkeys(values))
    out: dict[float, str] = {}
    for i in range(0, len(distinct), _CHUNK):
        chunk = distinct[i:i + _CHUNK]
        if conn.dialect.name == "postgresql":
            joined = conn.execute(text(_RENDER["postgresql"]), {"vs": chunk}).scalar_one()
        else:
            sql = _RENDER["sqlite"].format(values=",".join(f"(:v{j})" for j in range(len(chunk))))
            joined = conn.execute(text(sql), {f"v{j}": v for j, v in enumerate(chunk)}).scalar_one()
        out.update(zip(chunk, joined.split("\x1f")))
    return out


def node_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A batch as the object answers show it, from a compact row (``NODE_COLUMNS`` order, or its facts)."""
    node = {k: row[i] for k, i in _NODE_AT}
    if node["kind"] == _ORIGIN:
        node.update({k: row[i] for k, i in _ORIGIN_AT})
    return node


def lineage_json(conn: Connection, batch_id: int, ref: Reference | None = None) -> bytes | None:
    """The lineage of ``batch_id`` as compact JSON (UTF-8), or None if the index has no such batch.

    Shape: ``{"batch_id", "shape": "rows", "ancestor_count", "origin_count", "batch": {...},
    "columns": NODE_COLUMNS, "edge_columns": EDGE_COLUMNS, "model_names": [...], "certifications": {id: {...}},
    "nodes": [[...], ...], "edges": [[...], ...]}``. ``nodes`` holds every ancestor and the batch
    itself (last), by ascending id; origins are the rows of kind "origin" (the batch itself when it
    is one). ``weakest_model_id`` indexes ``model_names``; ``toward`` is the next batch on one path to
    the answered batch; ``contribution`` is in the answered batch's unit. (``ref``: the caller's
    reference data, if it holds it; else read from the cache when the answer names a certification.)"""
    found = _ancestry(conn, batch_id)
    if found is None:
        return None
    fragments, edges, meta_joined = found
    # flat integers split in C (ten thousand small JSON arrays would cost more than the query)
    meta = list(map(int, meta_joined.split(",")))
    ids, kinds, certs = meta[0::5], meta[3::5], meta[4::5]
    flat = list(map(int, edges.replace("[", "").replace("]", "").split(","))) if edges else []
    parents: dict[int, list[tuple[int, int]]] = {}
    for child, parent, quantity in zip(flat[0::3], flat[1::3], flat[2::3]):
        ps = parents.get(child)
        if ps is None:
            parents[child] = [(parent, quantity)]
        else:
            ps.append((parent, quantity))
    at = attribute(Graph(batch_id, ids, dict(zip(ids, meta[1::5])), dict(zip(ids, meta[2::5])), parents))
    taken, contribution, weakest, toward = at.taken, at.contribution, at.weakest, at.toward
    num = render_numbers(conn, [*taken.values(), *contribution.values()])
    rows = close_nodes(fragments, ids, taken, contribution, num, weakest, toward)
    cert_ids = {c for c in certs if c}
    origins = sum(1 for k in kinds if k == BatchKind.ORIGIN)
    head = {
        "batch_id": batch_id, "shape": "rows", "ancestor_count": len(ids) - 1, "origin_count": origins,
        "batch": node_dict(parse_node(fragments[-1])), "columns": NODE_COLUMNS,
        "edge_columns": EDGE_COLUMNS, "model_names": Model.labels(),
        "certifications": certifications.details(conn, cert_ids, ref or reference(conn)) if cert_ids else {},
    }
    return join_answer(head, [",".join(rows)], [edges])


def expand_lineage(ans: dict[str, Any]) -> dict[str, Any]:
    """The object form of a compact lineage answer (see ``lineage_json``)."""
    batch_id = ans["batch_id"]
    i_id, i_kind, i_toward = _AT["batch_id"], _AT["kind"], _AT["toward"]
    rows = {r[i_id]: r for r in ans["nodes"]}
    nodes = {bid: node_dict(r) for bid, r in rows.items()}
    root_qty = float(rows[batch_id][_AT["quantity"]])
    paths: dict[int, tuple[list[int], list[str]]] = {batch_id: ([batch_id], [nodes[batch_id]["model"]])}

    def path_of(bid: int) -> tuple[list[int], list[str]]:
        chain = []
        cur = bid
        while cur not in paths:
            chain.append(cur)
            cur = rows[cur][i_toward]
        ids, models = paths[cur]
        for c in reversed(chain):
            ids, models = [c, *ids], [nodes[c]["model"], *models]
            paths[c] = (ids, models)
        return ids, models

    i_cid, i_scheme, i_number, i_status, i_valid = (_AT[c] for c in (
        "certification_id", "certification_scheme", "certificate_number", "certification_status_at_time",
        "certification_valid_at_time"))
    i_taken, i_contrib, i_weak = _AT["quantity_taken"], _AT["contribution"], _AT["weakest_model_id"]
    model_names = Model.labels()
    origins = []
    for bid, r in rows.items():
        if r[i_kind] != _ORIGIN:
            continue
        ids, models = path_of(bid)
        o = dict(nodes[bid])
        cert = None
        if r[i_cid] is not None and r[i_status] is not None:
            cert = {"certification_id": r[i_cid], "scheme": r[i_scheme], "certificate_number": r[i_number],
                    "status_at_time": r[i_status], "valid_at_time": r[i_valid]}
        o["producer"] = o["creator"]
        o["quantity_taken"] = round(float(r[i_taken]), 6)
        o["contribution"] = round(float(r[i_contrib]), 6)
        o["contribution_percent"] = percent_of(float(r[i_contrib]), root_qty)
        o["certification_at_creation"] = cert
        o["path"] = ids
        o["path_models"] = models
        o["weakest_model_on_paths"] = model_names[r[i_weak]]
        origins.append(o)
    return {
        "batch_id": batch_id,
        "batch": nodes[batch_id],
        "ancestor_count": ans["ancestor_count"],
        "nodes": list(nodes.values()),
        "edges": [{"child_id": c, "parent_id": p, "quantity": q} for c, p, q in ans["edges"]],
        "origins": origins,
        "certifications": {int(k): v for k, v in ans["certifications"].items()},
    }


def lineage(conn: Connection, batch_id: int, ref: Reference | None = None) -> dict[str, Any] | None:
    """The batch's full ancestry back to every origin batch, as objects (the compact answer expanded,
    so both carry the same facts).

    ``nodes``/``edges``: the ancestry graph (quantities on the edges). ``origins``: every origin batch
    in it with the quantity of it taken into this batch (``quantity_taken``, in the origin's unit)
    and the part of this batch it accounts for (``contribution`` in this batch's unit and
    ``contribution_percent``), both by proportional attribution through every split, merge and
    transform recorded on chain; its site, geolocation hash, DDS reference and evidence hash; the
    producer's certification as it stood at creation (details once in ``certifications``); one path
    from it to this batch (``path`` ids, ``path_models``) and the weakest model on any path."""
    body = lineage_json(conn, batch_id, ref)
    return None if body is None else expand_lineage(json.loads(body))
