"""The due-diligence statement's field rules (node_api/eudr/dds.py): each refused naming its field, and a built
statement carrying every Annex II field. No chain."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from eudr_data import SOUBRE, SOUBRE_HA, dds_request, polygon_text
from node_api.eudr.dds import DdsRequest, DueDiligenceStatement, build_dds, commodity_of, document_hash
from node_api.eudr.geo import check_plot


def refused(**over) -> str:
    with pytest.raises(ValidationError) as exc:
        DdsRequest.model_validate(dds_request(**over))
    return str(exc.value)


def test_eudr_dds_request_valid():
    r = DdsRequest.model_validate(dds_request(hsCode="1801.00"))
    assert r.hsCode == "180100" and r.operator.eori == "NL123456789"


@pytest.mark.parametrize("eori", ["123456789", "N1234", "NL", "NL12345678901234567", "nl-123"])
def test_eudr_dds_eori_format_refused(eori):
    op = dds_request()["operator"] | {"eori": eori}
    assert "EORI number must be" in refused(operator=op)


@pytest.mark.parametrize("hs,why", [("18", "4, 6 or 8 digits"), ("18010", "4, 6 or 8 digits"), ("abcd", "4, 6 or 8"),
                                    ("5201", "not a relevant product")])  # 5201: cotton, not in Annex I
def test_eudr_dds_hs_code_refused(hs, why):
    assert why in refused(hsCode=hs)


def test_eudr_dds_wood_needs_scientific_name():
    assert "scientificName is required for wood" in refused(hsCode="4407")
    DdsRequest.model_validate(dds_request(hsCode="4407", scientificName="Tectona grandis"))


def test_eudr_dds_cattle_needs_supplementary_unit():
    assert "supplementaryUnit with unit NAR" in refused(hsCode="0102")
    DdsRequest.model_validate(dds_request(hsCode="0102", supplementaryUnit={"unit": "NAR", "quantity": 12}))


@pytest.mark.parametrize("over,field", [({"netMassKg": 0}, "netMassKg"), ({"tradeName": ""}, "tradeName"),
                                        ({"activity": "smuggle"}, "activity"), ({"extra": 1}, "extra")])
def test_eudr_dds_other_fields_refused(over, field):
    assert field in refused(**over)


def test_eudr_commodity_of_annex_headings():
    assert [commodity_of(c) for c in ("1801", "090111", "151110", "440710", "4001", "120190", "5201")] == [
        "cocoa", "coffee", "oil palm", "wood", "rubber", "soya", None]


def test_eudr_dds_built_with_annex_ii_fields():
    plot = check_plot(polygon_text(SOUBRE, area_ha=SOUBRE_HA))
    doc = build_dds(DdsRequest.model_validate(dds_request()), token_id=9, chain_id=31337, ledger="0x" + "ab" * 20,
                    plots=[{"hash": plot.geolocation_hash, "country": plot.country, "feature": plot.feature}],
                    references=[{"referenceNumber": "25ABCDEFGHIJKL", "verificationNumber": "QWERTYUI"},
                                {"referenceNumber": "25ABCDEFGHIJKL", "verificationNumber": "QWERTYUI"}])
    assert doc["operator"]["eori"] == "NL123456789" and doc["hsCode"] == "1801" and doc["commodity"] == "cocoa"
    assert doc["countriesOfProduction"] == ["CI"] and doc["netMassKg"] == 7.0
    assert doc["geolocation"]["features"][0]["properties"]["geolocationHash"] == plot.geolocation_hash
    assert doc["referencedStatements"] == [{"referenceNumber": "25ABCDEFGHIJKL", "verificationNumber": "QWERTYUI"}]
    assert "Regulation (EU) 2023/1115" in doc["statement"]
    DueDiligenceStatement.model_validate(doc)  # the built document passes its own rules
    assert document_hash(doc) == document_hash(dict(reversed(list(doc.items()))))  # canonical: key order free


def test_eudr_dds_without_plot_refused():
    with pytest.raises(ValidationError, match="at least"):
        build_dds(DdsRequest.model_validate(dds_request()), token_id=9, chain_id=1, ledger="0x", plots=[],
                  references=[])
