"""GS1 Digital Link (issue 14): the resolver (``/01/{gtin}/10/{lot}``, ``/01/{gtin}/21/{serial}``), the
identifiers bound to a product token, its QR code, and the holder's binding action.

Resolution: a bound identifier answers, by content negotiation, either a 307 redirect to the default link
(the product page ``/app/products/{token_id}``: browsers and other HTML clients) or the RFC 9264 linkset
(``Accept: application/linkset+json`` or ``application/json``, or ``?linkType=all``); ``?linkType=gs1:pip``
(any type of the linkset) redirects to that link. GTIN-8/12/13 are normalised to GTIN-14 and a wrong check
digit is a 422 naming the rule; an identifier bound to nothing is a 404."""

from typing import Any, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from ...actions import identifiers as actions
from ...digital_link import bindings
from ...digital_link.gs1 import Gs1Error, ProductKey
from ...digital_link.linkset import LINKSET_TYPE, linkset, product_page, resolve_link_type, targets
from ...digital_link.qr import svg
from ...errors import ApiError
from ..deps import ContractsDep, SettingsDep, read_access_if_node
from ..params import Uint64
from ._common import add_forward_routes

READ = [Depends(read_access_if_node)]
TAG = ["digital-link"]

actions_router = APIRouter(prefix="/digital-link")
for _action in actions.ACTIONS:
    add_forward_routes(actions_router, _action)

router = APIRouter()
router.include_router(actions_router)


class Identifier(BaseModel):
    gtin: str = Field(description="GTIN-14")
    kind: str = Field(description="lot (AI 10) or serial (AI 21)")
    ai: str
    value: str
    path: str = Field(description="the Digital Link path /01/{gtin}/{ai}/{value}")
    uri: str = Field(description="the Digital Link URI on this resolver")
    bound_by: str = Field(description="the holder's wallet that signed the binding")
    participant_id: int
    bound_at: int
    tx_hash: Optional[str] = None
    block_number: Optional[int] = None
    log_index: Optional[int] = None


class ProductIdentifiers(BaseModel):
    token_id: int
    product_page: str
    digital_link: Optional[str] = Field(description="the first bound identifier's URI (what the QR code carries)")
    qr: str
    identifiers: list[Identifier]


def base_url(request: Request, settings: Any) -> str:
    """The resolver's public base: ``digital_link_base_url`` when set, else the URL this request came to."""
    return (settings.digital_link_base_url or str(request.base_url)).rstrip("/")


def _key(gtin: str, ai: str, value: str) -> ProductKey:
    try:
        return ProductKey.parse(gtin, ai, value)
    except Gs1Error as exc:
        raise ApiError(422, "InvalidGs1Identifier", str(exc), {"field": exc.field, "rule": exc.rule}) from None


async def _require_token(contracts: Any, token_id: int) -> None:
    count = int(await contracts.view("BatchLedger", "batchCount"))
    if not 1 <= token_id <= count:
        raise ApiError(404, "NotFound", f"product token {token_id} does not exist ({count} batches on the ledger)")


async def _identifiers(contracts: Any, token_id: int, base: str) -> list[dict[str, Any]]:
    return [{**i, "uri": base + i["path"]} for i in await bindings.identifiers_of(contracts, token_id)]


def _wants_linkset(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    if LINKSET_TYPE in accept:
        return True
    return "application/json" in accept and "text/html" not in accept


@router.get("/01/{gtin}/{ai}/{value:path}", tags=TAG, dependencies=READ,
            summary="GS1 Digital Link resolver: redirect to the product page, or the linkset for machines",
            responses={200: {"description": "RFC 9264 linkset", "content": {LINKSET_TYPE: {}}},
                       307: {"description": "redirect to the product page (or to the ?linkType= link)"}})
async def resolve(gtin: str, ai: str, value: str, request: Request, contracts: ContractsDep, settings: SettingsDep,
                  linkType: Optional[str] = Query(None, description="all: the linkset; or one link type, "
                                                  "e.g. gs1:pip, gs1:sustainabilityInfo, coc:dds")) -> Response:
    key = _key(gtin, ai, value)
    rel = None
    if linkType is not None and linkType != "all":
        rel = resolve_link_type(linkType)
        if rel is None:
            raise ApiError(422, "InvalidRequest", f"linkType {linkType!r} is not a link type of this resolver "
                           "(all, gs1:defaultLink, gs1:pip, gs1:sustainabilityInfo, gs1:traceability, "
                           "gs1:certificationInfo, coc:passport, coc:epcis, coc:claim, coc:dds, coc:declarations, "
                           "coc:qr)", {"field": "linkType"})
    token_id = await bindings.token_of(contracts, key)
    if token_id is None:
        raise ApiError(404, "NotFound", f"no product token is bound to GTIN {key.gtin} {key.kind} {key.value!r}")
    base = base_url(request, settings)
    anchor = key.uri(base)
    links = linkset(anchor, base, token_id)
    header = {"Link": f'<{anchor}?linkType=all>; rel="linkset"; type="{LINKSET_TYPE}"'}
    if linkType == "all" or (rel is None and _wants_linkset(request)):
        return JSONResponse(links, media_type=LINKSET_TYPE, headers=header)
    target = links["linkset"][0][rel][0]["href"] if rel else product_page(base, token_id)
    return RedirectResponse(target, status_code=307, headers=header)


@router.get("/products/{token_id}/identifiers", tags=TAG, dependencies=READ, response_model=ProductIdentifiers,
            summary="The GS1 identifiers bound to a product token, with their Digital Link URIs")
async def product_identifiers(token_id: Uint64, request: Request, contracts: ContractsDep, settings: SettingsDep):
    await _require_token(contracts, token_id)
    base = base_url(request, settings)
    found = await _identifiers(contracts, token_id, base)
    t = targets(base, token_id)
    return {"token_id": token_id, "product_page": t["product_page"]["href"],
            "digital_link": found[0]["uri"] if found else None, "qr": t["qr"]["href"], "identifiers": found}


@router.get("/products/{token_id}/qr.svg", tags=TAG, dependencies=READ, response_class=Response,
            summary="QR code (SVG) of the product's GS1 Digital Link URI, or of its product page without a GTIN",
            responses={200: {"content": {"image/svg+xml": {}}, "description": "the QR code"}})
async def product_qr(token_id: Uint64, request: Request, contracts: ContractsDep, settings: SettingsDep) -> Response:
    await _require_token(contracts, token_id)
    base = base_url(request, settings)
    found = await _identifiers(contracts, token_id, base)
    data = found[0]["uri"] if found else product_page(base, token_id)
    return Response(svg(data), media_type="image/svg+xml", headers={"X-QR-Data": data,
                                                                    "Cache-Control": "no-cache"})
