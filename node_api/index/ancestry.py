"""The arithmetic of materialised lineage, shared by the writer (which stores an ancestry when a
batch is created) and the reader (which answers from it). See ``lineage_ingest`` for the model:
anchors (batches with two or more parents) have their whole ancestry stored; a batch with one
parent is answered from the chain of single parents up to its nearest anchor or origin, scaled by
the exact factors computed here."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping

#: The columns of ``idx_lineage_nodes`` that the ancestry walk needs, in ``NodeInfo`` field order.
NODE_INFO_COLUMNS = ("kind", "model", "quantity", "parent_count", "parent_id", "parent_quantity", "certification_id",
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

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "NodeInfo":
        """From a row (mapping) of ``idx_lineage_nodes``, by column name."""
        return cls(**{c: row[c] for c in NODE_INFO_COLUMNS})

    def certifications(self) -> set[int]:
        return {int(c) for c in self.certification_ids.split(",") if c} if self.certification_ids else set()


#: One batch of a chain: (id, taken, contribution, weakest model, toward), relative to the chain's root.
ChainNode = tuple[int, Fraction, Fraction, int, "int | None"]


@dataclass
class Chain:
    """A batch (the root) and its single parents up to the nearest batch that has not exactly one
    parent (the anchor), with exact attribution relative to the root; ``ft``/``fc``/``w`` turn the
    anchor's stored rows into the root's."""

    nodes: list[ChainNode]
    anchor: int
    anchor_has_rows: bool
    ft: Fraction
    fc: Fraction
    w: int


def resolve(root: int, info_of: Callable[[int], NodeInfo]) -> Chain:
    r = info_of(root)
    whole = Fraction(r.quantity)
    nodes: list[ChainNode] = [(root, whole, whole, r.model, None)]
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
