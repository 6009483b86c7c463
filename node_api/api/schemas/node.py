"""Answers of the node's own routes: health, info, administration."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class HealthReason(BaseModel):
    code: str = Field(description="chain_unreachable, chain_stalled, chain_behind, chain_regression, "
                      "chain_identity, relayer_balance_low, transactions_stuck, index_behind, index_ahead, or "
                      "one reported by another part")
    message: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    reasons: list[HealthReason] = Field(description="empty when ok")
    blockNumber: int | None = Field(description="the chain head; null when the chain is unreachable")
    timestamp: int | None
    relayer: str
    relayerBalance: str | None = Field(description="wei, decimal; null when the chain is unreachable")
    relayerQueue: int = Field(description="transactions queued or awaiting a receipt")
    relayerStats: dict[str, int]
    acknowledgedResent: int = Field(0, description="acknowledged (mined or reverted) transactions the relayer sent "
                                    "again because the chain came back without their block (a reorganisation, "
                                    "or a chain restarted from an older state); since start")
    acknowledgedOrphaned: int = Field(0, description="acknowledged transactions whose block left the chain, since "
                                      "start: those sent again (acknowledgedResent) and those the relayer found "
                                      "mined in another block (the chain took them again itself)")
    pendingTransactions: int = Field(description="sent, not yet mined")
    oldestPendingSeconds: float
    relayerSpend: dict[str, Any] = Field(description="wei paid by mined transactions: last hour and in total")
    fees: dict[str, int | None] = Field(description="maxFeePerGas, maxPriorityFeePerGas (null: legacy) and the cap, wei")
    chainGuard: dict[str, Any] | None = Field(None, description="regressions handled since start, relayerHalted, "
                                              "highestSeen (the highest block this node saw)")


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
