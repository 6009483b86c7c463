// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

/// @notice Bare OpenZeppelin ERC-1155 with an open mint: the baseline for gas benchmarks and the
/// toolchain smoke tests. Not part of the ledger; never deploy outside test/dev chains.
contract BareERC1155 is ERC1155 {
    constructor() ERC1155("") {}

    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}
