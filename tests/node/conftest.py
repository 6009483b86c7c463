"""Fixtures for end-to-end node tests: a real Anvil, the node's FastAPI app served by uvicorn on a
free port (in a thread), and the demo scenario loaded once through the HTTP API.

Own Anvil (not the contract tests' session chain): the contract tests roll their chain back with
evm_snapshot/evm_revert, which must not touch the node's deployment or its relayer nonce.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from node_api.core.anvil import EmbeddedAnvil
from node_api.core.chain import connect
from node_api.core.config import Settings

REPO = Path(__file__).resolve().parents[2]

from nodeserver import ADMIN_KEY, ServerThread, node_settings  # noqa: E402,F401


@pytest.fixture(scope="session")
def node_anvil() -> Iterator[EmbeddedAnvil]:
    node = EmbeddedAnvil.throwaway(accounts=20)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def node_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("node-data")


@pytest.fixture(scope="session")
def server(node_anvil: EmbeddedAnvil, node_data: Path) -> Iterator[ServerThread]:
    srv = ServerThread(node_settings(node_data, node_anvil.url)).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def api(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def w3(node_anvil: EmbeddedAnvil):
    return connect(Settings(), rpc_url=node_anvil.url)


@pytest.fixture(scope="session")
def demo(server: ServerThread) -> SimpleNamespace:
    """The whole demo scenario, loaded once through the HTTP API (every write signed by its actor)."""
    from testkit.demo import run_demo

    ids = run_demo(server.url, admin_key=ADMIN_KEY, seed="pytest")
    return SimpleNamespace(**ids)


@pytest.fixture(scope="session")
def chain(server: ServerThread, w3):
    """web3 contracts of the node's deployment (ledger, registry, mass_balance, certificates, forwarder)
    plus the relayer address, for checking that a refused request changed nothing."""
    from node_api.core.deploy import SHORT_NAMES

    node = server.node
    ns = SimpleNamespace(w3=w3, relayer=node.relayer.address)
    for full, short in SHORT_NAMES.items():
        setattr(ns, short, w3.eth.contract(address=node.addresses[full], abi=node.abis[full].abi))
    return ns
