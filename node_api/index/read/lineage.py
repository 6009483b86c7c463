"""Lineage (ancestry) answers, read from what the writer materialised at ingest
(node_api.index.lineage_ingest): the chain of single parents (one small recursive query), then the
nearest anchor's stored ancestry in one ordered range scan of ``idx_lineage`` joined to
``idx_lineage_nodes`` by primary key. The compact answer is joined from fragments rendered at
ingest and by the database (node_api.index.lineage_fragments says why); the object form expands it.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

from node_api.domain import BatchKind, Model

from ..ancestry import NODE_INFO_COLUMNS, NodeInfo, resolve
from ..lineage_fragments import EDGE_COLUMNS, NODE_COLUMNS, attribution_sql, close_node, join_answer, parse_node
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

#: The batch and its single parents up to the nearest batch that has not exactly one parent.
CHAIN_SQL = f"""
WITH RECURSIVE ch(id) AS (
    SELECT CAST(:root AS BIGINT)
    UNION ALL
    SELECT n.parent_id FROM ch JOIN idx_lineage_nodes n ON n.batch_id = ch.id WHERE n.parent_count = 1
)
SELECT n.batch_id, {", ".join("n." + c for c in NODE_INFO_COLUMNS)}, n.node_json, n.edges_json
FROM ch JOIN idx_lineage_nodes n ON n.batch_id = ch.id"""

_ANCESTRY_FROM = "FROM idx_lineage l JOIN idx_lineage_nodes n ON n.batch_id = l.ancestor_id WHERE l.batch_id = :anchor"

#: Every ancestor of the anchor as a JSON array (node_json closed by the attribution), its parent
#: edges, whether it is an origin. SQLite concatenates them itself, in ancestor order (an ordered
#: subquery under an aggregate is not flattened, and the scan is in key order anyway); PostgreSQL
#: returns the rendered rows in order and Python joins them (its ordered string_agg sorts the wide
#: rows, which costs more than sending them).
_AGG = {
    "sqlite": ("SELECT group_concat(r, ',') AS nodes, group_concat(e, ',') AS edges, count(*) AS ancestors, "
               "sum(o) AS origins FROM (SELECT {row} AS r, n.edges_json AS e, CASE WHEN n.kind = 0 THEN 1 ELSE 0 END AS o "
               f"{_ANCESTRY_FROM} ORDER BY l.ancestor_id) q"),
    "postgresql": f"SELECT {{row}} AS node, n.edges_json AS edges, n.kind AS kind {_ANCESTRY_FROM} ORDER BY l.ancestor_id",
}
#: the answered batch is the anchor: its rows are stored as they are shown
ANCHOR_SQL = {d: q.format(row="n.node_json || l.attr_json") for d, q in _AGG.items()}
#: the answered batch descends from the anchor through single parents: the anchor's rows, scaled
SCALED_SQL = {d: q.format(row=f"n.node_json || ({attribution_sql('l.', ' * :ft', ' * :fc', ':w')})")
              for d, q in _AGG.items()}


def _ancestry(conn: Connection, sql: dict[str, str], args: dict[str, Any]) -> tuple[str | None, str | None, int, int]:
    """(rows, edges, ancestor count, origin count) of an anchor's stored ancestry, rendered."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(sql["postgresql"]), args).all()
        return (",".join([r.node for r in rows]), ",".join([r.edges for r in rows if r.edges]), len(rows),
                sum(1 for r in rows if r.kind == BatchKind.ORIGIN))
    r = conn.execute(text(sql["sqlite"]), args).one()
    return r.nodes, r.edges, r.ancestors or 0, r.origins or 0


def _render_numbers(conn: Connection, values: list[float]) -> list[str]:
    """Floats as the database renders them in the rows above (one small query)."""
    if not values:
        return []
    sql = "SELECT " + ", ".join(f"CAST(CAST(:v{i} AS DOUBLE PRECISION) AS TEXT) AS t{i}" for i in range(len(values)))
    row = conn.execute(text(sql), {f"v{i}": float(v) for i, v in enumerate(values)}).one()._mapping
    return [row[f"t{i}"] for i in range(len(values))]


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
    chain_rows = {r.batch_id: r for r in conn.execute(text(CHAIN_SQL), {"root": batch_id})}
    if batch_id not in chain_rows:
        return None
    info = {bid: NodeInfo.of(r._mapping) for bid, r in chain_rows.items()}
    ch = resolve(batch_id, info.__getitem__)
    rows_sql = edges_sql = None
    n_sql = o_sql = 0
    cert_ids: set[int] = set()
    if ch.anchor_has_rows:
        cert_ids = info[ch.anchor].certifications()
        if len(ch.nodes) == 1:
            rows_sql, edges_sql, n_sql, o_sql = _ancestry(conn, ANCHOR_SQL, {"anchor": ch.anchor})
        else:
            rows_sql, edges_sql, n_sql, o_sql = _ancestry(conn, SCALED_SQL, {
                "ft": float(ch.ft), "fc": float(ch.fc), "w": ch.w, "anchor": ch.anchor})
    own_rows, own_edges = [], []
    chain = list(reversed(ch.nodes))  # ascending ids: the anchor ... the batch itself
    nums = _render_numbers(conn, [float(x) for _, tk, ct, _w, _tw in chain for x in (tk, ct)])
    for i, (bid, _tk, _ct, w, tw) in enumerate(chain):
        r = chain_rows[bid]
        own_rows.append(close_node(r.node_json, nums[2 * i], nums[2 * i + 1], w, tw))
        if r.edges_json:
            own_edges.append(r.edges_json)
        if r.certification_id:
            cert_ids.add(r.certification_id)
        o_sql += info[bid].kind == BatchKind.ORIGIN
    head = {
        "batch_id": batch_id, "shape": "rows", "ancestor_count": n_sql + len(ch.nodes) - 1, "origin_count": o_sql,
        "batch": node_dict(parse_node(chain_rows[batch_id].node_json)), "columns": NODE_COLUMNS,
        "edge_columns": EDGE_COLUMNS, "model_names": Model.labels(),
        "certifications": certifications.details(conn, cert_ids, ref or reference(conn)) if cert_ids else {},
    }
    return join_answer(head, [rows_sql or "", ",".join(own_rows)], [edges_sql or "", ",".join(own_edges)])


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
