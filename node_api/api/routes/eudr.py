"""EUDR routes (issue 14): plots, a batch's EUDR facts, due-diligence statements and their TRACES submission.

``/eudr/plots``                       register a plot's GeoJSON (checked; optionally against an origin's hash)
``/eudr/plots/{hash}``                the file, to those entitled (node_api/eudr/plots.py)
``/eudr/batches/{id}``                EUDR status, why it ended, lineage plots and every DDS reference of its inputs
``/eudr/products/{id}/dds/build``     the statement (Annex II), built and checked, not submitted
``/eudr/products/{id}/dds``           submit to TRACES and record the numbers on chain (node-held wallet)
``/eudr/products/{id}/dds/{i}/...``   amend, retract, TRACES info
``/eudr/dds/record|amend|retract``    DueDiligenceRegistry's calls as wallet-signed forward actions
``/products/{id}/dds``                the product's statements as JSON (linked from the GS1 linkset)
(no ``from __future__ import annotations``: FastAPI must see the models)
"""

from typing import Any, Optional

from eth_account.signers.local import LocalAccount
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ...eudr.actions import ACTIONS, AMEND, RECORD, RETRACT
from ...eudr.dds import DdsRequest
from ...eudr.plots import check_hash
from ...eudr.service import EudrService
from ...services.held_keys import sign_and_submit
from ..deps import (AccountsDep, AdminKeyHeader, ApiKeyHeader, CurrentWallet, ForwardingDep, NodeDep, ReadDep,
                    SettingsDep, _is_admin)
from ..params import Uint256
from ._common import add_forward_routes
from ...errors import ApiError
from ...actions.base import ForwardAction

router = APIRouter()
TAG = ["eudr"]

_dds_actions = APIRouter(prefix="/eudr/dds")
for _action in ACTIONS:
    add_forward_routes(_dds_actions, _action)
router.include_router(_dds_actions)


def get_eudr(request: Request, node: NodeDep) -> EudrService:
    svc = getattr(request.app.state, "eudr", None)
    if svc is None or svc.contracts is not node.contracts:
        svc = EudrService.from_settings(node.contracts, node.settings)
        request.app.state.eudr = svc
    return svc


async def get_caller(settings: SettingsDep, accounts: AccountsDep, eudr: EudrService = Depends(get_eudr),
                     x_api_key: ApiKeyHeader = None, x_admin_key: AdminKeyHeader = None):
    if x_admin_key is not None:
        if not _is_admin(settings, x_admin_key):
            raise ApiError(401, "Unauthorized", "invalid X-Admin-Key")
        return await eudr.caller(None, True)
    address = accounts.api_key_address(x_api_key) if x_api_key else None
    if address is None:
        raise ApiError(401, "Unauthorized", "send an X-API-Key bound to a participant's wallet (or X-Admin-Key)")
    return await eudr.caller(address, False)


class PlotInfo(BaseModel):
    geolocationHash: str
    registeredBy: int
    kind: str
    areaHa: float
    declaredAreaHa: Optional[float] = None
    country: str
    registeredAt: int


class Document(BaseModel):
    model_config = {"extra": "allow"}


@router.post("/eudr/plots", tags=TAG, status_code=201, response_model=PlotInfo,
             summary="Register a plot's GeoJSON (WGS84, >= 6 decimals; polygon above 4 ha), checked",
             openapi_extra={"requestBody": {"required": True, "content": {"application/geo+json": {"schema": {
                 "type": "object"}}, "application/json": {"schema": {"type": "object"}}}}})
async def register_plot(request: Request, eudr: EudrService = Depends(get_eudr), caller=Depends(get_caller),
                        origin: Optional[Uint256] = Query(None, description="an origin batch whose recorded plot hash "
                                                          "this file must match")):
    raw = await request.body()
    return await eudr.register_plot(raw, caller, origin)


@router.get("/eudr/plots/{plot_hash}", tags=TAG, response_class=Response,
            responses={200: {"content": {"application/geo+json": {}}, "description": "the file as registered"}},
            summary="A plot's GeoJSON: to its registrant, the admin, and holders / auditors of a batch on it")
async def plot_file(plot_hash: str, _: ReadDep, eudr: EudrService = Depends(get_eudr), caller=Depends(get_caller),
                    batch: Optional[Uint256] = Query(None, description="a batch whose lineage includes the plot")):
    raw, meta = await eudr.plot_file(check_hash(plot_hash), caller, batch)
    return Response(raw, media_type="application/geo+json",
                    headers={"X-Geolocation-Hash": meta["geolocationHash"], "Cache-Control": "private, no-store"})


@router.get("/eudr/batches/{batch_id}", tags=TAG, response_model=Document,
            summary="A batch's EUDR status, why it ended, its plots and the DDS references of all its inputs")
async def batch_eudr(batch_id: Uint256, _: ReadDep, eudr: EudrService = Depends(get_eudr)):
    return await eudr.batch(batch_id)


async def _entitled_to_product(eudr: EudrService, caller: Any, token_id: int) -> None:
    """A statement carries every plot's coordinates: only the admin or a holder of the product builds one."""
    if caller.admin:
        return
    held = await eudr.contracts.view("BatchLedger", "balanceOf", caller.address, token_id)
    if int(held) == 0:
        raise ApiError(403, "NotHolder", f"the caller's wallet holds none of product {token_id}", {"field": "tokenId"})


@router.post("/eudr/products/{token_id}/dds/build", tags=TAG, response_model=Document,
             summary="Build and check the due-diligence statement (Annex II) of a product, without submitting it")
async def build_dds(token_id: Uint256, body: DdsRequest, eudr: EudrService = Depends(get_eudr),
                    caller=Depends(get_caller)):
    await _entitled_to_product(eudr, caller, token_id)
    doc, lin = await eudr.build(token_id, body)
    from ...eudr.dds import document_hash
    return {"tokenId": token_id, "documentHash": document_hash(doc), "statement": doc}


def _recorder(wallet: LocalAccount, forwarding: Any, action: ForwardAction):
    async def record(fields: dict) -> dict:
        params = action.params(**fields)
        return await sign_and_submit(wallet, lambda: forwarding.prepare(action, wallet.address, params),
                                     lambda typed, sig: forwarding.submit(action, typed, None, sig, wait=True))
    return record


@router.post("/eudr/products/{token_id}/dds", tags=TAG, response_model=Document,
             summary="Submit the product's statement to TRACES; record its reference and verification numbers on chain")
async def submit_dds(token_id: Uint256, body: DdsRequest, wallet: CurrentWallet, forwarding: ForwardingDep,
                     eudr: EudrService = Depends(get_eudr)):
    return await eudr.submit(token_id, body, _recorder(wallet, forwarding, RECORD))


@router.post("/eudr/products/{token_id}/dds/{index}/amend", tags=TAG, response_model=Document,
             summary="Amend a statement in TRACES (same reference number) and record the amendment on chain")
async def amend_dds(token_id: Uint256, index: Uint256, body: DdsRequest, wallet: CurrentWallet,
                    forwarding: ForwardingDep, eudr: EudrService = Depends(get_eudr)):
    return await eudr.amend(token_id, index, body, _recorder(wallet, forwarding, AMEND))


@router.post("/eudr/products/{token_id}/dds/{index}/retract", tags=TAG, response_model=Document,
             summary="Retract a statement in TRACES and record the retraction on chain")
async def retract_dds(token_id: Uint256, index: Uint256, wallet: CurrentWallet, forwarding: ForwardingDep,
                      eudr: EudrService = Depends(get_eudr)):
    return await eudr.retract(token_id, index, _recorder(wallet, forwarding, RETRACT))


@router.get("/eudr/products/{token_id}/dds/{index}/traces", tags=TAG, response_model=Document,
            summary="A recorded statement next to what TRACES says of it now (getDdsInfo)")
async def traces_info(token_id: Uint256, index: Uint256, _: ReadDep, eudr: EudrService = Depends(get_eudr)):
    return await eudr.info(token_id, index)


@router.get("/products/{token_id}/dds", tags=["products"], response_model=Document,
            summary="The product's due-diligence statements (reference and verification numbers) and its inputs' references")
async def product_dds(token_id: Uint256, _: ReadDep, eudr: EudrService = Depends(get_eudr)):
    return await eudr.statements(token_id)
