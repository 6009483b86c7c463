// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBatchLedger} from "../interfaces/IBatchLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {IMassBalance} from "../interfaces/IMassBalance.sol";
import {ICertificateRegistry} from "../interfaces/ICertificateRegistry.sol";
import {Model, ROLE_SUPPLIER} from "./CocTypes.sol";
import {ModelRules} from "./ModelRules.sol";
import {EudrTrace} from "./EudrTrace.sol";

/// @title Origins
/// @notice Origin batches, before and after BatchLedger mints them. Before: admission (the holder is a
/// supplier at a site, the material is registered, the quantity is not zero, the evidence is new to every
/// origin and certificate, the production date is not in the future, the model's claim is one an origin
/// may carry, and certified material is covered by a certification and counts against the producer's
/// certified capacity). After: the origin record, its evidence, its event and a mass-balance origin's credits.
/// @dev An external library, deployed once and linked into BatchLedger (deploy.py does both): its code runs
/// by DELEGATECALL in the ledger's context, so it reads and writes the ledger's origin mappings, emits the
/// ledger's event and calls the registries as the ledger, while its bytes do not count against the ledger's
/// EIP-170 size. Origin creation is the rarest and costliest ledger operation, so the calls' cost lands
/// where it matters least.
library Origins {
    /// @notice Checks origin `p` for `holder`; uses certified capacity for a certified origin.
    /// @param registry The participant registry (roles, sites, materials, certifications, capacity).
    /// @param certificates The certificate registry, or address(0) before the ledger is linked.
    /// @param originEvidence The ledger's evidence hash -> origin batch mapping.
    /// @param holder The wallet that will hold the origin batch.
    /// @param p The origin's parameters as submitted to BatchLedger.createOrigin.
    /// @return participantId The holder's participant.
    /// @return siteId The holder wallet's site.
    /// @return certificationId The certification covering a certified origin (0: uncertified).
    function admit(
        IParticipantRegistry registry,
        ICertificateRegistry certificates,
        mapping(bytes32 => uint256) storage originEvidence,
        address holder,
        IBatchLedger.OriginParams calldata p
    ) external returns (uint32 participantId, uint32 siteId, uint64 certificationId) {
        (participantId, siteId) = registry.requireActor(holder, ROLE_SUPPLIER);
        if (siteId == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(holder);
        if (!registry.material(p.material).exists) revert IParticipantRegistry.RegistryUnknownMaterial(p.material);
        if (p.quantity == 0) revert IBatchLedger.BatchZeroQuantity();
        if (p.evidenceHash == bytes32(0)) revert IBatchLedger.BatchInvalidOrigin("evidenceHash");
        uint256 usedBy = originEvidence[p.evidenceHash];
        uint256 certificateId = address(certificates) == address(0) ? 0 : certificates.evidenceUsedBy(p.evidenceHash);
        if (usedBy != 0 || certificateId != 0) revert IBatchLedger.BatchEvidenceAlreadyUsed(p.evidenceHash, usedBy, certificateId);
        if (p.productionDate > block.timestamp) revert IBatchLedger.BatchInvalidOrigin("productionDate");
        ModelRules.checkOriginClaim(p.model, p.characteristic, p.share);
        if (p.model == Model.Uncertified) return (participantId, siteId, 0);
        bool valid;
        (valid, certificationId) = registry.certificationFor(participantId, p.material, p.characteristic, p.model);
        if (!valid) {
            revert IParticipantRegistry.RegistryNotCertified(participantId, p.material, p.characteristic, p.model);
        }
        registry.useCapacity(participantId, p.material, ModelRules.certifiedAtOrigin(p.model, p.quantity, p.share));
    }

    /// @notice Records origin batch `batchId` just minted from `p`: its origin data, its evidence, the
    /// OriginRecorded event, and for mass balance the origin's credits at the holder's site.
    /// @param batches The ledger's batch id -> batch mapping (the origin's EUDR status goes into its slot).
    /// @param origins The ledger's batch id -> origin mapping.
    /// @param originEvidence The ledger's evidence hash -> origin batch mapping.
    /// @param massBalance The mass-balance book.
    /// @param batchId The origin batch just minted.
    /// @param participantId The holder's participant, as admitted.
    /// @param siteId The holder wallet's site, as admitted.
    /// @param certificationId The covering certification, as admitted (0: uncertified).
    /// @param p The origin's parameters as submitted to BatchLedger.createOrigin.
    function record(
        mapping(uint256 => IBatchLedger.Batch) storage batches,
        mapping(uint256 => IBatchLedger.Origin) storage origins,
        mapping(bytes32 => uint256) storage originEvidence,
        IMassBalance massBalance,
        uint256 batchId,
        uint32 participantId,
        uint32 siteId,
        uint64 certificationId,
        IBatchLedger.OriginParams calldata p
    ) external {
        // Origin's first slot packs siteId, productionDate and certificationId (from the low-order bytes
        // up, as solc lays the struct out): written as one word, because the IR pipeline would otherwise
        // read and write that slot once per field. origin() reads it back field by field.
        IBatchLedger.Origin storage o = origins[batchId];
        uint256 packed = uint256(siteId) | uint256(p.productionDate) << 32 | uint256(certificationId) << 72;
        assembly ("memory-safe") {
            sstore(o.slot, packed)
        }
        o.geolocationHash = p.geolocationHash;
        o.evidenceHash = p.evidenceHash;
        originEvidence[p.evidenceHash] = batchId;
        emit IBatchLedger.OriginRecorded(
            batchId, siteId, certificationId, p.geolocationHash, p.ddsReference, p.evidenceHash, p.productionDate
        );
        EudrTrace.atOrigin(batches, batchId, p.model, p.geolocationHash);
        if (p.model == Model.MassBalance) {
            massBalance.credit(
                participantId, siteId, p.material, p.characteristic, p.quantity, IMassBalance.Reason.OriginCreated, bytes32(batchId)
            );
        }
    }
}
