"""Handing a checked action to the relayer, and waiting for what must come first.

``relay`` answers as soon as the transaction is sent (202, pending) or, when asked to wait, with its
outcome once mined. ``await_nonce`` is the one wait for a message signed ahead of the chain: it holds
the message until the transactions before it in its lane are mined, or until the node's nonce-wait
time is up.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..errors import ApiError, chain_unavailable
from ..relayer import Lane, LaneKind, RelayError, Relayer, RelayRequest, TxHandle
from .contracts import FORWARDER, LEDGER, Contracts
from .outcomes import Outcomes

#: the contract keeping the nonce sequence of a lane
NONCE_CONTRACT = {LaneKind.FORWARDER: FORWARDER, LaneKind.LEDGER: LEDGER}
#: longest single wait for a lane's progress before the chain is read again
_PROGRESS_POLL = 0.5


class Relaying:
    def __init__(self, contracts: Contracts, relayer: Relayer, outcomes: Outcomes, *, wait_timeout: float,
                 nonce_wait_seconds: float):
        self.contracts = contracts
        self.relayer = relayer
        self.outcomes = outcomes
        self.wait_timeout = wait_timeout
        self.nonce_wait_seconds = nonce_wait_seconds

    @property
    def address(self) -> str:
        """The relayer's address (the sender of every relayed transaction)."""
        return self.relayer.address

    # ------------------------------------------------------------------ ordering
    def give_up_at(self) -> float:
        """The monotonic time after which a message waiting for its lane is refused."""
        return time.monotonic() + self.nonce_wait_seconds

    @staticmethod
    def before(give_up: float) -> bool:
        return time.monotonic() < give_up

    async def nonce(self, lane: Lane) -> int:
        return int(await self.contracts.view(NONCE_CONTRACT[lane.kind], "nonces", lane.key))

    def next_nonce(self, lane: Lane, chain_nonce: int) -> int:
        """The nonce a new message of ``lane`` gets: after the chain's and those in flight."""
        return chain_nonce + self.relayer.inflight(lane)

    async def await_nonce(self, lane: Lane, nonce: int, give_up: float) -> bool:
        """Waits until the chain's nonce of ``lane`` reaches ``nonce`` (its predecessors are mined):
        True then, False at ``give_up``. Reads the chain only when a transaction of the lane settles."""
        while time.monotonic() < give_up:
            await self.relayer.wait_progress(lane, _PROGRESS_POLL)
            if await self.nonce(lane) >= nonce:
                return True
        return False

    def inflight(self, lane: Lane) -> int:
        return self.relayer.inflight(lane)

    async def wait_progress(self, lane: Lane) -> None:
        await self.relayer.wait_progress(lane, _PROGRESS_POLL)

    # ------------------------------------------------------------------ relaying
    def self_replay(self, req: RelayRequest) -> None:
        """The call that explains a revert of ``req`` is the relayed call itself (custody messages)."""
        req.replay = {"from": self.address, "to": req.to, "data": "0x" + req.data.hex(), "gas": hex(req.gas)}

    async def relay(self, req: RelayRequest, wait: bool) -> dict[str, Any]:
        return await self.answer(self.relayer.submit(req), req, wait)

    async def answer(self, h: TxHandle, req: RelayRequest, wait: bool) -> dict[str, Any]:
        """The answer for a request handed to the relayer (``h``): sent (pending) or, when asked to
        wait, its outcome (an item of a RelayBatch transaction: its own outcome, with its index)."""
        try:
            tx_hash = await h.sent
        except RelayError as exc:
            if exc.busy:
                err = ApiError(429, "NodeBusy", f"{exc} (nothing of this action was relayed)", {"retryAfter": 2})
                err.headers = {"Retry-After": "2"}  # type: ignore[attr-defined]
                raise err from None
            if exc.unavailable:
                raise chain_unavailable(str(exc)) from None
            raise ApiError(502, "RelayFailed", str(exc)) from None
        body: dict[str, Any] = {"txHash": tx_hash, "status": "pending", "action": req.action, "signer": req.signer}
        if h.batch_index is not None:
            body["batchIndex"] = h.batch_index
        if not wait:
            return body
        try:
            outcome = await asyncio.wait_for(asyncio.shield(h.done), self.wait_timeout)
        except asyncio.TimeoutError:
            return body
        except RelayError as exc:
            raise ApiError(502, "RelayFailed", str(exc), {"txHash": tx_hash}) from None
        out = self.outcomes.outcome_body(outcome)
        if h.batch_index is not None:
            out["batchIndex"] = h.batch_index
        return out
