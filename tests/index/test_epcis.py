"""EPCIS 2.0 export: real documents from the demo scenario validate against GS1's official JSON
schema (../shared/epcis/EPCIS-JSON-Schema.json) and map each ledger fact to the right event."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from node_api.index.read import epcis

#: ../shared next to the checkout (a worktree of it sits one level deeper: the nearest one up wins)
SCHEMA_PATH = next((p / "shared" / "epcis" / "EPCIS-JSON-Schema.json" for p in Path(__file__).resolve().parents[3:]
                    if (p / "shared" / "epcis" / "EPCIS-JSON-Schema.json").exists()),
                   Path(__file__).resolve().parents[3] / "shared" / "epcis" / "EPCIS-JSON-Schema.json")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")


def _checker() -> jsonschema.FormatChecker:
    """The schema's formats checked for real ("uri" and "date-time" need optional packages that
    jsonschema would otherwise silently skip)."""
    checker = jsonschema.FormatChecker()

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        return not isinstance(value, str) or bool(URI.match(value))

    @checker.checks("date-time")
    def _dt(value: object) -> bool:
        if not isinstance(value, str):
            return True
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value

    return checker


@pytest.fixture(scope="module")
def validator():
    if not SCHEMA_PATH.exists():
        pytest.skip(f"GS1 schema not found at {SCHEMA_PATH}")
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=_checker())


def _validate(validator, doc) -> None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:5])


@pytest.fixture(scope="module")
def conn(indexed):
    with indexed.engine.connect() as c:
        yield c


def test_token_document_validates_against_gs1_schema(conn, scenario, validator):
    for token in (scenario.product, scenario.blend, scenario.mb_origin, scenario.released):
        doc = epcis.token_document(conn, token)
        _validate(validator, doc)
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"


def test_schema_check_is_real(validator):
    bad = epcis.document([{"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00.000Z",
                           "eventTimeZoneOffset": "+00:00", "quantityList": [{"epcClass": "x y", "quantity": 1}]}])
    assert list(validator.iter_errors(bad))  # no action, and an epcClass that is not a URI


def test_token_document_maps_each_ledger_fact(conn, scenario):
    doc = epcis.token_document(conn, scenario.product)
    events = doc["epcisBody"]["eventList"]
    adds = [e for e in events if e["type"] == "ObjectEvent" and e["action"] == "ADD"]
    assert sorted(e["ilmd"]["cbvmda:lotNumber"] for e in adds) == sorted([str(scenario.origin_a), str(scenario.origin_b)])
    a = next(e for e in adds if e["ilmd"]["cbvmda:lotNumber"] == str(scenario.origin_a))
    assert a["bizStep"] == "commissioning" and a["quantityList"][0]["quantity"] == 10_000_000
    assert a["quantityList"][0]["uom"] == "GRM" and a["ilmd"]["coc:geolocationHash"].startswith("0x")
    assert a["ilmd"]["coc:ddsReference"].startswith("EUDR-DDS-")
    transforms = [e for e in events if e["type"] == "TransformationEvent"]
    kinds = [e["coc:kind"] for e in transforms]
    assert kinds == ["merge", "transform", "transform", "split"]
    merge = transforms[0]
    assert [q["quantity"] for q in merge["inputQuantityList"]] == [8_000_000, 6_000_000]
    assert merge["outputQuantityList"][0]["epcClass"].endswith(f":batch:{scenario.merged}")
    ginning = transforms[1]
    assert ginning["coc:process"] == "ginning" and ginning["coc:loss"] == 14_000_000 - 4_900_000
    split = transforms[3]
    assert [q["quantity"] for q in split["outputQuantityList"]] == [3_000_000, 1_165_000]
    ships = [e for e in events if e.get("bizStep") == "shipping"]
    receipts = [e for e in events if e.get("bizStep") == "receiving"]
    voids = [e for e in events if e.get("bizStep") == "void_shipping"]
    assert len(ships) == 5 and len(receipts) == 4 and len(voids) == 1 and voids[0]["disposition"] == "returned"
    last = ships[-1]
    assert last["disposition"] == "in_transit"
    assert {s["type"] for s in last["sourceList"]} == {"owning_party", "possessing_party"}
    assert {d["type"] for d in last["destinationList"]} == {"owning_party", "possessing_party"}
    sale = [e for e in events if e["type"] == "ObjectEvent" and e["action"] == "DELETE"]
    assert sale[0]["bizStep"] == "retail_selling" and sale[0]["quantityList"][0]["quantity"] == 1_000_000
    assert all(e["coc:txHash"].startswith("0x") and e["coc:blockNumber"] > 0 for e in events)
    assert len({e["eventID"] for e in events}) == len(events)


def test_mass_balance_delivery_carries_its_declaration(conn, scenario):
    events = epcis.token_document(conn, scenario.mb_origin)["epcisBody"]["eventList"]
    ships = [e for e in events if e.get("bizStep") == "shipping"]
    assert [e["coc:certifiedQuantity"] for e in ships] == [3_000_000, 2_000_000]
    for e in ships:
        types = [b["type"] for b in e["bizTransactionList"]]
        assert types == ["desadv", "urn:coc:ns:btt:sustainability_declaration"]


def test_range_document_holds_only_events_in_range(conn, scenario, validator, world_session):
    w3 = world_session.sb.w3
    full = epcis.token_document(conn, scenario.product)["epcisBody"]["eventList"]
    merge = next(e for e in full if e.get("coc:kind") == "merge")
    t = int(w3.eth.get_block(merge["coc:blockNumber"])["timestamp"])
    doc = epcis.range_document(conn, t, t)
    _validate(validator, doc)
    events = doc["epcisBody"]["eventList"]
    assert events and all(e["eventTime"] == merge["eventTime"] for e in events)
    assert merge["eventID"] in {e["eventID"] for e in events}
