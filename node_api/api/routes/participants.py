from fastapi import APIRouter

from ... import reads
from ...actions import participants as actions
from ...actions.base import Address
from ..deps import NodeDep, ReadDep
from ._common import add_forward_routes

router = APIRouter(prefix="/participants")

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


@router.get("/{participant_id}", tags=["participants"], summary="A participant's roles and status")
async def participant(participant_id: int, node: NodeDep, _: ReadDep):
    p = await node.view("ParticipantRegistry", "participant", participant_id)
    if p["status"] == 0:
        from ...errors import contract_error

        raise contract_error("RegistryUnknownParticipant", {"participantId": participant_id})
    return {"participantId": participant_id, **p}


@router.get("/wallets/{address}", tags=["participants"], summary="The participant and site a wallet is bound to")
async def wallet(address: Address, node: NodeDep, _: ReadDep):
    w = await node.view("ParticipantRegistry", "wallet", address)
    if not w["participantId"]:
        from ...errors import contract_error

        raise contract_error("RegistryUnknownWallet", {"wallet": address})
    p = await node.view("ParticipantRegistry", "participant", w["participantId"])
    return {"wallet": address, **w, **p}


@router.get("/certifications/{certification_id}", tags=["participants"], summary="A recorded certification")
async def certification(certification_id: int, node: NodeDep, _: ReadDep):
    return {"certificationId": certification_id,
            **await node.view("ParticipantRegistry", "certification", certification_id)}


@router.get("/{address}/batches", tags=["participants"], summary="Batches a wallet holds (quantity > 0)")
async def held(address: Address, node: NodeDep, _: ReadDep):
    return {"address": address, "batches": await reads.held_batches(node, address)}


@router.get("/{address}/transfers", tags=["participants"],
            summary="Pending custody transfers waiting for this wallet (incoming) or sent by it (outgoing)")
async def pending(address: Address, node: NodeDep, _: ReadDep):
    return {"address": address, **await reads.transfers(node, address)}


@router.get("/{address}/credits", tags=["participants"], summary="Mass-balance credit balances of the wallet's site")
async def credit_balances(address: Address, node: NodeDep, _: ReadDep):
    return {"address": address, "accounts": await reads.credits(node, address)}


@router.get("/{address}/certificates", tags=["participants"], summary="Book & claim certificates held")
async def certs(address: Address, node: NodeDep, _: ReadDep):
    return {"address": address, "certificates": await reads.certificates_held(node, address)}
