"""The one place where the lineage answer is made of text instead of Python objects, and why.

A lineage answer can hold ten thousand ancestors (README, "Provenance for brands": 10,050 ancestors
in about 22 ms). Building ten thousand dicts and serialising them per request would cost more than
the whole answer does now, so the facts of a batch, which never change once it is created, are
serialised once at ingest (with ``json``) into an unclosed JSON array ``[id,kind,...`` in
``idx_lineage_nodes.node_json``; the attribution of an ancestor to the answered batch, computed at
query time (``node_api.index.ancestry``), is rendered as ``,taken,contribution,weakest,toward]`` so
that it closes the node's array; and the reader joins the fragments into the answer. Everything
that makes or joins those fragments is in this module; every other answer of the index is built as
Python objects and serialised by a JSON library.

Numbers are rendered by the index's database (``CAST(x AS TEXT)``: SQLite ``%!.15g``, PostgreSQL
the shortest exact form), the distinct values of an answer in one query (``read.lineage``), as they
were when the attribution was stored: SQLite's rounding of the 15th digit is its own (long-double
arithmetic, not Python's), so no Python formatting reproduces it for every value.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

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
#: The facts rendered at ingest are the columns before the attribution.
FACT_COLUMNS = NODE_COLUMNS[:NODE_COLUMNS.index("quantity_taken")]
ORIGIN_COLUMNS = FACT_COLUMNS[FACT_COLUMNS.index("site_id"):]

_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}


# ---------------------------------------------------------------------- at ingest
def node_fragment(facts: dict[str, Any]) -> str:
    """``[id,kind,...`` (unclosed): the ``FACT_COLUMNS`` of a batch, to be closed by its attribution."""
    return json.dumps([facts.get(c) for c in FACT_COLUMNS], **_COMPACT)[:-1]


def edges_fragment(child_id: int, parents: Sequence[tuple[int, int]]) -> str | None:
    """``[child,parent,quantity],...`` of a batch's parents in position order (None for an origin)."""
    return json.dumps([[child_id, p, q] for p, q in parents], **_COMPACT)[1:-1] or None


# ---------------------------------------------------------------------- at query time
def close_nodes(fragments: Sequence[str], ids: Sequence[int], taken: Mapping[int, float], contribution: Mapping[int, float],
                number: Mapping[float, str], weakest: Mapping[int, int], toward: Mapping[int, int | None]) -> list[str]:
    """Node fragments (of ``ids``, in that order) closed by their attribution, the numbers written as
    ``number`` says (the database's text for each value). One comprehension, no call per node: ten
    thousand calls would cost a quarter of the attribution itself."""
    return [f"{nj},{number[taken[b]]},{number[contribution[b]]},{weakest[b]},{'null' if toward[b] is None else toward[b]}]"
            for nj, b in zip(fragments, ids)]


def parse_node(node_json: str) -> list[Any]:
    """The facts of a node fragment as a list (``FACT_COLUMNS`` order)."""
    return json.loads(f"{node_json}]")


def join_answer(head: dict[str, Any], nodes: Sequence[str], edges: Sequence[str]) -> bytes:
    """The compact lineage answer: ``head`` (serialised by ``json``) with ``nodes`` and ``edges`` appended
    as JSON arrays of the given fragments (each a comma-joined run of rendered arrays; empty runs skipped)."""
    out = json.dumps(head, **_COMPACT)[:-1]
    node_list = ",".join(x for x in nodes if x)
    edge_list = ",".join(x for x in edges if x)
    return f'{out},"nodes":[{node_list}],"edges":[{edge_list}]}}'.encode()
