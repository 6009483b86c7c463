"""``python -m node_api`` (``make run``): dev chain + contracts, ready for the node to use.

Starts the embedded Anvil (unless ``COC_RPC_URL`` points at an existing chain), compiles the
contracts (cached), deploys them or reuses ``<data_dir>/deployments/<chainId>.json``, prints the
endpoints and addresses, then waits for Ctrl-C and stops Anvil cleanly so its state is dumped.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from .core.anvil import EmbeddedAnvil
from .core.chain import connect
from .core.compile import CompileError, compile_contracts
from .core.config import get_settings
from .core.deploy import ensure_deployed


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    stop = threading.Event()
    # Ctrl-C and SIGTERM (process managers) take the same clean path. Installed explicitly because
    # a process started in the background by a non-interactive shell inherits SIGINT as ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    anvil: EmbeddedAnvil | None = None
    try:
        if settings.rpc_url is None:
            anvil = EmbeddedAnvil(settings).start()
            print(f"embedded Anvil started (state: {anvil.state_file})", flush=True)
        try:
            artifacts = compile_contracts()
        except CompileError as exc:
            print(exc, file=sys.stderr)
            return 1
        w3 = connect(settings)
        dep = ensure_deployed(w3, settings, artifacts)
        if dep.reused:
            print(f"reusing deployment from {dep.path}")
        else:
            print(f"deployed; record written to {dep.path}")
        print(f"chain URL: {settings.effective_rpc_url}")
        print(f"chain id:  {dep.chain_id}")
        for name, address in dep.contracts.items():
            print(f"  {name:<20} {address}")
        print("running; press Ctrl-C to stop", flush=True)
        while not stop.wait(1.0):
            pass
        return 0
    finally:
        if anvil is not None:
            print("stopping Anvil (dumping state)...", flush=True)
            anvil.stop()


if __name__ == "__main__":
    sys.exit(main())
