"""``python -m node_api`` (``make run``): dev chain + contracts + the node's HTTP API.

Starts the embedded Anvil (unless ``COC_RPC_URL`` points at an existing chain), then the node through
its composition root (node_api.node.Node: contracts deployed or the record in
``<data_dir>/deployments/<chainId>.json`` reused, relayer, index), then serves the API over it with
uvicorn (URL and /docs printed). ``make run DEMO=1`` runs ``python -m testkit.demo_node`` instead, which
calls ``main`` with a hook that loads the demo once the API serves. Ctrl-C or SIGTERM stops
the API, then the node, then Anvil cleanly so its state is dumped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable

import uvicorn

from .api.app import create_app
from .core.anvil import EmbeddedAnvil
from .core.artifacts import ArtifactsMissing
from .core.config import Settings, get_settings
from .node import Node
from .services.key_policy import DevKeyRefused
from .services.chain_guard import ForeignChain

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


#: Called in a thread with the API's URL once the server accepts requests (the testkit's demo loader
#: uses it; the product itself needs none).
OnServing = Callable[[str, Settings], None]


async def serve(settings: Settings, on_serving: OnServing | None = None) -> int:
    try:
        node = await Node.start(settings)
    except (ArtifactsMissing, DevKeyRefused, ForeignChain) as exc:
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
        if on_serving is not None:
            threading.Thread(target=_when_serving, args=(server, url, settings, on_serving), daemon=True).start()
        print(f"node API:  {url}", flush=True)
        print(f"API docs:  {url}/docs", flush=True)
        print("running; press Ctrl-C to stop", flush=True)
        await server.serve()  # handles SIGINT/SIGTERM itself
        return 0
    finally:
        await node.stop()


def _when_serving(server: uvicorn.Server, url: str, settings: Settings, on_serving: OnServing) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.1)
    on_serving(url, settings)


def main(on_serving: OnServing | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = get_settings()
    anvil: EmbeddedAnvil | None = None
    try:
        if settings.rpc_url is None:
            anvil = EmbeddedAnvil(settings).start()
            print(f"embedded Anvil started (state: {anvil.state_file})", flush=True)
        return asyncio.run(serve(settings, on_serving))
    finally:
        if anvil is not None:
            print("stopping Anvil (dumping state)...", flush=True)
            anvil.stop()


if __name__ == "__main__":
    sys.exit(main())
