"""Who the relayer pays gas for: wallets of active registered participants, each at a bounded rate.

Two checks before a signed action is relayed (after the contract accepted its simulation, so a
refusal by a rule keeps its own answer):

- **Members only.** The signer's wallet must be bound to a participant whose status is active, read
  from the ParticipantRegistry at the chain's current head. The answer is cached per wallet *for one
  block*: a check at a newer head reads the registry again, so a removed wallet or a suspended
  participant is refused from the first block that records it. 403 ``RelayMembersOnly``.
- **A token bucket per signer.** ``relay_rate_per_signer`` actions per second on average, bursts of up to
  ``relay_burst_per_signer``. Every relayed action counts, each item of a ``/bulk`` too. 429
  ``RelayRateLimited`` with ``Retry-After`` (seconds until the bucket holds a token again).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Callable

from ..domain import ParticipantStatus
from ..errors import ApiError
from .contracts import Contracts

REGISTRY = "ParticipantRegistry"


class RateLimited(ApiError):
    """429 with the seconds to wait (the API answers it with a ``Retry-After`` header)."""

    def __init__(self, signer: str, retry_after: float, rate: float, burst: int):
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(429, "RelayRateLimited",
                         f"too many actions signed by {signer}: this node relays at most {rate:g} per second per signer "
                         f"(bursts of {burst}); retry in {self.retry_after} s",
                         {"signer": signer, "retryAfter": self.retry_after, "rate": rate, "burst": burst})
        self.headers = {"Retry-After": str(self.retry_after)}


class TokenBucket:
    """Per-key token buckets (``rate`` tokens per second, at most ``burst``)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, n: float = 1.0) -> float:
        """Takes ``n`` tokens: 0.0 when granted, else the seconds until they would be there (nothing taken)."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= n:
            self._buckets[key] = (tokens - n, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:  # forget full buckets (they are the default anyway)
            self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst}
        return (n - tokens) / self.rate if self.rate > 0 else math.inf


class Admission:
    def __init__(self, contracts: Contracts, *, members_only: bool, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic):
        self.contracts = contracts
        self.members_only = members_only
        self.bucket = TokenBucket(rate, burst, clock)
        self._members: dict[str, tuple[int, ApiError | None]] = {}  # wallet -> (head, refusal or None)
        self._head: asyncio.Future | None = None

    async def admit(self, signer: str) -> None:
        """Refuses (403 / 429) an action of ``signer`` the relayer must not pay for; else counts it."""
        if self.members_only:
            refusal = await self.membership(signer)
            if refusal is not None:
                raise refusal
        wait = self.bucket.take(signer.lower())
        if wait:
            raise RateLimited(signer, wait, self.bucket.rate, self.bucket.burst)

    async def admit_many(self, signer: str, n: int) -> tuple[int, ApiError | None]:
        """``n`` actions of ``signer`` in order (a checked group of its queue): how many of the first
        are admitted, and the refusal of the rest (None when all are). Membership is read once."""
        if self.members_only:
            refusal = await self.membership(signer)
            if refusal is not None:
                return 0, refusal
        for k in range(n):
            wait = self.bucket.take(signer.lower())
            if wait:
                return k, RateLimited(signer, wait, self.bucket.rate, self.bucket.burst)
        return n, None

    async def head(self) -> int:
        """The chain's block number; concurrent callers share one request."""
        if self._head is None or self._head.done():
            self._head = asyncio.ensure_future(self.contracts.rpc.call("eth_blockNumber", []))
            self._head.add_done_callback(lambda f: f.cancelled() or f.exception())
        return int(await asyncio.shield(self._head), 16)

    async def membership(self, wallet: str) -> ApiError | None:
        """None if ``wallet`` belongs to an active participant at the current head, else the refusal."""
        head = await self.head()
        cached = self._members.get(wallet)
        if cached is not None and cached[0] == head:
            return cached[1]
        refusal = await self._read(wallet, hex(head))
        if len(self._members) > 100_000:
            self._members.clear()
        self._members[wallet] = (head, refusal)
        return refusal

    async def _read(self, wallet: str, block: str) -> ApiError | None:
        w: Any = await self.contracts.view(REGISTRY, "wallet", wallet, block=block)
        pid = int(w["participantId"])
        if pid == 0:
            return ApiError(403, "RelayMembersOnly",
                            f"this node relays only for wallets of registered participants; {wallet} is not registered "
                            "(ask the consortium administration to add it, or send the transaction yourself)",
                            {"signer": wallet, "rule": "members-only"})
        p: Any = await self.contracts.view(REGISTRY, "participant", pid, block=block)
        if int(p["status"]) != ParticipantStatus.ACTIVE:
            return ApiError(403, "RelayMembersOnly",
                            f"this node relays only for active participants; participant {pid} of {wallet} is "
                            f"{ParticipantStatus(int(p['status'])).label}",
                            {"signer": wallet, "participantId": pid, "rule": "members-only"})
        return None
