"""A development chain whose pool holds the relayer's ready transaction with no block coming: the node
mines one block itself (``ChainGuard.unstick``, setting ``dev_mine_stuck_seconds``), and only on an
Anvil that does not mine on a timer.

The stall is made deterministic with ``evm_setAutomine false`` (Anvil keeps the transaction ready in
its pool and mines nothing), which is what Anvil 1.7's automine does by itself under concurrent bursts
(see ChainGuard.unstick); without the setting the same action stays pending (the control case)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from faulthelp import Chain, Keys, health, node_settings_env, setup_world
from node_api import signing
from node_api.cli.client import NodeClient
from node_api.core.anvil import free_port, rpc_call
from testkit.node_process import start_node, stop_node

pytestmark = [pytest.mark.chain, pytest.mark.timeout(180)]


def _node(chain: Chain, keys: Keys, tmp: Path, stuck: str):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = node_settings_env(chain, tmp / "node", port, keys)
    env.update(COC_DEV_MINE_STUCK_SECONDS=stuck, COC_WAIT_TIMEOUT="6")
    return start_node(env, url, timeout=120, log=tmp / "node.log"), url


def _submit(url: str, keys: Keys, material: int, q: int) -> dict:
    who = keys.suppliers[0]
    with NodeClient(url, timeout=30) as c:
        prep = c.prepare("batches/create", {"signer": who.address, "material": material, "quantity": q,
                                            "geolocationHash": f"geo:{q}", "evidenceHash": f"ev:{q}", "productionDate": 1})
        body = {"typedData": prep["typedData"], "signature": "0x" + signing.sign_typed(who.key, prep["typedData"]).hex()}
        return c.submit("batches/create", body)


@pytest.mark.parametrize("stuck", ["1", "0"], ids=["mines-a-stuck-pool", "off-stays-pending"])
def test_a_stuck_dev_pool_is_mined_by_the_node(chain: Chain, keys: Keys, tmp_path: Path, stuck: str):
    proc, url = _node(chain, keys, tmp_path, stuck)
    try:
        material = setup_world(url, keys)
        rpc_call(chain.url, "evm_setAutomine", [False])  # no block comes for what is in the pool
        out = _submit(url, keys, material, 3_000_001)
        mined = health(url)["chainGuard"]["stuckPoolsMined"]
        if stuck == "0":
            assert out["status"] == "pending" and mined == 0, out
            pool = rpc_call(chain.url, "txpool_status")
            assert int(pool["pending"], 16) >= 1, pool  # the stall is real: ready, unmined
            rpc_call(chain.url, "evm_mine")
        else:
            assert out["status"] == "mined" and mined >= 1, (out, mined)
            log = (tmp_path / "node.log").read_text()
            assert re.search(r"sat in Anvil's pool with no block for .*mined one block", log), log[-2000:]
    finally:
        stop_node(proc)


def test_never_mines_on_a_chain_with_a_block_time(tmp_path: Path):
    chain = Chain(tmp_path / "timed", block_time=1.0).start()
    try:
        keys = Keys()
        chain.fund(keys.deployer.address, keys.relayer.address)
        proc, url = _node(chain, keys, tmp_path, "0.2")
        try:
            material = setup_world(url, keys)
            for q in range(3):
                assert _submit(url, keys, material, 3_100_000 + q)["status"] == "mined"
            h = httpx.get(f"{url}/health", timeout=30).json()
            assert h["chainGuard"]["stuckPoolsMined"] == 0, h
            assert "is not an Anvil without a block time" in (tmp_path / "node.log").read_text()
        finally:
            stop_node(proc)
    finally:
        chain.stop()
