"""Crash recovery: bring the write-ahead log in line with the chain before sending anything new.

Every transaction the relayer signed is in the database before it was sent. On start, those not
settled are looked up on the chain: the receipts of what was mined are attached, what is still in the
pool is watched, and what the chain never received is rebroadcast in nonce order.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ..core.rpc import Rpc, RpcError
from ..db import Database
from .receipts import Receipts, call_of, db_outcome
from .requests import RelayRequest, TxHandle, is_known

log = logging.getLogger(__name__)


@dataclass
class Recovered:
    #: transactions to watch for a receipt, by hash
    pending: dict[str, TxHandle] = field(default_factory=dict)
    rebroadcast: int = 0
    #: transactions of the log that were neither mined nor given up when the node stopped
    unresolved: int = 0


async def recover(rpc: Rpc, db: Database, receipts: Receipts) -> Recovered:
    out = Recovered()
    rows = db.unresolved_txs()
    out.unresolved = len(rows)
    if not rows:
        return out
    found = await rpc.batch([("eth_getTransactionReceipt", [r["hash"]]) for r in rows])
    known = await rpc.batch([("eth_getTransactionByHash", [r["hash"]]) for r in rows])
    updates: list[tuple[str, dict[str, Any]]] = []
    missing: list[tuple[dict[str, Any], TxHandle]] = []
    for row, rcpt, tx in zip(rows, found, known):
        to, data, gas = call_of(bytes.fromhex(row["raw"]))  # to sign it again if its nonce is lost
        req = RelayRequest(
            to=to, data=data, gas=gas, action=row["action"], signer=row["signer"], op_key=row["op_key"],
            item=row["item"], replay=json.loads(row["replay"]) if row["replay"] else None,
        )
        if isinstance(rcpt, dict) and rcpt.get("blockNumber"):
            outcome = await receipts.outcome(req, row["hash"], rcpt)
            updates.append((row["hash"], db_outcome(outcome)))
            continue
        h = TxHandle.new(req, nonce=row["nonce"], hash=row["hash"], raw=bytes.fromhex(row["raw"]),
                         sent_at=time.monotonic())
        h.sent.set_result(h.hash)
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
            updates.append((row["hash"], {"status": "abandoned",
                                          "error": json.dumps({"name": "SendRejected", "message": exc.message})}))
    db.update_txs(updates)
    log.info("relayer recovery: %d unresolved, %d rebroadcast", len(rows), len(missing))
    return out
