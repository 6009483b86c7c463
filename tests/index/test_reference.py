"""Reference data is read once per database and kept until the writer changes it: a request costs
one read of idx_meta, and a block range that registers reference data stamps a new version that
makes the next request reload (on SQLite and, when COC_TEST_POSTGRES_URL is set, PostgreSQL)."""

from __future__ import annotations

import pytest
from eth_account import Account
from sqlalchemy import event

from helpers_index import fresh_engine
from node_api.index.read import batches
from node_api.index.read.reference import reference
from testkit.sandbox import SEGREGATED


@pytest.fixture
def chain_snap(w3):
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    assert w3.provider.make_request("evm_revert", [snap])["result"]


class Statements:
    """The SQL an engine runs while recording."""

    def __init__(self, engine):
        self.engine, self.sql = engine, []

    def _record(self, _conn, _cursor, statement, *_args):
        self.sql.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.sql

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_reference_data_is_cached_until_the_writer_stamps_a_new_version(backend, tmp_path, make_follower, scenario,
                                                                         chain_snap, world_session):
    sb, w = world_session.sb, world_session
    engine = fresh_engine(backend, tmp_path)
    f = make_follower(engine)
    f.sync_once()
    with engine.connect() as conn:
        first = reference(conn)
        with Statements(engine) as sql:
            assert reference(conn) is first
    assert len(sql) == 1 and "idx_meta" in sql[0], sql  # one small read, no reference table
    assert first.participant_name(w.farm.participant_id) == "Organic Farm Co"

    # a range without reference events (a batch, its custody moves) keeps the cached copy
    new = sb.create_origin(w.farm, w.raw_cotton, 1234, characteristic=w.organic, model=SEGREGATED)
    f.sync_once()
    with engine.connect() as conn:
        assert reference(conn) is first
        assert batches.batch(conn, new, first)["quantity"] == 1234

    # a new material (MaterialRegistered) stamps a new version: the next request reloads
    linen = sb.material("linen", unit="kg")
    f.sync_once()
    with engine.connect() as conn:
        second = reference(conn)
        assert reference(conn) is second
    assert second is not first
    assert (second.material_name(linen), second.unit(linen)) == ("linen", "kg")
    assert first.material_name(linen) == f"material {linen}"  # the old copy was never changed in place

    # a wallet bound to a participant (WalletAdded) is a reference event too
    extra = Account.create()
    sb.add_wallet(w.brand, extra)
    f.sync_once()
    with engine.connect() as conn:
        third = reference(conn)
    assert third is not second and third.who(extra.address)["participant"] == third.participant_name(w.brand.participant_id)
