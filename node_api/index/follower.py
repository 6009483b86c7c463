"""The event follower: chain logs -> index tables, resumable, bounded, confirmation-aware.

One loop: read ``eth_getLogs`` for the five contract addresses in bounded block ranges from the
last indexed block (or the deployment block) up to ``head - confirmations``; decode with the ABIs;
write each range and the new position in one database transaction. A crash at any point leaves the
index at the end of the last committed range, so a restart resumes exactly there. If the chain no
longer has the block the index ended on (a reorganisation, or an Anvil snapshot reverted), the
index is dropped and rebuilt from the deployment block: the chain is the source of truth.

Never an orphaned fact as final (issue 12, Clique reorgs): the index serves only blocks at least
``confirmations`` below the head, and a range is written only if its last block has the same hash
before and after its logs were read (a reorganisation, or a failover to an endpoint on another
branch, in between would otherwise mix two branches): if not, nothing is written and the range is
read again at the next pass. Since every block commits to its parent, an unchanged last block means
an unchanged range; a reorganisation deeper than ``confirmations`` later is caught by the position
check above (the index is rebuilt).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from node_api.core.abi import EventDecoder, build_decoders, topic0
from node_api.core.artifacts import load_artifacts
from node_api.core.rpc import ChainUnavailable, RangeTooLarge, RpcError, SyncRpc
from node_api.domain import CONTRACTS

from . import schema as t
from .store import RangeWriter

log = logging.getLogger(__name__)


def contract_abis(artifacts: Mapping[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    arts = artifacts if artifacts is not None else load_artifacts()
    missing = [n for n in CONTRACTS if n not in arts]
    if missing:
        raise RuntimeError(f"no compiled artifacts for {missing}: compile the contracts first")
    return {short: arts[full]["abi"] for full, short in CONTRACTS.items()}


def contracts_from_deployment(path: Path) -> tuple[dict[str, str], int]:
    """``({short name: address}, deployment block)`` from a deployment record
    (``<data_dir>/deployments/<chainId>.json`` written by node_api.core.deploy)."""
    data = json.loads(Path(path).read_text())
    return {CONTRACTS[k]: v for k, v in data["contracts"].items() if k in CONTRACTS}, int(data["block_number"])


def discover_from_registry(rpc: SyncRpc, registry: str, from_block: int = 0, abis: Mapping[str, list] | None = None) -> dict[str, str]:
    """The other contracts' addresses from the registry's ``ContractsLinked`` event (events only)."""
    abis = abis or contract_abis()
    item = next(i for i in abis["registry"] if i.get("type") == "event" and i["name"] == "ContractsLinked")
    logs = rpc.get_logs(from_block, rpc.block_number(), [registry], [topic0(item)])
    if not logs:
        raise RuntimeError(f"registry {registry} has not linked its contracts yet")
    dec = build_decoders({"registry": abis["registry"]}, {"registry": registry})[(registry.lower(), topic0(item))]
    a = dec.decode(logs[0]["topics"], logs[0]["data"])
    return {"registry": registry, "forwarder": a["forwarder"], "ledger": a["batchLedger"],
            "mass_balance": a["massBalance"], "certificates": a["certificateRegistry"]}


@dataclass
class FollowerStatus:
    chain_id: int | None = None
    last_indexed_block: int | None = None
    last_indexed_time: int | None = None
    chain_head: int | None = None
    chain_head_time: int | None = None
    safe_head: int | None = None
    confirmations: int = 0
    events_indexed: int = 0
    rebuilds: int = 0
    #: ranges read again because their last block changed while they were read (reorganisations)
    reorgs_seen: int = 0
    last_error: str | None = None
    #: the last indexed block is above the chain head or no longer canonical (rolled back)
    ahead: bool = False
    updated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        behind = None
        if self.safe_head is not None:
            behind = max(0, self.safe_head - (self.last_indexed_block if self.last_indexed_block is not None else -1))
        seconds = None
        if self.chain_head_time is not None and self.last_indexed_time is not None:
            seconds = max(0, self.chain_head_time - self.last_indexed_time)
        return {
            "chain_id": self.chain_id,
            "last_indexed_block": self.last_indexed_block,
            "chain_head": self.chain_head,
            "safe_head": self.safe_head,
            "confirmations": self.confirmations,
            "blocks_behind": behind,
            "blocks_behind_head": None if self.chain_head is None or self.last_indexed_block is None
            else self.chain_head - self.last_indexed_block,
            "seconds_behind": seconds,
            "events_indexed": self.events_indexed,
            "rebuilds": self.rebuilds,
            "last_error": self.last_error,
            "ahead_of_chain": self.ahead,
            "in_sync": behind == 0 and not self.ahead,
        }


class Follower:
    def __init__(
        self,
        engine: Engine,
        rpc: SyncRpc,
        contracts: Mapping[str, str],
        start_block: int,
        *,
        abis: Mapping[str, list] | None = None,
        confirmations: int = 0,
        max_range: int = 2000,
        poll_interval: float = 1.0,
    ):
        self.engine = engine
        self.rpc = rpc
        self.contracts = {k: v for k, v in contracts.items()}
        self.addresses = [a.lower() for a in self.contracts.values()]
        self.start_block = start_block
        self.confirmations = confirmations
        self.max_range = max_range
        self.range = max_range
        self.poll_interval = poll_interval
        self.decoders: dict[tuple[str, str], EventDecoder] = build_decoders(abis or contract_abis(), self.contracts)
        self.status = FollowerStatus(confirmations=confirmations)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # lag() found the index ahead of the chain: roll back now
        t.create_all(engine)

    # ------------------------------------------------------------------ position
    def _meta(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return t.read_meta(conn)

    def last_indexed(self) -> int | None:
        v = self._meta().get("last_block")
        return int(v) if v is not None else None

    def _write_meta(self, conn: Any, values: dict[str, Any]) -> None:
        t.write_meta(conn, values)

    def rebuild(self) -> None:
        """Drop every index table and start again from the deployment block."""
        with self._lock:
            self._rebuild()

    def _rebuild(self) -> None:
        t.drop_all(self.engine)
        t.create_all(self.engine)
        self.status.rebuilds += 1
        self.status.events_indexed = 0
        self.status.last_indexed_block = None
        self.status.last_indexed_time = None

    # ------------------------------------------------------------------ one pass
    def sync_once(self, until: int | None = None) -> int:
        """Index every range up to ``min(until, head - confirmations)``; returns events written."""
        with self._lock:
            return self._sync(until)

    def _sync(self, until: int | None) -> int:
        meta = self._meta()
        if meta and meta.get("schema_version") != str(t.SCHEMA_VERSION):
            log.warning("index written by schema version %s, this node uses %s: rebuilding it from the chain",
                        meta.get("schema_version"), t.SCHEMA_VERSION)
            self._rebuild()
            meta = self._meta()
        if "chain_id" not in meta:
            chain_id = self.rpc.chain_id()
            with self.engine.begin() as conn:
                self._write_meta(conn, {"chain_id": chain_id, "contracts": json.dumps(self.contracts),
                                        "start_block": self.start_block, "schema_version": t.SCHEMA_VERSION})
            meta = self._meta()
        self.status.chain_id = int(meta["chain_id"])
        last = int(meta["last_block"]) if "last_block" in meta else None
        if last is not None and not self._still_canonical(last, meta.get("last_block_hash")):
            self.status.ahead = True
            log.warning("block %d is no longer on the chain (reorg or reverted snapshot): rebuilding the index", last)
            self._rebuild()
            return self._sync(until)

        head_block = self.rpc.get_block_latest()
        head = int(head_block["number"], 16)
        self.status.chain_head = head
        self.status.chain_head_time = int(head_block["timestamp"], 16)
        safe = head - self.confirmations
        if until is not None:
            safe = min(safe, until)
        self.status.safe_head = head - self.confirmations
        written = 0
        nxt = self.start_block if last is None else last + 1
        while nxt <= safe and not self._stop.is_set():
            end = min(nxt + self.range - 1, safe)
            try:
                before = self.rpc.get_block(end)
                logs = self.rpc.get_logs(nxt, end, self.addresses)
            except RangeTooLarge:
                if self.range == 1:
                    raise
                self.range = max(1, self.range // 2)
                log.info("eth_getLogs range too large: now %d blocks", self.range)
                continue
            if before is None:
                break  # the endpoint does not have the block yet (a failover to a node behind)
            wrote = self._write_range(logs, end, before["hash"])
            if wrote is None:
                break  # the branch changed while reading: read the range again at the next pass
            written += wrote
            nxt = end + 1
            if self.range < self.max_range:
                self.range = min(self.max_range, self.range * 2)
        self.status.last_error = None
        self.status.ahead = False
        self.status.updated_at = time.time()
        return written

    def _still_canonical(self, number: int, stored_hash: str | None) -> bool:
        if stored_hash is None:
            return True
        block = self.rpc.get_block(number)
        return block is not None and block["hash"] == stored_hash

    def _write_range(self, logs: list[dict[str, Any]], end: int, end_hash: str | None = None) -> int | None:
        """Writes one range; None (nothing written) when block ``end`` is no longer ``end_hash``
        or a log of it names another block hash."""
        end_block = self.rpc.get_block(end)
        if end_block is None:
            raise RpcError(-32000, f"eth_getBlockByNumber: block {end} not found")
        if end_hash is not None and (end_block["hash"] != end_hash or any(
                int(lg["blockNumber"], 16) == end and lg.get("blockHash") not in (None, end_hash) for lg in logs)):
            self.status.reorgs_seen += 1
            log.warning("block %d changed while its range was read (a reorganisation): reading it again", end)
            return None
        times: dict[str, int] = {}
        missing = []
        for lg in logs:
            if lg.get("removed"):
                continue
            ts = lg.get("blockTimestamp")
            if ts is None:
                missing.append(lg["blockNumber"])
            else:
                times[lg["blockNumber"]] = int(ts, 16)
        if missing:
            times.update(self._block_times(sorted(set(missing) - times.keys())))
        w = RangeWriter()
        decoders = self.decoders
        for lg in logs:
            if lg.get("removed") or not lg["topics"]:
                continue
            dec = decoders.get((lg["address"].lower(), lg["topics"][0]))
            if dec is None:
                continue
            lg["_block"] = int(lg["blockNumber"], 16)
            lg["_log_index"] = int(lg["logIndex"], 16)
            lg["_time"] = times[lg["blockNumber"]]
            w.add(dec.contract, dec.name, dec.decode(lg["topics"], lg["data"]), lg)
        with self.engine.begin() as conn:
            w.flush(conn)
            self._write_meta(conn, {"last_block": end, "last_block_hash": end_block["hash"],
                                    "last_block_time": int(end_block["timestamp"], 16)})
        self.status.last_indexed_block = end
        self.status.last_indexed_time = int(end_block["timestamp"], 16)
        self.status.events_indexed += w.count
        return w.count

    def _block_times(self, numbers: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(numbers), 500):
            chunk = numbers[i:i + 500]
            blocks = self.rpc.batch([("eth_getBlockByNumber", [n, False]) for n in chunk])
            for n, b in zip(chunk, blocks):
                out[n] = int(b["timestamp"], 16)
        return out

    # ------------------------------------------------------------------ status
    def lag(self) -> dict[str, Any]:
        """How far behind the chain the index is, asking the chain for its head now."""
        try:
            meta = self._meta()
        except SQLAlchemyError:  # a rebuild dropped the tables a moment ago: nothing indexed yet
            meta = {}
        try:
            head_block = self.rpc.get_block_latest()
            self.status.chain_head = int(head_block["number"], 16)
            self.status.chain_head_time = int(head_block["timestamp"], 16)
            self.status.safe_head = self.status.chain_head - self.confirmations
        except (RpcError, ChainUnavailable) as exc:
            self.status.last_error = str(exc)
        if "last_block" in meta:
            self.status.last_indexed_block = int(meta["last_block"])
            self.status.last_indexed_time = int(meta["last_block_time"])
            try:
                if not self.status.ahead and self.ahead_of_chain(meta):
                    self.status.ahead = True
                    self._wake.set()  # the follower rolls back at once, not at its next poll
            except (RpcError, ChainUnavailable) as exc:
                self.status.last_error = str(exc)
        if "chain_id" in meta:
            self.status.chain_id = int(meta["chain_id"])
        return self.status.as_dict()

    def position(self) -> tuple[int | None, str | None]:
        """(last indexed block, its hash) as recorded (no chain call); (None, None) while a rebuild has
        dropped the tables."""
        try:
            meta = self._meta()
        except SQLAlchemyError:
            return None, None
        return (int(meta["last_block"]) if "last_block" in meta else None), meta.get("last_block_hash")

    def ahead_of_chain(self, meta: dict[str, str] | None = None) -> bool:
        """True when the index ends on a block the chain does not have (above its head, or replaced
        by a rollback/reorganisation): what it serves is no longer on the chain."""
        meta = meta if meta is not None else self._meta()
        if "last_block" not in meta:
            return False
        return not self._still_canonical(int(meta["last_block"]), meta.get("last_block_hash"))

    def wake(self) -> None:
        """Sync now instead of at the next poll (the index was found ahead of the chain)."""
        self._wake.set()

    # ------------------------------------------------------------------ background loop
    def start(self) -> "Follower":
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="coc-index-follower", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        backoff = self.poll_interval
        while not self._stop.is_set():
            try:
                self.sync_once()
                backoff = self.poll_interval
            except Exception as exc:  # noqa: BLE001 - keep following; report it in the status
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("index follower error: %s (retry in %.1fs)", exc, backoff)
                backoff = min(backoff * 2, 30.0)
                self._stop.wait(backoff)
                continue
            self._wake.wait(self.poll_interval)
            self._wake.clear()
