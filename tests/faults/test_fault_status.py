"""A status read right after the chain went back never says ``mined`` for a block the chain no longer
has, even before the chain guard's next check (its interval is set to a minute here, so only the read
itself can notice), and ``/health`` says ``chain_regression`` until the lost transaction is mined
again. The regression is real: Anvil's ``evm_revert`` to a snapshot taken before the action, then a
new block at the same height."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from faulthelp import (Ack, Chain, Keys, check_acknowledged, check_index, health, node_settings_env, setup_world,
                       wait_healthy, wait_until)
from node_api import signing
from node_api.cli.client import NodeClient
from node_api.core.anvil import free_port, rpc_call
from testkit.node_process import start_node, stop_node

pytestmark = [pytest.mark.chain, pytest.mark.timeout(180)]


def _create(url: str, keys: Keys, material: int, q: int) -> Ack:
    who = keys.suppliers[0]
    with NodeClient(url, timeout=30) as c:
        prep = c.prepare("batches/create", {"signer": who.address, "material": material, "quantity": q,
                                            "geolocationHash": f"geo:{q}", "evidenceHash": f"ev:{q}", "productionDate": 1})
        body = {"typedData": prep["typedData"], "signature": "0x" + signing.sign_typed(who.key, prep["typedData"]).hex()}
        key = f"status-{q}"
        out = c.submit("batches/create", body, idempotency_key=key)
    assert out["status"] == "mined", out
    return Ack(q, who.address, int(out["result"]["batchIds"][0]), out["txHash"], key, body, int(out["blockNumber"]))


def _block_hash(url: str, n: int) -> str | None:
    blk = rpc_call(url, "eth_getBlockByNumber", [hex(n), False])
    return blk["hash"] if isinstance(blk, dict) else None


def _status(url: str, a: Ack) -> dict:
    return httpx.get(f"{url}/transactions/{a.tx_hash}", timeout=30).json()


def _retry(url: str, a: Ack) -> dict:
    with NodeClient(url, timeout=30) as c:
        return c.submit("batches/create", a.body, idempotency_key=a.key)


@pytest.mark.parametrize("read", [_status, _retry], ids=["status-read", "idempotent-retry"])
def test_a_read_right_after_a_regression_never_says_mined(chain: Chain, keys: Keys, tmp_path: Path, read):
    data = tmp_path / "node"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = node_settings_env(chain, data, port, keys)
    env["COC_CHAIN_GUARD_INTERVAL"] = "60"  # the guard's own check will not come in time
    proc = start_node(env, url, timeout=120, log=tmp_path / "node.log")
    try:
        material = setup_world(url, keys)
        acked = [_create(url, keys, material, 2_000_001)]
        snap = rpc_call(chain.url, "evm_snapshot")
        a = _create(url, keys, material, 2_000_002)
        old_hash = _block_hash(chain.url, a.block)
        # the chain goes back: the action's block is replaced by an empty block at the same height
        rpc_call(chain.url, "evm_revert", [snap])
        rpc_call(chain.url, "evm_mine")
        assert _block_hash(chain.url, a.block) not in (None, old_hash)

        h = health(url)  # /health reads the chain, not the guard's last finding
        assert h["status"] == "degraded" and "chain_regression" in h["codes"], h

        st = read(url, a)
        assert st["status"] in ("pending", "mined"), st
        if st["status"] == "mined":  # only if mined again, in a block the chain has
            rcpt = rpc_call(chain.url, "eth_getTransactionReceipt", [a.tx_hash])
            assert rcpt and int(rcpt["blockNumber"], 16) == st["blockNumber"], (st, rcpt)
            assert rcpt["blockHash"] == _block_hash(chain.url, st["blockNumber"]) != old_hash
        else:
            assert st.get("blockNumber") is None and "result" not in st, st
        print(f"{read.__name__} right after the regression: {st['status']}", flush=True)

        # the read made the node reconcile: the same signed transaction is mined again, same batch id
        acked.append(a)
        wait_until(lambda: _status(url, a)["status"] == "mined", 30, "the action mined again")
        check_acknowledged(chain, url, data, acked)
        check_index(chain, data, tmp_path)
        assert wait_healthy(url, 30)["chainGuard"]["regressions"] >= 1
    finally:
        stop_node(proc)
