from typing import Literal

from fastapi import APIRouter

from ... import reads, signing
from ...actions import batches as actions
from ...actions.batches import (
    PrepareSettle,
    PrepareTransfer,
    PrepareTransferWithAcceptance,
    SubmitSettle,
    SubmitTransfer,
    SubmitTransferWithAcceptance,
)
from ...errors import TRANSFER_STATUS, ApiError
from ..deps import IdempotencyKey, NodeDep, ReadDep, SignerDep
from ._common import add_forward_routes, run_idempotent

router = APIRouter(prefix="/batches")
TAG = ["batches"]

for _action in actions.ACTIONS:
    add_forward_routes(router, _action)


# ---------------------------------------------------------------- custody: propose
@router.post("/transfer/prepare", tags=TAG, summary="Custody transfer (proposal): prepare the holder's CustodyTransfer")
async def transfer_prepare(body: PrepareTransfer, node: NodeDep):
    return await node.prepare_transfer(body)


@router.post("/transfer/submit", tags=TAG, summary="Custody transfer (proposal): submit the holder's signature",
             description="The quantity is in transit (held by the ledger) until the receiver accepts or rejects, "
             "or the sender cancels.")
async def transfer_submit(body: SubmitTransfer, node: NodeDep, idempotency_key: IdempotencyKey = None, wait: bool = True):
    return await run_idempotent(node, idempotency_key, {"action": "batches.transfer", **body.model_dump(by_alias=True)},
                                lambda op: node.submit_transfer(body, op_key=op, wait=wait))


@router.post("/transfer", tags=TAG, summary="Custody transfer (proposal) signed by a key held by this node")
async def transfer_node(body: PrepareTransfer, node: NodeDep, account: SignerDep,
                        idempotency_key: IdempotencyKey = None, wait: bool = True):
    if body.from_ != account.address:  # an API key signs for its own wallet only, never re-attributed
        raise ApiError(403, "ApiKeyWalletMismatch",
                       f"this key signs for {account.address}; it cannot transfer from {body.from_}",
                       {"apiKeyWallet": account.address, "requested": body.from_})

    async def run(op):
        prep = await node.prepare_transfer(body)
        sig = signing.sign_typed(account.key, prep["typedData"])
        return await node.submit_transfer(SubmitTransfer(typedData=prep["typedData"], signature="0x" + sig.hex()),
                                          op_key=op, wait=wait)

    return await run_idempotent(node, idempotency_key,
                                {"action": "batches.transfer", "by": account.address, **body.model_dump(by_alias=True)}, run)


# ---------------------------------------------------------------- custody: one transaction, both signatures
@router.post("/transfer-with-acceptance/prepare", tags=TAG,
             summary="Transfer with acceptance in one transaction: prepare both messages (sender's and receiver's)")
async def twa_prepare(body: PrepareTransferWithAcceptance, node: NodeDep):
    return await node.prepare_transfer(body)


@router.post("/transfer-with-acceptance/submit", tags=TAG,
             summary="Transfer with acceptance in one transaction: submit both signatures")
async def twa_submit(body: SubmitTransferWithAcceptance, node: NodeDep, idempotency_key: IdempotencyKey = None,
                     wait: bool = True):
    return await run_idempotent(
        node, idempotency_key, {"action": "batches.transfer-with-acceptance", **body.model_dump(by_alias=True)},
        lambda op: node.submit_transfer_with_acceptance(body, op_key=op, wait=wait))


# ---------------------------------------------------------------- custody: accept / reject / cancel
def _settle_routes(kind: Literal["accept", "reject", "cancel"], who: str) -> None:
    async def prepare(body: PrepareSettle, node: NodeDep):
        return await node.prepare_settle(kind, body)

    async def submit(body: SubmitSettle, node: NodeDep, idempotency_key: IdempotencyKey = None, wait: bool = True):
        return await run_idempotent(node, idempotency_key, {"action": f"batches.{kind}", **body.model_dump(by_alias=True)},
                                    lambda op: node.submit_settle(kind, body, op_key=op, wait=wait))

    async def node_signed(body: PrepareSettle, node: NodeDep, account: SignerDep,
                          idempotency_key: IdempotencyKey = None, wait: bool = True):
        async def run(op):
            prep = await node.prepare_settle(kind, body)
            sig = signing.sign_typed(account.key, prep["typedData"])
            return await node.submit_settle(
                kind, SubmitSettle(typedData=prep["typedData"], signature="0x" + sig.hex()), op_key=op, wait=wait)

        return await run_idempotent(node, idempotency_key,
                                    {"action": f"batches.{kind}", "by": account.address, **body.model_dump(by_alias=True)},
                                    run)

    router.add_api_route(f"/{kind}/prepare", prepare, methods=["POST"], tags=TAG,
                         summary=f"{kind.capitalize()} a pending transfer: prepare the {who}'s message")
    router.add_api_route(f"/{kind}/submit", submit, methods=["POST"], tags=TAG,
                         summary=f"{kind.capitalize()} a pending transfer: submit the {who}'s signature")
    router.add_api_route(f"/{kind}", node_signed, methods=["POST"], tags=TAG,
                         summary=f"{kind.capitalize()} a pending transfer, signed by a key held by this node")


_settle_routes("accept", "receiver")
_settle_routes("reject", "receiver")
_settle_routes("cancel", "sender")


# ---------------------------------------------------------------- reads
@router.get("/transfers/{transfer_id}", tags=TAG, summary="Status of a custody transfer")
async def transfer_status(transfer_id: str, node: NodeDep, _: ReadDep):
    st = await node.view("BatchLedger", "transferStatus", transfer_id)
    return {"transferId": transfer_id, "status": TRANSFER_STATUS[st]}


@router.get("/{batch_id}", tags=TAG, summary="A batch: material, claim, parents, origin, supply")
async def batch(batch_id: int, node: NodeDep, _: ReadDep):
    return await reads.batch(node, batch_id)


@router.get("/{batch_id}/balance/{address}", tags=TAG, summary="Quantity of a batch held by a wallet")
async def balance(batch_id: int, address: str, node: NodeDep, _: ReadDep):
    return {"batchId": batch_id, "address": address, "quantity": await node.view("BatchLedger", "balanceOf", address, batch_id)}
