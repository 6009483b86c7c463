"""The index's tables (SQLAlchemy Core: bulk inserts without ORM overhead).

Everything here is derived from contract events only, so ``drop_all`` + a replay from the
deployment block rebuilds it exactly. Conventions: addresses lowercase hex, hashes 0x-hex,
quantities BigInteger (base units; the indexer refuses values above 2^63-1 rather than round),
times unix seconds of the block, every row that records a fact carries ``block_number``,
``log_index`` and ``tx_hash``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Connection, Engine

from node_api.core.database import make_engine as core_make_engine

metadata = MetaData()

#: Bumped whenever a table or a derived value changes: an index written by an older version is
#: dropped and rebuilt from the chain on the next sync (see ``Follower``).
SCHEMA_VERSION = 3  # 3: lineage computed at query time (idx_lineage retired)

#: A 64-bit primary key that is SQLite's rowid (one b-tree lookup instead of index + table).
RowId = BigInteger().with_variant(Integer, "sqlite")


def _fact() -> list[Column]:
    return [
        Column("block_number", BigInteger, nullable=False),
        Column("log_index", Integer, nullable=False),
        Column("tx_hash", String(66), nullable=False),
        Column("block_time", BigInteger, nullable=False),
    ]


meta = Table("idx_meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))
#: ``idx_meta`` key stamped anew by every range that writes reference data (participants, sites,
#: wallets, materials, schemes, characteristics, processes): what readers' caches are keyed by.
REFERENCE_VERSION = "reference_version"


def read_meta(conn: Connection) -> dict[str, str]:
    """Every ``idx_meta`` entry (a handful of small rows)."""
    return {r.key: r.value for r in conn.execute(meta.select())}


def write_meta(conn: Connection, values: dict[str, object]) -> None:
    for k, v in values.items():
        conn.execute(meta.delete().where(meta.c.key == k))
        conn.execute(meta.insert().values(key=k, value=str(v)))

#: Every decoded log, verbatim: the "every fact with its transaction" table.
events = Table(
    "idx_events",
    metadata,
    Column("block_number", BigInteger, primary_key=True),
    Column("log_index", Integer, primary_key=True),
    Column("tx_hash", String(66), nullable=False, index=True),
    Column("block_time", BigInteger, nullable=False),
    Column("contract", String(16), nullable=False),
    Column("name", String(48), nullable=False),
    Column("args", Text, nullable=False),
)

batches = Table(
    "idx_batches",
    metadata,
    Column("batch_id", RowId, primary_key=True, autoincrement=False),
    Column("kind", Integer, nullable=False),
    Column("material", Integer, nullable=False),
    Column("characteristic", Integer, nullable=False),
    Column("model", Integer, nullable=False),
    Column("share", Integer, nullable=False),
    Column("origin", BigInteger, nullable=False),
    Column("creator", Integer, nullable=False, index=True),
    Column("holder", String(42), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    *_fact(),
)

#: Lineage: one row per parent of a batch (what the recursive queries walk).
edges = Table(
    "idx_edges",
    metadata,
    Column("child_id", BigInteger, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("parent_id", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Index("ix_idx_edges_parent", "parent_id", "child_id"),
    sqlite_with_rowid=False,  # clustered by (child_id, position): a parent lookup reads one b-tree
)

origins = Table(
    "idx_origins",
    metadata,
    Column("batch_id", RowId, primary_key=True, autoincrement=False),
    Column("site_id", Integer, nullable=False),
    Column("certification_id", BigInteger, nullable=False),
    Column("geolocation_hash", String(66), nullable=False),
    Column("dds_reference", Text, nullable=False),
    Column("evidence_hash", String(66), nullable=False),
    Column("production_date", BigInteger, nullable=False),
    *_fact(),
)

transforms = Table(
    "idx_transforms",
    metadata,
    Column("output_batch_id", BigInteger, primary_key=True),
    Column("process_id", Integer, nullable=False),
    Column("input_quantity", BigInteger, nullable=False),
    Column("output_quantity", BigInteger, nullable=False),
    Column("loss", BigInteger, nullable=False),
    Column("credits_converted", BigInteger, nullable=False),
    Column("credits_produced", BigInteger, nullable=False),
    *_fact(),
)

consumptions = Table(
    "idx_consumptions",
    metadata,
    Column("batch_id", BigInteger, nullable=False, index=True),
    Column("holder", String(42), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("reason", Integer, nullable=False),
    Column("ref", String(66), nullable=False),
    *_fact(),
)

transfers = Table(
    "idx_transfers",
    metadata,
    Column("transfer_id", String(66), primary_key=True),
    Column("batch_id", BigInteger, nullable=False, index=True),
    Column("from_address", String(42), nullable=False, index=True),
    Column("to_address", String(42), nullable=False, index=True),
    Column("quantity", BigInteger, nullable=False),
    Column("certified_quantity", BigInteger, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("deadline", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("status", String(12), nullable=False),  # pending, accepted, rejected, cancelled
    Column("proposed_block", BigInteger, nullable=False),
    Column("proposed_log_index", Integer, nullable=False),
    Column("proposed_tx", String(66), nullable=False),
    Column("proposed_time", BigInteger, nullable=False),
    Column("settled_block", BigInteger),
    Column("settled_log_index", Integer),
    Column("settled_tx", String(66)),
    Column("settled_time", BigInteger),
    Column("settle_deadline", Text),
    Column("settle_signature", Text),
)

#: ERC-1155 TransferSingle/TransferBatch of both token contracts, one row per id (balances, holders).
token_moves = Table(
    "idx_token_moves",
    metadata,
    Column("contract", String(16), primary_key=True),
    Column("block_number", BigInteger, primary_key=True),
    Column("log_index", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("tx_hash", String(66), nullable=False),
    Column("block_time", BigInteger, nullable=False),
    Column("operator", String(42), nullable=False),
    Column("from_address", String(42), nullable=False),
    Column("to_address", String(42), nullable=False),
    Column("token_id", BigInteger, nullable=False),
    Column("value", BigInteger, nullable=False),
    Index("ix_idx_moves_to", "contract", "to_address", "token_id"),
    Index("ix_idx_moves_from", "contract", "from_address", "token_id"),
    Index("ix_idx_moves_token", "contract", "token_id"),
)

participants = Table(
    "idx_participants",
    metadata,
    Column("participant_id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("roles", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    *_fact(),
)

sites = Table(
    "idx_sites",
    metadata,
    Column("site_id", Integer, primary_key=True),
    Column("participant_id", Integer, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("location_ref", String(66), nullable=False),
    *_fact(),
)

wallets = Table(
    "idx_wallets",
    metadata,
    Column("address", String(42), primary_key=True),
    Column("added_block", BigInteger, primary_key=True),
    Column("added_log_index", Integer, primary_key=True),
    Column("participant_id", Integer, nullable=False, index=True),
    Column("site_id", Integer, nullable=False),
    Column("removed_block", BigInteger),
    Column("tx_hash", String(66), nullable=False),
)

materials = Table(
    "idx_materials",
    metadata,
    Column("material", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("unit", Text, nullable=False),
    Column("material_group", Integer, nullable=False),
    Column("waste", Boolean, nullable=False),
)

schemes = Table(
    "idx_schemes",
    metadata,
    Column("scheme", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("period_length", BigInteger, nullable=False),
    Column("anchor", BigInteger, nullable=False),
    Column("lapse_after_periods", Integer, nullable=False),
)

characteristics = Table(
    "idx_characteristics",
    metadata,
    Column("characteristic", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("scheme", Integer, nullable=False),
)

processes = Table(
    "idx_processes",
    metadata,
    Column("process_id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("input_material", Integer, nullable=False),
    Column("output_material", Integer, nullable=False),
    Column("factor", Integer, nullable=False),
    Column("tolerance", Integer, nullable=False),
)

certifications = Table(
    "idx_certifications",
    metadata,
    Column("certification_id", BigInteger, primary_key=True),
    Column("holder", Integer, nullable=False, index=True),
    Column("certifier", Integer, nullable=False),
    Column("scheme", Text, nullable=False),
    Column("certificate_number", Text, nullable=False),
    Column("materials", Text, nullable=False),  # JSON list
    Column("characteristics", Text, nullable=False),  # JSON list
    Column("models", Integer, nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("valid_to", BigInteger, nullable=False),
    *_fact(),
)

certification_status = Table(
    "idx_certification_status",
    metadata,
    Column("certification_id", BigInteger, nullable=False, index=True),
    Column("status", Integer, nullable=False),
    Column("reason_hash", String(66), nullable=False),
    *_fact(),
)

accounts = Table(
    "idx_accounts",
    metadata,
    Column("account", String(66), primary_key=True),
    Column("participant_id", Integer, nullable=False, index=True),
    Column("site_id", Integer, nullable=False),
    Column("material", Integer, nullable=False),
    Column("characteristic", Integer, nullable=False),
    Column("scheme", Integer, nullable=False),
    Column("period_length", BigInteger, nullable=False),
    Column("anchor", BigInteger, nullable=False),
    Column("lapse_after_periods", Integer, nullable=False),
    *_fact(),
)

credit_bookings = Table(
    "idx_credit_bookings",
    metadata,
    Column("account", String(66), nullable=False, index=True),
    Column("period", BigInteger, nullable=False),
    Column("entry", Integer, nullable=False),
    Column("reason", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("ref", String(66), nullable=False),
    *_fact(),
)

period_closings = Table(
    "idx_period_closings",
    metadata,
    Column("account", String(66), nullable=False, index=True),
    Column("period", BigInteger, nullable=False),
    Column("opening", BigInteger, nullable=False),
    Column("inflow", BigInteger, nullable=False),
    Column("converted_in", BigInteger, nullable=False),
    Column("outflow", BigInteger, nullable=False),
    Column("converted_out", BigInteger, nullable=False),
    Column("lapsed", BigInteger, nullable=False),
    Column("closing", BigInteger, nullable=False),
    *_fact(),
)

pledges = Table(
    "idx_pledges",
    metadata,
    Column("pledge_id", BigInteger, primary_key=True),
    Column("producer", Integer, nullable=False),
    Column("holder", String(42), nullable=False),
    Column("source", Integer, nullable=False),
    Column("material", Integer, nullable=False),
    Column("characteristic", Integer, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("batch_id", BigInteger, nullable=False, index=True),
    Column("released_batch_id", BigInteger, nullable=False),
    *_fact(),
)

issuances = Table(
    "idx_issuances",
    metadata,
    Column("certificate_id", BigInteger, primary_key=True),
    Column("issuer", Integer, nullable=False),
    Column("producer", Integer, nullable=False),
    Column("to_address", String(42), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("unit_size", BigInteger, nullable=False),
    Column("unit_label", Text, nullable=False),
    Column("material", Integer, nullable=False),
    Column("characteristic", Integer, nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger, nullable=False),
    Column("evidence_hash", String(66), nullable=False),
    Column("pledge_id", BigInteger, nullable=False, index=True),
    *_fact(),
)

revocations = Table(
    "idx_revocations",
    metadata,
    Column("certificate_id", BigInteger, primary_key=True),
    Column("issuer", Integer, nullable=False),
    Column("outstanding", BigInteger, nullable=False),
    Column("reason_hash", String(66), nullable=False),
    *_fact(),
)

retirements = Table(
    "idx_retirements",
    metadata,
    Column("retirement_id", String(80), primary_key=True),  # certificateId << 32 | n: may exceed int64
    Column("certificate_id", BigInteger, nullable=False, index=True),
    Column("holder", String(42), nullable=False),
    Column("retired_by", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("beneficiary", Text, nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger, nullable=False),
    Column("purpose_hash", String(66), nullable=False),
    *_fact(),
)


#: Lineage (node_api.index.lineage_ingest writes, read.lineage answers). One row per batch: the facts
#: the lineage answer shows about it, pre-rendered as a JSON array fragment (all immutable once the
#: batch is created: names, certification status at creation, transaction), its parent edges as
#: JSON, and the numbers the attribution needs. The ancestry itself is computed at query time from
#: ``idx_edges``: storage is one row per batch and one per edge, linear in the ledger.
lineage_nodes = Table(
    "idx_lineage_nodes",
    metadata,
    Column("batch_id", RowId, primary_key=True, autoincrement=False),
    # what the attribution needs, as text the reader splits in one go: "id,model,quantity,kind,certification"
    # (certification: of an origin created under one, else 0)
    Column("numbers", Text, nullable=False),
    Column("node_json", Text, nullable=False),  # "[id,kind,...": the facts part of a lineage row, unclosed
    Column("edges_json", Text),  # "[child,parent,quantity],..." in position order; NULL for origins
)

#: Tables of earlier schema versions, dropped when an index is rebuilt (schema 2 stored the whole
#: ancestry of every merge, which grows quadratically: issue 10, K).
RETIRED_TABLES = ("idx_lineage",)


def sqlite_url(path: str) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str) -> Engine:
    """Engine for ``url`` (the node's one factory). SQLite's extra settings here suit the index:
    the recursive lineage query dedupes in a temp b-tree, and reads are served from a large cache and
    a memory map. A lost tail of the index is re-read from the chain on the next start."""
    return core_make_engine(url, sqlite_pragmas=(
        "foreign_keys=OFF", "temp_store=MEMORY", "mmap_size=268435456", "cache_size=-65536"))


def create_all(engine: Engine) -> None:
    metadata.create_all(engine)


def drop_all(engine: Engine) -> None:
    metadata.drop_all(engine)
    with engine.begin() as conn:
        for name in RETIRED_TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
