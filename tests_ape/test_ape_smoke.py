"""Ape-style smoke test (run with `make ape-test`): ape compiles contracts/ with the registered
solc-js and runs it on the npm Anvil through ape-foundry. The main suite is plain pytest (tests/)."""

import ape


def test_bare_erc1155_with_ape(accounts, project):
    owner, other = accounts[0], accounts[1]
    token = owner.deploy(project.BareERC1155)
    token.mint(owner, 1, 10, sender=owner)
    token.safeTransferFrom(owner, other, 1, 4, b"", sender=owner)
    assert token.balanceOf(owner, 1) == 6
    assert token.balanceOf(other, 1) == 4
    with ape.reverts(token.ERC1155InsufficientBalance):
        token.safeTransferFrom(other, owner, 1, 5, b"", sender=other)
