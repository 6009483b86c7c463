"""What the relayer is asked to send, and the handle a caller awaits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..core.rpc import RpcError
from .lanes import Lane


class RelayError(Exception):
    def __init__(self, message: str, *, unavailable: bool = False, busy: bool = False):
        super().__init__(message)
        self.unavailable = unavailable
        #: refused for load: the queue is full (answered 429 with Retry-After)
        self.busy = busy


@dataclass
class RelayRequest:
    to: str
    data: bytes
    gas: int
    action: str
    signer: str | None = None
    op_key: str | None = None
    item: int | None = None
    replay: dict[str, Any] | None = None  # the call whose revert explains a failure (forwarded: inner call)
    #: ordering lane of the signed message's nonce (see lanes.py)
    lane: Lane | None = None
    #: a call of a signed entry point RelayBatch may carry with others in one transaction
    batchable: bool = False


@dataclass
class TxHandle:
    request: RelayRequest
    sent: asyncio.Future  # -> tx hash
    done: asyncio.Future  # -> outcome dict
    nonce: int = -1
    hash: str = ""
    raw: bytes = b""
    sent_at: float = 0.0
    #: earlier transactions of this request that never made it (their rows link to the new one)
    replaced: list[str] = field(default_factory=list)
    #: its place in the RelayBatch transaction that carries it (None: sent alone)
    batch_index: int | None = None

    @classmethod
    def new(cls, request: RelayRequest, **kw: Any) -> "TxHandle":
        loop = asyncio.get_running_loop()
        h = cls(request, loop.create_future(), loop.create_future(), **kw)
        h.sent.add_done_callback(_consume_exc)
        h.done.add_done_callback(_consume_exc)
        return h

    def fail(self, exc: Exception) -> None:
        for fut in (self.sent, self.done):
            if not fut.done():
                fut.set_exception(exc)

    def mark_sent(self) -> None:
        if not self.sent.done():
            self.sent.set_result(self.hash)

    @property
    def lanes(self) -> list[Lane | None]:
        return [self.request.lane]


@dataclass
class Carrier(TxHandle):
    """One RelayBatch transaction carrying the requests of ``members`` (each keeps its own handle:
    sent with the carrier's hash, settled with its own item's outcome)."""

    members: list[TxHandle] = field(default_factory=list)

    def fail(self, exc: Exception) -> None:
        super().fail(exc)
        for m in self.members:
            m.fail(exc)

    def mark_sent(self) -> None:
        super().mark_sent()
        for i, m in enumerate(self.members):
            m.hash, m.nonce, m.sent_at, m.batch_index = self.hash, self.nonce, self.sent_at, i
            if not m.sent.done():
                m.sent.set_result(self.hash)

    @property
    def lanes(self) -> list[Lane | None]:
        return [m.request.lane for m in self.members]


def _consume_exc(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


# ---------------------------------------------------------------- what a refused send means
def is_nonce_too_low(err: RpcError) -> bool:
    m = err.message.lower()
    return "nonce too low" in m or "nonce is too low" in m or "oldnonce" in m.replace(" ", "")


def is_nonce_taken(err: RpcError) -> bool:
    """The nonce is used by another transaction, mined (too low) or waiting in the pool (a replacement)."""
    m = err.message.lower()
    return is_nonce_too_low(err) or "replacement transaction underpriced" in m or "replacement fee too low" in m


def is_known(err: RpcError) -> bool:
    m = err.message.lower()
    return "already known" in m or "known transaction" in m or "already imported" in m
