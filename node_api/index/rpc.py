"""Raw JSON-RPC over HTTP for the index: ``eth_getLogs`` without web3's per-log decoding.

Retries transport errors and server errors with exponential backoff; a "range too large" or
"too many results" answer is reported as :class:`RangeTooLarge` so the follower halves its range
(Besu, geth and hosted nodes cap eth_getLogs by blocks or results).
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import requests

log = logging.getLogger(__name__)

_TOO_LARGE_HINTS = ("too many", "range", "limit", "exceed", "query returned more than", "block range")


class RpcError(RuntimeError):
    def __init__(self, method: str, error: Any):
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


class RangeTooLarge(RpcError):
    pass


class RawRpc:
    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 5, backoff: float = 0.2):
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self._ids = itertools.count(1)

    def _post(self, payload: Any) -> Any:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                r = self.session.post(self.url, json=payload, timeout=self.timeout)
                if r.status_code >= 500 or r.status_code == 429:
                    raise requests.HTTPError(f"HTTP {r.status_code}")
                return r.json()
            except (requests.ConnectionError, requests.Timeout, requests.HTTPError, ValueError) as exc:
                if attempt == self.retries:
                    raise RpcError(str(payload.get("method") if isinstance(payload, dict) else "batch"), exc) from exc
                log.warning("RPC error (%s), retry %d/%d in %.1fs", exc, attempt + 1, self.retries, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")

    def call(self, method: str, params: list | None = None) -> Any:
        resp = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []})
        if "error" in resp:
            msg = str(resp["error"].get("message", resp["error"])).lower()
            if method == "eth_getLogs" and any(h in msg for h in _TOO_LARGE_HINTS):
                raise RangeTooLarge(method, resp["error"])
            raise RpcError(method, resp["error"])
        return resp["result"]

    def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        """Several calls in one JSON-RPC array; results in the order of ``calls``."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        resp = self._post([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls)])
        by_id = {r["id"]: r for r in resp}
        out = []
        for i, (m, _) in zip(ids, calls):
            r = by_id[i]
            if "error" in r:
                raise RpcError(m, r["error"])
            out.append(r["result"])
        return out

    # ------------------------------------------------------------------ conveniences
    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def get_block(self, number: int) -> dict[str, Any] | None:
        return self.call("eth_getBlockByNumber", [hex(number), False])

    def get_block_latest(self) -> dict[str, Any]:
        return self.call("eth_getBlockByNumber", ["latest", False])

    def get_logs(self, from_block: int, to_block: int, addresses: list[str], topics: list | None = None) -> list[dict]:
        flt: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": addresses}
        if topics is not None:
            flt["topics"] = topics
        return self.call("eth_getLogs", [flt])
