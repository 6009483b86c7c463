"""The node's own database (SQLAlchemy; SQLite file in the data dir by default).

Three tables:
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
    create_engine,
    event,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine

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


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Database:
    def __init__(self, url: str):
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _rec: Any) -> None:  # noqa: ANN401
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
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
    def insert_txs(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        now = time.time()
        for r in rows:
            r.setdefault("created_at", now)
            r.setdefault("updated_at", now)
        with self.engine.begin() as conn:
            conn.execute(transactions.insert(), rows)

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
