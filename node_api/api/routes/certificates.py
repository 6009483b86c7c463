from fastapi import APIRouter

from ...actions import certificates as actions
from ...errors import contract_error
from ..deps import NodeDep, ReadDep
from ._common import add_forward_routes

router = APIRouter(prefix="/certificates")

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


@router.get("/retirements/{retirement_id}", tags=["certificates"], summary="A retirement (claim) statement")
async def retirement(retirement_id: int, node: NodeDep, _: ReadDep):
    return {"retirementId": retirement_id, **await node.view("CertificateRegistry", "retirement", retirement_id)}


@router.get("/pledges/{pledge_id}", tags=["certificates"], summary="A pledge of attributes from the physical chain")
async def pledge(pledge_id: int, node: NodeDep, _: ReadDep):
    return {"pledgeId": pledge_id, **await node.view("CertificateRegistry", "pledge", pledge_id)}


@router.get("/{certificate_id}", tags=["certificates"], summary="An issuance: issuer, producer, amounts, revoked")
async def issuance(certificate_id: int, node: NodeDep, _: ReadDep):
    r = await node.view("CertificateRegistry", "issuance", certificate_id)
    iss, amounts = r["out0"], r["out1"]
    if not amounts["amount"]:
        raise contract_error("CertificateUnknown", {"certificateId": certificate_id})
    return {"certificateId": certificate_id, **iss, **amounts}
