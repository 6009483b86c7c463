"""The follower: complete, resumable, rebuildable, confirmation-aware, robust to RPC errors,
on SQLite and (when COC_TEST_POSTGRES_URL is set) PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from helpers_index import FlakyProxy, contracts_of, fresh_engine, snapshot, wait_for
from node_api.index import schema
from node_api.index.follower import Follower, discover_from_registry
from node_api.core.rpc import SyncRpc
from node_api.index.read import batches
from node_api.index.read.reference import reference
from testkit.sandbox import SEGREGATED


@pytest.fixture
def chain_snap(w3):
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    assert w3.provider.make_request("evm_revert", [snap])["result"]


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_sync_indexes_every_contract_log_up_to_head(backend, tmp_path, make_follower, scenario, anvil, world_session):
    engine = fresh_engine(backend, tmp_path)
    f = make_follower(engine)
    written = f.sync_once()
    rpc = SyncRpc(anvil.url)
    head = rpc.block_number()
    logs = rpc.get_logs(0, head, list(contracts_of(world_session).values()))
    assert written == len(logs) == _count(engine, schema.events)
    assert f.last_indexed() == head
    lag = f.lag()
    assert lag["last_indexed_block"] == head and lag["blocks_behind"] == 0 and lag["seconds_behind"] == 0
    assert lag["in_sync"] is True and lag["chain_id"] == 31337
    assert _count(engine, schema.batches) == world_session.sb.c.ledger.functions.batchCount().call()


def test_sync_answers_equal_on_every_backend(backend, tmp_path, make_follower, scenario, indexed):
    engine = fresh_engine(backend, tmp_path)
    make_follower(engine).sync_once()
    assert snapshot(engine, scenario) == snapshot(indexed.engine, scenario)


def test_sync_resumes_from_last_indexed_block_after_restart(backend, tmp_path, make_follower, scenario, indexed):
    engine = fresh_engine(backend, tmp_path)
    first = make_follower(engine, max_range=7)
    head = first.rpc.block_number()
    first.sync_once(until=head - 20)
    assert first.last_indexed() == head - 20
    before = _count(engine, schema.events)
    first.stop()
    # a new process: a new follower over the same database continues where the first stopped
    second = make_follower(engine)
    assert second.last_indexed() == head - 20
    written = second.sync_once()
    assert second.last_indexed() == head
    assert _count(engine, schema.events) == before + written
    assert snapshot(engine, scenario) == snapshot(indexed.engine, scenario)


def test_rebuild_from_chain_gives_identical_answers(backend, tmp_path, make_follower, scenario, indexed):
    engine = fresh_engine(backend, tmp_path)
    f = make_follower(engine)
    f.sync_once()
    before = snapshot(engine, scenario)
    f.rebuild()
    assert _count(engine, schema.events) == 0 and f.last_indexed() is None
    f.sync_once()
    assert snapshot(engine, scenario) == before == snapshot(indexed.engine, scenario)


def test_sync_waits_for_confirmations(tmp_path, make_follower, scenario, chain_snap, w3):
    engine = fresh_engine("sqlite", tmp_path)
    f = make_follower(engine, confirmations=3)
    f.sync_once()
    head = w3.eth.block_number
    assert f.last_indexed() == head - 3
    lag = f.lag()
    assert lag["confirmations"] == 3 and lag["blocks_behind"] == 0 and lag["blocks_behind_head"] == 3
    # the newest three blocks are not indexed yet: the sale of the product (last scenario txs) is not visible
    with engine.connect() as conn:
        assert conn.execute(select(func.max(schema.events.c.block_number))).scalar_one() <= head - 3
    for _ in range(3):
        w3.provider.make_request("evm_mine", [])
    f.sync_once()
    assert f.last_indexed() == head


def test_sync_retries_rpc_errors(tmp_path, anvil, world_session, scenario, indexed):
    engine = fresh_engine("sqlite", tmp_path)
    with FlakyProxy(anvil.url, fail_first=3) as proxy:
        f = Follower(engine, SyncRpc(proxy.url, backoff=0.01), contracts_of(world_session), 0)
        f.sync_once()
    assert proxy.failures == 3
    assert snapshot(engine, scenario) == snapshot(indexed.engine, scenario)


def test_sync_halves_range_when_node_refuses_it(tmp_path, anvil, world_session, scenario, indexed):
    engine = fresh_engine("sqlite", tmp_path)
    with FlakyProxy(anvil.url, max_range=16) as proxy:
        f = Follower(engine, SyncRpc(proxy.url), contracts_of(world_session), 0, max_range=1000)
        f.sync_once()
    assert proxy.too_large >= 1
    assert f.last_indexed() == SyncRpc(anvil.url).block_number()
    assert snapshot(engine, scenario) == snapshot(indexed.engine, scenario)


def test_sync_rebuilds_when_indexed_block_left_the_chain(tmp_path, make_follower, scenario, w3, world_session):
    sb, w = world_session.sb, world_session
    engine = fresh_engine("sqlite", tmp_path)
    f = make_follower(engine)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        ghost = sb.create_origin(w.farm, w.raw_cotton, 777, characteristic=w.organic, model=SEGREGATED)
        f.sync_once()
        with engine.connect() as conn:
            assert batches.batch(conn, ghost, reference(conn))["quantity"] == 777
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"]
    # the chain forgot the ghost batch; a different batch takes its id on the new branch
    snap2 = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        for _ in range(2):
            w3.provider.make_request("evm_mine", [])
        real = sb.create_origin(w.farm2, w.raw_cotton, 555, characteristic=w.organic, model=SEGREGATED)
        assert real == ghost
        f.sync_once()
        assert f.status.rebuilds == 1
        with engine.connect() as conn:
            b = batches.batch(conn, real, reference(conn))
        assert b["quantity"] == 555 and b["creator"] == "Second Farm Ltd"
    finally:
        assert w3.provider.make_request("evm_revert", [snap2])["result"]


def test_follower_thread_follows_new_blocks(tmp_path, make_follower, scenario, chain_snap, world_session):
    sb, w = world_session.sb, world_session
    engine = fresh_engine("sqlite", tmp_path)
    f = make_follower(engine, poll_interval=0.05).start()
    assert wait_for(lambda: f.lag()["in_sync"])
    new = sb.create_origin(w.farm, w.raw_cotton, 4242, characteristic=w.organic, model=SEGREGATED)

    def seen() -> bool:
        with engine.connect() as conn:
            return batches.batch(conn, new, reference(conn)) is not None

    assert wait_for(seen)
    f.stop()
    assert f.lag()["in_sync"] is True


def test_discover_contracts_from_registry_events(anvil, world_session):
    expected = contracts_of(world_session)
    found = discover_from_registry(SyncRpc(anvil.url), expected["registry"])
    assert {k: v.lower() for k, v in found.items()} == {k: v.lower() for k, v in expected.items()}
