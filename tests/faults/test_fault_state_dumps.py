"""The embedded chain's state generations (core/anvil_state.py): only self-consistent dumps are kept,
written atomically; at start the newest consistent one is loaded and a torn or inconsistent newer
file is skipped, never loaded; with none consistent the start is refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from eth_account import Account

from node_api.core.anvil import AnvilError, EmbeddedAnvil, free_port, rpc_call
from node_api.core.anvil_state import check_dump, generations, latest_consistent
from node_api.core.config import Settings

pytestmark = [pytest.mark.chain, pytest.mark.timeout(120)]


def _anvil(folder: Path, interval: int = 1) -> EmbeddedAnvil:
    s = Settings(data_dir=folder, anvil_port=free_port(), rpc_url=None, anvil_state_interval=interval,
                 anvil_block_time=None)
    return EmbeddedAnvil(s, state_file=folder / "anvil-state.json")


def _send(url: str, who, nonce: int) -> None:  # noqa: ANN001
    tx = who.sign_transaction({"to": who.address, "value": 1, "gas": 21000, "gasPrice": 10**10, "nonce": nonce,
                               "chainId": 31337})
    rpc_call(url, "eth_sendRawTransaction", ["0x" + tx.raw_transaction.hex()])


def _head(url: str) -> int:
    return int(str(rpc_call(url, "eth_blockNumber")), 16)


def test_generations_are_consistent_and_the_newest_consistent_one_is_loaded(tmp_path: Path):
    who = Account.create()
    chain = _anvil(tmp_path, interval=3600).start()  # dumps only when asked (and at a clean stop)
    try:
        rpc_call(chain.url, "anvil_setBalance", [who.address, hex(10**20)])
        for n in range(5):
            _send(chain.url, who, n)
        assert chain.keeper is not None
        good = chain.keeper.dump_consistent()
        assert good is not None and check_dump(json.loads(good.read_bytes())) is None
        for n in range(5, 8):  # three more blocks, no dump: what a SIGKILL now loses
            _send(chain.url, who, n)
        head = _head(chain.url)
    finally:
        chain.kill()
    state = json.loads(good.read_bytes())
    best = int(str(state["best_block_number"]), 0)
    assert best == head - 3

    # what Anvil's own racy dump looks like: the state holds a transaction whose block is not kept
    ahead = json.loads(good.read_bytes())
    acct = next(k for k in ahead["accounts"] if k.lower() == who.address.lower())
    ahead["accounts"][acct]["nonce"] = int(str(ahead["accounts"][acct]["nonce"]), 0) + 1
    assert "ahead of the blocks" in check_dump(ahead)
    gap = json.loads(good.read_bytes())
    gap["blocks"] = [b for b in gap["blocks"] if int(str(b["header"]["number"]), 0) != best]
    assert check_dump(gap) is not None
    extra = json.loads(good.read_bytes())
    extra["transactions"][-1]["block_number"] = best + 1
    assert "above its best block" in check_dump(extra)

    # newer generations: one inconsistent, one torn (a crash mid-write of a non-atomic writer)
    seq = int(generations(tmp_path / "anvil-state")[0].name[4:12])
    (tmp_path / "anvil-state" / f"gen-{seq + 1:08d}.json").write_text(json.dumps(ahead))
    (tmp_path / "anvil-state" / f"gen-{seq + 2:08d}.json").write_bytes(good.read_bytes()[:1000])
    path, skipped = latest_consistent(tmp_path / "anvil-state")
    assert path == good and len(skipped) == 2, skipped

    again = _anvil(tmp_path, interval=3600).start()
    try:
        assert again.loaded == good
        assert _head(again.url) == best
        nonce = int(str(rpc_call(again.url, "eth_getTransactionCount", [who.address, "latest"])), 16)
        assert nonce == 5  # the state and the blocks agree: the lost three are simply not there
    finally:
        again.stop()  # a clean stop writes one more consistent generation
    assert check_dump(json.loads(generations(tmp_path / "anvil-state")[0].read_bytes())) is None


def test_no_consistent_generation_refuses_to_start(tmp_path: Path):
    folder = tmp_path / "anvil-state"
    folder.mkdir()
    (folder / "gen-00000001.json").write_text('{"best_block_number": 3, "blocks": []')
    with pytest.raises(AnvilError, match="no consistent Anvil state"):
        _anvil(tmp_path).start()


def test_the_keeper_writes_a_generation_every_interval(tmp_path: Path):
    chain = _anvil(tmp_path).start()
    try:
        rpc_call(chain.url, "evm_mine")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (chain.keeper and chain.keeper.last_best == _head(chain.url)):
            time.sleep(0.1)
        assert chain.keeper is not None and chain.keeper.last_best == _head(chain.url)
        assert not list((tmp_path / "anvil-state").glob(".*.tmp")), "a temporary file was left behind"
    finally:
        chain.stop()
