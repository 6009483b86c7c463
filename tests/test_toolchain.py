"""Toolchain smoke tests: solc-js pin, compile + cache, Anvil, signing/sending, revert decoding,
and state persistence of the embedded Anvil. Independent of the ledger contracts (they compile
only contracts/test/BareERC1155.sol), so they pass while contracts/ is work in progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from helpers import events, expect_revert, tx
from node_api.core import toolchain
from node_api.core.anvil import EmbeddedAnvil, free_port
from node_api.core.anvil_state import check_dump, generations
from node_api.core.chain import call_revert, connect, deploy_contract
from node_api.core.abi import decode_revert
from node_api.core.compile import compile_contracts
from node_api.core.config import Settings

REPO = toolchain.REPO_ROOT
BARE_SOL = REPO / "contracts" / "test" / "BareERC1155.sol"


@pytest.fixture(scope="session")
def bare_artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return compile_contracts(sources=[BARE_SOL], build_dir=tmp_path_factory.mktemp("bare-build"))


def test_solc_version_is_pinned_consistently() -> None:
    ape_cfg = yaml.safe_load((REPO / "ape-config.yaml").read_text())
    assert str(ape_cfg["solidity"]["version"]) == toolchain.SOLC_VERSION
    assert json.loads((REPO / "package.json").read_text())["dependencies"]["solc"] == toolchain.SOLC_VERSION
    assert toolchain.installed_solcjs_version() == toolchain.SOLC_VERSION
    assert toolchain.solc_version_string().startswith(toolchain.SOLC_VERSION + "+commit.")


def test_solcx_sees_registered_compiler() -> None:
    import solcx

    toolchain.register_solc()
    assert toolchain.SOLC_VERSION in {str(v) for v in solcx.get_installed_solc_versions()}


@pytest.mark.chain
def test_compile_cache_reused(bare_artifacts: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    art = bare_artifacts["BareERC1155"]
    assert art["bytecode"].startswith("0x60") and len(art["deployedBytecode"]) > 1000
    build = tmp_path / "b"
    compile_contracts(sources=[BARE_SOL], build_dir=build)
    import solcx

    def boom(*_a: Any, **_k: Any) -> None:
        raise AssertionError("compiler invoked although the cache matches")

    monkeypatch.setattr(solcx, "compile_standard", boom)
    again = compile_contracts(sources=[BARE_SOL], build_dir=build)
    assert again["BareERC1155"]["bytecode"] == art["bytecode"]
    assert (build / ".sources-hash").exists() and (build / "BareERC1155.json").exists()


def test_bare_erc1155_mint_transfer(w3, accounts, bare_artifacts, chain_snapshot) -> None:
    alice, bob, carol = accounts[0], accounts[1], accounts[19]
    token = deploy_contract(w3, bare_artifacts["BareERC1155"], alice)
    receipt = tx(token.functions.mint(alice.address, 1, 1000), alice)
    assert 40_000 < receipt["gasUsed"] < 60_000  # domain.md: mint of a new id ~48k
    tx(token.functions.safeTransferFrom(alice.address, bob.address, 1, 300, b""), alice)
    r = tx(token.functions.safeTransferFrom(bob.address, carol.address, 1, 100, b""), bob)
    assert token.functions.balanceOf(alice.address, 1).call() == 700
    assert token.functions.balanceOf(bob.address, 1).call() == 200
    assert token.functions.balanceOf(carol.address, 1).call() == 100
    (ev,) = events(token, r, "TransferSingle")
    assert (ev["from"], ev["to"], ev["id"], ev["value"]) == (bob.address, carol.address, 1, 100)

    # Custom error decoded by name and args (addresses checksummed).
    expect_revert(
        token.functions.safeTransferFrom(carol.address, bob.address, 1, 101, b""),
        carol,
        "ERC1155InsufficientBalance",
        sender=carol.address,
        balance=100,
        needed=101,
        tokenId=1,
    )
    assert call_revert(token.functions.safeTransferFrom(alice.address, bob.address, 1, 1, b""), bob) == (
        "ERC1155MissingApprovalForAll",
        {"operator": bob.address, "owner": alice.address},
    )
    assert call_revert(token.functions.balanceOf(alice.address, 1)) is None


def test_decode_revert_builtin_errors() -> None:
    err = keccak(text="Error(string)")[:4] + encode(["string"], ["nope"])
    assert decode_revert(err) == ("Error", {"message": "nope"})
    panic = keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11])
    assert decode_revert("0x" + panic.hex()) == ("Panic", {"code": 0x11})
    assert decode_revert(b"") == ("", {})
    assert decode_revert(b"\xde\xad\xbe\xef")[0] == "<unknown 0xdeadbeef>"


@pytest.mark.chain
def test_embedded_anvil_persists_state(tmp_path: Path, bare_artifacts: dict[str, Any]) -> None:
    settings = Settings(data_dir=tmp_path, anvil_port=free_port(), anvil_state_interval=3600)
    owner = Account.from_key(settings.deployer_key)
    with EmbeddedAnvil(settings) as node:
        assert "--disable-code-size-limit" not in node.command()
        w3 = connect(settings)
        token = deploy_contract(w3, bare_artifacts["BareERC1155"], owner)
        mint = tx(token.functions.mint(owner.address, 42, 5), owner)
        height = w3.eth.block_number
    # state_interval is an hour, so only the dump on clean shutdown can have saved it: the node's own
    # consistent generation (core/anvil_state.py), not Anvil's --state file
    (newest, *_) = generations(tmp_path / "anvil-state")
    assert newest.stat().st_size > 0 and check_dump(json.loads(newest.read_bytes())) is None

    with EmbeddedAnvil(settings):
        w3 = connect(settings)
        assert w3.eth.block_number == height
        assert len(w3.eth.get_code(token.address)) > 0
        token = w3.eth.contract(address=token.address, abi=bare_artifacts["BareERC1155"]["abi"])
        assert token.functions.balanceOf(owner.address, 42).call() == 5
        logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token.address})
        assert [lg["transactionHash"] for lg in logs] == [mint["transactionHash"]]
        assert w3.eth.get_transaction_receipt(mint["transactionHash"])["status"] == 1
        # and the chain keeps going on top of the restored state
        tx(token.functions.mint(owner.address, 42, 1), owner)
        assert token.functions.balanceOf(owner.address, 42).call() == 6
