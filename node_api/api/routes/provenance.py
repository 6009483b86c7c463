"""Provenance routes: thin wrappers over the index's read side (node_api.index.read) and the
explorer page. The index service is ``request.app.state.index`` (see node_api.index.service)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from node_api.api.deps import read_access_if_node
from node_api.api.params import Bytes32Hex, Int64
from node_api.api.schemas import provenance as schemas
from node_api.errors import ApiError
from node_api.index.read import batches, certificates, custody as custody_, epcis, lineage as lineage_
from node_api.index.read import participants, provenance as provenance_, transactions
from node_api.index.read.reference import reference
from node_api.index.service import IndexService

router = APIRouter(tags=["provenance"])
#: provenance is reading: restricted like every other read when the node sets ``read_requires_key``
#: (the /explorer page itself is a static shell and stays open)
READ = [Depends(read_access_if_node)]

EXPLORER_HTML = Path(__file__).resolve().parents[2] / "web" / "explorer.html"
#: Answers validated against their response model (serialised as built: no key added or reordered).
VALIDATED: dict[str, Any] = {"dependencies": READ, "response_model_exclude_unset": True}


def _encoded_once(model: Any, description: str) -> dict[str, Any]:
    """Route options of an answer sent as JSON encoded once, for speed: its shape is documented in the
    OpenAPI ``responses``, not validated per request (tests/index/test_api.py validates it)."""
    return {"dependencies": READ, "responses": {200: {"model": model, "description": description}}}


def _index(request: Request) -> IndexService:
    index = getattr(request.app.state, "index", None)
    if index is None:
        raise ApiError(503, "IndexUnavailable", "the provenance index is not running on this node")
    return index


def _found(value: Any, what: str) -> Any:
    if value is None:
        raise ApiError(404, "NotFound", f"{what} not found in the index")
    return value


def _batch_exists(conn: Any, batch_id: Int64) -> None:
    if not batches.exists(conn, batch_id):
        raise ApiError(404, "NotFound", f"batch {batch_id} not found in the index")


def _json(value: Any) -> Response:
    """JSON of plain dicts and lists, encoded once (FastAPI's per-object encoder would walk every
    node of a large lineage first)."""
    return Response(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), media_type="application/json")


def _time(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if value.isascii() and value.lstrip("-").isdigit():  # ASCII digits only: "١٢" is not a time
        if abs(int(value)) >= 2**63:
            raise ApiError(422, "InvalidRequest", f"unix time out of range: {value!r}")
        return int(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(422, "InvalidRequest", f"not a unix time or ISO 8601 date-time: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


@router.get("/provenance/status", response_model=schemas.IndexStatus, **VALIDATED)
def status(request: Request) -> dict[str, Any]:
    """How far behind the chain the index is (blocks and seconds)."""
    return _index(request).status()


@router.get("/provenance/batches/{batch_id}", **_encoded_once(schemas.Provenance, "Everything about the token"))
def batch_provenance(batch_id: Int64, request: Request) -> Response:
    """Everything about a token: the batch, its ancestry to every origin, descendants, custody
    chain, certificates retired against it, the claim it supports, and every transaction."""
    with _index(request).engine.connect() as conn:
        return _json(_found(provenance_.provenance(conn, batch_id), f"batch {batch_id}"))


@router.get("/provenance/batches/{batch_id}/batch", response_model=schemas.Batch, **VALIDATED)
def batch(batch_id: Int64, request: Request) -> dict[str, Any]:
    with _index(request).engine.connect() as conn:
        return _found(batches.batch(conn, batch_id, reference(conn)), f"batch {batch_id}")


@router.get("/provenance/batches/{batch_id}/lineage", **_encoded_once(
    schemas.LineageRows | schemas.Lineage, "The ancestry: compact rows (default) or objects (shape=objects)"))
def lineage(
    batch_id: Int64,
    request: Request,
    shape: str = Query("rows", pattern="^(rows|objects)$",
                       description="rows: compact (one array per batch, columns named once); objects: one object per "
                                   "batch and per origin, as inside /provenance/batches/{batch_id}"),
) -> Response:
    """The batch's ancestry back to every origin: each ancestor with the quantity of it taken into this
    batch, the part of this batch it accounts for, the weakest model on its paths and the next batch
    on one path; origins with site, geolocation hash, DDS reference, evidence hash and the producer's
    certification at creation; every batch with its transaction hash and block. The default compact
    shape is joined from fragments rendered at ingest (see node_api.index.lineage_fragments)."""
    with _index(request).engine.connect() as conn:
        if shape == "objects":
            return _json(_found(lineage_.lineage(conn, batch_id), f"batch {batch_id}"))
        return Response(_found(lineage_.lineage_json(conn, batch_id), f"batch {batch_id}"), media_type="application/json")


@router.get("/provenance/batches/{batch_id}/descendants", response_model=schemas.Descendants, **VALIDATED)
def descendants(batch_id: Int64, request: Request) -> dict[str, Any]:
    with _index(request).engine.connect() as conn:
        _batch_exists(conn, batch_id)
        return batches.descendants(conn, batch_id, reference(conn))


@router.get("/provenance/batches/{batch_id}/custody", response_model=list[schemas.Transfer], **VALIDATED)
def custody(batch_id: Int64, request: Request, ancestors: bool = True) -> list[dict[str, Any]]:
    with _index(request).engine.connect() as conn:
        _batch_exists(conn, batch_id)
        return custody_.custody(conn, batch_id, reference(conn), with_ancestors=ancestors)


@router.get("/provenance/batches/{batch_id}/claim", response_model=schemas.Claim, **VALIDATED)
def claim(batch_id: Int64, request: Request) -> dict[str, Any]:
    with _index(request).engine.connect() as conn:
        return _found(provenance_.provenance(conn, batch_id), f"batch {batch_id}")["claim"]


@router.get("/provenance/batches/{batch_id}/passport", **_encoded_once(schemas.Passport, "The product passport"))
def product_passport(batch_id: Int64, request: Request) -> Response:
    with _index(request).engine.connect() as conn:
        return _json(_found(provenance_.passport(conn, batch_id), f"batch {batch_id}"))


@router.get("/provenance/batches/{batch_id}/epcis", **_encoded_once(
    schemas.EpcisDocument, "EPCIS 2.0 document, sent as application/ld+json"))
def batch_epcis(batch_id: Int64, request: Request) -> JSONResponse:
    """EPCIS 2.0 document (JSON-LD) of the token's history."""
    with _index(request).engine.connect() as conn:
        doc = _found(epcis.token_document(conn, batch_id), f"batch {batch_id}")
    return JSONResponse(doc, media_type="application/ld+json")


@router.get("/provenance/epcis", **_encoded_once(schemas.EpcisDocument, "EPCIS 2.0 document, sent as application/ld+json"))
def range_epcis(
    request: Request,
    start: str | None = Query(None, alias="from", description="unix seconds or ISO 8601"),
    end: str | None = Query(None, alias="to", description="unix seconds or ISO 8601"),
) -> JSONResponse:
    """EPCIS 2.0 document of every event with a block time in [from, to]."""
    with _index(request).engine.connect() as conn:
        doc = epcis.range_document(conn, _time(start, 0), _time(end, 2**62))
    return JSONResponse(doc, media_type="application/ld+json")


@router.get("/provenance/participants/{participant_id}", response_model=schemas.Participant, **VALIDATED)
def participant(participant_id: Int64, request: Request) -> dict[str, Any]:
    """Batches held and in transit, credit accounts with period statements, certificates."""
    with _index(request).engine.connect() as conn:
        return _found(participants.participant(conn, participant_id, reference(conn)), f"participant {participant_id}")


@router.get("/provenance/certificates/{certificate_id}", response_model=schemas.Certificate, **VALIDATED)
def certificate(certificate_id: Int64, request: Request) -> dict[str, Any]:
    """A book & claim issuance: holders over time, retirements, revocation."""
    with _index(request).engine.connect() as conn:
        return _found(certificates.certificate(conn, certificate_id, reference(conn)), f"certificate {certificate_id}")


@router.get("/provenance/tx/{tx_hash}", response_model=schemas.Transaction, **VALIDATED)
def transaction(tx_hash: Bytes32Hex, request: Request) -> dict[str, Any]:
    """The indexed events of one transaction."""
    with _index(request).engine.connect() as conn:
        return _found(transactions.tx_facts(conn, tx_hash), f"transaction {tx_hash}")


@router.get("/explorer", response_class=HTMLResponse)
def explorer(request: Request) -> HTMLResponse:
    """The provenance explorer page (self-contained: no external scripts, styles or fonts)."""
    html = EXPLORER_HTML.read_text(encoding="utf-8")
    tx_url = getattr(getattr(request.app.state, "index", None), "tx_url", None) or "/provenance/tx/{tx}"
    return HTMLResponse(html.replace("__TX_URL__", tx_url))
