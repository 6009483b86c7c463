"""Answers about relayed transactions: prepared messages, submit outcomes, status, bulk loads."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    event: str = Field(description="event name")
    contract: str = Field(description="artifact name of the emitting contract")
    args: dict[str, Any] = Field(description="decoded arguments by name (bytes as 0x-hex)")
    blockNumber: Optional[int] = None
    txHash: Optional[str] = None


class TxError(BaseModel):
    error: Optional[str] = Field(None, description="stable error name (the contract's custom error if reverted)")
    message: Optional[str] = None
    details: Optional[dict[str, Any]] = None


class Acceptance(BaseModel):
    signer: str = Field(description="the receiver, who signs the acceptance")
    typedData: dict[str, Any]
    digest: str


class Prepared(BaseModel):
    """EIP-712 typed data to sign (eth_signTypedData_v4) and its digest."""

    action: str
    signer: str = Field(description="the wallet that must sign")
    typedData: dict[str, Any]
    digest: str = Field(description="0x-hex EIP-712 digest of typedData")
    transferId: Optional[str] = Field(None, description="custody messages: the transfer's id")
    transfer: Optional[dict[str, Any]] = Field(None, description="accept / reject / cancel: the transfer settled")
    acceptance: Optional[Acceptance] = Field(None, description="transfer with acceptance: the receiver's message")


class TxAnswer(BaseModel):
    """A relayed transaction: pending (202) with its hash, or its outcome once mined (200)."""

    txHash: str
    status: str = Field(description="pending, mined or reverted (abandoned / dropped when the chain refused it)")
    action: Optional[str] = None
    signer: Optional[str] = Field(None, description="the wallet that signed the action")
    nonce: Optional[int] = Field(None, description="the relayer's transaction nonce")
    blockNumber: Optional[int] = None
    gasUsed: Optional[int] = None
    result: Optional[dict[str, Any]] = Field(None, description="ids created (batchIds, transferId, participantId...)")
    events: Optional[list[Event]] = None
    error: Optional[TxError] = Field(None, description="why it reverted or was not mined")
    replaces: Optional[str] = Field(None, description="the transaction this one was signed again for")
    replayed: Optional[bool] = Field(None, description="true: the first answer to this Idempotency-Key")


class TxAnswers(BaseModel):
    """An Idempotency-Key retry of a bulk request answered from the transactions it relayed."""

    items: list[TxAnswer]
    replayed: bool


class BulkItemAnswer(BaseModel):
    """One item of a bulk request: relayed (as /submit answers) or refused (with the error /submit gives)."""

    model_config = ConfigDict(extra="allow")
    index: int
    status: str = Field(description="refused, or as in TxAnswer")
    txHash: Optional[str] = None
    httpStatus: Optional[int] = Field(None, description="refused items: the status /submit would have answered")
    error: Optional[TxError] = None


class BulkAnswer(BaseModel):
    accepted: int
    refused: int
    items: list[BulkItemAnswer]
    replayed: Optional[bool] = None
