"""The node's own database (SQLAlchemy; SQLite file in the data dir by default).

Four tables:
- ``transactions``: every relayed transaction, written *before* it is sent (write-ahead: nonce, raw
  bytes, the action and the client's idempotency key), then updated with its outcome. After a crash
  the node rebroadcasts what the chain never saw and re-attaches receipts to what it did.
- ``operations``: the response of every acknowledged request that carried an ``Idempotency-Key``,
  so a retry gets the same answer instead of a second execution. Keyed by the scoped key (caller,
  endpoint and the client's key, hashed: services/idempotency.py); ``scope`` and ``client_key`` say
  which. A database of an older node (operations without these columns, keyed by the client's key
  alone) is migrated at start: the columns are added, the old global keys stay but never match a
  scoped key again.
- ``api_keys``: API keys (SHA-256 only) bound to a participant wallet, for "sign for me" calls.
- ``chain_meta``: the chain instance the data folder belongs to (genesis hash, deployment block and
  its hash), checked at every start (``services/chain_guard.py``).

A transaction's status is one of: signed, sent, mined, reverted, abandoned, replaced, dropped, and
``lost`` (it was acknowledged or sent on a chain instance that no longer has it and cannot be sent
again: the chain was reset; the reason is in ``error``).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Iterable

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine

from .core.database import make_engine

metadata = MetaData()

transactions = Table(
    "transactions",
    metadata,
    Column("hash", String(66), primary_key=True),
    Column("nonce", Integer, nullable=False, index=True),
    Column("raw", Text, nullable=False),
    #: signed (written, maybe not sent) / sent / mined / reverted / abandoned / replaced
    Column("status", String(16), nullable=False, index=True),
    Column("action", String(64), nullable=False),
    Column("signer", String(42)),
    Column("op_key", String(200), index=True),
    Column("item", Integer),
    Column("replay", Text),  # JSON {"from","to","data"} of the call whose revert explains a failure
    Column("block_number", Integer),
    Column("block_hash", String(66)),  # the receipt's block: a "mined" answer is checked against it
    Column("gas_used", Integer),
    Column("error", Text),  # JSON {"name","args"}
    Column("logs", Text),  # JSON list of raw logs
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

operations = Table(
    "operations",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("scope", String(200)),
    Column("client_key", String(200)),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("address", String(42), nullable=False, index=True),
    Column("label", String(200)),
    Column("created_at", Float, nullable=False),
)


chain_meta = Table(
    "chain_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

#: statuses of a transaction that is, or may still get, a nonce on the current chain
LIVE_STATUSES = ("signed", "sent", "mined", "reverted")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine: Engine = make_engine(url)
        metadata.create_all(self.engine)
        self._migrate()

    def _migrate(self) -> None:
        """Adds the columns a database written by an older node lacks (nullable: old rows keep NULL)."""
        insp = inspect(self.engine)
        for table in metadata.sorted_tables:
            have = {c["name"] for c in insp.get_columns(table.name)}
            missing = [c for c in table.columns if c.name not in have]
            if not missing:
                continue
            with self.engine.begin() as conn:
                for col in missing:
                    assert col.nullable, f"{table.name}.{col.name}: a new column must be nullable"
                    ddl = col.type.compile(dialect=self.engine.dialect)
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" {ddl}'))

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ transactions
    def insert_txs(self, rows: Iterable[dict[str, Any]], *, ignore_existing: bool = False) -> None:
        """Inserts transaction rows; ``ignore_existing``: a row whose hash is recorded is left as it
        is (a filler signed again for the same nonce has the same hash)."""
        rows = list(rows)
        if not rows:
            return
        now = time.time()
        for r in rows:
            r.setdefault("created_at", now)
            r.setdefault("updated_at", now)
        with self.engine.begin() as conn:
            stmt = transactions.insert()
            if ignore_existing:
                stmt = stmt.prefix_with("OR IGNORE", dialect="sqlite")
            conn.execute(stmt, rows)

    def update_txs(self, updates: Iterable[tuple[str, dict[str, Any]]]) -> None:
        updates = list(updates)
        if not updates:
            return
        now = time.time()
        with self.engine.begin() as conn:
            for h, values in updates:
                conn.execute(update(transactions).where(transactions.c.hash == h).values(updated_at=now, **values))

    def tx(self, tx_hash: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(transactions).where(transactions.c.hash == tx_hash.lower())).mappings().first()
        return dict(row) if row else None

    def txs_for_op(self, op_key: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(transactions).where(transactions.c.op_key == op_key).order_by(transactions.c.item)
            ).mappings().all()
        return [dict(r) for r in rows]

    def unresolved_txs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(transactions)
                .where(transactions.c.status.in_(("signed", "sent")))
                .order_by(transactions.c.nonce)
            ).mappings().all()
        return [dict(r) for r in rows]

    def live_txs_from_nonce(self, nonce: int) -> list[dict[str, Any]]:
        """Transactions with a relayer nonce >= ``nonce`` that are, or were, meant to be on chain
        (the ones a chain that came back behind must be given again), in nonce order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(transactions)
                .where(transactions.c.nonce >= nonce, transactions.c.status.in_(LIVE_STATUSES))
                .order_by(transactions.c.nonce, transactions.c.updated_at)
            ).mappings().all()
        return [dict(r) for r in rows]

    def max_live_nonce(self) -> int | None:
        """The highest relayer nonce of a transaction that is, or was meant to be, on chain."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.max(transactions.c.nonce)).where(transactions.c.status.in_(LIVE_STATUSES))
            ).scalar_one_or_none()

    def settled_txs_since(self, block: int) -> list[dict[str, Any]]:
        """Mined or reverted transactions recorded in a block >= ``block``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(transactions)
                .where(transactions.c.block_number >= block, transactions.c.status.in_(("mined", "reverted")))
                .order_by(transactions.c.nonce)
            ).mappings().all()
        return [dict(r) for r in rows]

    def mark_all_lost(self, reason: str) -> int:
        """Every transaction that is, or was meant to be, on chain becomes ``lost`` (the chain
        instance they belong to is gone); returns how many."""
        lost = json.dumps({"name": "Lost", "message": reason})
        with self.engine.begin() as conn:
            res = conn.execute(
                update(transactions).where(transactions.c.status.in_(LIVE_STATUSES))
                .values(status="lost", error=lost, logs=None, updated_at=time.time())
            )
        return int(res.rowcount or 0)

    # ------------------------------------------------------------------ chain identity
    def meta(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(select(chain_meta.c.key, chain_meta.c.value))}

    def set_meta(self, values: dict[str, str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(chain_meta.delete().where(chain_meta.c.key.in_(list(values))))
            conn.execute(chain_meta.insert(), [{"key": k, "value": v} for k, v in values.items()])

    # ------------------------------------------------------------------ idempotency
    def operation(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(operations).where(operations.c.key == key)).mappings().first()
        return dict(row) if row else None

    def save_operation(self, key: str, request_hash: str, status_code: int, response: Any, *,
                       scope: str | None = None, client_key: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                operations.insert().prefix_with("OR REPLACE") if self.url.startswith("sqlite") else operations.insert(),
                {
                    "key": key,
                    "request_hash": request_hash,
                    "status_code": status_code,
                    "response": json.dumps(response),
                    "created_at": time.time(),
                    "scope": scope,
                    "client_key": client_key,
                },
            )

    def delete_operation(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(operations.delete().where(operations.c.key == key))

    # ------------------------------------------------------------------ API keys
    def add_api_key(self, key: str, address: str, label: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert(),
                {"key_hash": hash_key(key), "address": address, "label": label, "created_at": time.time()},
            )

    def api_key_address(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys.c.address).where(api_keys.c.key_hash == hash_key(key))).first()
        return row[0] if row else None
