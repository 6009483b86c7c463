"""Bottom of the read side: how numbers, quantities and facts are shown, and the recursive SQL that
walks the lineage edges (``idx_edges``: primary key (child_id, position), index (parent_id,
child_id), so every step is an index lookup and a walk costs what its answer holds)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

ZERO_ADDRESS = "0x" + "0" * 40

#: ``anc(id)``: every ancestor of ``:root``.
ANCESTORS_CTE = """
WITH RECURSIVE anc(id) AS (
    SELECT parent_id FROM idx_edges WHERE child_id = :root
    UNION
    SELECT e.parent_id FROM idx_edges e JOIN anc ON e.child_id = anc.id
)"""

#: ``des(id)``: every descendant of ``:root``.
DESCENDANTS_CTE = """
WITH RECURSIVE des(id) AS (
    SELECT child_id FROM idx_edges WHERE parent_id = :root
    UNION
    SELECT e.child_id FROM idx_edges e JOIN des ON e.parent_id = des.id
)"""


def fact(row: Any) -> dict[str, Any]:
    """Where a row's fact comes from: its transaction, block and block time (a Row or a mapping)."""
    m = row._mapping if hasattr(row, "_mapping") else row
    return {"tx_hash": m["tx_hash"], "block_number": m["block_number"], "time": m["block_time"]}


def percent(f: Fraction) -> str:
    """A percentage as an exact decimal when it has one within 6 places, else rounded with '~'."""
    p = f * 100
    for places in range(0, 7):
        scaled = p * 10**places
        if scaled.denominator == 1:
            s = f"{scaled.numerator / 10**places:.{places}f}" if places else str(scaled.numerator)
            return s
    return f"~{float(p):.2f}"


def percent_of(part: float, whole: float) -> str:
    """``part / whole`` as a percentage: exact digits when it has at most two decimals, else "~" + 2."""
    p = part * 100 / whole if whole else 0.0
    r = round(p, 2)
    if abs(p - r) < 1e-9 * max(1.0, abs(p)):
        return f"{r:.2f}".rstrip("0").rstrip(".")
    return f"~{p:.2f}"


def fmt_qty(q: int | float | Fraction, unit: str) -> str:
    """Human quantity: grams shown as kg or t when large."""
    v = float(q)
    if unit == "g":
        if abs(v) >= 1_000_000:
            return f"{v / 1_000_000:,.3f}".rstrip("0").rstrip(".") + " t"
        if abs(v) >= 1_000:
            return f"{v / 1_000:,.3f}".rstrip("0").rstrip(".") + " kg"
    s = f"{v:,.3f}".rstrip("0").rstrip(".")
    return f"{s} {unit}".strip()
