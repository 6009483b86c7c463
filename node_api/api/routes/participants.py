from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ...actions import participants as actions
from ...actions.base import Address
from ...domain import ParticipantStatus, Role
from ...services.names import Names
from ..params import Uint32, Uint64
from ..deps import NodeDep, ReadDep, ReadsDep
from ..schemas.reads import Certification, CreditAccounts, HeldBatches, HeldCertificates, Participant, PendingTransfers, WalletBinding
from ._common import add_forward_routes

router = APIRouter(prefix="/participants")

TAG = ["participants"]

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


def get_names(node: NodeDep) -> Names:
    return node.names


NamesDep = Annotated[Names, Depends(get_names)]


async def _named(p: dict[str, Any], names: Names) -> dict[str, Any]:
    """A participant's answer with its name, roles and status in words."""
    try:
        status = ParticipantStatus(p["status"]).label
    except ValueError:
        status = None
    return {**p, "name": await names.participant(p["participantId"]), "roleNames": Role.names(p["roles"]),
            "statusName": status}


@router.get("/{participant_id}", tags=TAG, response_model=Participant,
            summary="A participant: its name, roles (bits and names), status and sites")
async def participant(participant_id: Uint32, reads: ReadsDep, names: NamesDep, _: ReadDep):
    p = await _named(await reads.participant(participant_id), names)
    p["sites"] = [{"siteId": i, "name": s.name, "locationRef": s.location_ref}
                  for i, s in await names.sites_of(participant_id)]
    return p


@router.get("/wallets/{address}", tags=TAG, response_model=WalletBinding,
            summary="The participant and site a wallet is bound to, by name")
async def wallet(address: Address, reads: ReadsDep, names: NamesDep, _: ReadDep):
    w = await _named(await reads.wallet(address), names)
    site = await names.site(w["siteId"]) if w["siteId"] else None
    w["siteName"] = site.name if site else None
    return w


@router.get("/certifications/{certification_id}", tags=TAG, summary="A recorded certification", response_model=Certification)
async def certification(certification_id: Uint64, reads: ReadsDep, _: ReadDep):
    return await reads.certification(certification_id)


@router.get("/{address}/batches", tags=TAG, summary="Batches a wallet holds (quantity > 0)", response_model=HeldBatches)
async def held(address: Address, reads: ReadsDep, _: ReadDep):
    return {"address": address, "batches": await reads.held_batches(address)}


@router.get("/{address}/transfers", tags=TAG, response_model=PendingTransfers,
            summary="Pending custody transfers waiting for this wallet (incoming) or sent by it (outgoing)")
async def pending(address: Address, reads: ReadsDep, _: ReadDep):
    return {"address": address, **await reads.transfers(address)}


@router.get("/{address}/credits", tags=TAG, summary="Mass-balance credit balances of the wallet's site",
            response_model=CreditAccounts)
async def credit_balances(address: Address, reads: ReadsDep, _: ReadDep):
    return {"address": address, "accounts": await reads.credits(address)}


@router.get("/{address}/certificates", tags=TAG, summary="Book & claim certificates held", response_model=HeldCertificates)
async def certs(address: Address, reads: ReadsDep, _: ReadDep):
    return {"address": address, "certificates": await reads.certificates_held(address)}
