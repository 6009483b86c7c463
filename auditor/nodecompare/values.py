"""How the expected answers match the node's: exact values, approximate percents, values any valid answer may
take, lists keyed by an id, and the JSON shape an honest node gives (`node_document`)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Callable, Iterable


class Approx(float):
    """A number the node computes in floating point (rounded to 6 decimals): equal within rounding."""

    def __new__(cls, exact: Fraction) -> "Approx":
        obj = super().__new__(cls, round(float(exact), 6))
        obj.exact = exact
        return obj

    def matches(self, got: Any) -> bool:
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return False
        return abs(Fraction(got) - self.exact) <= Fraction(1, 10**6) + abs(self.exact) / 10**9


class Percent(str):
    """A percentage the node words as text: exact ("25", "33.5") or rounded to 2 places ("~33.33")."""

    def __new__(cls, exact: Fraction) -> "Percent":
        obj = super().__new__(cls, _percent_text(exact))
        obj.exact = exact
        return obj

    def matches(self, got: Any) -> bool:
        if not isinstance(got, str):
            return False
        text = got.strip()
        approx = text.startswith("~")
        try:
            value = Fraction(Decimal(text.lstrip("~")))
        except (InvalidOperation, ValueError):
            return False
        return abs(value - self.exact) <= (Fraction(1, 200) if approx else Fraction(1, 10**6)) + Fraction(1, 10**9)


def _percent_text(exact: Fraction) -> str:
    p = exact
    for places in range(0, 3):
        if (p * 10**places).denominator == 1:
            return f"{float(p):.{places}f}" if places else str(p.numerator)
    return f"~{float(p):.2f}"


class Valid:
    """A field whose value the node may choose among several correct ones (e.g. one path of many):
    ``check(got, sibling_answer)`` says whether it is one of them; ``example`` is one."""

    def __init__(self, example: Any, check: Callable[[Any, dict], bool], describe: str):
        self.example, self.check, self.describe = example, check, describe


class Keyed(list):
    """A list whose items are matched by identity fields, not position (``key=()``: a set of scalars)."""

    def __init__(self, items: Iterable[Any], *key: str, extra: Callable[[Any], bool] | None = None):
        super().__init__(items)
        self.key = key
        self.extra = extra  # items of the node's list the chain need not explain (e.g. the forwarder's events)


ABSENT = object()  # the key must be missing or null
EVIDENCE = "_evidence"  # private key of an expected dict: the events proving that part of the answer


def node_document(value: Any) -> Any:
    """The answer an honest node gives, as far as the replay can tell (plain JSON-able values)."""
    if isinstance(value, Valid):
        return node_document(value.example)
    if isinstance(value, dict):
        return {k: node_document(v) for k, v in value.items() if k != EVIDENCE and v is not ABSENT}
    if isinstance(value, (list, tuple)):
        return [node_document(v) for v in value]
    if isinstance(value, Approx):
        return float(value)
    if isinstance(value, Percent):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def snake_name(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def hex_text(v: Any) -> Any:
    return "0x" + v.hex() if isinstance(v, (bytes, bytearray)) else v


def event_ref(name: str, item: dict) -> dict:
    return {"event": name, "tx": item["tx"], "block": item["block"], "logIndex": item["logIndex"]}
