"""``/health`` that tells the truth: ``ok``, or ``degraded`` with the reasons (issue 9, finding 7).

Each check looks at the running parts, not at a flag someone forgot to set:

- ``chain_unreachable``: the chain did not answer ``eth_getBlockByNumber`` within
  ``health_rpc_timeout`` seconds (refused, or stopped: a SIGSTOPped Anvil accepts and never answers).
- ``chain_stalled``: the head has not advanced for ``health_stall_seconds`` while the relayer has
  transactions pending; ``chain_behind``: on a chain with a block time (``anvil_block_time``) the
  head is older than ``health_block_periods`` block periods.
- ``relayer_balance_low``: the relayer's balance is below the floor
  (``health_min_relayer_balance_gwei``) or below its last hour's spend x ``health_balance_hours``
  (never on a free-gas chain).
- ``transactions_stuck``: a relayed transaction is unmined ``health_stuck_seconds`` after it was sent.
- ``index_behind`` / ``index_ahead``: the provenance index is more than ``health_index_lag_blocks``
  below the safe head, or ends on a block the chain no longer has (a rollback; it rebuilds).
- ``chain_regression``: the chain is behind what this node has seen or sent (``ChainGuard.behind``):
  its head is below the highest block the node saw, a reconcile is running or failed, or transactions
  sent again after the chain went back are not mined again yet. Ok again once they are.
- ``chain_identity``: the chain was replaced under the running node (the relayer is halted).
- anything another part reports through ``report(code, message)`` until it calls ``clear(code)``
  (e.g. ``chain_identity_changed`` from the start path's genesis/deployment check).

A background task samples the head every second so that "not advancing" is measured even when
nobody asks. ``/health`` answers 200 in both states (a load balancer reads ``status``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..core.config import Settings
from .background import cancel
from ..core.rpc import ChainUnavailable, Rpc, RpcError
from ..index.service import IndexService
from ..relayer import Relayer
from .chain_guard import ChainGuard

log = logging.getLogger(__name__)

GWEI = 10**9


class HealthService:
    def __init__(self, settings: Settings, rpc: Rpc, relayer: Relayer, index: IndexService | None,
                 guard: ChainGuard | None = None):
        self.settings = settings
        self.rpc = rpc
        self.relayer = relayer
        self.index = index
        #: head regressions, lost transactions, a replaced chain (services/chain_guard.py)
        self.guard = guard
        self._reported: dict[str, str] = {}
        self._head: int | None = None
        self._head_moved_at = time.monotonic()
        self._task: asyncio.Task | None = None

    # ------------------------------------------------------------------ reasons from other parts
    def report(self, code: str, message: str) -> None:
        """Degrade /health with ``code`` until ``clear(code)`` (kept generic: any part may report)."""
        if self._reported.get(code) != message:
            log.warning("health: %s: %s", code, message)
        self._reported[code] = message

    def clear(self, code: str) -> None:
        self._reported.pop(code, None)

    # ------------------------------------------------------------------ sampling
    def start(self) -> "HealthService":
        self._task = asyncio.create_task(self._sample())
        return self

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._latest()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - unreachable is reported by check()
                pass

    def _saw_head(self, number: int) -> None:
        if number != self._head:
            self._head = number
            self._head_moved_at = time.monotonic()

    async def _latest(self) -> dict[str, Any]:
        block = await asyncio.wait_for(self.rpc.call_direct("eth_getBlockByNumber", ["latest", False]),
                                       self.settings.health_rpc_timeout)
        self._saw_head(int(block["number"], 16))
        return block

    # ------------------------------------------------------------------ the answer
    async def check(self) -> dict[str, Any]:
        s = self.settings
        reasons: list[dict[str, str]] = []

        def reason(code: str, message: str) -> None:
            reasons.append({"code": code, "message": message})

        answer: dict[str, Any] = {"blockNumber": None, "timestamp": None, "relayerBalance": None}
        pending = self.relayer.pending_ages()
        try:
            block = await self._latest()
        except (asyncio.TimeoutError, ChainUnavailable, RpcError) as exc:
            detail = f"no answer within {s.health_rpc_timeout:g}s" if isinstance(exc, asyncio.TimeoutError) else str(exc)
            reason("chain_unreachable", f"the chain at {s.effective_rpc_url} is unreachable: {detail}")
            block = None
        if block is not None:
            head, ts = int(block["number"], 16), int(block["timestamp"], 16)
            answer.update(blockNumber=head, timestamp=ts)
            still = time.monotonic() - self._head_moved_at
            if (pending or self.relayer.queue_depth) and still > s.health_stall_seconds:
                reason("chain_stalled", f"the head has stayed at block {head} for {still:.0f}s while "
                       f"{len(pending)} transaction(s) are pending")
            period = s.anvil_block_time
            if period and time.time() - ts > s.health_block_periods * period:
                reason("chain_behind", f"the head (block {head}) is {time.time() - ts:.0f}s old; blocks "
                       f"are due every {period:g}s")
            await self._balance(answer, reason)
            await self._index(head, reason)
        stuck = [(x, age) for x, age in pending if age > s.health_stuck_seconds]
        if stuck:
            oldest = max(stuck, key=lambda p: p[1])
            reason("transactions_stuck", f"{len(stuck)} transaction(s) unmined for more than "
                   f"{s.health_stuck_seconds:g}s (oldest {oldest[0]}, {oldest[1]:.0f}s)")
        if self.guard is not None:
            chain = self.guard.status()
            if self.guard.foreign:  # unreachable is checked above, from this service's own call
                reason("chain_identity", self.guard.foreign)
            behind = await self.guard.behind(answer["blockNumber"])
            if behind:
                reason("chain_regression", behind)
            answer["chainGuard"] = {"regressions": len(chain["regressions"]), "relayerHalted": chain["relayerHalted"],
                                    "highestSeen": chain["highestSeen"], "stuckPoolsMined": self.guard.unstuck}
        for code, message in self._reported.items():
            reason(code, message)
        answer.update(status="degraded" if reasons else "ok", reasons=reasons,
                      pendingTransactions=len(pending),
                      oldestPendingSeconds=round(max((a for _, a in pending), default=0.0), 3),
                      relayerSpend=self.relayer.spend.as_dict(),
                      fees={"maxFeePerGas": self.relayer.fees.current.max_fee,
                            "maxPriorityFeePerGas": self.relayer.fees.current.priority_fee,
                            "capPerGas": self.relayer.fees.cap})
        return answer

    async def _balance(self, answer: dict[str, Any], reason: Any) -> None:
        s = self.settings
        try:
            balance = int(await asyncio.wait_for(
                self.rpc.call_direct("eth_getBalance", [self.relayer.address, "latest"]), s.health_rpc_timeout), 16)
        except (asyncio.TimeoutError, ChainUnavailable, RpcError):
            return
        answer["relayerBalance"] = str(balance)
        if s.zero_gas_price:
            return
        floor = int(s.health_min_relayer_balance_gwei * GWEI)
        need = int(self.relayer.spend.recent() * s.health_balance_hours)
        if balance < floor:
            reason("relayer_balance_low", f"the relayer {self.relayer.address} holds {balance} wei, below the "
                   f"floor of {floor} wei (COC_HEALTH_MIN_RELAYER_BALANCE_GWEI)")
        elif balance < need:
            reason("relayer_balance_low", f"the relayer {self.relayer.address} holds {balance} wei, less than "
                   f"{s.health_balance_hours:g} x its last hour's spend ({need} wei)")

    async def _index(self, head: int, reason: Any) -> None:
        if self.index is None or self.index.follower is None:
            return
        follower = self.index.follower
        last, last_hash = await asyncio.to_thread(follower.position)
        if follower.status.ahead:  # found by the follower or /provenance/status; cleared once rolled back
            reason("index_ahead", "the index ended on a block the chain no longer has (a rollback or "
                   f"reorganisation): it is rolling back (now at block {last})")
            return
        if last is None:
            last = follower.start_block - 1
        if last > head:
            follower.wake()
            reason("index_ahead", f"the index ends at block {last}, above the chain head {head} (the chain "
                   "was rolled back): it is rolling back")
            return
        if last_hash is not None and last >= 0:
            try:
                block = await asyncio.wait_for(self.rpc.call_direct("eth_getBlockByNumber", [hex(last), False]),
                                               self.settings.health_rpc_timeout)
            except (asyncio.TimeoutError, ChainUnavailable, RpcError):
                block = None
            if block is not None and block.get("hash") != last_hash:
                follower.wake()
                reason("index_ahead", f"the index's block {last} is no longer on the chain (a rollback or "
                       "reorganisation): it is rolling back")
                return
        safe = head - follower.confirmations
        if safe - last > self.settings.health_index_lag_blocks:
            reason("index_behind", f"the index is at block {last}, {safe - last} blocks below the safe head {safe}")
