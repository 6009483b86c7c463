// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBatchLedger} from "../interfaces/IBatchLedger.sol";
import {Model} from "./CocTypes.sol";

/// @title EudrTrace
/// @notice EUDR traceability of batches (Regulation (EU) 2023/1115): material from a plot of land can
/// support a deforestation-free claim only while it is kept identity preserved or segregated; mass
/// balance is not accepted, and mixing with material without a plot ends the claim (Commission FAQ).
/// Rules, applied to every batch as it is created:
///  - an origin with a plot (geolocation hash not zero) is Traceable if its model is segregated or
///    identity preserved, else Ended (ModelNotSegregated); an origin without a plot is None;
///  - any other batch (split, merge, transform, attributes released) is Traceable if its model is
///    segregated or identity preserved and every parent is Traceable; if some parent is Traceable and it
///    is not, it is Ended with EudrTraceabilityEnded (MixedWithNonEudr when a parent is None or Ended
///    under a strong model, else ModelNotSegregated); if no parent is Traceable it takes the strongest
///    status among them (Ended stays Ended, silently: the event was emitted where it ended).
/// Custody transfers move the same batch: they keep its status.
/// @dev The statuses live in ERC-7201 namespaced storage ("coc.storage.EudrTrace") of the contract that
/// runs this code: the ledger, which calls `derive` by DELEGATECALL (a linked library, so its bytes do not
/// count against the ledger's size) and whose linked Origins library calls `atOrigin`.
library EudrTrace {
    /// @custom:storage-location erc7201:coc.storage.EudrTrace
    struct Layout {
        mapping(uint256 => IBatchLedger.EudrStatus) status;
    }

    // keccak256(abi.encode(uint256(keccak256("coc.storage.EudrTrace")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant SLOT = 0x36c7bab622ddd89c0bdf1749aad27cba46c724f2186fdbdfb4f6da024cce3200;

    function _layout() private pure returns (Layout storage l) {
        bytes32 slot = SLOT;
        assembly ("memory-safe") {
            l.slot := slot
        }
    }

    /// @notice The EUDR status of `batchId`.
    function status(uint256 batchId) internal view returns (IBatchLedger.EudrStatus) {
        return _layout().status[batchId];
    }

    /// @notice Records the status of origin `batchId` of model `model` with plot hash `geolocationHash`.
    function atOrigin(uint256 batchId, Model model, bytes32 geolocationHash) internal {
        if (geolocationHash == bytes32(0)) return;
        if (model >= Model.Segregated) {
            _layout().status[batchId] = IBatchLedger.EudrStatus.Traceable;
        } else {
            _end(batchId, IBatchLedger.EudrEndReason.ModelNotSegregated);
        }
    }

    /// @notice Records the status of batch `batchId` of model `model` made from `parents` (not an origin).
    function derive(uint256 batchId, Model model, IBatchLedger.Parent[] memory parents) external {
        Layout storage l = _layout();
        bool anyTraceable;
        bool anyEnded;
        bool allTraceable = true;
        for (uint256 i = 0; i < parents.length; ++i) {
            IBatchLedger.EudrStatus s = l.status[parents[i].batchId];
            if (s == IBatchLedger.EudrStatus.Traceable) anyTraceable = true;
            else allTraceable = false;
            if (s == IBatchLedger.EudrStatus.Ended) anyEnded = true;
        }
        if (!anyTraceable) {
            if (anyEnded) l.status[batchId] = IBatchLedger.EudrStatus.Ended;
            return;
        }
        if (model < Model.Segregated) return _end(batchId, IBatchLedger.EudrEndReason.ModelNotSegregated);
        if (!allTraceable) return _end(batchId, IBatchLedger.EudrEndReason.MixedWithNonEudr);
        l.status[batchId] = IBatchLedger.EudrStatus.Traceable;
    }

    function _end(uint256 batchId, IBatchLedger.EudrEndReason reason) private {
        _layout().status[batchId] = IBatchLedger.EudrStatus.Ended;
        emit IBatchLedger.EudrTraceabilityEnded(batchId, reason);
    }
}
