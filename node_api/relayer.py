"""The relayer: one key pays the gas for every wallet-signed action; the contracts never trust it.

Throughput and safety, in order:
- One nonce, kept locally: read once from the chain's pending count, then incremented under a
  lock by the single sender task. Re-read after a nonce error or a failed send.
- Write-ahead: each signed transaction (nonce, raw bytes, action, idempotency key) is committed to
  the database before it is sent, so after a crash the node knows exactly what it may have sent.
  On start, ``recover()`` re-attaches receipts of what was mined, keeps watching what is still in
  the pool, and rebroadcasts, in nonce order, what the chain never received.
- Batching: everything queued while a send is in flight goes out as one JSON-RPC array of
  ``eth_sendRawTransaction``; receipts are polled as one array per new block.
- A transaction that vanishes (dropped from the pool) is rebroadcast unchanged after
  ``rebroadcast_after`` seconds; if its nonce was taken meanwhile (the relayer key used elsewhere),
  the same action is signed again with a fresh nonce, and the old transaction's status links to
  the new one (``replaced`` -> ``replacedBy``).
- A send rejected for another reason leaves a nonce gap; the relayer fills it with a zero-value
  transaction to itself so the transactions behind it are not stuck.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

import rlp
from eth_utils import to_checksum_address

from .core.abi import decode_revert
from .core.rpc import ChainUnavailable, Rpc, RpcError
from .core.txsign import TxSigner
from .db import Database
from .errors import jsonable

log = logging.getLogger(__name__)


class RelayError(Exception):
    def __init__(self, message: str, *, unavailable: bool = False):
        super().__init__(message)
        self.unavailable = unavailable


@dataclass
class RelayRequest:
    to: str
    data: bytes
    gas: int
    action: str
    signer: str | None = None
    op_key: str | None = None
    item: int | None = None
    replay: dict[str, Any] | None = None  # the call whose revert explains a failure (forwarded: inner call)
    #: ordering lane of the signed message's nonce ("fwd:<address>" / "ledger:<address>")
    lane: str | None = None


@dataclass
class TxHandle:
    request: RelayRequest
    sent: asyncio.Future = field(default=None)  # type: ignore[assignment]  # -> tx hash
    done: asyncio.Future = field(default=None)  # type: ignore[assignment]  # -> outcome dict
    nonce: int = -1
    hash: str = ""
    raw: bytes = b""
    sent_at: float = 0.0
    #: earlier transactions of this request that never made it (their rows link to the new one)
    replaced: list[str] = field(default_factory=list)


def _is_nonce_too_low(err: RpcError) -> bool:
    m = err.message.lower()
    return "nonce too low" in m or "nonce is too low" in m or "oldnonce" in m.replace(" ", "")


def _is_nonce_taken(err: RpcError) -> bool:
    """The nonce is used by another transaction, mined (too low) or waiting in the pool (a replacement)."""
    m = err.message.lower()
    return _is_nonce_too_low(err) or "replacement transaction underpriced" in m or "replacement fee too low" in m


def _is_known(err: RpcError) -> bool:
    m = err.message.lower()
    return "already known" in m or "known transaction" in m or "already imported" in m


class Relayer:
    def __init__(
        self,
        rpc: Rpc,
        db: Database,
        signer: TxSigner,
        *,
        gas_price: int | None = None,
        zero_gas_price: bool = False,
        poll_interval: float = 0.02,
        batch_size: int = 200,
        rebroadcast_after: float = 10.0,
        confirmations: int = 0,
        outcome_hook: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.rpc = rpc
        self.db = db
        self.signer = signer
        self.address = signer.address
        self.zero_gas_price = zero_gas_price
        self._fixed_gas_price = gas_price
        self.gas_price = 0 if zero_gas_price else (gas_price or 0)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.rebroadcast_after = rebroadcast_after
        self.confirmations = confirmations
        self.outcome_hook = outcome_hook
        self.nonce: int | None = None
        self.lock = asyncio.Lock()
        self._needs_resync = True
        self._queue: asyncio.Queue[TxHandle] = asyncio.Queue()
        self._pending: dict[str, TxHandle] = {}
        self._inflight: dict[str, int] = defaultdict(int)
        self._progress: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task] = []
        self._last_block = -1
        self._last_gas_price_at = 0.0
        self.stats = {"sent": 0, "mined": 0, "reverted": 0, "rebroadcast": 0, "resyncs": 0, "fillers": 0, "resigned": 0}

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.recover()
        self._tasks = [asyncio.create_task(self._sender()), asyncio.create_task(self._watcher())]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._tasks = []

    # ------------------------------------------------------------------ API
    def submit(self, request: RelayRequest) -> TxHandle:
        loop = asyncio.get_running_loop()
        h = TxHandle(request, loop.create_future(), loop.create_future())
        h.sent.add_done_callback(_consume_exc)
        h.done.add_done_callback(_consume_exc)
        if request.lane:
            self._inflight[request.lane] += 1
        self._queue.put_nowait(h)
        return h

    def inflight(self, lane: str) -> int:
        return self._inflight.get(lane, 0)

    async def wait_progress(self, lane: str, timeout: float) -> None:
        """Returns when a transaction of ``lane`` settles, or after ``timeout``."""
        ev = self._progress.get(lane)
        if ev is None:
            ev = self._progress[lane] = asyncio.Event()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize() + len(self._pending)

    # ------------------------------------------------------------------ nonce
    async def _resync(self) -> None:
        count = await self.rpc.call_direct("eth_getTransactionCount", [self.address, "pending"])
        self.nonce = int(count, 16)
        self._needs_resync = False
        self.stats["resyncs"] += 1
        log.info("relayer %s nonce synced to %d", self.address, self.nonce)

    async def _refresh_gas_price(self) -> None:
        if self.zero_gas_price or self._fixed_gas_price:
            return
        now = time.monotonic()
        if now - self._last_gas_price_at < 5.0 and self.gas_price:
            return
        price = int(await self.rpc.call_direct("eth_gasPrice"), 16)
        self.gas_price = max(price * 2, 1)
        self._last_gas_price_at = now

    # ------------------------------------------------------------------ sending
    async def _sender(self) -> None:
        while True:
            first = await self._queue.get()
            items = [first]
            while len(items) < self.batch_size and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                await self._send_batch(items)
            except asyncio.CancelledError:
                for h in items:
                    _fail(h, RelayError("node stopping", unavailable=True))
                raise
            except Exception as exc:  # noqa: BLE001 - never let the sender die
                log.exception("relayer send failed")
                for h in items:
                    self._settle_inflight(h)
                    _fail(h, RelayError(f"relayer error: {exc}"))

    async def _send_batch(self, items: list[TxHandle]) -> None:
        try:
            async with self.lock:
                if self._needs_resync or self.nonce is None:
                    await self._resync()
                await self._refresh_gas_price()
                assert self.nonce is not None
                for h in items:
                    if h.hash:  # signed again: the earlier transaction was refused or lost its nonce
                        h.replaced.append(h.hash)
                    h.nonce = self.nonce
                    self.nonce += 1
                    h.raw, h.hash = self.signer.sign(
                        nonce=h.nonce, gas_price=self.gas_price, gas=h.request.gas, to=h.request.to, data=h.request.data
                    )
        except ChainUnavailable as exc:
            self._needs_resync = True
            for h in items:
                self._settle_inflight(h)
                _fail(h, RelayError(str(exc), unavailable=True))
            return
        # write-ahead: on disk before it can reach the chain
        self.db.insert_txs(
            {
                "hash": h.hash,
                "nonce": h.nonce,
                "raw": h.raw.hex(),
                "status": "signed",
                "action": h.request.action,
                "signer": h.request.signer,
                "op_key": h.request.op_key,
                "item": h.request.item,
                "replay": json.dumps(h.request.replay) if h.request.replay else None,
            }
            for h in items
        )
        self.db.update_txs(
            (old, {"status": "replaced", "error": json.dumps({"name": "Replaced", "replacedBy": h.hash,
                                                              "message": f"sent again as {h.hash}"})})
            for h in items for old in h.replaced
        )
        for h in items:
            h.replaced.clear()
        try:
            results = await self.rpc.batch([("eth_sendRawTransaction", ["0x" + h.raw.hex()]) for h in items])
        except ChainUnavailable as exc:
            if not exc.sent:
                # Certainly not received: nothing happened. Free the nonces and say so.
                self._needs_resync = True
                self.db.update_txs((h.hash, {"status": "abandoned"}) for h in items)
                for h in items:
                    self._settle_inflight(h)
                    _fail(h, RelayError(str(exc), unavailable=True))
                return
            # Ambiguous (timeout after sending): treat as sent; the watcher rebroadcasts if unknown.
            results = [h.hash for h in items]
        now = time.monotonic()
        updates: list[tuple[str, dict[str, Any]]] = []
        retry: list[TxHandle] = []
        fillers: list[int] = []
        for h, res in zip(items, results):
            if isinstance(res, RpcError) and not _is_known(res):
                if _is_nonce_too_low(res):
                    self._needs_resync = True
                    updates.append((h.hash, {"status": "replaced"}))
                    retry.append(h)
                    continue
                updates.append((h.hash, {"status": "abandoned", "error": json.dumps({"name": "SendRejected", "message": res.message})}))
                fillers.append(h.nonce)
                self._settle_inflight(h)
                _fail(h, RelayError(f"the chain refused the transaction: {res.message}"))
                continue
            h.sent_at = now
            updates.append((h.hash, {"status": "sent"}))
            self._pending[h.hash] = h
            self.stats["sent"] += 1
            if not h.sent.done():
                h.sent.set_result(h.hash)
        self.db.update_txs(updates)
        for nonce in fillers:
            await self._fill(nonce)
        for h in retry:  # re-signed with a fresh nonce in the next round
            self._queue.put_nowait(h)

    async def _fill(self, nonce: int) -> None:
        raw, tx_hash = self.signer.sign(nonce=nonce, gas_price=self.gas_price, gas=21_000, to=self.address, data=b"")
        try:
            await self.rpc.call_direct("eth_sendRawTransaction", ["0x" + raw.hex()])
            self.stats["fillers"] += 1
        except (RpcError, ChainUnavailable) as exc:
            log.warning("could not fill nonce gap %d: %s; resyncing", nonce, exc)
            self._needs_resync = True

    def _settle_inflight(self, h: TxHandle) -> None:
        s = h.request.lane
        if s:
            self._inflight[s] -= 1
            if self._inflight[s] <= 0:
                self._inflight.pop(s, None)
            ev = self._progress.pop(s, None)
            if ev is not None:
                ev.set()

    # ------------------------------------------------------------------ receipts
    async def _watcher(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            if not self._pending:
                continue
            try:
                await self._poll()
            except ChainUnavailable:
                await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("receipt polling failed")
                await asyncio.sleep(0.5)

    async def _poll(self) -> None:
        bn = int(await self.rpc.call_direct("eth_blockNumber"), 16)
        now = time.monotonic()
        stale = [h for h in self._pending.values() if now - h.sent_at > self.rebroadcast_after]
        if bn == self._last_block and not stale:
            return
        self._last_block = bn
        hashes = list(self._pending)
        receipts = await self.rpc.batch([("eth_getTransactionReceipt", [x]) for x in hashes])
        updates: list[tuple[str, dict[str, Any]]] = []
        settled: list[tuple[TxHandle, dict[str, Any]]] = []
        for tx_hash, rcpt in zip(hashes, receipts):
            if not isinstance(rcpt, dict) or not rcpt.get("blockNumber"):
                continue
            block = int(rcpt["blockNumber"], 16)
            if self.confirmations and bn < block + self.confirmations:
                continue
            h = self._pending.pop(tx_hash)
            outcome = await self._outcome(h.request, tx_hash, rcpt)
            updates.append((tx_hash, _db_outcome(outcome)))
            settled.append((h, outcome))
        if updates:
            self.db.update_txs(updates)
        for h, outcome in settled:
            self.stats["mined" if outcome["status"] == "mined" else "reverted"] += 1
            self._settle_inflight(h)
            if self.outcome_hook:
                self.outcome_hook(outcome)
            if not h.done.done():
                h.done.set_result(outcome)
        for h in stale:
            if h.hash in self._pending:
                await self._check_dropped(h)

    async def _check_dropped(self, h: TxHandle) -> None:
        known = await self.rpc.call_direct("eth_getTransactionByHash", [h.hash])
        h.sent_at = time.monotonic()
        if known:
            return
        try:
            await self.rpc.call_direct("eth_sendRawTransaction", ["0x" + h.raw.hex()])
            self.stats["rebroadcast"] += 1
            log.warning("rebroadcast dropped transaction %s (nonce %d)", h.hash, h.nonce)
        except RpcError as exc:
            if _is_known(exc):
                return
            self._pending.pop(h.hash, None)
            self._needs_resync = True
            if _is_nonce_taken(exc):
                # Another transaction has its relayer nonce, and this one is not on chain (it was
                # not found by hash): the action has not executed. Sign it again with a fresh nonce;
                # the signed message's own nonce still guarantees it executes at most once.
                log.warning("dropped transaction %s lost its nonce %d; sending the action again", h.hash, h.nonce)
                self.db.update_txs([(h.hash, {"status": "replaced", "error": json.dumps(
                    {"name": "Replaced", "message": f"dropped, nonce {h.nonce} taken: {exc.message}"})})])
                self.stats["resigned"] += 1
                self._queue.put_nowait(h)
                return
            self.db.update_txs([(h.hash, {"status": "dropped", "error": json.dumps({"name": "Dropped", "message": exc.message})})])
            self._settle_inflight(h)
            _fail(h, RelayError(f"transaction {h.hash} was dropped: {exc.message}"))

    async def _outcome(self, req: RelayRequest, tx_hash: str, rcpt: dict[str, Any]) -> dict[str, Any]:
        status = int(rcpt.get("status", "0x1"), 16)
        outcome: dict[str, Any] = {
            "txHash": tx_hash,
            "action": req.action,
            "signer": req.signer,
            "status": "mined" if status == 1 else "reverted",
            "blockNumber": int(rcpt["blockNumber"], 16),
            "gasUsed": int(rcpt.get("gasUsed", "0x0"), 16),
            "logs": [
                {"address": lg["address"], "topics": lg["topics"], "data": lg["data"]} for lg in rcpt.get("logs", [])
            ],
        }
        if status != 1:
            outcome["error"] = await self._revert_reason(tx_hash, req.replay, outcome["blockNumber"])
        return outcome

    async def _revert_reason(self, tx_hash: str, replay: dict[str, Any] | None, block: int) -> dict[str, Any]:
        """Why a mined transaction reverted, decoded.

        Exact: the revert data of the failing call frame from ``debug_traceTransaction`` (callTracer),
        so a transaction that conflicts with an earlier one *in the same block* reports the error it
        actually hit. Where the chain has no debug API: re-run the call that explains it on the state
        before its block and, if that passes (the conflict came from within the block), on the
        state after it."""
        try:
            trace = await self.rpc.call_direct("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        except (RpcError, ChainUnavailable):
            trace = None
        if isinstance(trace, dict) and trace.get("error"):
            name, args = _frame_revert(trace)
            return {"name": name, "args": jsonable(args)}
        for at in (block - 1, block):
            reason = await self._replay(replay, max(at, 0))
            if reason["name"]:
                return reason
        return {"name": "", "args": {}}

    async def _replay(self, replay: dict[str, Any] | None, block: int) -> dict[str, Any]:
        """Re-run the call that explains a revert on the state of ``block``, and decode it."""
        if not replay:
            return {"name": "", "args": {}}
        try:
            await self.rpc.call_direct("eth_call", [replay, hex(block)])
        except RpcError as exc:
            name, args = decode_revert(exc.revert_data or b"")
            return {"name": name, "args": jsonable(args)}
        except ChainUnavailable:
            pass
        return {"name": "", "args": {}}

    # ------------------------------------------------------------------ crash recovery
    async def recover(self) -> None:
        """Bring the write-ahead log in line with the chain (see module docstring)."""
        rows = self.db.unresolved_txs()
        if not rows:
            return
        receipts = await self.rpc.batch([("eth_getTransactionReceipt", [r["hash"]]) for r in rows])
        known = await self.rpc.batch([("eth_getTransactionByHash", [r["hash"]]) for r in rows])
        updates: list[tuple[str, dict[str, Any]]] = []
        loop = asyncio.get_running_loop()
        rebroadcast: list[dict[str, Any]] = []
        for row, rcpt, tx in zip(rows, receipts, known):
            to, data, gas = _call_of(bytes.fromhex(row["raw"]))  # to sign it again if its nonce is lost
            req = RelayRequest(
                to=to, data=data, gas=gas, action=row["action"], signer=row["signer"], op_key=row["op_key"],
                item=row["item"], replay=json.loads(row["replay"]) if row["replay"] else None,
            )
            if isinstance(rcpt, dict) and rcpt.get("blockNumber"):
                outcome = await self._outcome(req, row["hash"], rcpt)
                updates.append((row["hash"], _db_outcome(outcome)))
                continue
            h = TxHandle(req, loop.create_future(), loop.create_future(), nonce=row["nonce"], hash=row["hash"],
                         raw=bytes.fromhex(row["raw"]), sent_at=time.monotonic())
            h.done.add_done_callback(_consume_exc)
            h.sent.set_result(h.hash)
            if isinstance(tx, dict):
                self._pending[h.hash] = h
                updates.append((row["hash"], {"status": "sent"}))
            else:
                rebroadcast.append({"row": row, "handle": h})
        self.db.update_txs(updates)
        updates = []
        for item in rebroadcast:  # nonce order
            row, h = item["row"], item["handle"]
            try:
                await self.rpc.call_direct("eth_sendRawTransaction", ["0x" + row["raw"]])
                self._pending[h.hash] = h
                updates.append((row["hash"], {"status": "sent"}))
                self.stats["rebroadcast"] += 1
            except RpcError as exc:
                if _is_known(exc):
                    self._pending[h.hash] = h
                    continue
                updates.append((row["hash"], {"status": "abandoned", "error": json.dumps({"name": "SendRejected", "message": exc.message})}))
        self.db.update_txs(updates)
        self._needs_resync = True
        log.info("relayer recovery: %d unresolved, %d rebroadcast", len(rows), len(rebroadcast))


#: errors that only say "the call inside failed": the failing inner frame says why
_WRAPPERS = {"", "FailedCall"}


def _frame_revert(frame: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The decoded revert of a failed callTracer frame: its own revert data, unless that only wraps
    the failure of a call it made (the forwarder's FailedCall, or no data), then the last failed
    inner call's."""
    name, args = decode_revert(frame.get("output") or b"")
    if name in _WRAPPERS:
        for child in reversed(frame.get("calls") or []):
            if child.get("error"):
                inner = _frame_revert(child)
                if inner[0]:
                    return inner
                break
    return name, args


def _call_of(raw: bytes) -> tuple[str, bytes, int]:
    """(to, data, gas) of a legacy transaction signed by core.txsign."""
    fields = rlp.decode(raw)
    return to_checksum_address(fields[3]), bytes(fields[5]), int.from_bytes(fields[2], "big")


def _db_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": outcome["status"],
        "block_number": outcome["blockNumber"],
        "gas_used": outcome["gasUsed"],
        "logs": json.dumps(outcome["logs"]),
    }
    if "error" in outcome:
        values["error"] = json.dumps(outcome["error"])
    return values



def _fail(h: TxHandle, exc: Exception) -> None:
    for fut in (h.sent, h.done):
        if fut is not None and not fut.done():
            fut.set_exception(exc)


def _consume_exc(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()
