"""The node as a separate process (``python -m node_api``), for tests and benchmarks that must kill
it, restart it, or keep its work off their own interpreter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]


def node_env(rpc_url: str, data_dir: Path, port: int, relayer_key: str, **extra: str) -> dict[str, str]:
    """The environment of a node on ``rpc_url`` with its own data dir, port and relayer key (no demo).
    A throwaway Anvil (chain id 31337) may use its published keys (``COC_ALLOW_DEV_KEYS``; refused on
    any other chain id)."""
    env = dict(os.environ, COC_RPC_URL=rpc_url, COC_DATA_DIR=str(data_dir), COC_API_PORT=str(port),
               COC_RELAYER_KEY=relayer_key)
    env.setdefault("COC_ALLOW_DEV_KEYS", "true")
    return {**env, **extra}


def start_node(env: dict[str, str], url: str, *, timeout: float = 120.0, log: Path | None = None) -> subprocess.Popen:
    """Starts the node and returns once ``url``/health answers 200 (output to ``log``, else discarded)."""
    out: IO[bytes] | int = open(log, "wb") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "node_api"], env=env, stdout=out, stderr=subprocess.STDOUT,
                            cwd=str(ROOT))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited with {proc.returncode}" + (f"; see {log}" if log else ""))
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("node did not start")


def stop_node(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM (the node stops its relayer and closes its database), SIGKILL if it does not exit."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
