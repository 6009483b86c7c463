"""A minimal raw JSON-RPC client (stdlib http.client, one kept-alive connection, batch arrays).

Raw JSON-RPC instead of web3's contract layer: decoding logs ourselves is several times faster
(domain.md section 6), and the auditor depends on nothing but the node's standard JSON-RPC.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from typing import Any, Iterable


class RpcError(RuntimeError):
    def __init__(self, method: str, error: Any):
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


class Rpc:
    def __init__(self, url: str, timeout: float = 120.0):
        self.url = url
        u = urllib.parse.urlsplit(url)
        self._https = u.scheme == "https"
        self._host = u.hostname or "127.0.0.1"
        self._port = u.port or (443 if self._https else 80)
        self._path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._id = 0
        self.calls = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        for attempt in range(4):
            try:
                conn = self._connection()
                conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status >= 500 and attempt < 3:
                    raise ConnectionError(f"HTTP {resp.status}")
                return json.loads(data)
            except (ConnectionError, http.client.HTTPException, OSError):
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if attempt == 3:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def call(self, method: str, params: list | None = None) -> Any:
        self._id += 1
        self.calls += 1
        reply = self._post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params or []})
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply["result"]

    def batch(self, requests: Iterable[tuple[str, list]], chunk: int = 500) -> list[Any]:
        """Results of many calls in order, sent as JSON-RPC arrays of at most `chunk` calls.
        A call that errors yields an RpcError instance in its place (not raised)."""
        reqs = list(requests)
        out: list[Any] = []
        for start in range(0, len(reqs), chunk):
            part = reqs[start:start + chunk]
            payload = []
            for method, params in part:
                self._id += 1
                payload.append({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
            self.calls += len(part)
            replies = self._post(payload)
            if isinstance(replies, dict):  # a node that refuses batches answers one error object
                raise RpcError("batch", replies.get("error", replies))
            by_id = {r.get("id"): r for r in replies}
            for p in payload:
                r = by_id.get(p["id"], {"error": "no reply"})
                out.append(RpcError(p["method"], r["error"]) if "error" in r else r["result"])
        return out

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
