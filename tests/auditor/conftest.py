"""Fixtures for the auditor's tests.

The auditor audits a ledger of its own: a second deployment on the session Anvil (the auditor takes
only a registry address, so the other deployments on the same chain must not disturb it), with the
sandbox consortium and the demo scenario of audit_scenario.py. Every test starts from that state
(evm_snapshot / evm_revert); the whole deployment is rolled back at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from web3 import Web3

from audit_scenario import build_demo
from node_api.core.deploy import deploy_all
from testkit.sandbox import Contracts, Sandbox, build_world

RELAYER_INDEX = 19


@pytest.fixture(scope="session")
def audit_env(w3: Web3, accounts: list, artifacts: dict) -> Iterator[SimpleNamespace]:
    session_snap = w3.provider.make_request("evm_snapshot", [])["result"]
    addresses = deploy_all(w3, accounts[0], artifacts)

    def at(name: str):
        return w3.eth.contract(address=addresses[name], abi=artifacts[name]["abi"])

    c = Contracts(at("ParticipantRegistry"), at("CocForwarder"), at("MassBalance"), at("BatchLedger"),
                  at("CertificateRegistry"))
    world = build_world(Sandbox(w3, c, accounts[0], accounts[RELAYER_INDEX]), accounts)
    demo = build_demo(world)
    rpc_url = w3.provider.endpoint_uri
    try:
        yield SimpleNamespace(w3=w3, world=world, sb=world.sb, ids=demo.ids, rpc=rpc_url,
                              registry=addresses["ParticipantRegistry"], addresses=addresses)
    finally:
        w3.provider.make_request("evm_revert", [session_snap])


@pytest.fixture
def env(w3: Web3, audit_env: SimpleNamespace) -> Iterator[SimpleNamespace]:
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield audit_env
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"], "evm_revert failed"
