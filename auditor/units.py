"""Quantities as an auditor reads them: in the material's registered unit, never raw grams.

The ledger records quantities as integers in the unit the material was registered with (`MaterialRegistered.
unit`). A material registered in grams is shown in kilograms, or in tonnes from one tonne up; a material
registered in kg or t is shown in that unit; any other unit (l, MWh, pieces) as registered.
"""

from __future__ import annotations

from fractions import Fraction

MASS = {"g": 1, "kg": 1_000, "t": 1_000_000}


def _number(v: Fraction, places: int = 3) -> str:
    text = f"{float(v):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def display_unit(value: int | None, unit: str | None) -> tuple[Fraction, str]:
    """(value, unit) to show for `value` recorded in `unit`."""
    unit = (unit or "").strip()
    v = Fraction(value or 0)
    if unit == "g":
        return (v / MASS["t"], "t") if abs(v) >= MASS["t"] else (v / MASS["kg"], "kg")
    return v, unit


def qty(value: int | None, unit: str | None) -> str:
    """`value` recorded in `unit`, formatted with its display unit: 12,500 g -> "12.5 kg", 3,400,000 g -> "3.4 t"."""
    if value is None:
        return "—"
    v, u = display_unit(value, unit)
    return f"{_number(v)} {u}".strip()
