"""The textile consortium on the session's deployment, rolled back after every test.

`world` is the fixture contract tests use: a `node_api.sandbox.World` whose `sb` (Sandbox) signs
every action with the acting participant's own key. The consortium is registered once per session;
each test starts from that state (evm_snapshot / evm_revert), chain time included.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from web3 import Web3

from node_api.sandbox import Contracts, Sandbox, World, build_world

RELAYER_INDEX = 19  # an unregistered account: the contracts must never trust the relayer


@pytest.fixture(scope="session")
def world_session(w3: Web3, accounts: list, deployed: SimpleNamespace) -> World:
    c = Contracts(deployed.registry, deployed.forwarder, deployed.mass_balance, deployed.ledger, deployed.certificates)
    return build_world(Sandbox(w3, c, accounts[0], accounts[RELAYER_INDEX]), accounts)


@pytest.fixture
def world(w3: Web3, world_session: World) -> Iterator[World]:
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield world_session
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"], "evm_revert failed"


@pytest.fixture
def sb(world: World) -> Sandbox:
    return world.sb
