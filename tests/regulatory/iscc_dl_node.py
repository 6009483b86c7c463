"""A real node (uvicorn in a thread, its own Anvil, its own deployment) with the textile consortium of
testkit.sandbox registered on it, for the ISCC PLUS declaration and GS1 Digital Link tests (issue 14).

Not a conftest.py (another helper adds tests/regulatory tests): the test modules import ``reg_node`` from
here. Module scope: each module that uses it starts one Anvil and one node (a few seconds)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import httpx
import pytest
from eth_account import Account

from node_api.core.anvil import ANVIL_MNEMONIC, EmbeddedAnvil
from node_api.core.chain import connect
from node_api.core.config import Settings
from testkit.sandbox import Contracts, Sandbox, build_world

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))
from nodeserver import ServerThread  # noqa: E402  (the one in-process node server of the tests)

Account.enable_unaudited_hdwallet_features()


def wait_indexed(api: httpx.Client, w3: Any, timeout: float = 30) -> None:
    """Until the node's index has every block of the chain."""
    head = w3.eth.block_number
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = api.get("/provenance/status").json()
        if (s.get("last_indexed_block") or 0) >= head:
            return
        time.sleep(0.1)
    raise AssertionError(f"index did not reach block {head}: {s}")


@pytest.fixture(scope="module")
def reg_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    anvil = EmbeddedAnvil.throwaway(accounts=20)
    anvil.start()
    srv = None
    try:
        data: Path = tmp_path_factory.mktemp("reg-node")
        settings = Settings(data_dir=data, rpc_url=anvil.url, admin_api_key="test-admin-key",
                            keystore_password="node-keystore-pw", nonce_wait_seconds=30.0, wait_timeout=20.0,
                            index_poll_interval=0.1)
        srv = ServerThread(settings).start()
        w3 = connect(Settings(), rpc_url=anvil.url)
        accts = [Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(20)]
        node = srv.node
        at = {n: w3.eth.contract(address=node.addresses[n], abi=node.abis[n].abi) for n in node.addresses}
        c = Contracts(at["ParticipantRegistry"], at["CocForwarder"], at["MassBalance"], at["BatchLedger"],
                      at["CertificateRegistry"], node.contracts.deploy_block)
        world = build_world(Sandbox(w3, c, accts[0], accts[19]), accts)
        with httpx.Client(base_url=srv.url, timeout=60) as api:
            yield SimpleNamespace(anvil=anvil, server=srv, node=node, w3=w3, api=api, world=world, sb=world.sb,
                                  accounts=accts, contracts=at, url=srv.url,
                                  registry=node.addresses["ParticipantRegistry"],
                                  sync=lambda: wait_indexed(api, w3))
    finally:
        if srv is not None:
            srv.stop()
        anvil.stop()
