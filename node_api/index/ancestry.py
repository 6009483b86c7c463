"""The arithmetic of lineage: the attribution of every ancestor of a batch, computed from the batch's
ancestry graph (each batch's direct parents with the edge quantities), in time and memory
proportional to that graph (issue 10, K: nothing but one row per batch and its edges is stored, so
the index grows linearly with the ledger whatever the sequence of splits and merges).

For a batch B and each ancestor A (by proportional attribution through every recorded split, merge
and transform):

- ``taken``: the quantity of A, in A's unit, that went into B. B takes all of itself; a batch X
  passes on ``taken(X) * q / quantity(X)`` to a parent through an edge of quantity q.
- ``contribution``: the part of B, in B's unit, that A accounts for. B accounts for all of itself;
  X's contribution is shared among its parents in proportion to the edge quantities (``q / S``, S
  the sum of X's edge quantities), so a transform's loss is shared alike.
- ``weakest``: the weakest chain-of-custody model on any path A -> B, both ends included.
- ``toward``: the batch after A on one path A -> B: the first path in parent (position) order, a
  depth-first walk from B. Following ``toward`` from A reaches B.

Ids grow along the lineage (a child is created after its parents), so visiting the ancestry in
descending id order visits every batch after all of its children in the ancestry: one pass gives
``taken``, ``contribution`` and ``weakest``. The values are doubles computed in that fixed order
(children by descending id, parents by position), so the same ledger gives the same bits on any
index, SQLite or PostgreSQL, rebuilt or not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Graph:
    """A batch (``root``) and its ancestry: every batch's model, quantity and parent edges."""

    root: int
    ids: list[int]  # ascending: the root last
    model: dict[int, int]
    quantity: dict[int, int]
    parents: dict[int, list[tuple[int, int]]]  # (parent id, edge quantity) in position order; none: origin


@dataclass
class Attribution:
    taken: dict[int, float]
    contribution: dict[int, float]
    weakest: dict[int, int]
    toward: dict[int, int | None]


def attribute(g: Graph) -> Attribution:
    """The attribution of every batch of ``g`` to its root."""
    root, model, parents_of = g.root, g.model, g.parents
    taken: dict[int, float] = {root: float(g.quantity[root])}
    contribution: dict[int, float] = {root: float(g.quantity[root])}
    weakest: dict[int, int] = {root: model[root]}
    quantity = g.quantity
    for x in reversed(g.ids):
        parents = parents_of.get(x)
        if not parents:
            continue
        tx, cx, wx, qx = taken[x], contribution[x], weakest[x], quantity[x]
        if len(parents) == 1:
            total = parents[0][1]
        else:
            total = 0
            for _p, q in parents:
                total += q
        for p, q in parents:
            if p in taken:
                taken[p] += tx * q / qx
                contribution[p] += cx * q / total
                if wx < weakest[p]:
                    weakest[p] = wx
            else:
                taken[p] = tx * q / qx
                contribution[p] = cx * q / total
                w = model[p]
                weakest[p] = wx if wx < w else w
    return Attribution(taken, contribution, weakest, toward_first_paths(root, parents_of))


def toward_first_paths(root: int, parents_of: dict[int, list[tuple[int, int]]]) -> dict[int, int | None]:
    """``toward`` of every ancestor: its child on the first path from ``root`` in parent order
    (depth-first, preorder; iterative, since a chain of ten thousand merges is that deep)."""
    toward: dict[int, int | None] = {root: None}
    empty: list[tuple[int, int]] = []
    stack = [(root, iter(parents_of.get(root, empty)))]
    while stack:
        x, it = stack[-1]
        for p, _q in it:
            if p not in toward:
                toward[p] = x
                stack.append((p, iter(parents_of.get(p, empty))))
                break
        else:
            stack.pop()
    return toward
