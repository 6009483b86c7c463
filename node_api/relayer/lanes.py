"""Ordering lanes: which in-flight transactions a new signed message may have to wait for.

A wallet's signed messages carry nonces that the contracts consume in order, one sequence per
contract (the forwarder's for ERC-2771 requests, the batch ledger's for custody proposals). A message
signed ahead of the chain waits until the transactions before it in its lane are mined; a settlement
(accept / reject / cancel) of a proposal still on its way waits on the sender's ledger lane. The
relayer counts the transactions in flight per lane and signals when one settles; it never looks inside
a lane.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from enum import Enum


class LaneKind(Enum):
    #: the signer's CocForwarder nonce (ERC-2771 ForwardRequests)
    FORWARDER = "fwd"
    #: the signer's BatchLedger nonce (CustodyTransfer proposals)
    LEDGER = "ledger"
    #: one pending transfer's settlement (accept / reject / cancel); no nonce
    SETTLEMENT = "settle"


@dataclass(frozen=True, slots=True)
class Lane:
    kind: LaneKind
    #: the signer's checksummed address (nonce lanes) or the transfer id (settlement lanes)
    key: str

    @classmethod
    def forwarder(cls, signer: str) -> "Lane":
        return cls(LaneKind.FORWARDER, signer)

    @classmethod
    def ledger(cls, signer: str) -> "Lane":
        return cls(LaneKind.LEDGER, signer)

    @classmethod
    def settlement(cls, transfer_id: str) -> "Lane":
        return cls(LaneKind.SETTLEMENT, transfer_id)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.key}"


class LaneTracker:
    """Transactions in flight per lane, and an event per lane set when one of them settles."""

    def __init__(self) -> None:
        self._inflight: dict[Lane, int] = defaultdict(int)
        self._progress: dict[Lane, asyncio.Event] = {}

    def add(self, lane: Lane | None) -> None:
        if lane is not None:
            self._inflight[lane] += 1

    def settle(self, lane: Lane | None) -> None:
        if lane is None:
            return
        self._inflight[lane] -= 1
        if self._inflight[lane] <= 0:
            self._inflight.pop(lane, None)
        ev = self._progress.pop(lane, None)
        if ev is not None:
            ev.set()

    def inflight(self, lane: Lane) -> int:
        return self._inflight.get(lane, 0)

    async def wait_progress(self, lane: Lane, timeout: float) -> None:
        """Returns when a transaction of ``lane`` settles, or after ``timeout``."""
        ev = self._progress.get(lane)
        if ev is None:
            ev = self._progress[lane] = asyncio.Event()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except asyncio.TimeoutError:
            pass
