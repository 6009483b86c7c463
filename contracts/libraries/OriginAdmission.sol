// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBatchLedger} from "../interfaces/IBatchLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {ICertificateRegistry} from "../interfaces/ICertificateRegistry.sol";
import {Model, ROLE_SUPPLIER} from "./CocTypes.sol";
import {ModelRules} from "./ModelRules.sol";

/// @title OriginAdmission
/// @notice Admits a new origin batch before BatchLedger mints it: the holder is a supplier at a site, the
/// material is registered, the quantity is not zero, the evidence is new to every origin and certificate,
/// the production date is not in the future, the model's claim is one an origin may carry, and certified
/// material is covered by a certification and counts against the producer's certified capacity.
/// @dev An external library, deployed once and linked into BatchLedger (deploy.py does both): its code runs
/// by DELEGATECALL in the ledger's context, so it reads the ledger's evidence mapping and calls the
/// registries as the ledger, while its bytes do not count against the ledger's EIP-170 size. Origin
/// creation is the rarest and costliest ledger operation, so the call's cost lands where it matters least.
library OriginAdmission {
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
}
