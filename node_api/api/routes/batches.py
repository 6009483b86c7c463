from typing import Any, Literal

from fastapi import APIRouter

from ...actions import batches as actions
from ...actions.batches import (
    PrepareSettle,
    PrepareTransfer,
    PrepareTransferWithAcceptance,
    SubmitSettle,
    SubmitTransfer,
    SubmitTransferWithAcceptance,
)
from ...errors import ApiError
from ...services.custody import Custody
from ..answers import Caller, run_idempotent
from ..params import AddressParam, Bytes32Hex, Uint256
from ..deps import CustodyDep, IdempotencyDep, IdempotencyKey, ReadDep, ReadsDep, SignerDep, Wait
from ..schemas.reads import Batch, BatchBalance, TransferState
from ..schemas.transactions import Prepared, TxAnswer
from ._common import TX_RESPONSES, add_forward_routes

router = APIRouter(prefix="/batches")
TAG = ["batches"]
PREPARED = {"response_model": Prepared, "response_model_exclude_unset": True}
RELAYED = {"response_model": TxAnswer, "responses": TX_RESPONSES}

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


def _signer(custody: Custody, kind: str, body: Any) -> Caller:
    async def caller() -> str:
        return "signer:" + await custody.signer_of(kind, body)

    return caller


# ---------------------------------------------------------------- custody: propose
@router.post("/transfer/prepare", tags=TAG, summary="Custody transfer (proposal): prepare the holder's CustodyTransfer",
             **PREPARED)
async def transfer_prepare(body: PrepareTransfer, custody: CustodyDep):
    return await custody.prepare_transfer(body)


@router.post("/transfer/submit", tags=TAG, summary="Custody transfer (proposal): submit the holder's signature",
             description="The quantity is in transit (held by the ledger) until the receiver accepts or rejects, "
             "or the sender cancels.", **RELAYED)
async def transfer_submit(body: SubmitTransfer, custody: CustodyDep, idempotency: IdempotencyDep,
                          idempotency_key: IdempotencyKey = None, wait: Wait = True):
    return await run_idempotent(idempotency, idempotency_key, {"action": "batches.transfer", **body.model_dump(by_alias=True)},
                                lambda op: custody.submit_transfer(body, op_key=op, wait=wait),
                                endpoint="batches.transfer.submit", caller=_signer(custody, "transfer", body))


@router.post("/transfer", tags=TAG, summary="Custody transfer (proposal) signed by a key held by this node", **RELAYED)
async def transfer_node(body: PrepareTransfer, custody: CustodyDep, signer: SignerDep, wait: Wait = True):
    if body.from_ != signer.address:  # an API key signs for its own wallet only, never re-attributed
        raise ApiError(403, "ApiKeyWalletMismatch",
                       f"this key signs for {signer.address}; it cannot transfer from {body.from_}",
                       {"apiKeyWallet": signer.address, "requested": body.from_})
    return await signer.act(
        "batches.transfer", body.model_dump(by_alias=True),
        prepare=lambda: custody.prepare_transfer(body),
        submit=lambda typed, sig, op: custody.submit_transfer(SubmitTransfer(typedData=typed, signature=sig),
                                                              op_key=op, wait=wait),
    )


# ---------------------------------------------------------------- custody: one transaction, both signatures
@router.post("/transfer-with-acceptance/prepare", tags=TAG,
             summary="Transfer with acceptance in one transaction: prepare both messages (sender's and receiver's)",
             **PREPARED)
async def twa_prepare(body: PrepareTransferWithAcceptance, custody: CustodyDep):
    return await custody.prepare_transfer(body)


@router.post("/transfer-with-acceptance/submit", tags=TAG,
             summary="Transfer with acceptance in one transaction: submit both signatures", **RELAYED)
async def twa_submit(body: SubmitTransferWithAcceptance, custody: CustodyDep, idempotency: IdempotencyDep,
                     idempotency_key: IdempotencyKey = None, wait: Wait = True):
    return await run_idempotent(
        idempotency, idempotency_key, {"action": "batches.transfer-with-acceptance", **body.model_dump(by_alias=True)},
        lambda op: custody.submit_transfer_with_acceptance(body, op_key=op, wait=wait),
        endpoint="batches.transfer-with-acceptance.submit", caller=_signer(custody, "transfer-with-acceptance", body))


# ---------------------------------------------------------------- custody: accept / reject / cancel
def _settle_routes(kind: Literal["accept", "reject", "cancel"], who: str) -> None:
    async def prepare(body: PrepareSettle, custody: CustodyDep):
        return await custody.prepare_settle(kind, body)

    async def submit(body: SubmitSettle, custody: CustodyDep, idempotency: IdempotencyDep,
                     idempotency_key: IdempotencyKey = None, wait: Wait = True):
        return await run_idempotent(idempotency, idempotency_key,
                                    {"action": f"batches.{kind}", **body.model_dump(by_alias=True)},
                                    lambda op: custody.submit_settle(kind, body, op_key=op, wait=wait),
                                    endpoint=f"batches.{kind}.submit", caller=_signer(custody, kind, body))

    async def node_signed(body: PrepareSettle, custody: CustodyDep, signer: SignerDep, wait: Wait = True):
        return await signer.act(
            f"batches.{kind}", body.model_dump(by_alias=True),
            prepare=lambda: custody.prepare_settle(kind, body),
            submit=lambda typed, sig, op: custody.submit_settle(kind, SubmitSettle(typedData=typed, signature=sig),
                                                                op_key=op, wait=wait),
        )

    router.add_api_route(f"/{kind}/prepare", prepare, methods=["POST"], tags=TAG, **PREPARED,
                         summary=f"{kind.capitalize()} a pending transfer: prepare the {who}'s message")
    router.add_api_route(f"/{kind}/submit", submit, methods=["POST"], tags=TAG, **RELAYED,
                         summary=f"{kind.capitalize()} a pending transfer: submit the {who}'s signature")
    router.add_api_route(f"/{kind}", node_signed, methods=["POST"], tags=TAG, **RELAYED,
                         summary=f"{kind.capitalize()} a pending transfer, signed by a key held by this node")


_settle_routes("accept", "receiver")
_settle_routes("reject", "receiver")
_settle_routes("cancel", "sender")


# ---------------------------------------------------------------- reads
@router.get("/transfers/{transfer_id}", tags=TAG, summary="Status of a custody transfer", response_model=TransferState)
async def transfer_status(transfer_id: Bytes32Hex, reads: ReadsDep, _: ReadDep):
    return await reads.transfer_status(transfer_id)


@router.get("/{batch_id}", tags=TAG, summary="A batch: material, claim, parents, origin, supply", response_model=Batch)
async def batch(batch_id: Uint256, reads: ReadsDep, _: ReadDep):
    return await reads.batch(batch_id)


@router.get("/{batch_id}/balance/{address}", tags=TAG, summary="Quantity of a batch held by a wallet",
            response_model=BatchBalance)
async def balance(batch_id: Uint256, address: AddressParam, reads: ReadsDep, _: ReadDep):
    return await reads.balance(batch_id, address)
