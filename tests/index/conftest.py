"""Fixtures for the index tests: the consortium (`world_session` of tests/conftest.py),
the demo scenario built once per module, and index databases on SQLite and, when
COC_TEST_POSTGRES_URL is set, PostgreSQL (skipped with a visible reason otherwise)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_api.index import schema
from node_api.index.follower import Follower
from node_api.core.rpc import SyncRpc

from scenario import Scenario, build_scenario  # noqa: E402

from helpers_index import BACKENDS, contracts_of, fresh_engine, postgres_url  # noqa: E402


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgresql" and postgres_url() is None:
        fresh_engine("postgresql", None)  # skips with the reason
    return request.param


@pytest.fixture(scope="module")
def scenario(w3, world_session) -> Iterator[Scenario]:
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield build_scenario(world_session)
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"], "evm_revert failed"


@pytest.fixture
def make_follower(anvil, world_session):
    made: list[Follower] = []

    def make(engine, **kw) -> Follower:
        f = Follower(engine, SyncRpc(anvil.url), contracts_of(world_session), 0, **kw)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()
        f.engine.dispose()


@pytest.fixture(scope="module")
def indexed(anvil, world_session, scenario, tmp_path_factory):
    """The demo scenario indexed into SQLite once per module (read-only tests use this)."""
    engine = schema.make_engine(schema.sqlite_url(str(tmp_path_factory.mktemp("idx") / "index.db")))
    f = Follower(engine, SyncRpc(anvil.url), contracts_of(world_session), 0)
    f.sync_once()
    yield f
    engine.dispose()
