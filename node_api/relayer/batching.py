"""Many signed actions in one transaction: the relayer's RelayBatch carriers.

Requests marked ``batchable`` (a call of the ledger's signed custody entry points or of the
forwarder's ``execute``) that are items of a ``/bulk`` upload and are queued together go out as one ``RelayBatch.run(items)``
transaction (contracts/batching/RelayBatch.sol): one base fee for many, and storage warm across
items. Each item runs in its own call frame; the contract emits ``ItemRun(index, ok, reason)``
after each item's own events, so a receipt splits into one outcome per item: its logs, and its
decoded revert reason when it failed (the others stand).

Write-ahead: the carrier is one transaction of the relayer's log like any other (the same row,
the same recovery); which request each item was is kept beside it in ``relay_items`` (carrier
hash, index, the request's action, signer, idempotency key, bulk item), written before the carrier
row, so after a restart an upload's items are found by their idempotency key.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, select, update

from ..core.abi import decode_revert
from ..errors import jsonable
from .requests import Carrier, RelayRequest, TxHandle

RUN_SELECTOR = keccak(text="run(bytes[])")[:4]
CHECK_SELECTOR = keccak(text="check(bytes[])")[:4]
ITEM_RUN_TOPIC = "0x" + keccak(text="ItemRun(uint256,bool,bytes)").hex()
#: gas of the carrier itself on top of its items' (base cost, loop, per-item event and calldata)
CARRIER_GAS = 40_000
ITEM_OVERHEAD_GAS = 8_000

metadata = MetaData()
relay_items = Table(
    "relay_items",
    metadata,
    Column("tx_hash", String(66), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("action", String(64), nullable=False),
    Column("signer", String(42)),
    Column("op_key", String(200), index=True),
    Column("item", Integer),
    #: the item's own outcome once its carrier is mined: ok / failed (None: not settled yet)
    Column("status", String(16)),
    Column("error", Text),
    Column("created_at", Float),
)


def encode_run(calls: list[bytes]) -> bytes:
    return RUN_SELECTOR + abi_encode(["bytes[]"], [calls])


def encode_check(calls: list[bytes]) -> bytes:
    return CHECK_SELECTOR + abi_encode(["bytes[]"], [calls])


def decode_check(result: str) -> list[tuple[bool, bytes, int]]:
    ok, reasons, gas = abi_decode(["bool[]", "bytes[]", "uint256[]"], bytes.fromhex(result[2:]))
    return list(zip(ok, reasons, gas))


class Packer:
    """Turns the queued handles of one send round into carriers (and plain transactions)."""

    def __init__(self, batcher: str, *, max_items: int, max_gas: int):
        self.batcher = batcher
        self.max_items = max_items
        self.max_gas = max_gas

    def pack(self, handles: list[TxHandle]) -> list[TxHandle]:
        out: list[TxHandle] = []
        group: list[TxHandle] = []
        gas = CARRIER_GAS

        def flush() -> None:
            nonlocal group, gas
            if group:
                out.append(self.carrier(group))
            group, gas = [], CARRIER_GAS

        for h in handles:
            # interactive actions (no bulk item) keep a transaction each: their own hash and status
            if not h.request.batchable or h.request.item is None or h.hash or isinstance(h, Carrier):
                flush()
                out.append(h)
                continue
            need = h.request.gas + ITEM_OVERHEAD_GAS
            if group and (len(group) >= self.max_items or gas + need > self.max_gas):
                flush()
            group.append(h)
            gas += need
        flush()
        return out

    def carrier(self, members: list[TxHandle]) -> Carrier:
        gas = CARRIER_GAS + sum(m.request.gas + ITEM_OVERHEAD_GAS for m in members)
        req = RelayRequest(to=self.batcher, data=encode_run([m.request.data for m in members]), gas=gas,
                           action="batch")
        return Carrier.new(req, members=members)


def item_rows(c: Carrier) -> list[dict[str, Any]]:
    now = time.time()
    return [{"tx_hash": c.hash, "idx": i, "action": m.request.action, "signer": m.request.signer,
             "op_key": m.request.op_key, "item": m.request.item, "created_at": now}
            for i, m in enumerate(c.members)]


def split_logs(batcher: str, logs: list[dict[str, Any]]) -> dict[int, tuple[bool, bytes, list[dict[str, Any]]]]:
    """index -> (ok, revert data, the item's own logs) from a carrier's receipt logs."""
    out: dict[int, tuple[bool, bytes, list[dict[str, Any]]]] = {}
    own: list[dict[str, Any]] = []
    for lg in logs:
        topics = lg.get("topics") or []
        if lg["address"].lower() == batcher.lower() and topics and topics[0] == ITEM_RUN_TOPIC:
            ok, reason = abi_decode(["bool", "bytes"], bytes.fromhex(lg["data"][2:]))
            out[int(topics[1], 16)] = (bool(ok), bytes(reason), own)
            own = []
        elif lg["address"].lower() != batcher.lower():
            own.append(lg)
    return out


def item_error(reason: bytes) -> dict[str, Any]:
    name, args = decode_revert(reason)
    return {"name": name, "args": jsonable(args)}


def member_outcomes(batcher: str, carrier_outcome: dict[str, Any], members: list[TxHandle]) -> list[dict[str, Any]]:
    """Each member's outcome: the carrier's block and hash, its own logs and status."""
    items = split_logs(batcher, carrier_outcome.get("logs") or [])
    out = []
    for i, m in enumerate(members):
        o = {k: v for k, v in carrier_outcome.items() if k not in ("logs", "error")}
        o.update(action=m.request.action, signer=m.request.signer, batchIndex=i, batchSize=len(members))
        if carrier_outcome["status"] != "mined":
            o.update(status="reverted", logs=[], error=carrier_outcome.get("error") or {"name": "", "args": {}})
        elif i not in items:
            o.update(status="reverted", logs=[], error={"name": "BatchItemNotRun", "args": {"index": i}})
        else:
            ok, reason, logs = items[i]
            o.update(status="mined" if ok else "reverted", logs=logs)
            if not ok:
                o["error"] = item_error(reason)
        out.append(o)
    return out


class ItemLog:
    """The ``relay_items`` table in the node's database."""

    def __init__(self, engine: Any):
        self.engine = engine
        metadata.create_all(engine)

    def insert(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if rows:
            with self.engine.begin() as conn:
                conn.execute(relay_items.insert().prefix_with("OR IGNORE", dialect="sqlite"), rows)

    def settle(self, tx_hash: str, outcomes: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            for i, o in enumerate(outcomes):
                conn.execute(update(relay_items).where(relay_items.c.tx_hash == tx_hash, relay_items.c.idx == i)
                             .values(status="ok" if o["status"] == "mined" else "failed",
                                     error=json.dumps(o["error"]) if o.get("error") else None))

    def for_op(self, op_key: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(relay_items).where(relay_items.c.op_key == op_key)
                                .order_by(relay_items.c.created_at)).mappings().all()
        return [dict(r) for r in rows]

    def for_tx(self, tx_hash: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(relay_items).where(relay_items.c.tx_hash == tx_hash.lower())
                                .order_by(relay_items.c.idx)).mappings().all()
        return [dict(r) for r in rows]
