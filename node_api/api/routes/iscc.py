"""ISCC PLUS sustainability declarations v4.0 (issue 14): one per accepted delivery that carries a claim, as JSON
(validated against ``node_api/iscc/declaration.schema.json``) and as a printable HTML document, and the list of a
product's declarations (its own deliveries and its ancestors'). Read from the provenance index."""

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from ...errors import ApiError
from ...index.read import batches
from ...index.service import IndexService
from ...iscc.declarations import NoDeclaration, declaration, declarations_of
from ...iscc.document import render
from ..deps import read_access_if_node
from ..params import Bytes32Hex, Int64

router = APIRouter(tags=["iscc"])
READ = [Depends(read_access_if_node)]
JSON = "application/json"


def _index(request: Request) -> IndexService:
    index = getattr(request.app.state, "index", None)
    if index is None:
        raise ApiError(503, "IndexUnavailable", "the provenance index is not running on this node")
    return index


def _declaration(request: Request, transfer_id: str) -> dict[str, Any]:
    with _index(request).engine.connect() as conn:
        try:
            doc = declaration(conn, transfer_id)
        except NoDeclaration as exc:
            raise ApiError(409, "NoDeclaration", str(exc), {"field": "transfer_id"}) from None
    if doc is None:
        raise ApiError(404, "NotFound", f"custody transfer {transfer_id} not found in the index")
    return doc


def _json(value: Any) -> Response:
    return Response(json.dumps(value, ensure_ascii=False, indent=1).encode(), media_type=JSON)


@router.get("/iscc/declarations/{transfer_id}", dependencies=READ,
            summary="The ISCC PLUS sustainability declaration (v4.0) of one delivery, every figure with its event",
            responses={200: {"content": {JSON: {}}, "description": "the declaration (schema: "
                                                                      "node_api/iscc/declaration.schema.json)"}})
def iscc_declaration(transfer_id: Bytes32Hex, request: Request) -> Response:
    return _json(_declaration(request, transfer_id))


@router.get("/iscc/declarations/{transfer_id}/document", dependencies=READ, response_class=HTMLResponse,
            summary="The declaration as a printable HTML document (with the product's QR code)")
def iscc_document(transfer_id: Bytes32Hex, request: Request) -> HTMLResponse:
    doc = _declaration(request, transfer_id)
    return HTMLResponse(render(doc, qr_src=f"/products/{doc['delivery']['batch_id']}/qr.svg"))


@router.get("/products/{token_id}/declarations", dependencies=READ,
            summary="The ISCC PLUS declarations of a product's deliveries (and of its ancestors') that carry a claim",
            responses={200: {"content": {JSON: {}}, "description": "{token_id, declarations: [...]}"}})
def product_declarations(token_id: Int64, request: Request,
                         ancestors: bool = Query(True, description="include the deliveries of the batches it was "
                                                                   "made from")) -> Response:
    with _index(request).engine.connect() as conn:
        if not batches.exists(conn, token_id):
            raise ApiError(404, "NotFound", f"batch {token_id} not found in the index")
        docs = declarations_of(conn, token_id, with_ancestors=ancestors)
    return _json({"token_id": token_id, "declarations": docs,
                  "documents": [f"/iscc/declarations/{d['delivery']['transfer_id']}/document" for d in docs]})
