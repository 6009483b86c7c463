"""The node's one JSON-RPC client (over HTTP, httpx): the node, the relayer and the index follower.

One set of request/reply rules (errors, revert data, "range too large") and two transports:

- :class:`Rpc`, async, for the node and the relayer, with automatic batching of concurrent calls.
  Why not web3.py on the hot path: web3's request pipeline (middlewares, formatters) costs more CPU
  per call than the call itself on a local chain, its ``batch_requests()`` refuses
  ``eth_sendRawTransaction``, and it cannot coalesce calls made by concurrent requests. Here every
  coroutine that awaits :meth:`Rpc.call` in the same event-loop turn shares one JSON-RPC array
  (bounded by ``max_batch``), which is what lets the node keep up with many concurrent clients.
- :class:`SyncRpc`, blocking, for the index follower's thread and start-up checks: ``eth_getLogs``
  without web3's per-log decoding, transport and server errors retried with exponential backoff,
  and a "range too large"/"too many results" answer raised as :class:`RangeTooLarge` so the
  follower halves its range (Besu, geth and hosted nodes cap eth_getLogs by blocks or results).

web3 remains only in the deploy step and the tests (:mod:`node_api.core.chain`), where its
contract objects are the simplest way to build constructor transactions.

Several endpoints (issue 12): both clients take one URL or a list of URLs of the *same chain* (a
member's own validator first, then others it may use). They stay on one endpoint while it answers;
a transport failure (connection refused or reset, timeout, HTTP 5xx) moves them to the next one in
the list (wrapping around) and the same request is tried there at once, so a dead validator costs
one failed connection, not a stall. Re-sending a request to another endpoint is safe for everything
the node sends: reads, and ``eth_sendRawTransaction`` of already signed bytes (the same transaction
twice is at most "already known"). A JSON-RPC error is an answer, never a reason to switch.
``Endpoints.failovers`` counts the switches (``/health``, tests, the benchmark).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any, Sequence

import httpx

log = logging.getLogger(__name__)

#: Phrases of the eth_getLogs refusals of geth, Besu, Erigon and hosted nodes for too wide a query.
_TOO_LARGE_HINTS = ("too many", "range", "limit", "exceed", "query returned more than", "block range")


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


class RangeTooLarge(RpcError):
    """The node refused an ``eth_getLogs`` query as too wide (blocks or results): ask for less."""


def _request(req_id: int, method: str, params: list[Any] | None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params or []}


def _error(e: Any, method: str | None = None) -> RpcError:
    """The exception for a JSON-RPC error object (``RangeTooLarge`` for a refused eth_getLogs)."""
    if not isinstance(e, dict):
        e = {"message": str(e)}
    code, message, data = int(e.get("code", -32603)), str(e.get("message", "")), e.get("data")
    if method == "eth_getLogs" and any(h in message.lower() for h in _TOO_LARGE_HINTS):
        return RangeTooLarge(code, message, data)
    return RpcError(code, message, data)


class Endpoints:
    """The URLs of one chain, the one in use, and the switches made (shared by a client's requests)."""

    def __init__(self, urls: "str | Sequence[str]"):
        self.urls: list[str] = [urls] if isinstance(urls, str) else list(dict.fromkeys(urls))
        if not self.urls:
            raise ValueError("at least one JSON-RPC URL is needed")
        self.current = 0
        self.failovers = 0
        self.last_failover: tuple[float, str, str, str] | None = None  # (time, from, to, why)

    @property
    def url(self) -> str:
        return self.urls[self.current]

    def failed(self, index: int, why: str) -> None:
        """The endpoint ``index`` failed a request: move to the next one (once per failure of the
        endpoint in use; a request that failed on an endpoint already left does not move again)."""
        if len(self.urls) == 1 or index != self.current:
            return
        old = self.url
        self.current = (self.current + 1) % len(self.urls)
        self.failovers += 1
        self.last_failover = (time.time(), old, self.url, why)
        log.warning("JSON-RPC endpoint %s failed (%s): switching to %s", old, why, self.url)


class Rpc:
    def __init__(self, url: "str | Sequence[str]", *, max_batch: int = 200, timeout: float = 30.0,
                 max_senders: int = 4):
        self.endpoints = Endpoints(url)
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

    @property
    def url(self) -> str:
        """The endpoint in use."""
        return self.endpoints.url

    async def post(self, payload: Any) -> Any:
        """``payload`` to the endpoint in use; on a transport failure, to the next ones (each once)."""
        eps = self.endpoints
        sent = False
        for _ in range(len(eps.urls)):
            index, url = eps.current, eps.url
            try:
                return await self._post_one(url, payload)
            except ChainUnavailable as exc:
                sent = sent or exc.sent
                last = exc
                eps.failed(index, str(exc))
        raise ChainUnavailable(str(last) if len(eps.urls) == 1 else f"no endpoint answered ({len(eps.urls)} tried); "
                               f"last: {last}", sent=sent)

    async def _post_one(self, url: str, payload: Any) -> Any:
        try:
            resp = await self._client.post(url, json=payload)
        except httpx.ConnectError as exc:
            raise ChainUnavailable(f"chain unreachable at {url}: {exc}", sent=False) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise ChainUnavailable(f"chain did not answer at {url}: {exc!r}", sent=True) from None
        if resp.status_code >= 500:
            raise ChainUnavailable(f"chain endpoint error HTTP {resp.status_code} at {url}", sent=True)
        try:
            return resp.json()
        except ValueError:
            raise ChainUnavailable(f"unreadable answer from {url} (HTTP {resp.status_code})", sent=True) from None

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        """One call, coalesced with the other calls made in this loop turn."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((_request(next(self._ids), method, params), fut))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await fut

    async def call_direct(self, method: str, params: list[Any] | None = None) -> Any:
        reply = await self.post(_request(next(self._ids), method, params))
        return _result(reply, method)

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results (or RpcError instances, not raised) of ``calls`` sent as JSON-RPC arrays."""
        out: list[Any] = []
        for start in range(0, len(calls), self.max_batch):
            chunk = calls[start : start + self.max_batch]
            payload = [_request(i, m, p) for i, (m, p) in enumerate(chunk)]
            replies = await self.post(payload)
            by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
            for i in range(len(chunk)):
                r = by_id.get(i)
                if r is None:
                    out.append(RpcError(-32603, "no reply in batch"))
                elif "error" in r:
                    out.append(_error(r["error"], chunk[i][0]))
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
                fut.set_result(_result(r, req["method"]))
            except RpcError as exc:
                fut.set_exception(exc)


def _result(reply: dict[str, Any], method: str | None = None) -> Any:
    if "error" in reply:
        raise _error(reply["error"], method)
    return reply.get("result")


class SyncRpc:
    """Blocking JSON-RPC for threads (the index follower) and start-up checks.

    Transport errors, HTTP 5xx/429 and unreadable replies are retried ``retries`` times with
    exponential backoff (from ``backoff`` seconds, at most 10 s), then raised as ChainUnavailable.
    A JSON-RPC error is raised at once as RpcError (RangeTooLarge for a refused eth_getLogs)."""

    def __init__(self, url: "str | Sequence[str]", *, timeout: float = 30.0, retries: int = 5, backoff: float = 0.2):
        self.endpoints = Endpoints(url)
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0))
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "SyncRpc":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The endpoint in use."""
        return self.endpoints.url

    def post(self, payload: Any) -> Any:
        """A failed attempt moves to the next endpoint at once; after a whole round of endpoints
        failed, wait (exponential backoff) before the next round."""
        eps = self.endpoints
        delay = self.backoff
        attempts = (self.retries + 1) * len(eps.urls)
        for attempt in range(attempts):
            index, url = eps.current, eps.url
            try:
                r = self._client.post(url, json=payload)
                if r.status_code >= 500 or r.status_code == 429:
                    raise httpx.HTTPStatusError(f"HTTP {r.status_code}", request=r.request, response=r)
                return r.json()
            except (httpx.TransportError, httpx.HTTPStatusError, ValueError) as exc:
                if attempt == attempts - 1:
                    what = payload.get("method") if isinstance(payload, dict) else "batch"
                    raise ChainUnavailable(f"{what}: chain did not answer at {url}: {exc!r}",
                                           sent=not isinstance(exc, httpx.ConnectError)) from None
                eps.failed(index, repr(exc))
                if (attempt + 1) % len(eps.urls):
                    continue  # next endpoint at once
                log.warning("RPC error (%s), retry %d/%d in %.1fs", exc, attempt + 1, attempts - 1, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        return _result(self.post(_request(next(self._ids), method, params)), method)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one JSON-RPC array; results in the order of ``calls`` (the first error raised)."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        replies = self.post([_request(i, m, p) for i, (m, p) in zip(ids, calls)])
        by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
        out = []
        for i, (m, _) in zip(ids, calls):
            r = by_id.get(i)
            if r is None:
                raise RpcError(-32603, f"{m}: no reply in batch")
            out.append(_result(r, m))
        return out

    # ------------------------------------------------------------------ conveniences
    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def get_code(self, address: str, block: str = "latest") -> bytes:
        return bytes.fromhex(self.call("eth_getCode", [address, block])[2:])

    def get_block(self, number: int) -> dict[str, Any] | None:
        return self.call("eth_getBlockByNumber", [hex(number), False])

    def get_block_latest(self) -> dict[str, Any]:
        return self.call("eth_getBlockByNumber", ["latest", False])

    def get_logs(self, from_block: int, to_block: int, addresses: list[str], topics: list | None = None) -> list[dict]:
        flt: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": addresses}
        if topics is not None:
            flt["topics"] = topics
        return self.call("eth_getLogs", [flt])
