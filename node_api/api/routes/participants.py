from fastapi import APIRouter

from ...actions import participants as actions
from ...actions.base import Address
from ..params import Uint32, Uint64
from ..deps import ReadDep, ReadsDep
from ..schemas.reads import Certification, CreditAccounts, HeldBatches, HeldCertificates, Participant, PendingTransfers, WalletBinding
from ._common import add_forward_routes

router = APIRouter(prefix="/participants")

TAG = ["participants"]

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


@router.get("/{participant_id}", tags=TAG, summary="A participant's roles and status", response_model=Participant)
async def participant(participant_id: Uint32, reads: ReadsDep, _: ReadDep):
    return await reads.participant(participant_id)


@router.get("/wallets/{address}", tags=TAG, summary="The participant and site a wallet is bound to", response_model=WalletBinding)
async def wallet(address: Address, reads: ReadsDep, _: ReadDep):
    return await reads.wallet(address)


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
