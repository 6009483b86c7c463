"""Run Anvil (the npm ``@foundry-rs/anvil`` binary) as the embedded development chain.

Why embedded: ``make run`` must give a working chain with nothing else installed. State persists
across restarts through dumps the node takes itself (``anvil_state.StateKeeper``: every
``anvil_state_interval`` seconds and on a clean stop, each checked self-consistent and written
atomically as a new generation in ``<state file without .json>/``); at start the newest consistent
generation is loaded with ``--load-state``. Anvil's own ``--state``/``--state-interval`` dump is not
used: it is not atomic (a block mined while it runs lands in the state but not in the blocks; see
``anvil_state``).

Deliberately NOT passed: ``--disable-code-size-limit``. The 24 KiB EIP-170 limit stays enforced so
a contract that would not deploy on a production chain does not deploy here either.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from . import toolchain
from .anvil_state import StateKeeper, latest_consistent
from .config import Settings
from .rpc import ChainUnavailable, RpcError, SyncRpc

#: Anvil's built-in dev mnemonic (the default when --mnemonic is not given).
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


class AnvilError(RuntimeError):
    """Anvil failed to start or to answer JSON-RPC."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (small race, fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 2.0) -> object:
    """One JSON-RPC call, no retries (probing readiness, test controls such as ``evm_mine``).
    A JSON-RPC error is raised as AnvilError, an unreachable endpoint as ChainUnavailable."""
    with SyncRpc(url, timeout=timeout, retries=0) as rpc:
        try:
            return rpc.call(method, params)
        except RpcError as exc:
            raise AnvilError(f"{method}: {exc}") from None


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGINT when our process dies, even by SIGKILL, so a
    crashed node or test run leaves no orphaned Anvil (its state is the node's last consistent dump)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGINT))  # PR_SET_PDEATHSIG
        except OSError:
            pass


class EmbeddedAnvil:
    """An Anvil child process. Use as a context manager or call start()/stop().

    ``state_file=None`` (see :meth:`throwaway`) runs purely in memory. ``extra_args`` is appended
    to the command line (e.g. ``["--accounts", "20"]``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        state_file: Path | None | bool = True,
        extra_args: list[str] | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.host = settings.anvil_host
        self.port = settings.anvil_port
        if state_file is True:
            self.state_file: Path | None = settings.data_dir / "anvil-state.json"
        elif state_file is False or state_file is None:
            self.state_file = None
        else:
            self.state_file = Path(state_file)
        self.extra_args = list(extra_args or [])
        self.log_file = log_file if log_file is not None else (
            settings.data_dir / "anvil.log" if self.state_file is not None else None
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self.keeper: StateKeeper | None = None
        #: the generation loaded at the last start (None: a fresh chain)
        self.loaded: Path | None = None

    @property
    def state_dir(self) -> Path | None:
        """Where the node's consistent state generations are written (see ``anvil_state``)."""
        return None if self.state_file is None else self.state_file.with_suffix("")

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def throwaway(cls, *, accounts: int = 20, chain_id: int = 31337, extra_args: list[str] | None = None) -> "EmbeddedAnvil":
        """In-memory Anvil on a free port (for tests): no state file, no log file."""
        tmp = Path(tempfile.gettempdir())
        settings = Settings(
            data_dir=tmp, anvil_port=free_port(), chain_id=chain_id, rpc_url=None, anvil_block_time=None
        )
        return cls(settings, state_file=None, extra_args=["--accounts", str(accounts), *(extra_args or [])])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        s = self.settings
        cmd = [
            str(toolchain.anvil_binary()),
            "--host", self.host,
            "--port", str(self.port),
            "--chain-id", str(s.chain_id),
            "--silent",
        ]
        if self.loaded is not None:
            cmd += ["--load-state", str(self.loaded)]
        if s.anvil_block_time is not None:
            cmd += ["--block-time", f"{s.anvil_block_time:g}"]
        if s.zero_gas_price:
            cmd += ["--gas-price", "0", "--block-base-fee-per-gas", "0"]
        return cmd + self.extra_args

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> "EmbeddedAnvil":
        if self.proc is not None:
            return self
        if port_in_use(self.host, self.port):
            raise AnvilError(
                f"{self.host}:{self.port} is already in use (another Anvil/node running?). "
                "Stop it, or set COC_ANVIL_PORT / COC_RPC_URL."
            )
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            # the legacy --state file of an older node is a candidate too (checked like any generation)
            self.loaded, skipped = latest_consistent(self.state_dir, legacy=self.state_file)
            for why in skipped:
                print(f"anvil state: skipped {why}", file=sys.stderr, flush=True)
            if self.loaded is None and skipped:
                raise AnvilError(
                    f"no consistent Anvil state in {self.state_dir} to start from ({'; '.join(skipped)}). "
                    "Starting a fresh chain would orphan this data folder: move it away to start anew.")
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = open(self.log_file, "ab")
        out = self._log_handle if self._log_handle is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.command(),
            stdout=out,
            stderr=out if self._log_handle is not None else subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            # Own process group: a Ctrl-C in the terminal reaches only our Python process, which
            # then stops Anvil in order (last state dump, then SIGINT) instead of racing with it.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._wait_ready(timeout)
        if self.state_dir is not None:
            self.keeper = StateKeeper(self.url, self.state_dir, interval=float(self.settings.anvil_state_interval)).start()
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                err = b""
                if self.proc.stderr is not None:
                    err = self.proc.stderr.read() or b""
                self.proc = None
                self._close_log()
                detail = err.decode(errors="replace").strip() or f"(see {self.log_file})"
                raise AnvilError(f"anvil exited with code {code} during startup: {detail}")
            try:
                rpc_call(self.url, "eth_chainId", timeout=1.0)
                return
            except (OSError, ChainUnavailable, AnvilError):
                time.sleep(0.05)
        self.stop()
        raise AnvilError(f"anvil did not answer JSON-RPC at {self.url} within {timeout:.0f}s")

    def stop(self, timeout: float = 30.0) -> None:
        """A last consistent state dump, then SIGINT, SIGTERM, and SIGKILL as last resort."""
        keeper, self.keeper = self.keeper, None
        if keeper is not None and self.running:
            keeper.stop(final=True)
        elif keeper is not None:
            keeper.stop(final=False)
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0)):
                if proc.poll() is not None:
                    break
                proc.send_signal(sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        finally:
            if proc.stderr is not None:
                proc.stderr.close()
            self._close_log()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no last dump; a restart loads the newest consistent generation."""
        keeper, self.keeper = self.keeper, None
        proc, self.proc = self.proc, None
        if proc is not None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()
        if keeper is not None:
            keeper.stop(final=False)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "EmbeddedAnvil":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __del__(self) -> None:  # last-resort cleanup so a crashed test run leaves no orphan
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except OSError:
                pass
