"""EIP-170: every contract deploys within 24,576 bytes, on an Anvil that enforces the limit."""

import pytest

from node_api.core.chain import ContractRevert, deploy_contract

EIP170_LIMIT = 24_576


def _init_code_returning(size: int) -> dict:
    """Init code that deploys `size` zero bytes: PUSH2 size, PUSH1 0, RETURN."""
    return {"abi": [], "bytecode": f"0x61{size:04x}6000f3"}


def test_deploy_everyContractWithinEip170(deployed, w3):
    for name, address in deployed.addresses.items():
        size = len(w3.eth.get_code(address))
        assert 0 < size <= EIP170_LIMIT, f"{name} runtime code is {size} bytes"


def test_anvil_enforcesCodeSizeLimit(w3, accounts, chain_snapshot):
    """The test chain refuses 24,577 bytes and accepts 24,576, or the test above would prove nothing."""
    at_limit = deploy_contract(w3, _init_code_returning(EIP170_LIMIT), accounts[0], gas=10_000_000)
    assert len(w3.eth.get_code(at_limit.address)) == EIP170_LIMIT
    with pytest.raises(ContractRevert):
        deploy_contract(w3, _init_code_returning(EIP170_LIMIT + 1), accounts[0], gas=10_000_000)
