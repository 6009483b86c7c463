from fastapi import APIRouter

from ...actions import certificates as actions
from ..params import Uint64, Uint256
from ..deps import ReadDep, ReadsDep
from ..schemas.reads import Issuance, Pledge, Retirement
from ._common import add_forward_routes

router = APIRouter(prefix="/certificates")

TAG = ["certificates"]

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


@router.get("/retirements/{retirement_id}", tags=TAG, summary="A retirement (claim) statement", response_model=Retirement)
async def retirement(retirement_id: Uint256, reads: ReadsDep, _: ReadDep):
    return await reads.retirement(retirement_id)


@router.get("/pledges/{pledge_id}", tags=TAG, summary="A pledge of attributes from the physical chain", response_model=Pledge)
async def pledge(pledge_id: Uint64, reads: ReadsDep, _: ReadDep):
    return await reads.pledge(pledge_id)


@router.get("/{certificate_id}", tags=TAG, summary="An issuance: issuer, producer, amounts, revoked", response_model=Issuance)
async def issuance(certificate_id: Uint256, reads: ReadsDep, _: ReadDep):
    return await reads.issuance(certificate_id)
