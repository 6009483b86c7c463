"""Async JSON-RPC over HTTP, with automatic batching of concurrent calls.

Why not web3.py on the hot path: web3's request pipeline (middlewares, formatters) costs more
CPU per call than the call itself on a local chain, its ``batch_requests()`` refuses
``eth_sendRawTransaction``, and it cannot coalesce calls made by concurrent requests. Here every
coroutine that awaits :meth:`Rpc.call` in the same event-loop turn shares one JSON-RPC array
(bounded by ``max_batch``), which is what lets the node keep up with many concurrent clients.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import httpx


class ChainUnavailable(Exception):
    """The chain's JSON-RPC endpoint could not be reached (connection refused, timeout...).

    ``sent`` is False when the request certainly did not reach the node (connect error), so any
    transaction in it was not received."""

    def __init__(self, message: str, *, sent: bool = False):
        super().__init__(message)
        self.sent = sent


@dataclass
class RpcError(Exception):
    """A JSON-RPC error object. ``data`` holds revert data for reverted calls (hex string)."""

    code: int
    message: str
    data: Any = None

    def __str__(self) -> str:
        return f"JSON-RPC error {self.code}: {self.message}"

    @property
    def revert_data(self) -> str | None:
        d = self.data
        if isinstance(d, dict):
            d = d.get("data") or d.get("result")
        if isinstance(d, str) and d.startswith("0x") and len(d) >= 10:
            return d
        return None


class Rpc:
    def __init__(self, url: str, *, max_batch: int = 200, timeout: float = 30.0, max_senders: int = 4):
        self.url = url
        self.max_batch = max_batch
        self.max_senders = max_senders
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )
        self._ids = itertools.count(1)
        self._queue: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._senders = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, payload: Any) -> Any:
        try:
            resp = await self._client.post(self.url, json=payload)
        except httpx.ConnectError as exc:
            raise ChainUnavailable(f"chain unreachable at {self.url}: {exc}", sent=False) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise ChainUnavailable(f"chain did not answer at {self.url}: {exc!r}", sent=True) from None
        if resp.status_code >= 500:
            raise ChainUnavailable(f"chain endpoint error HTTP {resp.status_code}", sent=True)
        return resp.json()

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        """One call, coalesced with the other calls made in this loop turn."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append(({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}, fut))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await fut

    async def call_direct(self, method: str, params: list[Any] | None = None) -> Any:
        reply = await self.post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []})
        return _result(reply)

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results (or RpcError instances, not raised) of ``calls`` sent as JSON-RPC arrays."""
        out: list[Any] = []
        for start in range(0, len(calls), self.max_batch):
            chunk = calls[start : start + self.max_batch]
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(chunk)
            ]
            replies = await self.post(payload)
            by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
            for i in range(len(chunk)):
                r = by_id.get(i)
                if r is None:
                    out.append(RpcError(-32603, "no reply in batch"))
                elif "error" in r:
                    e = r["error"]
                    out.append(RpcError(int(e.get("code", -32603)), str(e.get("message", "")), e.get("data")))
                else:
                    out.append(r.get("result"))
        return out

    def _flush(self) -> None:
        # At most ``max_senders`` requests in flight: under load, calls queue up meanwhile and
        # leave in bigger arrays instead of opening more connections to the chain.
        self._flush_scheduled = False
        while self._queue and self._senders < self.max_senders:
            self._senders += 1
            asyncio.ensure_future(self._sender())

    async def _sender(self) -> None:
        try:
            while self._queue:
                chunk, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                await self._send(chunk)
        finally:
            self._senders -= 1

    async def _send(self, items: list[tuple[dict[str, Any], asyncio.Future[Any]]]) -> None:
        payload = [req for req, _ in items]
        try:
            replies = await self.post(payload if len(payload) > 1 else payload[0])
        except Exception as exc:  # noqa: BLE001 - delivered to every waiter
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(exc)
            return
        if isinstance(replies, dict):
            replies = [replies]
        by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
        for req, fut in items:
            if fut.done():
                continue
            r = by_id.get(req["id"])
            if r is None:
                fut.set_exception(RpcError(-32603, "no reply"))
                continue
            try:
                fut.set_result(_result(r))
            except RpcError as exc:
                fut.set_exception(exc)


def _result(reply: dict[str, Any]) -> Any:
    if "error" in reply:
        e = reply["error"]
        raise RpcError(int(e.get("code", -32603)), str(e.get("message", "")), e.get("data"))
    return reply.get("result")
