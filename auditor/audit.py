"""Discovery and replay: from a JSON-RPC URL and the registry address to a fully replayed ledger."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .abi import Decoder, function
from .replay import Ev, Replay
from .rpc import Rpc, RpcError

ProgressFn = Callable[[int, int, int], None]  # (blocks done, blocks total, events so far)


class AuditError(RuntimeError):
    pass


@dataclass
class Discovery:
    chain_id: int
    registry: str
    forwarder: str
    ledger: str
    mass: str
    certs: str
    deploy_block: int
    head: int
    head_ts: int

    def addresses(self) -> dict[str, str]:
        return {"registry": self.registry, "forwarder": self.forwarder, "ledger": self.ledger, "mass": self.mass,
                "certs": self.certs}


@dataclass
class Stats:
    logs: int = 0
    get_logs_calls: int = 0
    seconds_fetch: float = 0.0
    seconds_replay: float = 0.0
    seconds_views: float = 0.0
    views: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _call(rpc: Rpc, to: str, contract: str, name: str, *args: Any, block: str = "latest") -> Any:
    fn = function(contract, name, len(args))
    return fn.decode(rpc.call("eth_call", [{"to": to, "data": fn.encode(*args)}, block]))


def deployment_block(rpc: Rpc, address: str, head: int) -> int:
    """The first block at which `address` has code: binary search over eth_getCode (needs historical state);
    falls back to the block of the contract's first log, then to 0."""
    try:
        if rpc.call("eth_getCode", [address, hex(head)]) in ("0x", ""):
            raise AuditError(f"no contract at {address}")
        lo, hi = 0, head
        while lo < hi:
            mid = (lo + hi) // 2
            if rpc.call("eth_getCode", [address, hex(mid)]) not in ("0x", ""):
                hi = mid
            else:
                lo = mid + 1
        return lo
    except RpcError:
        logs = rpc.call("eth_getLogs", [{"address": address, "fromBlock": "0x0", "toBlock": hex(head)}])
        return int(logs[0]["blockNumber"], 16) if logs else 0


def discover(rpc: Rpc, registry: str, from_block: int | None = None) -> Discovery:
    registry = registry.lower()
    head_block = rpc.call("eth_getBlockByNumber", ["latest", False])
    head = int(head_block["number"], 16)
    chain_id = int(rpc.call("eth_chainId"), 16)
    # an address without code answers every eth_call with empty data: say so instead of failing to decode it
    if rpc.call("eth_getCode", [registry, hex(head)]) in ("0x", "", None):
        raise AuditError(f"no contract at {registry} on chain {chain_id} (block {head}): not a ParticipantRegistry")
    reg = "ParticipantRegistry"
    addrs = {}
    for name in ("forwarder", "batchLedger", "massBalance", "certificateRegistry"):
        try:
            addrs[name] = _call(rpc, registry, reg, name, block=hex(head)).lower()
        except RpcError as exc:
            raise AuditError(f"{registry} does not answer ParticipantRegistry.{name}(): {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - code that answers something else (eth_abi's decoding errors)
            raise AuditError(f"{registry} is not a ParticipantRegistry ({name}() answered no address)") from exc
    if int(addrs["batchLedger"], 16) == 0:
        raise AuditError("the registry has no linked contracts (linkContracts was never called)")
    start = deployment_block(rpc, registry, head) if from_block is None else from_block
    return Discovery(chain_id, registry, addrs["forwarder"], addrs["batchLedger"], addrs["massBalance"],
                     addrs["certificateRegistry"], start, head, int(head_block["timestamp"], 16))


def fetch_logs(rpc: Rpc, addresses: list[str], start: int, end: int, stats: Stats, chunk: int = 2000,
               progress: ProgressFn | None = None) -> Iterator[list[dict]]:
    """Raw logs of `addresses` in [start, end], in bounded ranges that shrink when the node refuses a range
    and grow while answers stay small."""
    frm = start
    total = max(1, end - start + 1)
    while frm <= end:
        to = min(end, frm + chunk - 1)
        t0 = time.perf_counter()
        try:
            logs = rpc.call("eth_getLogs", [{"address": addresses, "fromBlock": hex(frm), "toBlock": hex(to)}])
        except RpcError:
            if chunk == 1:
                raise
            chunk = max(1, chunk // 4)
            continue
        stats.get_logs_calls += 1
        stats.seconds_fetch += time.perf_counter() - t0
        stats.logs += len(logs)
        yield logs
        if progress:
            progress(to - start + 1, total, stats.logs)
        frm = to + 1
        if len(logs) < 5000 and chunk < 100_000:
            chunk *= 2
        elif len(logs) > 20000:
            chunk = max(1, chunk // 2)


def block_timestamps(rpc: Rpc, blocks: set[int]) -> dict[int, int]:
    order = sorted(blocks)
    res = rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in order])
    return {b: int(r["timestamp"], 16) for b, r in zip(order, res)}


class LogFeed:
    """Raw logs of the ledger's contracts -> decoded events -> the replay, one whole transaction at a time.
    What `replay` runs over a whole history, and what a follower of a live chain runs block by block."""

    def __init__(self, r: Replay, addresses: dict[str, str]):
        dec = Decoder()
        self.r = r
        self.by_addr = {addresses[c].lower(): (c, dec.by_contract[c]) for c in ("registry", "ledger", "mass", "certs")}
        self.pending: list[Ev] = []
        self.current_tx: str | None = None

    def add(self, logs: list[dict], stamps: dict[int, int] | None = None) -> list[Ev]:
        """Decodes `logs` (in chain order) and applies every transaction they complete; the last one waits
        for `flush` (its logs may continue in the next range). Returns the decoded events."""
        r, by_addr, pending, current_tx = self.r, self.by_addr, self.pending, self.current_tx
        out = []
        for lg in logs:
            if lg.get("removed"):
                continue
            c, specs = by_addr[lg["address"].lower()]
            topics = lg["topics"]
            spec = specs.get(topics[0]) if topics else None
            if spec is None:
                continue
            block = int(lg["blockNumber"], 16)
            ts = stamps[block] if stamps is not None else int(lg["blockTimestamp"], 16)
            tx = lg["transactionHash"]
            ev = Ev(spec.name, c, spec.decode(topics, lg["data"]), block, ts, tx, int(lg["logIndex"], 16))
            if tx != current_tx:
                if pending:
                    r.apply_tx(pending)
                pending = []
                current_tx = tx
            pending.append(ev)
            out.append(ev)
        self.pending, self.current_tx = pending, current_tx
        return out

    def flush(self) -> None:
        """Applies the transaction still waiting (at the end of a range that ends on a whole block)."""
        if self.pending:
            self.r.apply_tx(self.pending)
        self.pending = []


def replay(rpc: Rpc, d: Discovery, progress: ProgressFn | None = None, stats: Stats | None = None,
           to_block: int | None = None) -> Replay:
    stats = stats or Stats()
    r = Replay(d.chain_id, d.addresses())
    feed = LogFeed(r, d.addresses())
    # ERC-1271: a signer with code cannot be verified from logs; the replay asks which ones have code
    code_cache: dict[str, bool] = {}

    def has_code(address: str) -> bool:
        if address not in code_cache:
            code_cache[address] = rpc.call("eth_getCode", [address, "latest"]) not in ("0x", "")
        return code_cache[address]

    r.has_code = has_code
    end = d.head if to_block is None else to_block
    t_replay = 0.0
    for logs in fetch_logs(rpc, list(feed.by_addr), d.deploy_block, end, stats, progress=progress):
        t0 = time.perf_counter()
        if logs and "blockTimestamp" not in logs[0]:
            stamps = block_timestamps(rpc, {int(lg["blockNumber"], 16) for lg in logs})
        else:
            stamps = None
        feed.add(logs, stamps)
        t_replay += time.perf_counter() - t0
    t0 = time.perf_counter()
    feed.flush()
    r.finish()
    stats.seconds_replay = t_replay + time.perf_counter() - t0
    return r
