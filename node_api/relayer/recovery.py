"""Crash recovery: bring the write-ahead log in line with the chain before sending anything new.

Every transaction the relayer signed is in the database before it was sent. Two steps, on start and
whenever the chain guard sees the chain go back (``reconcile``, then ``recover``):

``reconcile`` - the chain came back behind the log (the embedded chain restarted from a state file
older than its last blocks, or a reorganisation). The relayer's transactions are one sequence of
nonces, so the relayer's nonce on chain says exactly which of them the chain still has:
- every logged transaction from that nonce on (mined, sent or only signed) is sent again, the same
  signed bytes, in nonce order. The chain is the same instance (same genesis; the chain guard
  refuses any other), so the same actions execute in the same order and create the same ids; a gap
  in the log (a nonce the relayer used outside its log) is filled with a zero-value transaction to
  itself, recorded like any other;
- a recorded receipt in a block the chain no longer has, for a transaction below that nonce, is
  looked up again: found, its new block is recorded; not found (its nonce went to another
  transaction), the transaction is ``lost``, with the reason.
Until its new receipt arrives, a transaction sent again answers ``pending``, never ``mined``.

``recover`` - transactions left signed or sent when the node stopped: the receipts of what was mined
are attached, what is still in the pool is watched, what the chain never received is rebroadcast in
nonce order.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.rpc import Rpc, RpcError
from ..db import Database
from .receipts import Receipts, call_of, db_outcome
from .requests import RelayRequest, TxHandle, is_known

log = logging.getLogger(__name__)

#: how many blocks below the head a recorded receipt is checked against the canonical block hash
VERIFY_DEPTH = 64
#: the columns of an outcome, cleared when a transaction is sent again
_CLEARED = {"block_number": None, "block_hash": None, "gas_used": None, "logs": None, "error": None}

#: signs a zero-value transaction of the relayer to itself: nonce -> (raw, hash)
Filler = Callable[[int], tuple[bytes, str]]


@dataclass
class Recovered:
    #: transactions to watch for a receipt, by hash
    pending: dict[str, TxHandle] = field(default_factory=dict)
    rebroadcast: int = 0
    #: transactions of the log that were neither mined nor given up when the node stopped
    unresolved: int = 0
    #: transactions sent again into a chain that came back behind (reconcile)
    resent: int = 0
    #: acknowledged transactions whose block left the chain, found mined in another block (the
    #: chain itself took them again, e.g. geth re-queues the transactions of a dropped block)
    moved: int = 0
    #: transactions whose nonce went to another transaction: marked ``lost``
    lost: int = 0
    fillers: int = 0


def request_of(row: dict[str, Any]) -> RelayRequest:
    to, data, gas = call_of(bytes.fromhex(row["raw"]))  # to sign it again if its nonce is lost
    return RelayRequest(
        to=to, data=data, gas=gas, action=row["action"], signer=row["signer"], op_key=row["op_key"],
        item=row["item"], replay=json.loads(row["replay"]) if row["replay"] else None,
    )


def handle_of(row: dict[str, Any]) -> TxHandle:
    h = TxHandle.new(request_of(row), nonce=row["nonce"], hash=row["hash"], raw=bytes.fromhex(row["raw"]),
                     sent_at=time.monotonic())
    h.sent.set_result(h.hash)
    return h


def lost_error(message: str) -> str:
    return json.dumps({"name": "Lost", "message": message})


async def reconcile(rpc: Rpc, db: Database, receipts: Receipts, address: str, filler: Filler,
                    out: Recovered | None = None) -> Recovered:
    """Give a chain that came back behind the relayer's log every transaction it lost (see above)."""
    out = out or Recovered()
    count, head = await rpc.batch([("eth_getTransactionCount", [address, "latest"]), ("eth_blockNumber", [])])
    if isinstance(count, RpcError) or isinstance(head, RpcError):
        raise RuntimeError(f"reconcile: the chain did not answer: {count} {head}")
    chain_nonce, head = int(count, 16), int(head, 16)
    await _verify_settled(rpc, db, receipts, chain_nonce, head, out)
    rows = db.live_txs_from_nonce(chain_nonce)
    if not rows:
        return out
    by_nonce: dict[int, dict[str, Any]] = {}
    for r in rows:  # the latest row of a nonce is the one that counts
        by_nonce[r["nonce"]] = r
    resend: list[dict[str, Any]] = []
    for nonce in range(chain_nonce, max(by_nonce) + 1):
        row = by_nonce.get(nonce)
        if row is None:  # a nonce the relayer used outside its log: fill it, recorded
            raw, tx_hash = filler(nonce)
            row = {"hash": tx_hash, "nonce": nonce, "raw": raw.hex(), "status": "signed", "action": "filler",
                   "signer": None, "op_key": None, "item": None, "replay": None}
            db.insert_txs([dict(row)], ignore_existing=True)
            out.fillers += 1
        resend.append(row)
    results = await rpc.batch([("eth_sendRawTransaction", ["0x" + r["raw"]]) for r in resend])
    updates: list[tuple[str, dict[str, Any]]] = []
    for row, res in zip(resend, results):
        if isinstance(res, RpcError) and not is_known(res):
            # the chain refuses the very bytes it accepted before: cannot be given again
            updates.append((row["hash"], {**_CLEARED, "status": "lost", "error": lost_error(
                f"the chain came back without this transaction and refused it again: {res.message}")}))
            out.lost += 1
            continue
        if row["status"] in ("mined", "reverted"):
            out.resent += 1
        updates.append((row["hash"], {**_CLEARED, "status": "sent"}))
        out.pending[row["hash"]] = handle_of(row)
    db.update_txs(updates)
    if out.resent or out.fillers or out.lost:
        log.warning("relayer reconcile: chain at nonce %d, head %d: %d acknowledged transactions sent again, "
                    "%d fillers, %d lost", chain_nonce, head, out.resent, out.fillers, out.lost)
    return out


async def _verify_settled(rpc: Rpc, db: Database, receipts: Receipts, chain_nonce: int, head: int,
                          out: Recovered) -> None:
    """Recorded receipts near or above the head, checked against the chain's blocks now."""
    rows = [r for r in db.settled_txs_since(max(head - VERIFY_DEPTH, 0)) if r["nonce"] < chain_nonce]
    if not rows:
        return
    numbers = sorted({r["block_number"] for r in rows if r["block_number"] is not None and r["block_number"] <= head})
    blocks = await rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
    canonical = {n: (b.get("hash") if isinstance(b, dict) else None) for n, b in zip(numbers, blocks)}
    doubtful = [r for r in rows if r["block_number"] > head or not r["block_hash"]
                or canonical.get(r["block_number"]) != r["block_hash"]]
    if not doubtful:
        return
    found = await rpc.batch([("eth_getTransactionReceipt", [r["hash"]]) for r in doubtful])
    updates: list[tuple[str, dict[str, Any]]] = []
    for row, rcpt in zip(doubtful, found):
        if isinstance(rcpt, dict) and rcpt.get("blockNumber"):
            outcome = await receipts.outcome(request_of(row), row["hash"], rcpt)
            updates.append((row["hash"], db_outcome(outcome)))
            if row["block_hash"] and rcpt.get("blockHash") != row["block_hash"]:
                out.moved += 1
        else:
            updates.append((row["hash"], {**_CLEARED, "status": "lost", "error": lost_error(
                f"its block is no longer on the chain and its relayer nonce {row['nonce']} "
                "was used by another transaction")}))
            out.lost += 1
    db.update_txs(updates)


async def recover(rpc: Rpc, db: Database, receipts: Receipts, address: str | None = None,
                  filler: Filler | None = None) -> Recovered:
    out = Recovered()
    if address is not None and filler is not None:
        await reconcile(rpc, db, receipts, address, filler, out)
    rows = db.unresolved_txs()
    out.unresolved = len(rows)
    if not rows:
        return out
    found = await rpc.batch([("eth_getTransactionReceipt", [r["hash"]]) for r in rows])
    known = await rpc.batch([("eth_getTransactionByHash", [r["hash"]]) for r in rows])
    updates: list[tuple[str, dict[str, Any]]] = []
    missing: list[tuple[dict[str, Any], TxHandle]] = []
    for row, rcpt, tx in zip(rows, found, known):
        if isinstance(rcpt, dict) and rcpt.get("blockNumber"):
            out.pending.pop(row["hash"], None)
            outcome = await receipts.outcome(request_of(row), row["hash"], rcpt)
            updates.append((row["hash"], db_outcome(outcome)))
            continue
        h = out.pending.get(row["hash"]) or handle_of(row)
        if isinstance(tx, dict):
            out.pending[h.hash] = h
            updates.append((row["hash"], {"status": "sent"}))
        else:
            missing.append((row, h))
    db.update_txs(updates)
    updates = []
    for row, h in missing:  # nonce order
        try:
            await rpc.call_direct("eth_sendRawTransaction", ["0x" + row["raw"]])
            out.pending[h.hash] = h
            updates.append((row["hash"], {"status": "sent"}))
            out.rebroadcast += 1
        except RpcError as exc:
            if is_known(exc):
                out.pending[h.hash] = h
                continue
            out.pending.pop(h.hash, None)
            updates.append((row["hash"], {"status": "abandoned",
                                          "error": json.dumps({"name": "SendRejected", "message": exc.message})}))
    db.update_txs(updates)
    log.info("relayer recovery: %d unresolved, %d rebroadcast", len(rows), len(missing))
    return out
