"""Batches: origin creation, split, merge, transform, consume (forwarded), and custody transfers
(the ledger's own EIP-712 messages: CustodyTransfer, AcceptTransfer, RejectTransfer, CancelTransfer)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from .base import U32, U40, U256, Address, Bytes32, ForwardAction, ModelField, Params

L = "BatchLedger"


class CreateOrigin(Params):
    material: U32
    characteristic: U32 = 0
    model: ModelField = 0
    share: U32 = Field(0, description="certified share in ppm: 1000000 for segregated / identity preserved")
    quantity: U256
    geolocationHash: Bytes32
    ddsReference: Annotated[str, Field(max_length=200)] = ""
    evidenceHash: Bytes32
    productionDate: U40


class Split(Params):
    batchId: U256
    quantities: Annotated[list[U256], Field(min_length=1)]


class Merge(Params):
    batchIds: Annotated[list[U256], Field(min_length=1)]
    quantities: Annotated[list[U256], Field(min_length=1)]
    model: ModelField


class Transform(Params):
    processId: U32
    batchIds: Annotated[list[U256], Field(min_length=1)]
    quantities: Annotated[list[U256], Field(min_length=1)]
    outputQuantity: U256
    model: ModelField
    creditsToConvert: U256 = 0


class Consume(Params):
    batchId: U256
    quantity: U256
    reason: Annotated[int, Field(ge=0, le=1, description="0 sold, 1 destroyed")] = 0
    ref: Bytes32 = "0x" + "00" * 32


def _origin(p: CreateOrigin) -> tuple:
    return ((p.material, p.characteristic, p.model, p.share, p.quantity, p.geolocationHash, p.ddsReference,
             p.evidenceHash, p.productionDate),)


ACTIONS = [
    ForwardAction("batches", "create", L, "createOrigin", CreateOrigin, _origin,
                  "Create an origin batch at the signer's site", "supplier"),
    ForwardAction("batches", "split", L, "split", Split, lambda p: (p.batchId, p.quantities),
                  "Split a held batch into child batches", "supplier"),
    ForwardAction("batches", "merge", L, "merge", Merge, lambda p: (p.batchIds, p.quantities, p.model),
                  "Merge held batches of one material into one batch", "supplier"),
    ForwardAction("batches", "transform", L, "transform", Transform,
                  lambda p: (p.processId, p.batchIds, p.quantities, p.outputQuantity, p.model, p.creditsToConvert),
                  "Turn inputs into an output through a registered process", "supplier"),
    ForwardAction("batches", "consume", L, "consume", Consume, lambda p: (p.batchId, p.quantity, p.reason, p.ref),
                  "Take quantity out of the chain: sold or destroyed", "supplier or brand"),
]


# ---------------------------------------------------------------- custody messages

class Transfer(Params):
    """The holder's CustodyTransfer message (EIP-712 struct of the batch ledger)."""

    batchId: U256
    from_: Address = Field(alias="from")
    to: Address
    quantity: U256
    certifiedQuantity: U256 = 0
    nonce: U256
    deadline: U256

    model_config = {"populate_by_name": True, "extra": "forbid"}

    def message(self) -> dict[str, Any]:
        return {"batchId": self.batchId, "from": self.from_, "to": self.to, "quantity": self.quantity,
                "certifiedQuantity": self.certifiedQuantity, "nonce": self.nonce, "deadline": self.deadline}

    def as_tuple(self) -> tuple:
        return (self.batchId, self.from_, self.to, self.quantity, self.certifiedQuantity, self.nonce, self.deadline)


class PrepareTransfer(Params):
    batchId: U256
    from_: Address = Field(alias="from", description="the holder, who signs")
    to: Address
    quantity: U256
    certifiedQuantity: U256 = Field(0, description="mass-balance declaration: certified quantity claimed")
    nonce: U256 | None = Field(None, description="default: the signer's next ledger nonce")
    deadline: U256 | None = Field(None, description="default: now + the node's signature TTL")

    model_config = {"populate_by_name": True, "extra": "forbid"}


class PrepareSettle(Params):
    """Accept / reject / cancel: name the pending transfer by id (or pass the whole message)."""

    transferId: Bytes32 | None = None
    transfer: Transfer | None = None
    deadline: U256 | None = None

    @model_validator(mode="after")
    def _one(self):
        if self.transferId is None and self.transfer is None:
            raise ValueError("give transferId or transfer")
        return self


class _SignedSubmission(Params):
    """A signed message, given either as the message or as the whole typed data."""

    @model_validator(mode="after")
    def _one(self):
        if self.message is None and self.typedData is None:
            raise ValueError("give message or typedData")
        return self


class SubmitTransfer(_SignedSubmission):
    message: Transfer | None = None
    typedData: dict[str, Any] | None = None
    signature: str


class SubmitSettle(_SignedSubmission):
    """The receiver's (accept/reject) or sender's (cancel) signed message; ``transfer`` is looked up
    from the chain by ``message.transferId`` when omitted."""

    message: dict[str, Any] | None = None
    typedData: dict[str, Any] | None = None
    transfer: Transfer | None = None
    signature: str


class PrepareTransferWithAcceptance(PrepareTransfer):
    acceptDeadline: U256 | None = None


class SubmitTransferWithAcceptance(Params):
    transfer: Transfer
    senderSignature: str
    acceptDeadline: U256
    receiverSignature: str


#: The custody actions (the ledger's own messages), by name, with what their /submit takes.
CUSTODY_ACTIONS: dict[str, type[Params]] = {
    "batches.transfer": SubmitTransfer,
    "batches.accept": SubmitSettle,
    "batches.reject": SubmitSettle,
    "batches.cancel": SubmitSettle,
    "batches.transfer-with-acceptance": SubmitTransferWithAcceptance,
}
