from fastapi import APIRouter

from ...actions import mass_balance as actions
from ...errors import ApiError
from ..deps import NodeDep, ReadDep
from ._common import add_forward_routes

router = APIRouter(prefix="/mass-balance")

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


@router.get("/account-key", tags=["mass-balance"], summary="The key of a credit account")
async def account_key(participantId: int, siteId: int, material: int, characteristic: int, node: NodeDep, _: ReadDep):
    key = await node.view("MassBalance", "accountKey", participantId, siteId, material, characteristic)
    return {"account": key}


@router.get("/accounts/{account}", tags=["mass-balance"], summary="A credit account: balance, period, scheme rules")
async def account(account: str, node: NodeDep, _: ReadDep):
    a = await node.view("MassBalance", "account", account)
    if not a["open"]:  # never opened: its period arithmetic would divide by zero on chain
        raise ApiError(404, "UnknownAccount", f"credit account {account} was never opened", {"account": account})
    bal, period = await node.view("MassBalance", "balanceOf", account), await node.view("MassBalance", "currentPeriod", account)
    return {"account": account, **a, "balanceNow": bal, "currentPeriod": period}


@router.get("/accounts/{account}/statements/{period}", tags=["mass-balance"],
            summary="A balancing period's closing statement")
async def statement(account: str, period: int, node: NodeDep, _: ReadDep):
    r = await node.view("MassBalance", "statement", account, period)
    return {"account": account, "period": period, **r}
