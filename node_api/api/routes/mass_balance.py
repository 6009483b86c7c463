from fastapi import APIRouter

from ...actions import mass_balance as actions
from ..params import Bytes32Hex, Uint32
from ..deps import ReadDep, ReadsDep
from ..schemas.reads import AccountKey, CreditAccountState, Statement
from ._common import add_forward_routes

router = APIRouter(prefix="/mass-balance")

TAG = ["mass-balance"]

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


@router.get("/account-key", tags=TAG, summary="The key of a credit account", response_model=AccountKey)
async def account_key(participantId: Uint32, siteId: Uint32, material: Uint32, characteristic: Uint32, reads: ReadsDep,
                      _: ReadDep):
    return await reads.account_key(participantId, siteId, material, characteristic)


@router.get("/accounts/{account}", tags=TAG, summary="A credit account: balance, period, scheme rules",
            response_model=CreditAccountState)
async def account(account: Bytes32Hex, reads: ReadsDep, _: ReadDep):
    return await reads.account(account)


@router.get("/accounts/{account}/statements/{period}", tags=TAG, summary="A balancing period's closing statement",
            response_model=Statement)
async def statement(account: Bytes32Hex, period: Uint32, reads: ReadsDep, _: ReadDep):
    return await reads.statement(account, period)
