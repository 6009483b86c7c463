"""GS1 identifiers of product tokens (issue 14): the holder of a batch binds a GTIN with a lot or a serial to
it (contract ProductIdentifiers). The GTIN's check digit and the lot/serial's character set are checked here
first, so a mistake is a 422 naming the field before anything is signed; the contract checks them again."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from ..digital_link.gs1 import KIND_CODE, normalise_gtin, validate_value
from .base import ForwardAction, Params

PI = "ProductIdentifiers"

Gtin = Annotated[str, AfterValidator(normalise_gtin), Field(
    description="GTIN-8, -12, -13 or -14 (digits, GS1 check digit mod 10 with weights 3/1 from the right); "
                "recorded as GTIN-14", examples=["09506000134352"])]


class Bind(Params):
    batchId: int = Field(ge=1, le=2**64 - 1, description="the product token (batch id) the signer holds")
    gtin: Gtin
    kind: Literal["lot", "serial"] = Field(description="lot (GS1 AI 10) or serial (AI 21)")
    value: str = Field(description="the lot or serial: 1 to 20 characters of GS1 character set 82")

    @model_validator(mode="after")
    def _value(self) -> "Bind":
        validate_value(self.value, self.kind)
        return self


ACTIONS = [
    ForwardAction("digital-link", "bind", PI, "bind", Bind,
                  lambda p: (p.batchId, int(p.gtin), KIND_CODE[p.kind], p.value),
                  "Bind a GTIN with a lot or serial to a product token the signer holds", "holder (supplier or brand)"),
]
