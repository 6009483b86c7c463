"""The relayer's fee policy: priced from the chain's fee market, never above a cap, never compounding.

Issue 9 (finding 1): the relayer priced at ``eth_gasPrice x 2``. Anvil's ``eth_gasPrice`` follows
the prices recently paid, so each refresh doubled what the last transactions had paid: 2.8 gwei
became 22,826 gwei after about 120 transactions and the relayer drained itself. The policy here
never multiplies what was paid:

- **EIP-1559 chains** (the latest block has ``baseFeePerGas``): type-2 transactions with
  ``maxPriorityFeePerGas`` = the chain's suggested tip (``eth_maxPriorityFeePerGas``, else the median
  reward of ``eth_feeHistory``), clamped to the cap, and ``maxFeePerGas`` = 2 x the next block's
  base fee + the tip, clamped to the cap. A transaction pays ``base fee + tip`` (the effective gas
  price), not its maximum; the base fee falls while blocks are below their gas target.
- **Legacy chains**: the chain's ``eth_gasPrice`` as is, clamped to the cap.
- **Free-gas chains** (``zero_gas_price``): zero, legacy transactions.
- **A fixed price** (tests, scripts): that price, clamped to the cap.

The cap is ``COC_MAX_FEE_PER_GAS_GWEI`` (``max_fee_per_gas_gwei``). If the chain's base fee rises
above it, the relayer still signs at the cap (its transactions wait in the pool) and ``/health``
reports them stuck: it never pays more than the operator allowed.

``Spend`` keeps what mined transactions cost (gas used x effective gas price) for the last hour,
which ``/health`` compares with the relayer's balance.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..core.rpc import Rpc, RpcError

GWEI = 10**9


@dataclass(frozen=True)
class Fees:
    """What the next transactions are signed with."""

    max_fee: int  # maxFeePerGas (type 2) or gasPrice (legacy)
    priority_fee: int | None  # maxPriorityFeePerGas; None = a legacy transaction

    @property
    def eip1559(self) -> bool:
        return self.priority_fee is not None


class FeePolicy:
    def __init__(self, rpc: Rpc, *, cap: int, zero: bool = False, fixed: int | None = None,
                 refresh_seconds: float = 2.0):
        if cap <= 0 and not zero:
            raise ValueError("the fee cap must be positive (COC_MAX_FEE_PER_GAS_GWEI)")
        self.rpc = rpc
        self.cap = cap
        self.zero = zero
        self.fixed = fixed
        self.refresh_seconds = refresh_seconds
        self.current = Fees(0, None) if zero else Fees(min(fixed or 0, cap), None)
        self.eip1559: bool | None = None  # learnt from the first block read
        self._at = 0.0

    async def refresh(self, *, force: bool = False) -> Fees:
        """The fees to sign with now (read from the chain at most every ``refresh_seconds``)."""
        if self.zero:
            return self.current
        now = time.monotonic()
        if not force and self.current.max_fee and now - self._at < self.refresh_seconds:
            return self.current
        if self.eip1559 is None:
            block = await self.rpc.call_direct("eth_getBlockByNumber", ["latest", False])
            self.eip1559 = bool(block and block.get("baseFeePerGas") is not None)
        if self.fixed:
            self.current = Fees(min(self.fixed, self.cap), None)
        elif self.eip1559:
            self.current = await self._eip1559()
        else:
            self.current = Fees(max(1, min(int(await self.rpc.call_direct("eth_gasPrice"), 16), self.cap)), None)
        self._at = now
        return self.current

    async def _eip1559(self) -> Fees:
        history = await self.rpc.call_direct("eth_feeHistory", [hex(1), "latest", [50]])
        # baseFeePerGas has one entry more than the blocks asked for: the next block's base fee
        base = int(history["baseFeePerGas"][-1], 16)
        try:
            tip = int(await self.rpc.call_direct("eth_maxPriorityFeePerGas"), 16)
        except RpcError:  # not every chain has it: the median tip of the last block
            rewards = history.get("reward") or [["0x0"]]
            tip = int(rewards[-1][0], 16) if rewards and rewards[-1] else 0
        tip = min(tip, self.cap)
        max_fee = min(2 * base + tip, self.cap)
        return Fees(max(max_fee, 1), min(tip, max_fee))


class Spend:
    """Wei paid by mined transactions, per action, over the last ``window`` seconds."""

    def __init__(self, window: float = 3600.0):
        self.window = window
        self._items: deque[tuple[float, int]] = deque()
        self.total = 0
        self.count = 0

    def record(self, rcpt: dict[str, Any]) -> int:
        used = int(rcpt.get("gasUsed") or "0x0", 16)
        price = int(rcpt.get("effectiveGasPrice") or rcpt.get("gasPrice") or "0x0", 16)
        wei = used * price
        self._items.append((time.monotonic(), wei))
        self.total += wei
        self.count += 1
        return wei

    def _trim(self) -> None:
        cutoff = time.monotonic() - self.window
        while self._items and self._items[0][0] < cutoff:
            self._items.popleft()

    def recent(self) -> int:
        """Wei spent within the window."""
        self._trim()
        return sum(w for _, w in self._items)

    def as_dict(self) -> dict[str, Any]:
        self._trim()
        return {"lastHourWei": str(sum(w for _, w in self._items)), "lastHourTransactions": len(self._items),
                "totalWei": str(self.total), "transactions": self.count}


__all__ = ["FeePolicy", "Fees", "GWEI", "Spend"]
