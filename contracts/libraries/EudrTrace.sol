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
/// @dev A batch's status is kept in the top byte of its storage slot: the Batch struct fills 248 bits of its
/// slot (IBatchLedger.Batch), solc masks every field it reads, so the byte costs no storage slot of its own and its
/// write lands on the slot the ledger has just written (about 200 gas instead of 22,100 for a new slot). The ledger
/// calls `derive` by DELEGATECALL (a linked library: its bytes do not count against the ledger's size); its linked
/// Origins library calls `atOrigin`. A field added to Batch must leave that byte free (BatchLedger._newBatch).
library EudrTrace {
    function _set(mapping(uint256 => IBatchLedger.Batch) storage batches, uint256 batchId, IBatchLedger.EudrStatus s)
        private
    {
        IBatchLedger.Batch storage b = batches[batchId];
        assembly ("memory-safe") {
            let slot := b.slot
            sstore(slot, or(and(sload(slot), sub(shl(248, 1), 1)), shl(248, s)))
        }
    }

    /// @notice The EUDR status of `batchId`.
    function status(mapping(uint256 => IBatchLedger.Batch) storage batches, uint256 batchId)
        internal
        view
        returns (IBatchLedger.EudrStatus s)
    {
        IBatchLedger.Batch storage b = batches[batchId];
        assembly ("memory-safe") {
            s := shr(248, sload(b.slot))
        }
    }

    /// @notice Records the status of origin `batchId` of model `model` with plot hash `geolocationHash`.
    function atOrigin(
        mapping(uint256 => IBatchLedger.Batch) storage batches,
        uint256 batchId,
        Model model,
        bytes32 geolocationHash
    ) internal {
        if (geolocationHash == bytes32(0)) return;
        if (model >= Model.Segregated) {
            _set(batches, batchId, IBatchLedger.EudrStatus.Traceable);
        } else {
            _end(batches, batchId, IBatchLedger.EudrEndReason.ModelNotSegregated);
        }
    }

    /// @notice Records the status of batch `batchId` of model `model` made from `parents` (not an origin).
    function derive(
        mapping(uint256 => IBatchLedger.Batch) storage batches,
        uint256 batchId,
        Model model,
        IBatchLedger.Parent[] memory parents
    ) external {
        bool anyTraceable;
        bool anyEnded;
        bool allTraceable = true;
        for (uint256 i = 0; i < parents.length; ++i) {
            IBatchLedger.EudrStatus s = status(batches, parents[i].batchId);
            if (s == IBatchLedger.EudrStatus.Traceable) anyTraceable = true;
            else allTraceable = false;
            if (s == IBatchLedger.EudrStatus.Ended) anyEnded = true;
        }
        if (!anyTraceable) {
            if (anyEnded) _set(batches, batchId, IBatchLedger.EudrStatus.Ended);
            return;
        }
        if (model < Model.Segregated) return _end(batches, batchId, IBatchLedger.EudrEndReason.ModelNotSegregated);
        if (!allTraceable) return _end(batches, batchId, IBatchLedger.EudrEndReason.MixedWithNonEudr);
        _set(batches, batchId, IBatchLedger.EudrStatus.Traceable);
    }

    function _end(mapping(uint256 => IBatchLedger.Batch) storage batches, uint256 batchId, IBatchLedger.EudrEndReason reason)
        private
    {
        _set(batches, batchId, IBatchLedger.EudrStatus.Ended);
        emit IBatchLedger.EudrTraceabilityEnded(batchId, reason);
    }
}
