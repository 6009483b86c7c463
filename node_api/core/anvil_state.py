"""The embedded chain's durability, owned by the node instead of Anvil's periodic ``--state`` dump.

Why: Anvil's own dump (``--state-interval``, and ``anvil_dumpState`` alike) is not atomic. It reads
the best block number, the blocks and the receipts first and the account state afterwards, each
under its own lock; a block mined in between lands in the state but not in the blocks. Reloaded,
such a dump is a chain whose head is a block behind its own state: the transaction's nonce is used
and its effects (a batch, its id) are there, but its block, receipt and event logs are in no
canonical block, so no re-send can bring them back and no index can ever see them. Measured on
Anvil 1.7.1 under automine load: 17 of 20 dumps were inconsistent that way.

So the node takes the dumps itself (``StateKeeper``): every ``interval`` seconds it asks for
``anvil_dumpState``, keeps it only if it is **self-consistent** (``check_dump``), and writes it
atomically (temporary file, fsync, rename, fsync of the folder) as a new generation, keeping the
last ``keep`` (a dump equal to the last one is not parsed or written again). Cost: the dump is parsed
in Python to be checked, in the node's process, so it grows with the chain's history (about 3.7 KB
per transaction in Anvil 1.7.1's format, traces included). An inconsistent dump is retried at once, a few times; if none is consistent, the
previous generation stays the newest (the chain it describes is older, and the node's write-ahead
log re-sends every acknowledged transaction it lacks, in order: see ``relayer/recovery.py``).
At start, the newest generation that passes ``check_dump`` is loaded (``latest_consistent``); a
torn or inconsistent file is skipped, never loaded.

A dump is self-consistent when (``check_dump``): its blocks run without a gap up to its best block;
every receipt is in one of those blocks and every transaction of those blocks has its receipt; and
every sending account's nonce in the state equals its highest transaction nonce in those blocks plus
one (an externally owned account with a nonce but no transaction there: only if the blocks do not
start at genesis, i.e. history was pruned). The state can then hold no transaction whose block and
logs are missing, and no block is ahead of the state. Not covered: nonces set with ``anvil_setNonce``
(a development control the node never uses) make a dump look inconsistent.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from .rpc import SyncRpc

log = logging.getLogger(__name__)

_GEN = re.compile(r"^gen-(\d{8})\.json$")


def _int(v: Any) -> int:
    return v if isinstance(v, int) else int(str(v), 0)


def check_dump(state: dict[str, Any]) -> str | None:
    """None when the dump is self-consistent (see the module doc), else what is wrong."""
    try:
        best = _int(state["best_block_number"])
        # a set: Anvil adds a new genesis block at each start from a dump, so block 0 may appear twice
        numbers = sorted({_int(b["header"]["number"]) for b in state["blocks"]})
        if not numbers or numbers[-1] != best or numbers != list(range(numbers[0], best + 1)):
            return f"its blocks ({numbers[:1]}..{numbers[-1:]}, {len(numbers)}) do not run without a gap to its best block {best}"
        in_blocks = sum(len(b.get("transactions") or []) for b in state["blocks"])
        receipts = state.get("transactions") or []
        above = [r for r in receipts if _int(r["block_number"]) > best]
        if above:
            return (f"it holds the receipt of {above[0]['info']['transaction_hash']} in block "
                    f"{_int(above[0]['block_number'])}, above its best block {best}")
        if len(receipts) != in_blocks:
            return f"its blocks hold {in_blocks} transactions but it has {len(receipts)} receipts"
        top: dict[str, int] = {}
        for r in receipts:
            sender = str(r["info"]["from"]).lower()
            top[sender] = max(top.get(sender, -1), _int(r["info"]["nonce"]))
        accounts = {str(a).lower(): v for a, v in state["accounts"].items()}
        for sender, nonce in top.items():
            held = _int(accounts.get(sender, {}).get("nonce", 0))
            if held != nonce + 1:
                return (f"account {sender} has nonce {held} in the state but its last transaction in the "
                        f"blocks has nonce {nonce} (the state is {'ahead of' if held > nonce + 1 else 'behind'} "
                        "the blocks)")
        if numbers[0] == 0:
            for addr, acct in accounts.items():
                code = acct.get("code") or "0x"
                if addr not in top and _int(acct.get("nonce", 0)) > 0 and code in ("0x", ""):
                    return f"account {addr} has nonce {_int(acct['nonce'])} but no transaction in the blocks"
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"it is not an Anvil state dump ({exc!r})"
    return None


def generations(folder: Path) -> list[Path]:
    """The generation files in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _GEN.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def read_dump(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return json.loads(path.read_bytes()), None
    except (OSError, ValueError) as exc:
        return None, f"unreadable ({exc.__class__.__name__}: {exc})"


def latest_consistent(folder: Path, legacy: Path | None = None) -> tuple[Path | None, list[str]]:
    """The newest generation (or else the legacy ``--state`` file) that passes ``check_dump``, and
    why each newer one was skipped."""
    skipped: list[str] = []
    for path in [*generations(folder), *([legacy] if legacy is not None and legacy.exists() else [])]:
        state, why = read_dump(path)
        why = why or check_dump(state or {})
        if why is None:
            return path, skipped
        skipped.append(f"{path.name}: {why}")
    return None, skipped


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateKeeper:
    """Takes consistent dumps of one Anvil every ``interval`` seconds into ``folder`` (a thread)."""

    def __init__(self, url: str, folder: Path, *, interval: float = 5.0, keep: int = 4, attempts: int = 8):
        self.url = url
        self.folder = folder
        self.interval = interval
        self.keep = max(2, keep)
        self.attempts = attempts
        self.written = 0
        self.inconsistent = 0
        self.last_best: int | None = None
        self._last_digest: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> "StateKeeper":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="anvil-state-keeper", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, final: bool) -> None:
        """Stops the thread; ``final``: takes one more consistent dump first (a clean stop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None
        if final:
            try:
                self.dump_consistent()
            except Exception as exc:  # noqa: BLE001 - a clean stop still stops
                log.warning("anvil state: the final dump failed: %s", exc)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.dump_consistent()
            except Exception as exc:  # noqa: BLE001 - the chain may be stopped or restarting
                log.debug("anvil state dump failed: %s", exc)

    def dump_consistent(self) -> Path | None:
        """One consistent generation written (or the same state as the last one): its path, or None
        when ``attempts`` dumps in a row were inconsistent (the previous generation stays)."""
        with self._lock:
            why = None
            for _ in range(self.attempts):
                if self._stop.is_set() and self._thread is not None:
                    return None
                with SyncRpc(self.url, timeout=60.0, retries=0) as rpc:
                    raw = rpc.call("anvil_dumpState", [])
                data = gzip.decompress(bytes.fromhex(str(raw)[2:]))
                gens = generations(self.folder)
                if hash(data) == self._last_digest and gens:
                    return gens[0]  # nothing changed since the last generation: not parsed again
                state = json.loads(data)
                why = check_dump(state)
                if why is None:
                    return self._write(data, _int(state["best_block_number"]))
                self.inconsistent += 1
                time.sleep(0.02)
            log.warning("anvil state: %d dumps in a row were inconsistent (last: %s); keeping the previous "
                        "generation", self.attempts, why)
            return None

    def _write(self, data: bytes, best: int) -> Path | None:
        digest = hash(data)
        gens = generations(self.folder)
        seq = int(_GEN.match(gens[0].name).group(1)) + 1 if gens else 1  # type: ignore[union-attr]
        path = self.folder / f"gen-{seq:08d}.json"
        _write_atomic(path, data)
        self._last_digest, self.last_best = digest, best
        self.written += 1
        for old in generations(self.folder)[self.keep:]:
            old.unlink(missing_ok=True)
        return path
