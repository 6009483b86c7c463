"""GS1 rules of the Digital Link resolver without a chain: check digits (mod 10, weights 3/1 from the right),
GTIN-8/12/13 normalised to 14 digits, lot and serial character set and length, the URI and the linkset."""

from __future__ import annotations

import pytest

from node_api.actions.identifiers import Bind
from node_api.digital_link.gs1 import Gs1Error, ProductKey, check_digit, normalise_gtin, validate_value
from node_api.digital_link.linkset import LINK_TYPES, linkset, resolve_link_type
from node_api.digital_link.qr import svg
from pydantic import ValidationError

# Published examples: GS1 General Specifications (09506000134352), a GTIN-13 (4006381333931),
# a UPC-A / GTIN-12 (036000291452), an EAN-8 / GTIN-8 (96385074)
VALID = {"09506000134352": "09506000134352", "4006381333931": "04006381333931",
         "036000291452": "00036000291452", "96385074": "00000096385074"}


@pytest.mark.parametrize("raw,gtin14", VALID.items())
def test_valid_gtins_are_normalised_to_14_digits(raw, gtin14):
    assert normalise_gtin(raw) == gtin14
    assert check_digit(gtin14[:-1]) == int(gtin14[-1])


@pytest.mark.parametrize("raw", list(VALID))
def test_every_wrong_check_digit_is_refused(raw):
    for d in "0123456789":
        if d == raw[-1]:
            continue
        with pytest.raises(Gs1Error) as e:
            normalise_gtin(raw[:-1] + d)
        assert e.value.field == "gtin" and f"check digit" in e.value.rule and f"is {raw[-1]}, got {d}" in e.value.rule


@pytest.mark.parametrize("raw,rule", [
    ("", "digits only"), ("0950600013435X", "digits only"), ("٠٩٥٠٦٠٠٠١٣٤٣٥٢", "digits only"),
    ("123456789", "8, 12, 13 or 14 digits"), ("095060001343521", "8, 12, 13 or 14 digits"),
    ("00000000000000", "zeros"), ("-9506000134352", "digits only"),
])
def test_malformed_gtins_are_refused_naming_the_rule(raw, rule):
    with pytest.raises(Gs1Error) as e:
        normalise_gtin(raw)
    assert rule in e.value.rule


def test_check_digit_weights_from_the_right():
    # 629104150021: from the right 1*3 + 2*1 + 0*3 + 0*1 + 5*3 + 1*1 + 4*3 + 0*1 + 1*3 + 9*1 + 2*3 + 6*1 = 57 -> 3
    assert check_digit("629104150021") == 3
    assert check_digit("950600013435") == 2


@pytest.mark.parametrize("value", ["A", "LOT-2026/12", "x" * 20, "!\"%&'()*+,-./:;<=>?_", "abcXYZ019"])
def test_lot_and_serial_in_character_set_82(value):
    assert validate_value(value, "lot") == value and validate_value(value, "serial") == value


@pytest.mark.parametrize("value,rule", [("", "got none"), ("x" * 21, "at most 20"), ("LOT 1", "character set 82"),
                                        ("LOT#1", "character set 82"), ("LÖT", "character set 82"),
                                        ("a$b", "character set 82"), ("a@b", "character set 82")])
def test_lot_outside_the_rules_is_refused(value, rule):
    with pytest.raises(Gs1Error) as e:
        validate_value(value, "lot")
    assert e.value.field == "lot" and rule in e.value.rule


def test_product_key_parses_ai_10_and_21_and_builds_the_uri():
    k = ProductKey.parse("4006381333931", "10", "LOT%2F7")
    assert (k.gtin, k.kind, k.value) == ("04006381333931", "lot", "LOT/7")
    assert k.uri("https://id.example/") == "https://id.example/01/04006381333931/10/LOT%2F7"
    assert ProductKey.parse("96385074", "21", "SN1").path() == "/01/00000096385074/21/SN1"
    with pytest.raises(Gs1Error) as e:
        ProductKey.parse("96385074", "17", "261231")
    assert e.value.field == "ai"


def test_bind_params_refuse_bad_gtin_and_value_naming_the_field():
    ok = Bind(batchId=1, gtin="4006381333931", kind="lot", value="L1")
    assert ok.gtin == "04006381333931"
    with pytest.raises(ValidationError) as e:
        Bind(batchId=1, gtin="4006381333932", kind="lot", value="L1")
    assert e.value.errors()[0]["loc"] == ("gtin",) and "check digit" in str(e.value)
    with pytest.raises(ValidationError) as e:
        Bind(batchId=1, gtin="4006381333931", kind="serial", value="S 1")
    assert "character set 82" in str(e.value)
    with pytest.raises(ValidationError):
        Bind(batchId=1, gtin="4006381333931", kind="batch", value="L1")


def test_linkset_is_rfc9264_with_a_default_link_and_every_target():
    doc = linkset("https://id.example/01/09506000134352/10/L1", "https://id.example", 7)
    (ctx,) = doc["linkset"]
    assert ctx["anchor"] == "https://id.example/01/09506000134352/10/L1"
    assert ctx["https://gs1.org/voc/defaultLink"] == [{"href": "https://id.example/app/products/7",
                                                        "title": "Product page", "type": "text/html"}]
    hrefs = {rel: [x["href"] for x in links] for rel, links in ctx.items() if rel != "anchor"}
    assert hrefs["urn:coc:rel:passport"] == ["https://id.example/provenance/batches/7/passport"]
    assert hrefs["urn:coc:rel:epcis"] == ["https://id.example/provenance/batches/7/epcis"]
    assert hrefs["urn:coc:rel:claim"] == ["https://id.example/provenance/batches/7/claim"]
    assert hrefs["urn:coc:rel:eudr-dds"] == ["https://id.example/products/7/dds"]
    assert hrefs["urn:coc:rel:iscc-plus-declarations"] == ["https://id.example/products/7/declarations"]
    for links in ctx.values():  # RFC 9264: each relation's value is an array of target objects with href
        assert isinstance(links, str) or all("href" in x for x in links)
    assert all(resolve_link_type(n) for n in LINK_TYPES) and resolve_link_type("gs1:nothing") is None


def test_qr_svg_is_an_svg_document():
    out = svg("https://id.example/01/09506000134352/10/L1").decode()
    assert out.startswith("<?xml") and "<svg" in out and "</svg>" in out and "<path" in out
