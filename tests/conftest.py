"""Session fixtures for contract tests (plain pytest; ape's pytest plugin is disabled in pyproject).

Fixtures:
  anvil       throwaway in-memory Anvil on a free port, 20 dev accounts (session)
  w3          Web3 connected to it (session)
  accounts    the 20 Anvil dev accounts as eth-account LocalAccount (session); accounts[0] deploys
  artifacts   compile_contracts() of all contracts/**/*.sol, cached in build/ (session)
  deployed    deploy_all() once per session: namespace with web3 contracts registry, forwarder,
              mass_balance, ledger, certificates, plus addresses, deployer, artifacts, at(name, addr)
  fresh       function scope: evm_snapshot after `deployed`, evm_revert after the test
  chain_snapshot  like fresh but without deploying the ledger (for toolchain tests)
  tx, expect_revert   the helpers from tests/helpers.py, as fixtures for convenience
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import os

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

import helpers
from node_api.core.anvil import ANVIL_MNEMONIC, EmbeddedAnvil
from node_api.core.chain import connect
from node_api.core import compile as compile_module
from node_api.core.compile import Artifact, CompileError, compile_contracts
from node_api.core.config import Settings
from node_api.core.deploy import SHORT_NAMES, DeployError, deploy_all

N_ACCOUNTS = 20

# Tests run nodes on throwaway Anvils (external chains with chain id 31337) with Anvil's published
# keys: allowed there only when asked (node_api.services.key_policy; tests/node/test_key_policy.py
# turns it off to see them refused).
os.environ.setdefault("COC_ALLOW_DEV_KEYS", "true")

Account.enable_unaudited_hdwallet_features()


def dev_accounts(n: int = N_ACCOUNTS) -> list[LocalAccount]:
    """Anvil's default dev accounts (mnemonic "test ... junk", path m/44'/60'/0'/0/i)."""
    return [Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(n)]


@pytest.fixture(scope="session")
def anvil() -> Iterator[EmbeddedAnvil]:
    node = EmbeddedAnvil.throwaway(accounts=N_ACCOUNTS)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def w3(anvil: EmbeddedAnvil) -> Web3:
    return connect(Settings(), rpc_url=anvil.url)


@pytest.fixture(scope="session")
def accounts(w3: Web3) -> list[LocalAccount]:
    accts = dev_accounts()
    assert w3.eth.get_balance(accts[-1].address) > 0, "Anvil was not started with --accounts 20"
    return accts


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    try:
        return compile_contracts()
    except CompileError as exc:
        pytest.fail(f"contracts/ does not compile, so no contract test can run:\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def deployed(w3: Web3, accounts: list[LocalAccount], artifacts: dict[str, Artifact]) -> SimpleNamespace:
    try:
        addresses = deploy_all(w3, accounts[0], artifacts)
    except DeployError as exc:
        pytest.fail(f"ledger deployment failed: {exc}", pytrace=False)

    def at(name: str, address: str) -> Any:
        """web3 contract object for artifact ``name`` at ``address``."""
        return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts[name]["abi"])

    ns = SimpleNamespace(addresses=addresses, deployer=accounts[0], artifacts=artifacts, at=at)
    for full, short in SHORT_NAMES.items():
        setattr(ns, short, at(full, addresses[full]))
    return ns


def evm_snapshot(w3: Web3) -> str:
    return str(w3.provider.make_request("evm_snapshot", [])["result"])


def evm_revert(w3: Web3, snapshot_id: str) -> None:
    ok = w3.provider.make_request("evm_revert", [snapshot_id])["result"]
    assert ok, f"evm_revert({snapshot_id}) failed"


@pytest.fixture
def fresh(w3: Web3, deployed: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """The deployed ledger, rolled back to its just-deployed state after the test."""
    snap = evm_snapshot(w3)
    try:
        yield deployed
    finally:
        evm_revert(w3, snap)


@pytest.fixture
def chain_snapshot(w3: Web3) -> Iterator[Web3]:
    """Roll the chain back after the test, without deploying the ledger."""
    snap = evm_snapshot(w3)
    try:
        yield w3
    finally:
        evm_revert(w3, snap)


@pytest.fixture(scope="session")
def tx() -> Any:
    return helpers.tx


@pytest.fixture(scope="session")
def expect_revert() -> Any:
    return helpers.expect_revert


# ---------------------------------------------------------------------------------------------- the consortium
# One textile consortium per session on the `deployed` ledger, shared by every test directory (a second
# build on the same deployment would find its wallets already registered). Each test that uses `world`
# starts from the registered state and is rolled back afterwards (evm_snapshot / evm_revert, chain time
# included).

RELAYER_INDEX = 19  # an unregistered account: the contracts must never trust the relayer


@pytest.fixture(scope="session")
def world_session(w3: Web3, accounts: list[LocalAccount], deployed: SimpleNamespace) -> "World":
    from testkit.sandbox import Contracts, Sandbox, build_world

    c = Contracts(deployed.registry, deployed.forwarder, deployed.mass_balance, deployed.ledger, deployed.certificates)
    return build_world(Sandbox(w3, c, accounts[0], accounts[RELAYER_INDEX]), accounts)


@pytest.fixture
def world(w3: Web3, world_session: "World") -> Iterator["World"]:
    snap = evm_snapshot(w3)
    try:
        yield world_session
    finally:
        evm_revert(w3, snap)


@pytest.fixture
def sb(world: "World") -> "Sandbox":
    return world.sb


# ------------------------------------------------------------------------------------------------ markers
# `chain`: the test needs a chain (Anvil) or the Solidity compiler. Everything else runs alone in seconds:
# `make test-unit` (pytest -m "not chain"). Tests get the marker from their fixtures; a module that starts
# a chain some other way declares `pytestmark = pytest.mark.chain`. In a "not chain" run, starting Anvil or
# the compiler fails the test, so a missing marker cannot go unnoticed.
CHAIN_FIXTURES = {"anvil", "w3", "accounts", "artifacts", "deployed", "node_anvil", "server", "api"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if CHAIN_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.chain)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("markexpr", "") != "not chain":
        return

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a test selected by `-m 'not chain'` starts a chain or the compiler: mark it `chain`")

    EmbeddedAnvil.start = refuse  # type: ignore[method-assign]  # this process runs no chain test
    compile_module.compile_contracts = refuse  # type: ignore[assignment]
