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
  transaction to itself (recorded like any other) so the transactions behind it are not stuck.
- A chain that came back behind the log (``reconcile``, called by the chain guard) is given every
  logged transaction it lost, in nonce order, before anything new is sent; a chain of another
  instance halts the relayer (``halt``): nothing is sent or rebroadcast to it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

from ..core.rpc import ChainUnavailable, Rpc, RpcError
from ..core.txsign import TxSigner
from ..db import Database
from .batching import ItemLog, Packer, item_rows, member_outcomes
from .fees import GWEI, FeePolicy, Fees, Spend
from .lanes import Lane, LaneTracker
from .receipts import Receipts, db_outcome
from .recovery import Recovered, reconcile, recover
from .requests import Carrier, RelayError, RelayRequest, TxHandle, is_known, is_nonce_taken, is_nonce_too_low

log = logging.getLogger(__name__)
#: most bytes of signed transactions in one JSON-RPC array of sends
MAX_ARRAY_BYTES = 256 * 1024


class Relayer:
    def __init__(
        self,
        rpc: Rpc,
        db: Database,
        signer: TxSigner,
        *,
        gas_price: int | None = None,
        zero_gas_price: bool = False,
        max_fee_per_gas: int = 500 * GWEI,
        fee_refresh_seconds: float = 2.0,
        poll_interval: float = 0.02,
        batch_size: int = 200,
        rebroadcast_after: float = 10.0,
        confirmations: int = 0,
        outcome_hook: Callable[[dict[str, Any]], None] | None = None,
        max_queue: int = 50_000,
    ):
        self.rpc = rpc
        self.db = db
        self.signer = signer
        self.address = signer.address
        self.zero_gas_price = zero_gas_price
        # priced by the chain's fee market below a cap (fees.py); never a multiple of the last price
        self.fees = FeePolicy(rpc, cap=max_fee_per_gas, zero=zero_gas_price, fixed=gas_price,
                              refresh_seconds=fee_refresh_seconds)
        self.spend = Spend()
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.rebroadcast_after = rebroadcast_after
        self.confirmations = confirmations
        self.outcome_hook = outcome_hook
        self.nonce: int | None = None
        self.lock = asyncio.Lock()
        #: held from signing to sending, and while reconciling: nothing new reaches a chain being repaired
        self.send_lock = asyncio.Lock()
        #: why the relayer refuses to send (the chain is not the instance the node belongs to)
        self.halted: str | None = None
        self._needs_resync = True
        self._queue: asyncio.Queue[TxHandle] = asyncio.Queue()
        self._pending: dict[str, TxHandle] = {}
        self._first_sent: dict[str, float] = {}
        self.lanes = LaneTracker()
        self.receipts = Receipts(rpc)
        self._tasks: list[asyncio.Task] = []
        self._last_block = -1
        #: (number, hash) of the highest block a receipt was recorded in: the chain guard checks it
        self.last_receipt: tuple[int, str] | None = None
        #: most requests queued or in flight; beyond it ``submit`` refuses (the API answers 429)
        self.max_queue = max_queue
        #: RelayBatch carriers (batching.py); None until ``use_batcher``: every request goes alone
        self.packer: Packer | None = None
        self.items = ItemLog(db.engine)
        self._members = 0
        self._pending_members: set[str] = set()
        self.stats = {"sent": 0, "mined": 0, "reverted": 0, "rebroadcast": 0, "resyncs": 0, "fillers": 0, "resigned": 0, "resent": 0, "moved": 0}

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
    def use_batcher(self, address: str, *, max_items: int, max_gas: int) -> None:
        """Carry batchable requests queued together in RelayBatch transactions at ``address``."""
        self.packer = Packer(address, max_items=max_items, max_gas=max_gas)

    def submit(self, request: RelayRequest) -> TxHandle:
        h = TxHandle.new(request)
        if self.queue_depth >= self.max_queue:
            h.fail(RelayError(f"the relayer has {self.queue_depth} actions queued or in flight (at most "
                              f"{self.max_queue}): retry shortly", busy=True))
            return h
        if self.halted:
            h.fail(RelayError(f"the relayer is halted: {self.halted}", unavailable=True))
            return h
        self.lanes.add(request.lane)
        self._queue.put_nowait(h)
        return h

    def halt(self, reason: str) -> None:
        """Send nothing more, rebroadcast nothing (the chain is not this node's chain instance)."""
        if self.halted is None:
            log.error("relayer halted: %s", reason)
        self.halted = reason

    def inflight(self, lane: Lane) -> int:
        return self.lanes.inflight(lane)

    async def wait_progress(self, lane: Lane, timeout: float) -> None:
        """Returns when a transaction of ``lane`` settles, or after ``timeout``."""
        await self.lanes.wait_progress(lane, timeout)

    @property
    def queue_depth(self) -> int:
        """Requests queued or sent and not mined (each item of a carrier counts)."""
        return self._queue.qsize() + len(self._pending) + self._members

    def pending_ages(self) -> list[tuple[str, float]]:
        """(hash, seconds since sent) of every transaction sent and not yet mined (for /health)."""
        now = time.monotonic()
        first = self._first_sent
        for gone in [x for x in first if x not in self._pending]:
            del first[gone]
        return [(x, now - first.setdefault(x, h.sent_at)) for x, h in list(self._pending.items())]

    # ------------------------------------------------------------------ nonce
    async def _resync(self) -> None:
        """The local nonce from the chain's pending count; never below the log: a chain behind the
        log (it came back without some of the relayer's transactions) is first given them again, in
        nonce order, so nothing new takes a lost transaction's place. Called with ``send_lock`` held."""
        count = int(await self.rpc.call_direct("eth_getTransactionCount", [self.address, "pending"]), 16)
        logged = self.db.max_live_nonce()
        if logged is not None and count <= logged:
            log.warning("relayer: the chain's nonce %d is behind the log (%d): re-sending", count, logged)
            self._apply(await reconcile(self.rpc, self.db, self.receipts, self.address, self._filler))
            count = int(await self.rpc.call_direct("eth_getTransactionCount", [self.address, "pending"]), 16)
        self.nonce = count
        self._needs_resync = False
        self.stats["resyncs"] += 1
        log.info("relayer %s nonce synced to %d", self.address, self.nonce)

    @property
    def gas_price(self) -> int:
        """The most the next transactions pay per gas (maxFeePerGas, or the legacy gas price)."""
        return self.fees.current.max_fee

    def _sign(self, fees: Fees, *, nonce: int, gas: int, to: str, data: bytes) -> tuple[bytes, str]:
        return self.signer.sign(nonce=nonce, gas_price=fees.max_fee, priority_fee=fees.priority_fee,
                                gas=gas, to=to, data=data)

    # ------------------------------------------------------------------ sending
    async def _sender(self) -> None:
        while True:
            first = await self._queue.get()
            items = [first]
            while len(items) < self.batch_size * (self.packer.max_items if self.packer else 1) \
                    and not self._queue.empty():
                items.append(self._queue.get_nowait())
            if self.packer is not None:
                items = self.packer.pack(items)
            try:
                if self.halted:
                    raise RelayError(f"the relayer is halted: {self.halted}", unavailable=True)
                async with self.send_lock:
                    await self._send_batch(items)
            except RelayError as exc:
                for h in items:
                    self._settle_inflight(h)
                    h.fail(exc)
            except asyncio.CancelledError:
                for h in items:
                    h.fail(RelayError("node stopping", unavailable=True))
                raise
            except Exception as exc:  # noqa: BLE001 - never let the sender die
                log.exception("relayer send failed")
                for h in items:
                    self._settle_inflight(h)
                    h.fail(RelayError(f"relayer error: {exc}"))

    async def _send_batch(self, items: list[TxHandle]) -> None:
        try:
            async with self.lock:
                if self._needs_resync or self.nonce is None:
                    await self._resync()
                fees = await self.fees.refresh()
                assert self.nonce is not None
                for h in items:
                    if h.hash:  # signed again: the earlier transaction was refused or lost its nonce
                        h.replaced.append(h.hash)
                    h.nonce = self.nonce
                    self.nonce += 1
                    h.raw, h.hash = self._sign(fees, nonce=h.nonce, gas=h.request.gas, to=h.request.to,
                                               data=h.request.data)
        except ChainUnavailable as exc:
            self._needs_resync = True
            for h in items:
                self._settle_inflight(h)
                h.fail(RelayError(str(exc), unavailable=True))
            return
        # write-ahead: on disk before it can reach the chain (a carrier's items first: see batching.py)
        self.items.insert(row for h in items if isinstance(h, Carrier) for row in item_rows(h))
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
            results = await self._send_raws(items)
        except ChainUnavailable as exc:
            if not exc.sent:
                # Certainly not received: nothing happened. Free the nonces and say so.
                self._needs_resync = True
                self.db.update_txs((h.hash, {"status": "abandoned"}) for h in items)
                for h in items:
                    self._settle_inflight(h)
                    h.fail(RelayError(str(exc), unavailable=True))
                return
            # Ambiguous (timeout after sending): treat as sent; the watcher rebroadcasts if unknown.
            results = [h.hash for h in items]
        now = time.monotonic()
        updates: list[tuple[str, dict[str, Any]]] = []
        retry: list[TxHandle] = []
        fillers: list[int] = []
        for h, res in zip(items, results):
            if isinstance(res, RpcError) and not is_known(res):
                if is_nonce_too_low(res):
                    self._needs_resync = True
                    updates.append((h.hash, {"status": "replaced"}))
                    retry.append(h)
                    continue
                updates.append((h.hash, {"status": "abandoned", "error": json.dumps({"name": "SendRejected", "message": res.message})}))
                fillers.append(h.nonce)
                self._settle_inflight(h)
                h.fail(RelayError(f"the chain refused the transaction: {res.message}"))
                continue
            h.sent_at = now
            updates.append((h.hash, {"status": "sent"}))
            self._pending[h.hash] = h
            self._first_sent[h.hash] = now  # sent_at moves on each rebroadcast check; this does not
            self.stats["sent"] += 1
            if isinstance(h, Carrier) and h.hash not in self._pending_members:
                self._pending_members.add(h.hash)
                self._members += len(h.members) - 1
            h.mark_sent()
        self.db.update_txs(updates)
        for nonce in fillers:
            await self._fill(nonce)
        for h in retry:  # re-signed with a fresh nonce in the next round
            self._queue.put_nowait(h)

    async def _send_raws(self, items: list[TxHandle]) -> list[Any]:
        """``eth_sendRawTransaction`` of every item, in arrays of at most ``MAX_ARRAY_BYTES`` (carriers
        are large: a chain answers an oversized array with one error and no reply per request)."""
        results: list[Any] = []
        chunk: list[TxHandle] = []
        size = 0
        for h in items + [None]:  # type: ignore[list-item]
            if h is None or (chunk and size + len(h.raw) > MAX_ARRAY_BYTES):
                try:
                    results += await self.rpc.batch([("eth_sendRawTransaction", ["0x" + x.raw.hex()]) for x in chunk])
                except ChainUnavailable:
                    if not results:
                        raise  # nothing of this round was sent
                    # earlier arrays were sent: these count as sent (the watcher rebroadcasts them if unknown)
                    results += [x.hash for x in chunk]
                chunk, size = [], 0
            if h is not None:
                chunk.append(h)
                size += len(h.raw)
        return results

    def _filler(self, nonce: int) -> tuple[bytes, str]:
        """A zero-value transaction to itself that closes a nonce gap, priced like any other."""
        return self._sign(self.fees.current, nonce=nonce, gas=21_000, to=self.address, data=b"")

    async def _fill(self, nonce: int) -> None:
        raw, tx_hash = self._filler(nonce)
        self.db.insert_txs([{"hash": tx_hash, "nonce": nonce, "raw": raw.hex(), "status": "sent", "action": "filler"}],
                          ignore_existing=True)
        try:
            await self.rpc.call_direct("eth_sendRawTransaction", ["0x" + raw.hex()])
            self.stats["fillers"] += 1
        except (RpcError, ChainUnavailable) as exc:
            log.warning("could not fill nonce gap %d: %s; resyncing", nonce, exc)
            self._needs_resync = True

    def _settle_inflight(self, h: TxHandle) -> None:
        for lane in h.lanes:
            self.lanes.settle(lane)
        if isinstance(h, Carrier) and h.hash in self._pending_members:
            self._pending_members.discard(h.hash)
            self._members -= len(h.members) - 1

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
            self.spend.record(rcpt)
            if isinstance(h, Carrier):  # the spend is counted per action: a carrier carries several
                self.spend.count += len(h.members) - 1
            outcome = await self.receipts.outcome(h.request, tx_hash, rcpt)
            if outcome.get("blockHash") and (self.last_receipt is None or block >= self.last_receipt[0]):
                self.last_receipt = (block, outcome["blockHash"])
            updates.append((tx_hash, db_outcome(outcome)))
            settled.append((h, outcome))
        if updates:
            self.db.update_txs(updates)
        for h, outcome in settled:
            self.stats["mined" if outcome["status"] == "mined" else "reverted"] += 1
            self._settle_inflight(h)
            if self.outcome_hook:
                self.outcome_hook(outcome)
            if isinstance(h, Carrier) and self.packer is not None:
                parts = member_outcomes(self.packer.batcher, outcome, h.members)
                self.items.settle(h.hash, parts)
                for m, part in zip(h.members, parts):
                    if not m.done.done():
                        m.done.set_result(part)
            if not h.done.done():
                h.done.set_result(outcome)
        for h in stale:
            if h.hash in self._pending:
                await self._check_dropped(h)

    async def _check_dropped(self, h: TxHandle) -> None:
        if self.halted:
            return
        known = await self.rpc.call_direct("eth_getTransactionByHash", [h.hash])
        h.sent_at = time.monotonic()
        if known:
            return
        try:
            await self.rpc.call_direct("eth_sendRawTransaction", ["0x" + h.raw.hex()])
            self.stats["rebroadcast"] += 1
            log.warning("rebroadcast dropped transaction %s (nonce %d)", h.hash, h.nonce)
        except RpcError as exc:
            if is_known(exc):
                return
            self._pending.pop(h.hash, None)
            self._needs_resync = True
            if is_nonce_taken(exc):
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
            h.fail(RelayError(f"transaction {h.hash} was dropped: {exc.message}"))

    # ------------------------------------------------------------------ crash recovery
    async def recover(self) -> None:
        """Bring the write-ahead log in line with the chain (see recovery.py)."""
        async with self.send_lock:
            recovered = await recover(self.rpc, self.db, self.receipts, self.address, self._filler)
        if recovered.unresolved or recovered.pending:
            self._pending.update(recovered.pending)
            self.stats["rebroadcast"] += recovered.rebroadcast
            self.stats["resent"] += recovered.resent
            self.stats["moved"] += recovered.moved
            self._needs_resync = True

    async def reconcile(self) -> Recovered:
        """The chain came back behind what the relayer saw: give it every logged transaction it lost,
        in nonce order, before anything new is sent (see recovery.py)."""
        async with self.send_lock:
            await self.fees.refresh()
            out = await reconcile(self.rpc, self.db, self.receipts, self.address, self._filler)
            self._apply(out)
        return out

    def _apply(self, out: Recovered) -> None:
        """Watch what a reconcile sent again; fail the callers of what it found lost."""
        for tx_hash, h in out.pending.items():
            old = self._pending.get(tx_hash)
            if old is not None:
                old.sent_at = time.monotonic()
            else:
                self._pending[tx_hash] = h
        for tx_hash in [x for x in self._pending if x not in out.pending]:
            row = self.db.tx(tx_hash)
            if row is not None and row["status"] == "lost":
                h = self._pending.pop(tx_hash)
                self._settle_inflight(h)
                h.fail(RelayError(f"transaction {tx_hash} was lost: the chain came back without it"))
        self.stats["resent"] += out.resent
        self.stats["moved"] += out.moved
        self._needs_resync = True
        self._last_block = -1
