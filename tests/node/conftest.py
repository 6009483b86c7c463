"""Fixtures for end-to-end node tests: a real Anvil, the node's FastAPI app served by uvicorn on a
free port (in a thread), and the demo scenario loaded once through the HTTP API.

Own Anvil (not the contract tests' session chain): the contract tests roll their chain back with
evm_snapshot/evm_revert, which must not touch the node's deployment or its relayer nonce.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn

from node_api.api.app import create_app
from node_api.core.anvil import EmbeddedAnvil, free_port
from node_api.core.chain import connect
from node_api.core.config import Settings

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

ADMIN_KEY = "test-admin-key"


class ServerThread:
    """uvicorn serving ``create_app(settings)`` in a background thread."""

    def __init__(self, settings: Settings, port: int | None = None):
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("node server exited during startup")
            if time.monotonic() > deadline:
                raise RuntimeError("node server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def node(self):
        return self.server.config.app.state.node  # type: ignore[union-attr]


def node_settings(data_dir: Path, rpc_url: str, **extra) -> Settings:
    return Settings(
        data_dir=data_dir, rpc_url=rpc_url, admin_api_key=ADMIN_KEY, keystore_password="node-keystore-pw",
        nonce_wait_seconds=30.0, wait_timeout=20.0, **extra,
    )


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
    from node_api.core.compile import CompileError, compile_contracts

    try:
        compile_contracts()  # cached; a cold compile takes a while and is not the node's startup
    except CompileError as exc:
        pytest.fail(f"contracts/ does not compile:\n{exc}", pytrace=False)
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
    from demo import run_demo

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
