"""Code size: every deployed contract leaves 4 KiB of headroom under EIP-170 (at most 20,480 bytes of
runtime code), so the next rules fit; and within EIP-170 itself, on an Anvil that enforces the limit."""

import pytest

from node_api.core.chain import ContractRevert, deploy_contract
from node_api.core.deploy import CONTRACT_ORDER, OPTIONAL_CONTRACTS

EIP170_LIMIT = 24_576
HEADROOM = 4_096
SIZE_BOUND = EIP170_LIMIT - HEADROOM  # 20,480


def _init_code_returning(size: int) -> dict:
    """Init code that deploys `size` zero bytes: PUSH2 size, PUSH1 0, RETURN."""
    return {"abi": [], "bytecode": f"0x61{size:04x}6000f3"}


def test_deploy_everyContractWithinEip170(deployed, w3):
    for name, address in deployed.addresses.items():
        size = len(w3.eth.get_code(address))
        assert 0 < size <= EIP170_LIMIT, f"{name} runtime code is {size} bytes"


def test_deploy_everyContractLeaves4KiBHeadroom(deployed, w3):
    assert set(deployed.addresses) == set(CONTRACT_ORDER) | set(OPTIONAL_CONTRACTS)  # every named contract, the new ones too
    sizes = {name: len(w3.eth.get_code(address)) for name, address in deployed.addresses.items()}
    over = {name: size for name, size in sizes.items() if not 0 < size <= SIZE_BOUND}
    assert not over, f"runtime code over {SIZE_BOUND:,} bytes: {over}"


def test_anvil_enforcesCodeSizeLimit(w3, accounts, chain_snapshot):
    """The test chain refuses 24,577 bytes and accepts 24,576, or the test above would prove nothing."""
    at_limit = deploy_contract(w3, _init_code_returning(EIP170_LIMIT), accounts[0], gas=10_000_000)
    assert len(w3.eth.get_code(at_limit.address)) == EIP170_LIMIT
    with pytest.raises(ContractRevert):
        deploy_contract(w3, _init_code_returning(EIP170_LIMIT + 1), accounts[0], gas=10_000_000)


def test_everyBuiltTarget_everyContractLeaves4KiBHeadroom():
    """The bound holds for each EVM target the artifacts are built for (cancun, and paris for the
    Clique network, which has no PUSH0 and so larger code), not only the one deployed above."""
    from node_api.core.artifacts import load_artifacts, read_manifest

    targets = sorted(read_manifest()["targets"])
    assert "paris" in targets, targets  # the consortium network's build must be checked too
    over = {}
    for target in targets:
        for name, art in load_artifacts(target).items():
            size = (len(art["deployedBytecode"]) - 2) // 2
            if size > SIZE_BOUND:
                over[f"{target}/{name}"] = size
    assert not over, f"runtime code over {SIZE_BOUND:,} bytes: {over}"
