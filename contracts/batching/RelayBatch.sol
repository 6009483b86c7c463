// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IBatchLedger} from "../interfaces/IBatchLedger.sol";

/// @title RelayBatch: many wallet-signed actions in one transaction, each standing on its own
/// @notice The relayer's way to carry many signed messages in one transaction (one base fee, warm
/// storage across items). Each item is one call of a signed entry point: the batch ledger's custody
/// handshake (propose, accept, reject, cancel, transfer with acceptance) or the forwarder's
/// `execute` of an ERC-2771 request. Items run in order, each in its own call frame: a reverting
/// item is reported (`ItemRun` with ok = false and its revert data) and undoes only itself; the items after it still run (an item
/// that depends on it, e.g. the next nonce of the same signer, then fails on its own check).
/// The contract holds no privilege and no state but its re-entry lock: the ledger and the forwarder
/// check every signature and nonce exactly as when the item is sent alone, so anyone may call it.
/// Non-reentrant: an item cannot call `run` or `check` again (a receiver hook of a contract wallet
/// re-entering with the batch's other items would run them under forged `ItemRun` marks, and the
/// relayer splits a receipt into items at those marks).
contract RelayBatch is ReentrancyGuard {
    address public immutable ledger;
    address public immutable forwarder;

    /// @notice Emitted once per run: how many items it carried and how many reverted.
    event BatchRun(uint256 items, uint256 failed);
    /// @notice Item `index` ran (ok) or reverted with `reason` (the callee's revert data; its effects
    /// undone). Emitted after the item's own events, so a receipt's logs split into items at these marks.
    event ItemRun(uint256 indexed index, bool ok, bytes reason);

    /// @notice An item that is not a call of one of the signed entry points (reported as its reason).
    error BatchItemNotAllowed(uint256 index);

    constructor(address ledger_, address forwarder_) {
        ledger = ledger_;
        forwarder = forwarder_;
    }

    /// @notice Runs every item in order; returns how many reverted.
    function run(bytes[] calldata items) external nonReentrant returns (uint256 failed) {
        uint256 n = items.length;
        for (uint256 i; i < n; ++i) {
            (bool ok, bytes memory reason) = _call(i, items[i]);
            if (!ok) ++failed;
            emit ItemRun(i, ok, ok ? bytes("") : reason);
        }
        emit BatchRun(n, failed);
    }

    /// @notice What `run` would do, item by item (meant for eth_call: a queue checked in order
    /// against the state the items before it leave): success, revert data, and gas used per item.
    /// The call never runs out of gas itself: each item gets what is left above a reserve for
    /// returning the answers, and when that is too little for another item the answer stops there
    /// (fewer results than items: the rest were not checked). An item that ran out of its gas is
    /// reported as failed with empty revert data.
    function check(bytes[] calldata items)
        external
        nonReentrant
        returns (bool[] memory ok, bytes[] memory reasons, uint256[] memory gasUsed)
    {
        uint256 n = items.length;
        ok = new bool[](n);
        reasons = new bytes[](n);
        gasUsed = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 before = gasleft();
            uint256 reserve = _reserve(n);
            if (before < reserve + MIN_ITEM_GAS) {
                assembly ("memory-safe") {
                    mstore(ok, i)
                    mstore(reasons, i)
                    mstore(gasUsed, i)
                }
                break;
            }
            (ok[i], reasons[i]) = _call(i, items[i], before - reserve);
            gasUsed[i] = before - gasleft();
        }
    }

    /// @dev Least gas worth starting an item with in `check`.
    uint256 private constant MIN_ITEM_GAS = 30_000;

    /// @dev Gas kept for returning `check`'s answers: memory in use (the free memory pointer) plus the
    /// encoded answers (about six words per item, short revert reasons), and a margin.
    function _reserve(uint256 n) private pure returns (uint256) {
        uint256 words;
        assembly ("memory-safe") {
            words := mload(0x40)
        }
        words = words / 32 + 6 * n + 64;
        return 3 * words + (words * words) / 512 + 50_000;
    }

    function _call(uint256 i, bytes calldata item) private returns (bool, bytes memory) {
        return _call(i, item, gasleft());
    }

    function _call(uint256 i, bytes calldata item, uint256 gas) private returns (bool, bytes memory) {
        address target;
        if (item.length >= 4) {
            bytes4 sel = bytes4(item[:4]);
            if (
                sel == IBatchLedger.transferWithAcceptance.selector || sel == IBatchLedger.proposeTransfer.selector
                    || sel == IBatchLedger.acceptTransfer.selector || sel == IBatchLedger.rejectTransfer.selector
                    || sel == IBatchLedger.cancelTransfer.selector
            ) {
                target = ledger;
            } else if (sel == ERC2771Forwarder.execute.selector) {
                target = forwarder;
            }
        }
        if (target == address(0)) return (false, abi.encodeWithSelector(BatchItemNotAllowed.selector, i));
        return target.call{gas: gas}(item);
    }
}
