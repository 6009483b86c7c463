// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBatchLedger} from "../interfaces/IBatchLedger.sol";
import {Model, PPM} from "./CocTypes.sol";

/// @title ModelRules
/// @notice The ISO 22095 chain-of-custody model rules, as pure functions over the batches they judge:
/// what claim an origin may carry, what claim survives a mix of inputs, what a transform may yield, what
/// a transfer must be certified for and what may be released into book & claim. BatchLedger holds the
/// state and calls these in the order its operations check things; every refusal is a BatchLedger error.
/// @dev Internal functions only: they are inlined into BatchLedger (and into ModelRulesHarness for unit
/// tests), so a rule costs no external call.
library ModelRules {
    /// @notice What a merge or transform learned about its inputs.
    struct Mix {
        uint256 total;
        uint256 certified; // certified content of inputs with a physical claim (controlled blending or stronger)
        uint32 material;
        uint32 characteristic;
        uint64 origin;
        bool mixedOrigins;
    }

    // ================================================================ origin

    /// @notice An origin carries a characteristic exactly when it is certified, and the share its model
    /// implies: all of it for segregated and identity preserved, a part for controlled blending, none
    /// otherwise (mass balance carries its claim as credits).
    function checkOriginClaim(Model model, uint32 characteristic, uint32 share) internal pure {
        if ((model == Model.Uncertified) != (characteristic == 0)) revert IBatchLedger.BatchInvalidOrigin("characteristic");
        bool shareOk = model >= Model.Segregated
            ? share == PPM
            : model == Model.ControlledBlending ? (share != 0 && share <= PPM) : share == 0;
        if (!shareOk) revert IBatchLedger.BatchInvalidOrigin("share");
    }

    /// @notice The origin an origin batch records: itself when it carries a physical claim (controlled
    /// blending or stronger), so that lineage can carry it downstream; else none.
    function originOf(Model model, uint64 batchId) internal pure returns (uint64) {
        return model >= Model.ControlledBlending ? batchId : 0;
    }

    /// @notice The certified quantity an origin uses of its producer's certified capacity: all of it for
    /// mass balance (booked as credits), the certified share otherwise.
    function certifiedAtOrigin(Model model, uint256 quantity, uint32 share) internal pure returns (uint256) {
        return model == Model.MassBalance ? quantity : quantity * share / PPM;
    }

    // ================================================================ mixing (merge, transform)

    /// @notice Adds input `index` (`quantity` of batch `batchId`) to `mix`, refusing what the requested
    /// model cannot be built from: inputs of another material, certified inputs of another characteristic,
    /// an input weaker than a requested segregated or identity-preserved output, and for identity preserved
    /// an input from another origin.
    function addInput(
        Mix memory mix,
        uint256 index,
        uint256 batchId,
        IBatchLedger.Batch memory b,
        uint256 quantity,
        Model model
    ) internal pure {
        if (quantity == 0) revert IBatchLedger.BatchZeroQuantity();
        if (index == 0) {
            mix.material = b.material;
            mix.origin = b.origin;
        } else if (b.material != mix.material) {
            revert IBatchLedger.BatchMaterialMismatch(batchId, mix.material, b.material);
        }
        if (b.origin != mix.origin) mix.mixedOrigins = true;
        if (model != Model.Uncertified && b.model != Model.Uncertified) {
            if (mix.characteristic == 0) mix.characteristic = b.characteristic;
            else if (b.characteristic != mix.characteristic) {
                revert IBatchLedger.BatchCharacteristicMismatch(batchId, mix.characteristic, b.characteristic);
            }
        }
        if (model >= Model.Segregated && b.model < model) revert IBatchLedger.BatchModelUpgrade(batchId, b.model, model);
        if (model == Model.IdentityPreserved && b.origin != mix.origin) {
            revert IBatchLedger.BatchIdentityPreservedMixed(batchId, mix.origin, b.origin);
        }
        if (b.model >= Model.ControlledBlending) mix.certified += quantity * b.share / PPM;
        mix.total += quantity;
    }

    /// @notice After all inputs: controlled blending needs certified content, mass balance a certified
    /// characteristic to book credits of.
    function checkMix(Mix memory mix, Model model) internal pure {
        if (model == Model.ControlledBlending && mix.certified == 0) revert IBatchLedger.BatchNoCertifiedInput();
        if (model == Model.MassBalance && mix.characteristic == 0) revert IBatchLedger.BatchNoCertifiedInput();
    }

    /// @notice The claim the output of `mix` carries under `model`: segregated and identity preserved
    /// carry all of it (and the origin, if the inputs had one), controlled blending the quantity-weighted
    /// share, mass balance and uncertified no physical share; only an uncertified output drops the
    /// characteristic.
    function outputClaim(Mix memory mix, Model model)
        internal
        pure
        returns (uint32 characteristic, uint32 share, uint64 origin)
    {
        if (model >= Model.Segregated) {
            share = PPM;
            if (!mix.mixedOrigins) origin = mix.origin;
        } else if (model == Model.ControlledBlending) {
            share = uint32(mix.certified * PPM / mix.total);
        }
        characteristic = model == Model.Uncertified ? 0 : mix.characteristic;
    }

    /// @notice The credits a mix books when it becomes a mass-balance batch: its certified content turns
    /// into credits of the site, so the claim survives as a credit and cannot also be made on the batch.
    function downgradeCredits(Mix memory mix, Model model) internal pure returns (uint256) {
        return model == Model.MassBalance ? mix.certified : 0;
    }

    // ================================================================ transform

    /// @notice A transform's yield window: the output is at most the input times the process factor and
    /// at least the input times (factor - tolerance).
    function checkYield(uint256 input, uint256 output, uint32 factor, uint32 tolerance) internal pure {
        if (output == 0) revert IBatchLedger.BatchZeroQuantity();
        uint256 maximum = input * factor / PPM;
        if (output > maximum) revert IBatchLedger.BatchTransformExceedsFactor(output, maximum);
        uint256 minimum = input * (factor - tolerance) / PPM;
        if (output < minimum) revert IBatchLedger.BatchTransformBelowTolerance(output, minimum);
    }

    /// @notice Credits converted along with a transform: at most the input quantity, and only into a
    /// mass-balance output.
    function checkConversion(uint256 credits, uint256 input, Model model) internal pure {
        if (credits > input) revert IBatchLedger.BatchConversionExceedsInput(credits, input);
        if (credits != 0 && model != Model.MassBalance) revert IBatchLedger.BatchDeclarationNotAllowed(0, model);
    }

    // ================================================================ custody and book & claim

    /// @notice The model both parties of a transfer must be certified for. Only a mass-balance batch may
    /// move with a declaration (`certifiedQuantity`); without one it carries no claim, so it needs no
    /// certification.
    function transferModel(uint256 batchId, Model model, uint256 certifiedQuantity) internal pure returns (Model) {
        if (certifiedQuantity != 0 && model != Model.MassBalance) {
            revert IBatchLedger.BatchDeclarationNotAllowed(batchId, model);
        }
        if (model == Model.MassBalance && certifiedQuantity == 0) return Model.Uncertified;
        return model;
    }

    /// @notice Attributes can be released into book & claim only from a batch with a physical claim.
    function checkReleasable(uint256 batchId, Model model) internal pure {
        if (model < Model.ControlledBlending) revert IBatchLedger.BatchNotCertified(batchId);
    }

    /// @notice The certified content of `quantity` of a batch with certified `share`.
    function certifiedContent(uint256 quantity, uint32 share) internal pure returns (uint256) {
        return quantity * share / PPM;
    }
}
