// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title CocForwarder
/// @notice Relays any action a participant signs as an EIP-712 ForwardRequest (OpenZeppelin's ERC-2771
/// forwarder): the target contract sees the signer, never the relayer that paid the gas.
contract CocForwarder is ERC2771Forwarder {
    constructor(string memory name) ERC2771Forwarder(name) {}
}
