"""Values in words, without a chain: quantities in a unit, dates, durations, percentages, enums and bit
sets. Used by the node's describer and by ``coc``'s tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..domain import Model, Role


def quantity_words(v: int, unit: str | None) -> str:
    """``5000000`` g -> ``5,000,000 g (5 t)``: the registered unit, with tonnes/kilograms for grams."""
    if unit is None:
        return f"{v:,} base units (material not registered)"
    text = f"{v:,} {unit}"
    if unit == "g" and v >= 1000:
        t = f"{v / 1_000_000:,.6f}".rstrip("0").rstrip(".") + " t" if v >= 1_000_000 else \
            f"{v / 1000:,.3f}".rstrip("0").rstrip(".") + " kg"
        text += f" ({t})"
    elif unit == "kg" and v >= 1000:
        text += " (" + f"{v / 1000:,.3f}".rstrip("0").rstrip(".") + " t)"
    return text


def date_words(v: int) -> str:
    """Unix time as a date (UTC); the time of day too when it is not midnight."""
    try:
        d = dt.datetime.fromtimestamp(int(v), dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{v} (not a date)"
    return d.strftime("%Y-%m-%d") if (d.hour, d.minute, d.second) == (0, 0, 0) else d.strftime("%Y-%m-%d %H:%M UTC")


def duration_words(v: int) -> str:
    v = int(v)
    if v and v % 86400 == 0:
        return f"{v // 86400} days"
    if v >= 86400:
        return f"{v / 86400:.1f} days"
    return f"{v // 3600} hours" if v and v % 3600 == 0 else f"{v} seconds"


def ppm_words(v: int) -> str:
    return f"{int(v) / 10_000:g}%"


def enum_words(enum: Any, v: int) -> str:
    try:
        return enum(int(v)).label
    except ValueError:
        return f"unknown value {v}"


def models_words(bits: int) -> str:
    names = [m.label for m in Model if int(bits) & (1 << m.value)]
    return " and ".join(names) if names else "no model"


def roles_words(bits: int) -> str:
    names = Role.names(int(bits))
    return " and ".join(names) if names else "no role"
