// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ICertificateRegistry} from "./interfaces/ICertificateRegistry.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {IMassBalance} from "./interfaces/IMassBalance.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {Model, ROLE_SUPPLIER, ROLE_ISSUER, ALL_ROLES} from "./libraries/CocTypes.sol";

/// @title CertificateRegistry
/// @notice Book & claim. The rules that make a certificate worth something sit in two places only:
/// `issue` (one issuance per evidence, attributes taken out of the physical chain through a pledge) and
/// `_update`, the single hook every mint, transfer and burn passes (registered participants only, nothing
/// of a revoked issuance moves by any path).
contract CertificateRegistry is ICertificateRegistry, ERC1155, ERC2771Context {
    IParticipantRegistry public immutable registry;
    IMassBalance public immutable massBalance;
    IBatchLedger public immutable batchLedger;

    uint256 private _certificateCount;
    uint64 private _pledgeCount;

    mapping(uint256 => Issuance) private _issuances;
    mapping(uint256 => Amounts) private _amounts;
    mapping(bytes32 => uint256) private _evidence;
    mapping(uint64 => Pledge) private _pledges;
    mapping(uint256 => Retirement) private _retirements;

    constructor(
        IParticipantRegistry registry_,
        IMassBalance massBalance_,
        IBatchLedger batchLedger_,
        address trustedForwarder
    ) ERC1155("") ERC2771Context(trustedForwarder) {
        registry = registry_;
        massBalance = massBalance_;
        batchLedger = batchLedger_;
    }

    // ================================================================ pledges from the physical chain

    /// @inheritdoc ICertificateRegistry
    function pledgeCredits(uint32 material, uint32 characteristic, uint96 quantity) external returns (uint64 pledgeId) {
        address holder = _msgSender();
        (uint32 participantId, uint32 siteId) =
            registry.requireCertifiedActor(holder, ROLE_SUPPLIER, material, characteristic, Model.MassBalance);
        if (siteId == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(holder);
        pledgeId = ++_pledgeCount;
        massBalance.debit(
            participantId, siteId, material, characteristic, quantity, IMassBalance.Reason.Pledged, bytes32(uint256(pledgeId))
        );
        _pledges[pledgeId] = Pledge(participantId, material, characteristic, Source.Credits, false, quantity);
        emit AttributesPledged(pledgeId, participantId, holder, Source.Credits, material, characteristic, quantity, 0, 0);
    }

    /// @inheritdoc ICertificateRegistry
    function pledgeBatch(uint256 batchId, uint256 quantity) external returns (uint64 pledgeId) {
        address holder = _msgSender();
        IBatchLedger.Batch memory b = batchLedger.batch(batchId);
        (uint32 participantId,) =
            registry.requireCertifiedActor(holder, ROLE_SUPPLIER, b.material, b.characteristic, b.model);
        (,, uint256 certified, uint256 childId) = batchLedger.releaseAttributes(holder, batchId, quantity);
        if (certified == 0 || certified > type(uint96).max) revert CertificateInvalid("quantity");
        pledgeId = ++_pledgeCount;
        _pledges[pledgeId] = Pledge(participantId, b.material, b.characteristic, Source.Batch, false, uint96(certified));
        emit AttributesPledged(
            pledgeId, participantId, holder, Source.Batch, b.material, b.characteristic, certified, batchId, childId
        );
    }

    // ================================================================ issue, revoke, retire

    /// @inheritdoc ICertificateRegistry
    function issue(IssueParams calldata p) external returns (uint256 certificateId) {
        (uint32 issuer,) = registry.requireActor(_msgSender(), ROLE_ISSUER);
        if (p.amount == 0) revert CertificateInvalid("amount");
        if (p.unitSize == 0) revert CertificateInvalid("unitSize");
        if (p.evidenceHash == bytes32(0)) revert CertificateInvalid("evidenceHash");
        if (p.periodEnd < p.periodStart) revert CertificateInvalid("periodEnd");
        IParticipantRegistry.ParticipantStatus producerStatus = registry.participant(p.producer).status;
        if (producerStatus == IParticipantRegistry.ParticipantStatus.None) {
            revert IParticipantRegistry.RegistryUnknownParticipant(p.producer);
        }
        if (producerStatus != IParticipantRegistry.ParticipantStatus.Active) {
            revert IParticipantRegistry.RegistryParticipantSuspended(p.producer);
        }
        if (!registry.material(p.material).exists) revert IParticipantRegistry.RegistryUnknownMaterial(p.material);
        registry.schemeOf(p.characteristic); // reverts for an unknown characteristic
        uint256 used = _evidence[p.evidenceHash];
        if (used != 0) revert CertificateEvidenceAlreadyUsed(p.evidenceHash, used);
        // Production recorded as a certified origin batch is claimed physically: its evidence cannot
        // back certificates as well (a pledge is the way to move that batch's attributes here).
        uint256 batchId = batchLedger.originByEvidence(p.evidenceHash);
        if (batchId != 0) revert CertificateEvidenceBacksBatch(p.evidenceHash, batchId);

        Source source = Source.Verified;
        if (p.pledgeId != 0) source = _usePledge(p);

        certificateId = ++_certificateCount;
        _evidence[p.evidenceHash] = certificateId;
        _issuances[certificateId] =
            Issuance(issuer, p.producer, p.material, p.characteristic, p.periodStart, p.periodEnd, false, source);
        _amounts[certificateId] = Amounts(p.unitSize, p.amount, 0, 0);
        // Checks-effects-interactions: the issuance is complete (evidence, pledge, amounts, event) before
        // the mint calls the receiver's hook, so a re-entering wallet finds this evidence used and its
        // own transfers or retirements come after CertificatesIssued.
        _emitIssued(certificateId, issuer, p);
        _mint(p.to, certificateId, p.amount, "");
    }

    /// @inheritdoc ICertificateRegistry
    function revoke(uint256 certificateId, bytes32 reasonHash) external {
        (uint32 participantId,) = registry.requireActor(_msgSender(), ROLE_ISSUER);
        Issuance storage i = _issuance(certificateId);
        if (i.issuer != participantId) revert CertificateNotIssuer(certificateId, participantId);
        if (i.revoked) revert CertificateRevoked(certificateId);
        Amounts memory a = _amounts[certificateId];
        uint64 outstanding = a.amount - a.retired;
        if (outstanding == 0) revert CertificateNothingToRevoke(certificateId);
        i.revoked = true;
        emit IssuanceRevoked(certificateId, participantId, outstanding, reasonHash);
    }

    /// @inheritdoc ICertificateRegistry
    function retire(
        uint256 certificateId,
        uint64 amount,
        string calldata beneficiary,
        uint40 periodStart,
        uint40 periodEnd,
        bytes32 purposeHash
    ) external returns (uint256 retirementId) {
        address holder = _msgSender();
        if (amount == 0) revert CertificateInvalid("amount");
        if (periodEnd < periodStart) revert CertificateInvalid("periodEnd");
        if (bytes(beneficiary).length == 0) revert CertificateInvalid("beneficiary");
        _burn(holder, certificateId, amount);
        Amounts storage a = _amounts[certificateId];
        uint32 n = a.retirementCount + 1;
        (a.retired, a.retirementCount) = (a.retired + amount, n);
        retirementId = (certificateId << 32) | n;
        uint32 retiredBy = registry.wallet(holder).participantId;
        _retirements[retirementId] = Retirement(uint64(certificateId), amount, retiredBy, periodStart, periodEnd);
        emit CertificatesRetired(
            retirementId, certificateId, holder, retiredBy, amount, beneficiary, periodStart, periodEnd, purposeHash
        );
    }

    // ================================================================ views

    function issuance(uint256 certificateId) external view returns (Issuance memory, Amounts memory) {
        return (_issuance(certificateId), _amounts[certificateId]);
    }

    function retirement(uint256 retirementId) external view returns (Retirement memory r) {
        r = _retirements[retirementId];
        if (r.certificateId == 0) revert CertificateUnknownRetirement(retirementId);
    }

    function pledge(uint64 pledgeId) external view returns (Pledge memory) {
        return _pledges[pledgeId];
    }

    function evidenceUsedBy(bytes32 evidenceHash) external view returns (uint256) {
        return _evidence[evidenceHash];
    }

    function certificateCount() external view returns (uint256) {
        return _certificateCount;
    }

    function pledgeCount() external view returns (uint64) {
        return _pledgeCount;
    }

    // ================================================================ the one hook every unit passes

    /// @dev Mint, transfer and burn (retirement) all pass here, so neither a plain ERC-1155 transfer nor an
    /// approved operator can move a revoked unit or reach an unregistered or suspended account.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        for (uint256 k = 0; k < ids.length; ++k) {
            if (_issuances[ids[k]].revoked) revert CertificateRevoked(ids[k]);
        }
        if (from != address(0)) registry.requireActor(from, ALL_ROLES);
        if (to != address(0)) registry.requireActor(to, ALL_ROLES);
        super._update(from, to, ids, values);
    }

    // ================================================================ internals

    function _usePledge(IssueParams calldata p) private returns (Source) {
        Pledge storage pl = _pledges[p.pledgeId];
        if (pl.producer == 0 || pl.used) revert CertificatePledgeUnusable(p.pledgeId);
        if (pl.producer != p.producer) revert CertificatePledgeMismatch(p.pledgeId, "producer");
        if (pl.material != p.material) revert CertificatePledgeMismatch(p.pledgeId, "material");
        if (pl.characteristic != p.characteristic) revert CertificatePledgeMismatch(p.pledgeId, "characteristic");
        if (uint256(p.amount) * p.unitSize != pl.quantity) revert CertificatePledgeMismatch(p.pledgeId, "amount");
        pl.used = true;
        return pl.source;
    }

    function _emitIssued(uint256 certificateId, uint32 issuer, IssueParams calldata p) private {
        emit CertificatesIssued(
            certificateId,
            issuer,
            p.producer,
            p.to,
            p.amount,
            p.unitSize,
            p.unitLabel,
            p.material,
            p.characteristic,
            p.periodStart,
            p.periodEnd,
            p.evidenceHash,
            p.pledgeId
        );
    }

    function _issuance(uint256 certificateId) private view returns (Issuance storage i) {
        i = _issuances[certificateId];
        if (i.issuer == 0) revert CertificateUnknown(certificateId);
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
