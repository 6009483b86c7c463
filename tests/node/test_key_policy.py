"""Safe defaults (issue 9, finding 4): Anvil's published keys only on the embedded development chain.

Pointed at an external chain (chain id 2024, free gas) with no key settings, the node deployed and
administered the consortium with Anvil's key #0 and relayed with key #9, silently. Now it refuses
to start and names the settings to provide; nothing is deployed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from node_api.core.anvil import EmbeddedAnvil, rpc_call
from node_api.core.config import ANVIL_DEFAULT_KEY, ANVIL_RELAYER_KEY, Settings
from node_api.node import Node
from node_api.services.key_policy import DevKeyRefused, check_keys, dev_addresses, is_dev_key

REPO = Path(__file__).resolve().parents[2]
OWN_KEY = "0x" + "5a" * 32
OWN_RELAYER = "0x" + "6b" * 32


def test_the_published_keys_are_recognised():
    assert len(dev_addresses()) == 20
    assert is_dev_key(ANVIL_DEFAULT_KEY) and is_dev_key(ANVIL_RELAYER_KEY)
    assert is_dev_key("0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6")
    assert not is_dev_key(OWN_KEY) and not is_dev_key(Account.create().key)


def test_policy_without_a_chain(tmp_path):
    embedded = Settings(data_dir=tmp_path, rpc_url=None, allow_dev_keys=False)
    check_keys(embedded, 31337, ANVIL_RELAYER_KEY)  # the embedded development chain: allowed
    external = Settings(data_dir=tmp_path, rpc_url="http://127.0.0.1:9", allow_dev_keys=False)
    with pytest.raises(DevKeyRefused) as exc:
        check_keys(external, 31337, ANVIL_RELAYER_KEY)
    msg = str(exc.value)
    assert "COC_DEPLOYER_KEY" in msg and "COC_RELAYER_KEY" in msg and "COC_ALLOW_DEV_KEYS" in msg
    # allowed on a throwaway Anvil when asked, never on another chain id
    check_keys(external.model_copy(update={"allow_dev_keys": True}), 31337, ANVIL_RELAYER_KEY)
    with pytest.raises(DevKeyRefused, match="chain id 2024"):
        check_keys(external.model_copy(update={"allow_dev_keys": True}), 2024, ANVIL_RELAYER_KEY)
    # only the setting holding a published key is named
    own_admin = external.model_copy(update={"deployer_key": OWN_KEY})
    with pytest.raises(DevKeyRefused) as exc:
        check_keys(own_admin, 2024, ANVIL_RELAYER_KEY)
    assert "COC_RELAYER_KEY" in str(exc.value) and "COC_DEPLOYER_KEY" not in str(exc.value)
    with pytest.raises(DevKeyRefused, match="COC_ADMIN_WALLET_KEY"):
        check_keys(own_admin.model_copy(update={"admin_wallet_key": ANVIL_DEFAULT_KEY}), 2024, OWN_RELAYER)
    check_keys(own_admin, 2024, OWN_RELAYER)


@pytest.fixture(scope="module")
def chain_2024():
    anvil = EmbeddedAnvil.throwaway(accounts=10, chain_id=2024).start()
    try:
        yield anvil
    finally:
        anvil.stop()


@pytest.mark.chain
def test_node_refuses_published_keys_on_an_external_chain(chain_2024, tmp_path):
    deployer = Account.from_key(ANVIL_DEFAULT_KEY).address
    settings = Settings(data_dir=tmp_path, rpc_url=chain_2024.url, allow_dev_keys=True)  # no key settings
    with pytest.raises(DevKeyRefused) as exc:
        asyncio.run(Node.start(settings))
    assert "chain id 2024" in str(exc.value) and "COC_DEPLOYER_KEY" in str(exc.value)
    assert "COC_RELAYER_KEY" in str(exc.value)
    assert rpc_call(chain_2024.url, "eth_getTransactionCount", [deployer, "latest"]) == "0x0"  # nothing deployed
    assert not (tmp_path / "deployments").exists()

    # the same through the real entry point: exits with the message, never serves
    env = dict(os.environ, COC_RPC_URL=chain_2024.url, COC_DATA_DIR=str(tmp_path / "proc"), COC_API_PORT="1",
               COC_ALLOW_DEV_KEYS="true")
    for k in ("COC_DEPLOYER_KEY", "COC_RELAYER_KEY", "COC_ADMIN_WALLET_KEY"):
        env.pop(k, None)
    proc = subprocess.run([sys.executable, "-m", "node_api"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert "published development keys" in out and "COC_DEPLOYER_KEY" in out, out[-2000:]
    assert "Traceback" not in out, out[-2000:]
    assert rpc_call(chain_2024.url, "eth_getTransactionCount", [deployer, "latest"]) == "0x0"


@pytest.mark.chain
def test_node_starts_with_its_own_keys_on_an_external_chain(chain_2024, tmp_path):
    for key in (OWN_KEY, OWN_RELAYER):
        rpc_call(chain_2024.url, "anvil_setBalance", [Account.from_key(key).address, hex(10**21)])
    settings = Settings(data_dir=tmp_path, rpc_url=chain_2024.url, deployer_key=OWN_KEY, relayer_key=OWN_RELAYER)

    async def run():
        node = await Node.start(settings)
        try:
            assert node.chain_id == 2024
            assert node.relayer.address == Account.from_key(OWN_RELAYER).address
        finally:
            await node.stop()

    asyncio.run(run())
