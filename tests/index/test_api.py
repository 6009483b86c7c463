"""The provenance routes over the demo scenario's index (FastAPI TestClient, the real router)."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from node_api.api.routes import provenance
from node_api.api.schemas import provenance as schemas
from node_api.errors import ApiError
from node_api.index.service import IndexService


@pytest.fixture(scope="module")
def client(indexed):
    app = FastAPI()
    app.add_exception_handler(ApiError, lambda _r, e: JSONResponse(e.body(), status_code=e.status))
    app.include_router(provenance.router)
    app.state.index = IndexService(indexed.engine, indexed)
    with TestClient(app) as c:
        yield c


def test_status_reports_lag(client, w3):
    s = client.get("/provenance/status").json()
    assert s["following"] is True and s["last_indexed_block"] == w3.eth.block_number and s["blocks_behind"] == 0


def test_batch_provenance_route_answers_everything(client, scenario):
    r = client.get(f"/provenance/batches/{scenario.product}")
    assert r.status_code == 200
    body = r.json()
    assert {"batch", "lineage", "descendants", "custody", "book_and_claim", "claim", "facts"} <= body.keys()
    assert [o["batch_id"] for o in body["lineage"]["origins"]] == [scenario.origin_a, scenario.origin_b]
    assert client.get(f"/provenance/batches/{scenario.product}/claim").json()["percent"] == "100"
    assert client.get(f"/provenance/batches/{scenario.product}/lineage").json()["ancestor_count"] == 5
    assert len(client.get(f"/provenance/batches/{scenario.product}/custody").json()) == 5
    assert len(client.get(f"/provenance/batches/{scenario.product}/custody?ancestors=false").json()) == 1
    assert client.get(f"/provenance/batches/{scenario.origin_a}/descendants").json()["descendant_count"] == 5
    assert client.get(f"/provenance/batches/{scenario.product}/passport").json()["type"] == "DigitalProductPassport"
    assert client.get(f"/provenance/batches/{scenario.product}/batch").json()["kind"] == "split"


def test_epcis_routes_answer_json_ld(client, scenario):
    r = client.get(f"/provenance/batches/{scenario.product}/epcis")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    assert r.json()["type"] == "EPCISDocument"
    everything = client.get("/provenance/epcis").json()["epcisBody"]["eventList"]
    assert len(everything) > len(r.json()["epcisBody"]["eventList"])
    assert client.get("/provenance/epcis?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z").json()["epcisBody"]["eventList"] == []
    bad = client.get("/provenance/epcis?from=yesterday")
    assert bad.status_code == 422 and bad.json()["error"] == "InvalidRequest"


def test_participant_certificate_and_tx_routes(client, scenario, world_session):
    p = client.get(f"/provenance/participants/{world_session.spinner.participant_id}").json()
    assert p["name"] == "Spinning Mill" and p["in_transit"]["outgoing"][0]["transfer_id"] == scenario.pending_transfer
    c = client.get(f"/provenance/certificates/{scenario.certificate_id}").json()
    assert c["retired"] == 1
    tx = p["in_transit"]["outgoing"][0]["proposed"]["tx_hash"]
    events = client.get(f"/provenance/tx/{tx}").json()["events"]
    assert "CustodyProposed" in [e["event"] for e in events]


def test_unknown_ids_answer_404(client):
    for path in ("/provenance/batches/999999", "/provenance/batches/999999/epcis", "/provenance/participants/999",
                 "/provenance/certificates/999", "/provenance/tx/0x" + "0" * 64):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"] == "NotFound", path


def test_routes_answer_503_without_index():
    app = FastAPI()
    app.add_exception_handler(ApiError, lambda _r, e: JSONResponse(e.body(), status_code=e.status))
    app.include_router(provenance.router)
    with TestClient(app) as c:
        r = c.get("/provenance/batches/1")
    assert r.status_code == 503 and r.json()["error"] == "IndexUnavailable"


def test_explorer_page_is_self_contained(client):
    r = client.get("/explorer")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "<svg" in html and "/provenance/batches/" in html and "/provenance/tx/{tx}" in html
    for external in ("<script src", "<link", "@import", "url(http", "src=\"http", "href=\"http"):
        assert external not in html, external


def _as_model_sends_it(model, body: bytes) -> None:
    """``model`` accepts the answer and, serialised as the routes do, gives back the same bytes."""
    value = model.model_validate_json(body)
    again = json.dumps(value.model_dump(mode="json", by_alias=True, exclude_unset=True), separators=(",", ":"),
                       ensure_ascii=False).encode()
    assert again == body, model


def test_answers_sent_encoded_once_match_their_documented_models(client, scenario):
    """The routes that send JSON encoded once (no per-request validation) answer what their OpenAPI
    models say, without a key added, dropped or moved: for every batch of the scenario."""
    for bid in range(1, scenario.released + 1):
        base = f"/provenance/batches/{bid}"
        _as_model_sends_it(schemas.Provenance, client.get(base).content)
        _as_model_sends_it(schemas.LineageRows, client.get(f"{base}/lineage").content)
        _as_model_sends_it(schemas.Lineage, client.get(f"{base}/lineage?shape=objects").content)
        _as_model_sends_it(schemas.Passport, client.get(f"{base}/passport").content)
        _as_model_sends_it(schemas.EpcisDocument, client.get(f"{base}/epcis").content)
    _as_model_sends_it(schemas.EpcisDocument, client.get("/provenance/epcis").content)


def test_openapi_shows_what_each_provenance_answer_contains(client):
    spec = client.get("/openapi.json").json()
    answers = {path: op["get"]["responses"]["200"]["content"]["application/json"]["schema"]
               for path, op in spec["paths"].items() if path.startswith("/provenance/")}
    assert len(answers) == 13
    for path, schema in answers.items():
        refs = json.dumps(schema)
        assert "#/components/schemas/" in refs, (path, schema)
    props = spec["components"]["schemas"]["Claim"]["properties"]
    assert {"percent", "statements", "evidence", "text"} <= props.keys()
