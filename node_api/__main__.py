"""``python -m node_api`` (``make run``): dev chain + contracts + the node's HTTP API.

Starts the embedded Anvil (unless ``COC_RPC_URL`` points at an existing chain), then the node through
its composition root (node_api.node.Node: contracts deployed or the record in
``<data_dir>/deployments/<chainId>.json`` reused, relayer, index), then serves the API over it with
uvicorn (URL and /docs printed). With ``COC_DEMO=1`` (``make run DEMO=1``) the demo scenario is
loaded once through the API (a marker in the data dir records that it was). Ctrl-C or SIGTERM stops
the API, then the node, then Anvil cleanly so its state is dumped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import threading
import time

import uvicorn

from .api.app import create_app
from .core.anvil import EmbeddedAnvil
from .core.compile import CompileError
from .core.config import Settings, get_settings
from .node import Node

log = logging.getLogger("node_api")


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its shutdown, which would kill this process before it
    stops the node and Anvil; here a signal only asks the server to exit, and main() then stops them
    cleanly."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.handle_exit)
        yield


def _load_demo_once(server: uvicorn.Server, url: str, settings: Settings) -> None:
    marker = settings.data_dir / "demo-loaded.json"
    if marker.exists():
        print(f"demo already loaded ({marker}); delete it or `make clean` to load again", flush=True)
        return
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.1)
    try:
        # The demo world is development tooling (testkit/ at the repository root), not part of the
        # product package: it is importable from a checkout, where `make run` runs.
        from testkit.demo import run_demo

        ids = run_demo(url, admin_wallet_key=settings.admin_wallet_key or settings.deployer_key,
                       log=lambda msg: print(f"[demo] {msg}", flush=True))
        ids.pop("keys", None)
        marker.write_text(json.dumps(ids, indent=2) + "\n")
        print(f"[demo] ids written to {marker}", flush=True)
    except Exception as exc:  # noqa: BLE001 - the node keeps running
        print(f"[demo] failed: {exc}", file=sys.stderr, flush=True)


async def serve(settings: Settings) -> int:
    try:
        node = await Node.start(settings)
    except CompileError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        dep = node.deployment
        print(("reusing deployment from " if dep.reused else "deployed; record written to ") + str(dep.path))
        print(f"chain URL: {settings.effective_rpc_url}")
        print(f"chain id:  {dep.chain_id}")
        for name, address in dep.contracts.items():
            print(f"  {name:<20} {address}")

        url = f"http://{settings.api_host}:{settings.api_port}"
        config = uvicorn.Config(create_app(node=node), host=settings.api_host, port=settings.api_port,
                                log_level="info", lifespan="on")
        server = _Server(config)
        if settings.demo:
            threading.Thread(target=_load_demo_once, args=(server, url, settings), daemon=True).start()
        print(f"node API:  {url}", flush=True)
        print(f"API docs:  {url}/docs", flush=True)
        print("running; press Ctrl-C to stop", flush=True)
        await server.serve()  # handles SIGINT/SIGTERM itself
        return 0
    finally:
        await node.stop()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = get_settings()
    anvil: EmbeddedAnvil | None = None
    try:
        if settings.rpc_url is None:
            anvil = EmbeddedAnvil(settings).start()
            print(f"embedded Anvil started (state: {anvil.state_file})", flush=True)
        return asyncio.run(serve(settings))
    finally:
        if anvil is not None:
            print("stopping Anvil (dumping state)...", flush=True)
            anvil.stop()


if __name__ == "__main__":
    sys.exit(main())
