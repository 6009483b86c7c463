// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBatchLedger} from "../interfaces/IBatchLedger.sol";
import {Model} from "../libraries/CocTypes.sol";
import {ModelRules} from "../libraries/ModelRules.sol";

/// @title ModelRulesHarness
/// @notice Exposes every ModelRules function, unchanged, so tests/contracts/test_model_rules.py can check
/// each rule's allowed paths and refusals directly, without building a consortium. Test only: never deployed
/// by deploy.py.
contract ModelRulesHarness {
    /// @notice ModelRules.checkOriginClaim.
    function checkOriginClaim(Model model, uint32 characteristic, uint32 share) external pure {
        ModelRules.checkOriginClaim(model, characteristic, share);
    }

    /// @notice ModelRules.originOf.
    function originOf(Model model, uint64 batchId) external pure returns (uint64) {
        return ModelRules.originOf(model, batchId);
    }

    /// @notice ModelRules.certifiedAtOrigin.
    function certifiedAtOrigin(Model model, uint256 quantity, uint32 share) external pure returns (uint256) {
        return ModelRules.certifiedAtOrigin(model, quantity, share);
    }

    /// @notice Adds `batches` (with `ids` and `quantities`) to an empty mix in order with ModelRules.addInput,
    /// then applies ModelRules.checkMix, as a merge or transform does; returns the mix.
    function mix(
        uint256[] calldata ids,
        IBatchLedger.Batch[] calldata batches,
        uint256[] calldata quantities,
        Model model
    ) external pure returns (ModelRules.Mix memory m) {
        for (uint256 i = 0; i < batches.length; ++i) {
            ModelRules.addInput(m, i, ids[i], batches[i], quantities[i], model);
        }
        ModelRules.checkMix(m, model);
    }

    /// @notice ModelRules.addInput on a given mix.
    function addInput(
        ModelRules.Mix memory m,
        uint256 index,
        uint256 batchId,
        IBatchLedger.Batch memory b,
        uint256 quantity,
        Model model
    ) external pure returns (ModelRules.Mix memory) {
        ModelRules.addInput(m, index, batchId, b, quantity, model);
        return m;
    }

    /// @notice ModelRules.checkMix.
    function checkMix(ModelRules.Mix memory m, Model model) external pure {
        ModelRules.checkMix(m, model);
    }

    /// @notice ModelRules.outputClaim.
    function outputClaim(ModelRules.Mix memory m, Model model)
        external
        pure
        returns (uint32 characteristic, uint32 share, uint64 origin)
    {
        return ModelRules.outputClaim(m, model);
    }

    /// @notice ModelRules.downgradeCredits.
    function downgradeCredits(ModelRules.Mix memory m, Model model) external pure returns (uint256) {
        return ModelRules.downgradeCredits(m, model);
    }

    /// @notice ModelRules.checkYield.
    function checkYield(uint256 input, uint256 output, uint32 factor, uint32 tolerance) external pure {
        ModelRules.checkYield(input, output, factor, tolerance);
    }

    /// @notice ModelRules.checkConversion.
    function checkConversion(uint256 credits, uint256 input, Model model) external pure {
        ModelRules.checkConversion(credits, input, model);
    }

    /// @notice ModelRules.transferModel.
    function transferModel(uint256 batchId, Model model, uint256 certifiedQuantity) external pure returns (Model) {
        return ModelRules.transferModel(batchId, model, certifiedQuantity);
    }

    /// @notice ModelRules.checkReleasable.
    function checkReleasable(uint256 batchId, Model model) external pure {
        ModelRules.checkReleasable(batchId, model);
    }

    /// @notice ModelRules.certifiedContent.
    function certifiedContent(uint256 quantity, uint32 share) external pure returns (uint256) {
        return ModelRules.certifiedContent(quantity, share);
    }
}
