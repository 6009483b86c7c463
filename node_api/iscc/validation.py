"""A declaration checked against its field rules: the JSON schema (``declaration.schema.json``) and the rules
between fields that a schema cannot say (certified quantity within the quantity, the share or the credits
that fit the method, the extent of compensation computed from them). Each problem names the field."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).with_name("declaration.schema.json")
PPM = 1_000_000


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def problems(doc: Any) -> list[str]:
    """Every rule ``doc`` breaks, as "field: rule" (empty: valid)."""
    out = [f"{'.'.join(str(p) for p in e.absolute_path) or '(document)'}: {e.message}"
           for e in sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    if out:
        return out
    qty, certified = doc["quantity"]["value"], doc["certified_quantity"]["value"]
    mb = doc["chain_of_custody_method"]["model"] == "mass balance"
    if certified > qty:
        out.append(f"certified_quantity.value: {certified} exceeds the delivered quantity {qty}")
    if mb and (doc["credits_applied"] is None or doc["certified_share"] is not None):
        out.append("credits_applied: a mass-balance declaration states the credits applied, not a share")
    if not mb and (doc["certified_share"] is None or doc["credits_applied"] is not None):
        out.append("certified_share: a declaration under a physical method states the share, not credits")
    if mb and doc["credits_applied"] and doc["credits_applied"]["value"] != certified:
        out.append("credits_applied.value: differs from the certified quantity")
    if not mb and doc["certified_share"] and certified != qty * doc["certified_share"]["ppm"] // PPM:
        out.append("certified_quantity.value: is not the quantity times the certified share")
    ext = doc["extent_of_input_compensation"]
    if ext["ppm"] != certified * PPM // qty or ext["full"] != (certified == qty):
        out.append("extent_of_input_compensation: not the certified quantity over the delivered quantity")
    units = {doc["quantity"]["unit"], doc["certified_quantity"]["unit"], doc["material"]["unit"]}
    if len(units) != 1:
        out.append(f"quantity.unit: the quantities disagree on the unit ({sorted(units)})")
    ms = doc["multi_site_credit_transfer"]
    if ms["applies"] != bool(ms["this_delivery"] or ms["upstream"]):
        out.append("multi_site_credit_transfer.applies: does not match the transfers listed")
    if not mb and (ms["this_delivery"] or ms["upstream"]):
        out.append("multi_site_credit_transfer: credit transfers apply to mass balance only")
    if not doc["id"].endswith(doc["delivery"]["transfer_id"]):
        out.append("id: does not name the delivery's transfer id")
    return out
