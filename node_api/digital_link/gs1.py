"""GS1 identifiers as GS1 Digital Link carries them: GTIN-8/12/13/14 (normalised to 14 digits, check digit
mod 10 with weights 3 and 1 from the right), a lot (application identifier 10) or a serial (AI 21) of 1 to 20
characters of GS1 character set 82, and the URI ``https://<resolver>/01/<GTIN-14>/10/<lot>`` (or ``/21/``).

Every refusal is a ``Gs1Error`` naming the field and the rule; the routes turn it into a 422."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

#: GS1 application identifiers the resolver accepts after the GTIN, by the name the contract uses.
AI = {"lot": "10", "serial": "21"}
KIND_OF_AI = {v: k for k, v in AI.items()}
#: ProductIdentifiers.Kind
KIND_CODE = {"lot": 0, "serial": 1}
KIND_NAME = {v: k for k, v in KIND_CODE.items()}
GTIN_LENGTHS = (8, 12, 13, 14)
MAX_VALUE_LENGTH = 20
#: GS1 AI encodable character set 82 (GS1 General Specifications 7.11, figure 7.11-1)
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$")


class Gs1Error(ValueError):
    def __init__(self, field: str, rule: str):
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def check_digit(body: str) -> int:
    """The GS1 check digit of ``body`` (the digits before it): weights 3, 1, 3, ... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalise_gtin(raw: str, field: str = "gtin") -> str:
    """``raw`` (GTIN-8, -12, -13 or -14) as 14 digits, its check digit verified."""
    s = str(raw).strip()
    if not s.isdigit() or not s.isascii():
        raise Gs1Error(field, f"a GTIN has digits only, got {raw!r}")
    if len(s) not in GTIN_LENGTHS:
        raise Gs1Error(field, f"a GTIN has 8, 12, 13 or 14 digits, got {len(s)}")
    if int(s) == 0:
        raise Gs1Error(field, "a GTIN of zeros identifies nothing")
    expected = check_digit(s[:-1])
    if int(s[-1]) != expected:
        raise Gs1Error(field, f"GS1 check digit (mod 10, weights 3/1 from the right) is {expected}, got {s[-1]}")
    return s.zfill(14)


def validate_value(raw: str, kind: str) -> str:
    """A lot (AI 10) or serial (AI 21): 1 to 20 characters of GS1 character set 82."""
    if kind not in AI:
        raise Gs1Error("kind", f"one of {sorted(AI)}, got {kind!r}")
    if not raw:
        raise Gs1Error(kind, f"a {kind} (AI {AI[kind]}) has 1 to {MAX_VALUE_LENGTH} characters, got none")
    if len(raw) > MAX_VALUE_LENGTH:
        raise Gs1Error(kind, f"a {kind} (AI {AI[kind]}) has at most {MAX_VALUE_LENGTH} characters, got {len(raw)}")
    if not _CSET82.match(raw):
        raise Gs1Error(kind, f"a {kind} (AI {AI[kind]}) uses GS1 character set 82 only "
                             "(letters, digits and !\"%&'()*+,-./:;<=>?_), got " + repr(raw))
    return raw


@dataclass(frozen=True)
class ProductKey:
    """A GTIN-14 with a lot or a serial: what one product token is bound to."""

    gtin: str
    kind: str  # "lot" or "serial"
    value: str

    @classmethod
    def parse(cls, gtin: str, ai: str, value: str) -> "ProductKey":
        if ai not in KIND_OF_AI:
            raise Gs1Error("ai", f"the resolver answers AI 10 (lot) or 21 (serial) after the GTIN, got {ai!r}")
        kind = KIND_OF_AI[ai]
        return cls(normalise_gtin(gtin), kind, validate_value(unquote(value), kind))

    @property
    def ai(self) -> str:
        return AI[self.kind]

    def path(self) -> str:
        """The Digital Link path ``/01/<gtin>/<ai>/<value>`` (value percent-encoded)."""
        return f"/01/{self.gtin}/{self.ai}/{quote(self.value, safe='')}"

    def uri(self, base: str) -> str:
        return base.rstrip("/") + self.path()
