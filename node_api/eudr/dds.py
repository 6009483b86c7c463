"""The due-diligence statement (DDS) of EUDR Annex II for a product (a batch token) placed on the market.

The caller gives what only the operator knows (who it is, the HS code, the description, the net mass); the
chain and the plot registry give the rest: the countries of production and the geolocation of every plot in
the product's lineage, and the statements already filed upstream that it relies on. A statement is built
only for a product whose lineage is EUDR-traceable (BatchLedger.eudrStatus); every field is checked by the
rules below (pydantic, so a refusal is a 422 naming the field and the rule).

Field rules: ``operator.eori`` an EORI number (ISO country code + up to 15 letters or digits); ``hsCode`` 4, 6
or 8 digits of a heading listed in Annex I; ``scientificName`` required for wood (chapters 44, 47, 48, 49,
headings 9401, 9403, 9406); ``supplementaryUnit`` required where the code has one (live cattle, 0102: head);
``netMassKg`` positive; ``countriesOfProduction`` ISO 3166-1 alpha-2 codes; ``activity`` import, export or
domestic (placing on the market).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Literal

from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Annex I of Regulation (EU) 2023/1115: the headings (HS/CN prefixes) of the relevant products.
ANNEX_I_PREFIXES: dict[str, str] = {
    # cattle
    "0102": "cattle", "0201": "cattle", "0202": "cattle", "020610": "cattle", "020629": "cattle",
    "160250": "cattle", "4101": "cattle", "4104": "cattle", "4107": "cattle",
    # cocoa
    "1801": "cocoa", "1802": "cocoa", "1803": "cocoa", "1804": "cocoa", "1805": "cocoa", "1806": "cocoa",
    # coffee
    "0901": "coffee",
    # oil palm
    "120710": "oil palm", "1511": "oil palm", "151321": "oil palm", "151329": "oil palm", "230660": "oil palm",
    "290545": "oil palm", "291570": "oil palm", "382311": "oil palm", "382312": "oil palm", "382319": "oil palm",
    "382370": "oil palm",
    # rubber
    "4001": "rubber", "4005": "rubber", "4006": "rubber", "4007": "rubber", "4008": "rubber", "4010": "rubber",
    "4011": "rubber", "4013": "rubber", "4015": "rubber", "4016": "rubber", "4017": "rubber",
    # soya
    "1201": "soya", "120810": "soya", "1507": "soya", "2304": "soya",
    # wood
    "44": "wood", "47": "wood", "48": "wood", "49": "wood", "9401": "wood", "9403": "wood", "9406": "wood",
}
#: Codes whose CN supplementary unit must be given, with the unit.
SUPPLEMENTARY_UNITS: dict[str, str] = {"0102": "NAR"}  # live bovine animals: number of head

EORI = re.compile(r"^[A-Z]{2}[0-9A-Z]{1,15}$")
HS = re.compile(r"^\d{4}(\d{2}(\d{2})?)?$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
STATEMENT_TEXT = (
    "By submitting this due diligence statement the operator confirms that due diligence in accordance with "
    "Regulation (EU) 2023/1115 was carried out and that no or only a negligible risk was found that the relevant "
    "products do not comply with Article 3, point (a) or (b), of that Regulation."
)


def commodity_of(hs_code: str) -> str | None:
    """The Annex I commodity of ``hs_code`` (longest matching heading), or None if it is not listed."""
    for n in (8, 6, 4, 2):
        c = ANNEX_I_PREFIXES.get(hs_code[:n])
        if c:
            return c
    return None


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="operator's legal name")
    address: str = Field(min_length=5, max_length=500, description="postal address")
    eori: str = Field(description="EORI number: ISO country code + up to 15 letters or digits, e.g. NL123456789")

    @field_validator("eori")
    @classmethod
    def _eori(cls, v: str) -> str:
        v = v.strip().upper()
        if not EORI.match(v):
            raise ValueError("EORI number must be a 2-letter country code followed by 1 to 15 letters or digits")
        return v


class SupplementaryUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(min_length=1, max_length=10, description="CN supplementary unit code, e.g. NAR (number of items)")
    quantity: float = Field(gt=0)


class DdsRequest(BaseModel):
    """What the operator declares; the rest comes from the chain and the plot registry."""

    model_config = ConfigDict(extra="forbid")
    operator: Operator
    activity: Literal["import", "export", "domestic"] = "domestic"
    hsCode: str = Field(description="HS/CN code, 4, 6 or 8 digits, of a heading in EUDR Annex I")
    description: str = Field(min_length=3, max_length=500)
    tradeName: str = Field(min_length=1, max_length=200)
    scientificName: str | None = Field(None, max_length=200, description="required for wood")
    netMassKg: float = Field(gt=0, description="net mass in kilograms")
    supplementaryUnit: SupplementaryUnit | None = None

    @field_validator("hsCode")
    @classmethod
    def _hs(cls, v: str) -> str:
        v = v.replace(".", "").replace(" ", "")
        if not HS.match(v):
            raise ValueError("HS code must be 4, 6 or 8 digits")
        if commodity_of(v) is None:
            raise ValueError(f"HS code {v} is not a relevant product of EUDR Annex I")
        return v

    @model_validator(mode="after")
    def _by_commodity(self) -> "DdsRequest":
        if commodity_of(self.hsCode) == "wood" and not self.scientificName:
            raise ValueError("scientificName is required for wood (Annex II: scientific name of the species)")
        unit = SUPPLEMENTARY_UNITS.get(self.hsCode[:4])
        if unit and (self.supplementaryUnit is None or self.supplementaryUnit.unit != unit):
            raise ValueError(f"supplementaryUnit with unit {unit} is required for HS {self.hsCode[:4]}")
        return self


class ReferencedStatement(BaseModel):
    referenceNumber: str = Field(min_length=1, max_length=64)
    verificationNumber: str | None = Field(None, max_length=64)


class DueDiligenceStatement(DdsRequest):
    """The statement as built: the request plus what the chain and the plots say (Annex II)."""

    commodity: str
    countriesOfProduction: list[str] = Field(min_length=1)
    geolocation: dict[str, Any] = Field(description="GeoJSON FeatureCollection of every plot in the lineage")
    referencedStatements: list[ReferencedStatement]
    product: dict[str, Any]
    statement: str = STATEMENT_TEXT
    date: str

    @field_validator("countriesOfProduction")
    @classmethod
    def _countries(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not COUNTRY.match(c)]
        if bad:
            raise ValueError(f"countries of production must be ISO 3166-1 alpha-2 codes: {bad}")
        return v

    @field_validator("geolocation")
    @classmethod
    def _geolocation(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v.get("type") != "FeatureCollection" or not v.get("features"):
            raise ValueError("geolocation must be a GeoJSON FeatureCollection with at least one plot")
        return v


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def document_hash(doc: dict[str, Any]) -> str:
    """keccak-256 of the statement's canonical JSON: what DueDiligenceRegistry records."""
    return "0x" + keccak(canonical(doc)).hex()


def build_dds(request: DdsRequest, *, token_id: int, chain_id: int, ledger: str, plots: list[dict[str, Any]],
              references: list[dict[str, Any]], now: datetime | None = None) -> dict[str, Any]:
    """The statement for product ``token_id`` from ``request``, the lineage's ``plots`` (each {hash, country,
    feature}) and the upstream ``references``; checked against every field rule (raises pydantic's
    ValidationError)."""
    features = []
    for p in plots:
        f = dict(p["feature"])
        f["properties"] = {**(f.get("properties") or {}), "geolocationHash": p["hash"]}
        features.append(f)
    seen: set[str] = set()
    refs = []
    for r in references:
        if r["referenceNumber"] not in seen:
            seen.add(r["referenceNumber"])
            refs.append({"referenceNumber": r["referenceNumber"], "verificationNumber": r.get("verificationNumber")})
    doc = {
        **request.model_dump(),
        "commodity": commodity_of(request.hsCode),
        "countriesOfProduction": sorted({p["country"] for p in plots}),
        "geolocation": {"type": "FeatureCollection", "features": features},
        "referencedStatements": refs,
        "product": {"tokenId": token_id, "chainId": chain_id, "ledger": ledger},
        "statement": STATEMENT_TEXT,
        "date": (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return DueDiligenceStatement.model_validate(doc).model_dump(mode="json")
