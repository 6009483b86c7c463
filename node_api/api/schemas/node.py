"""Answers of the node's own routes: health, info, administration."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str
    blockNumber: int
    timestamp: int
    relayer: str
    relayerQueue: int = Field(description="transactions queued or awaiting a receipt")
    relayerStats: dict[str, int]


class Info(BaseModel):
    chainId: int
    rpcUrl: str
    contracts: dict[str, str] = Field(description="artifact name -> address")
    deployBlock: int
    relayer: str
    domains: dict[str, dict[str, Any]] = Field(description="EIP-712 domains: ledger, forwarder")
    actions: list[str]


class ApiKeyCreated(BaseModel):
    apiKey: str = Field(description="shown once; the node stores its hash only")
    address: str
    nodeHoldsKey: bool


class KeystoreCreated(BaseModel):
    address: str


class KeystoreList(BaseModel):
    addresses: list[str]


class ErrorBody(BaseModel):
    """Every refusal: a stable name, a message naming the rule and the values, and the values."""

    error: str = Field(description="e.g. InvalidRequest, Unauthorized, a contract's custom error name")
    message: str
    details: dict[str, Any] = Field(description="decoded contract error arguments, the offending field, ...")
