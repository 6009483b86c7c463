"""Small helpers shared by the index tests."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import requests

import pytest

from node_api.index import schema
from node_api.index.read import certificates, participants, provenance
from node_api.index.read.reference import reference


def snapshot(engine, scenario) -> str:
    """Every answer the index gives about the demo scenario, as canonical JSON."""
    with engine.connect() as conn:
        out: dict[str, Any] = {}
        for name in ("product", "blend", "mb_origin", "released", "origin_a", "rest"):
            out[name] = provenance.provenance(conn, getattr(scenario, name))
        out["participants"] = [participants.participant(conn, pid, reference(conn)) for pid in range(1, 11)]
        out["certificate"] = certificates.certificate(conn, scenario.certificate_id, reference(conn))
    return json.dumps(out, sort_keys=True, default=str)


class FlakyProxy:
    """A JSON-RPC proxy in front of Anvil that misbehaves on purpose: the first ``fail_first``
    requests get HTTP 503, and eth_getLogs over more than ``max_range`` blocks gets the
    'block range too large' error real nodes give."""

    def __init__(self, upstream: str, *, fail_first: int = 0, max_range: int | None = None):
        self.upstream = upstream
        self.fail_first = fail_first
        self.max_range = max_range
        self.failures = 0
        self.too_large = 0
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.requests += 1
                if proxy.failures < proxy.fail_first:
                    proxy.failures += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                payload = json.loads(body)
                if (isinstance(payload, dict) and payload.get("method") == "eth_getLogs" and proxy.max_range is not None):
                    flt = payload["params"][0]
                    if int(flt["toBlock"], 16) - int(flt["fromBlock"], 16) + 1 > proxy.max_range:
                        proxy.too_large += 1
                        out = json.dumps({"jsonrpc": "2.0", "id": payload["id"], "error": {
                            "code": -32005, "message": f"query exceeds max block range {proxy.max_range}"}}).encode()
                        self._reply(out)
                        return
                r = requests.post(proxy.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=30)
                self._reply(r.content)

            def _reply(self, out: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FlakyProxy":
        self.thread.start()
        return self

    def __exit__(self, *_a: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(cond: Callable[[], bool], timeout: float = 15.0, step: float = 0.05) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


POSTGRES_ENV = "COC_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


def contracts_of(world_session) -> dict[str, str]:
    c = world_session.sb.c
    return {"registry": c.registry.address, "forwarder": c.forwarder.address, "mass_balance": c.mass_balance.address,
            "ledger": c.ledger.address, "certificates": c.certificates.address}


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def fresh_engine(backend: str, tmp_path: Path, name: str = "index"):
    """An empty index database on ``backend`` (the PostgreSQL test database is emptied first)."""
    if backend == "sqlite":
        return schema.make_engine(schema.sqlite_url(str(tmp_path / f"{name}.db")))
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL not available: set {POSTGRES_ENV} (e.g. from .ci/postgres.sh) to run the index tests on it")
    engine = schema.make_engine(url)
    schema.drop_all(engine)
    return engine
