// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Supply} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Supply.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {IMassBalance} from "./interfaces/IMassBalance.sol";
import {ICertificateRegistry} from "./interfaces/ICertificateRegistry.sol";
import {Model, ROLE_SUPPLIER, ROLE_BRAND, PPM} from "./libraries/CocTypes.sol";

/// @title BatchLedger
/// @notice Batches as ERC-1155 tokens. Physical conservation (nothing created except at certified origin,
/// nothing lost except as recorded consumption or process loss) and the chain-of-custody models are
/// enforced here; credits are booked through MassBalance, permissions are asked of the registry.
contract BatchLedger is IBatchLedger, ERC1155Supply, ERC2771Context, EIP712, Nonces {
    bytes32 public constant TRANSFER_TYPEHASH = keccak256(
        "CustodyTransfer(uint256 batchId,address from,address to,uint256 quantity,uint256 certifiedQuantity,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant ACCEPT_TYPEHASH =
        keccak256("AcceptTransfer(bytes32 transferId,uint256 batchId,uint256 quantity,uint256 deadline)");
    bytes32 public constant REJECT_TYPEHASH = keccak256("RejectTransfer(bytes32 transferId,uint256 deadline)");
    bytes32 public constant CANCEL_TYPEHASH = keccak256("CancelTransfer(bytes32 transferId,uint256 deadline)");

    IParticipantRegistry public immutable registry;
    IMassBalance public immutable massBalance;
    address private _certificates;

    uint64 private _batchCount;
    uint256 private _created;
    uint256 private _consumed;
    uint256 private _lost;

    mapping(uint256 => Batch) private _batches;
    mapping(uint256 => Parent[]) private _parents;
    mapping(uint256 => Origin) private _origins;
    mapping(bytes32 => uint256) private _originEvidence;
    /// @dev Pending and settled two-step transfers, with the age of the credits a pending mass-balance
    /// delivery took (they go back with it if it is cancelled or rejected). A one-transaction transfer is
    /// not stored: the sender's nonce already makes it unrepeatable, and its events record it.
    struct TransferRecord {
        TransferStatus status;
        uint32 creditVintage;
        uint32 fromParticipant; // the account debited for the declaration, credited back on return
        uint32 fromSite;
    }

    mapping(bytes32 => TransferRecord) private _transfers;

    /// @dev What a merge or transform learned about its inputs.
    struct Mix {
        uint256 total;
        uint256 certified; // certified content of inputs with a physical claim (controlled blending or stronger)
        uint32 material;
        uint32 characteristic;
        uint64 origin;
        bool mixedOrigins;
    }

    constructor(IParticipantRegistry registry_, IMassBalance massBalance_, address trustedForwarder)
        ERC1155("")
        ERC2771Context(trustedForwarder)
        EIP712("CocBatchLedger", "1")
    {
        registry = registry_;
        massBalance = massBalance_;
    }

    /// @inheritdoc IBatchLedger
    function link() external {
        if (_certificates != address(0)) revert BatchAlreadyLinked();
        address certificates = registry.certificateRegistry();
        if (certificates == address(0)) revert BatchNotLinkedContract(address(0));
        _certificates = certificates;
    }

    // ================================================================ origin

    /// @inheritdoc IBatchLedger
    function createOrigin(OriginParams calldata p) external returns (uint256 batchId) {
        address holder = _msgSender();
        (uint32 participantId, uint32 siteId, uint64 certificationId) = _admitOrigin(holder, p);
        // Identity-preserved and segregated origins are their own origin; lineage carries it downstream.
        uint64 originId = p.model >= Model.ControlledBlending ? _batchCount + 1 : 0;
        batchId = _newBatch(
            holder, participantId, p.material, p.characteristic, p.model, p.share, originId, BatchKind.Origin, p.quantity, new Parent[](0)
        );
        _origins[batchId] = Origin(siteId, p.productionDate, certificationId, p.geolocationHash, p.evidenceHash);
        _originEvidence[p.evidenceHash] = batchId;
        _created += p.quantity;
        emit OriginRecorded(batchId, siteId, certificationId, p.geolocationHash, p.ddsReference, p.evidenceHash, p.productionDate);
        if (p.model == Model.MassBalance) {
            massBalance.credit(
                participantId, siteId, p.material, p.characteristic, p.quantity, IMassBalance.Reason.OriginCreated, bytes32(batchId)
            );
        }
    }

    /// @dev Validates an origin and, for certified material, the certification and the certified capacity.
    function _admitOrigin(address holder, OriginParams calldata p)
        private
        returns (uint32 participantId, uint32 siteId, uint64 certificationId)
    {
        (participantId, siteId) = registry.requireActor(holder, ROLE_SUPPLIER);
        if (siteId == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(holder);
        if (!registry.material(p.material).exists) revert IParticipantRegistry.RegistryUnknownMaterial(p.material);
        if (p.quantity == 0) revert BatchZeroQuantity();
        if (p.evidenceHash == bytes32(0)) revert BatchInvalidOrigin("evidenceHash");
        uint256 usedBy = _originEvidence[p.evidenceHash];
        uint256 certificateId = _certificates == address(0) ? 0 : ICertificateRegistry(_certificates).evidenceUsedBy(p.evidenceHash);
        if (usedBy != 0 || certificateId != 0) revert BatchEvidenceAlreadyUsed(p.evidenceHash, usedBy, certificateId);
        if (p.productionDate > block.timestamp) revert BatchInvalidOrigin("productionDate");
        if ((p.model == Model.Uncertified) != (p.characteristic == 0)) revert BatchInvalidOrigin("characteristic");
        bool shareOk = p.model >= Model.Segregated
            ? p.share == PPM
            : p.model == Model.ControlledBlending ? (p.share != 0 && p.share <= PPM) : p.share == 0;
        if (!shareOk) revert BatchInvalidOrigin("share");
        if (p.model == Model.Uncertified) return (participantId, siteId, 0);
        bool valid;
        (valid, certificationId) = registry.certificationFor(participantId, p.material, p.characteristic, p.model);
        if (!valid) {
            revert IParticipantRegistry.RegistryNotCertified(participantId, p.material, p.characteristic, p.model);
        }
        uint256 certified = p.model == Model.MassBalance ? p.quantity : p.quantity * p.share / PPM;
        registry.useCapacity(participantId, p.material, certified);
    }

    // ================================================================ custody

    /// @inheritdoc IBatchLedger
    function proposeTransfer(CustodyTransfer calldata t, bytes calldata signature) external returns (bytes32 id) {
        id = _verifyProposal(t, signature);
        (uint32 fromParticipant, uint32 fromSite,,) = _transferParties(t);
        _move(t.from, address(this), t.batchId, t.quantity);
        uint32 vintage;
        if (t.certifiedQuantity != 0) {
            Batch storage b = _batches[t.batchId];
            vintage = massBalance.debit(
                fromParticipant, fromSite, b.material, b.characteristic, t.certifiedQuantity, IMassBalance.Reason.Delivery, id
            );
        }
        _transfers[id] = TransferRecord(TransferStatus.Pending, vintage, fromParticipant, fromSite);
        emit CustodyProposed(id, t.batchId, t.from, t.to, t.quantity, t.certifiedQuantity, t.nonce, t.deadline, signature);
    }

    /// @inheritdoc IBatchLedger
    function acceptTransfer(CustodyTransfer calldata t, uint256 deadline, bytes calldata signature) external {
        bytes32 id = _pending(t);
        _verify(t.to, keccak256(abi.encode(ACCEPT_TYPEHASH, id, t.batchId, t.quantity, deadline)), deadline, signature);
        // The receiver's eligibility is checked again now: a certification may have lapsed while in transit.
        (,, uint32 toParticipant, uint32 toSite) = _transferParties(t);
        _transfers[id].status = TransferStatus.Accepted;
        _move(address(this), t.to, t.batchId, t.quantity);
        if (t.certifiedQuantity != 0) {
            Batch storage b = _batches[t.batchId];
            massBalance.credit(
                toParticipant, toSite, b.material, b.characteristic, t.certifiedQuantity, IMassBalance.Reason.Delivery, id
            );
        }
        emit CustodyAccepted(id, t.batchId, t.to, deadline, signature);
    }

    /// @inheritdoc IBatchLedger
    function rejectTransfer(CustodyTransfer calldata t, uint256 deadline, bytes calldata signature) external {
        bytes32 id = _pending(t);
        _verify(t.to, keccak256(abi.encode(REJECT_TYPEHASH, id, deadline)), deadline, signature);
        registry.requireActor(t.to, ROLE_SUPPLIER | ROLE_BRAND);
        _return(t, id, TransferStatus.Rejected);
        emit CustodyRejected(id, t.batchId, t.to, deadline, signature);
    }

    /// @inheritdoc IBatchLedger
    function cancelTransfer(CustodyTransfer calldata t, uint256 deadline, bytes calldata signature) external {
        bytes32 id = _pending(t);
        _verify(t.from, keccak256(abi.encode(CANCEL_TYPEHASH, id, deadline)), deadline, signature);
        registry.requireActor(t.from, ROLE_SUPPLIER);
        _return(t, id, TransferStatus.Cancelled);
        emit CustodyCancelled(id, t.batchId, t.from, deadline, signature);
    }

    /// @inheritdoc IBatchLedger
    function transferWithAcceptance(
        CustodyTransfer calldata t,
        bytes calldata senderSignature,
        uint256 acceptDeadline,
        bytes calldata receiverSignature
    ) external returns (bytes32 id) {
        id = _verifyProposal(t, senderSignature);
        _verify(t.to, keccak256(abi.encode(ACCEPT_TYPEHASH, id, t.batchId, t.quantity, acceptDeadline)), acceptDeadline, receiverSignature);
        _settle(t, id);
        emit CustodyProposed(id, t.batchId, t.from, t.to, t.quantity, t.certifiedQuantity, t.nonce, t.deadline, senderSignature);
        emit CustodyAccepted(id, t.batchId, t.to, acceptDeadline, receiverSignature);
    }

    // ================================================================ split, merge, transform, consume

    /// @inheritdoc IBatchLedger
    function split(uint256 batchId, uint256[] calldata quantities) external returns (uint256[] memory childIds) {
        address holder = _msgSender();
        Batch memory b = _batch(batchId);
        (uint32 participantId,) =
            registry.requireCertifiedActor(holder, ROLE_SUPPLIER, b.material, b.characteristic, b.model);
        childIds = new uint256[](quantities.length);
        for (uint256 i = 0; i < quantities.length; ++i) {
            uint256 q = quantities[i];
            if (q == 0) revert BatchZeroQuantity();
            _burn(holder, batchId, q);
            Parent[] memory ps = new Parent[](1);
            ps[0] = Parent(uint64(batchId), SafeCast.toUint96(q));
            childIds[i] = _newBatch(
                holder, participantId, b.material, b.characteristic, b.model, b.share, b.origin, BatchKind.Split, q, ps
            );
        }
    }

    /// @inheritdoc IBatchLedger
    function merge(uint256[] calldata batchIds, uint256[] calldata quantities, Model model)
        external
        returns (uint256 batchId)
    {
        address holder = _msgSender();
        (Mix memory mix, Parent[] memory ps) = _mix(holder, batchIds, quantities, model);
        (uint32 participantId, uint32 siteId) =
            registry.requireCertifiedActor(holder, ROLE_SUPPLIER, mix.material, mix.characteristic, model);
        batchId = _output(holder, participantId, mix.material, mix, model, BatchKind.Merge, mix.total, ps);
        _bookDowngrade(holder, participantId, siteId, mix, model, batchId);
    }

    /// @inheritdoc IBatchLedger
    function transform(
        uint32 processId,
        uint256[] calldata batchIds,
        uint256[] calldata quantities,
        uint256 outputQuantity,
        Model model,
        uint256 creditsToConvert
    ) external returns (uint256 batchId) {
        address holder = _msgSender();
        IParticipantRegistry.Process memory proc = registry.process(processId);
        (Mix memory mix, Parent[] memory ps) = _mix(holder, batchIds, quantities, model);
        if (mix.material != proc.inputMaterial) revert BatchMaterialMismatch(batchIds[0], proc.inputMaterial, mix.material);
        _checkYield(mix.total, outputQuantity, proc);
        if (creditsToConvert > mix.total) revert BatchConversionExceedsInput(creditsToConvert, mix.total);
        if (creditsToConvert != 0 && model != Model.MassBalance) revert BatchDeclarationNotAllowed(0, model);
        _lost += mix.total - outputQuantity;
        batchId = _transformOutput(holder, proc, mix, model, outputQuantity, ps);
        uint256 produced;
        if (creditsToConvert != 0) {
            IParticipantRegistry.Wallet memory w = registry.wallet(holder);
            produced = massBalance.convert(
                w.participantId, w.siteId, proc.inputMaterial, proc.outputMaterial, mix.characteristic, creditsToConvert, proc.factor, bytes32(batchId)
            );
        }
        emit TransformRecorded(batchId, processId, mix.total, outputQuantity, mix.total - outputQuantity, creditsToConvert, produced);
    }

    function _transformOutput(
        address holder,
        IParticipantRegistry.Process memory proc,
        Mix memory mix,
        Model model,
        uint256 outputQuantity,
        Parent[] memory ps
    ) private returns (uint256 batchId) {
        (uint32 participantId, uint32 siteId) =
            registry.requireCertifiedActor(holder, ROLE_SUPPLIER, proc.outputMaterial, mix.characteristic, model);
        batchId = _output(holder, participantId, proc.outputMaterial, mix, model, BatchKind.Transform, outputQuantity, ps);
        _bookDowngrade(holder, participantId, siteId, mix, model, batchId);
    }

    /// @inheritdoc IBatchLedger
    function consume(uint256 batchId, uint256 quantity, ConsumeReason reason, bytes32 ref) external {
        address holder = _msgSender();
        _batch(batchId);
        registry.requireActor(holder, ROLE_SUPPLIER | ROLE_BRAND);
        if (quantity == 0) revert BatchZeroQuantity();
        _burn(holder, batchId, quantity);
        _consumed += quantity;
        emit BatchConsumed(batchId, holder, quantity, reason, ref);
    }

    /// @inheritdoc IBatchLedger
    function releaseAttributes(address holder, uint256 batchId, uint256 quantity)
        external
        returns (uint32 material, uint32 characteristic, uint256 certifiedQuantity, uint256 childId)
    {
        if (msg.sender != _certificates) revert BatchNotLinkedContract(msg.sender);
        Batch memory b = _batch(batchId);
        if (b.model < Model.ControlledBlending) revert BatchNotCertified(batchId);
        if (quantity == 0) revert BatchZeroQuantity();
        _burn(holder, batchId, quantity);
        Parent[] memory ps = new Parent[](1);
        ps[0] = Parent(uint64(batchId), SafeCast.toUint96(quantity));
        childId = _newBatch(
            holder, registry.wallet(holder).participantId, b.material, 0, Model.Uncertified, 0, 0, BatchKind.AttributesReleased, quantity, ps
        );
        return (b.material, b.characteristic, quantity * b.share / PPM, childId);
    }

    // ================================================================ direct token moves are closed

    /// @dev Custody moves only through the signed handshake, never by a plain ERC-1155 transfer.
    function safeTransferFrom(address, address, uint256, uint256, bytes memory) public pure override {
        revert BatchTransferRequiresSignatures();
    }

    function safeBatchTransferFrom(address, address, uint256[] memory, uint256[] memory, bytes memory)
        public
        pure
        override
    {
        revert BatchTransferRequiresSignatures();
    }

    function setApprovalForAll(address, bool) public pure override {
        revert BatchTransferRequiresSignatures();
    }

    // ================================================================ views

    function batch(uint256 batchId) external view returns (Batch memory) {
        return _batch(batchId);
    }

    function parents(uint256 batchId) external view returns (Parent[] memory) {
        return _parents[batchId];
    }

    function origin(uint256 batchId) external view returns (Origin memory) {
        return _origins[batchId];
    }

    function originByEvidence(bytes32 evidenceHash) external view returns (uint256) {
        return _originEvidence[evidenceHash];
    }

    function transferStatus(bytes32 id) external view returns (TransferStatus) {
        return _transfers[id].status;
    }

    function batchCount() external view returns (uint64) {
        return _batchCount;
    }

    function totals() external view returns (uint256 created, uint256 consumed, uint256 lost, uint256 supply) {
        return (_created, _consumed, _lost, totalSupply());
    }

    function transferDigest(CustodyTransfer calldata t) external view returns (bytes32) {
        return _hashTypedDataV4(transferId(t));
    }

    function transferId(CustodyTransfer calldata t) public pure returns (bytes32) {
        return keccak256(
            abi.encode(TRANSFER_TYPEHASH, t.batchId, t.from, t.to, t.quantity, t.certifiedQuantity, t.nonce, t.deadline)
        );
    }

    // ================================================================ internals: custody

    function _verifyProposal(CustodyTransfer calldata t, bytes calldata signature) private returns (bytes32 id) {
        if (t.quantity == 0) revert BatchZeroQuantity();
        if (t.to == t.from || t.to == address(0) || t.to == address(this)) revert BatchInvalidTransfer("to");
        if (t.certifiedQuantity > t.quantity) revert BatchDeclarationExceedsQuantity(t.certifiedQuantity, t.quantity);
        id = transferId(t);
        _verify(t.from, id, t.deadline, signature);
        _useCheckedNonce(t.from, t.nonce);
    }

    function _verify(address signer, bytes32 structHash, uint256 deadline, bytes calldata signature) private view {
        if (block.timestamp > deadline) revert BatchSignatureExpired(deadline, block.timestamp);
        bytes32 digest = _hashTypedDataV4(structHash);
        // Recover first: an EOA signature then costs no EXTCODESIZE of a cold account (2,600 gas per
        // signer); only when recovery does not give the signer is it asked as an ERC-1271 contract wallet.
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return;
        if (!SignatureChecker.isValidERC1271SignatureNowCalldata(signer, digest, signature)) {
            revert BatchInvalidSignature(signer);
        }
    }

    function _pending(CustodyTransfer calldata t) private view returns (bytes32 id) {
        id = transferId(t);
        TransferStatus status = _transfers[id].status;
        if (status != TransferStatus.Pending) revert BatchTransferNotPending(id, status);
    }

    /// @dev Both parties, checked at this block. A mass-balance batch moving without a declaration carries
    /// no claim, so it needs no certification; every other certified model does.
    function _transferParties(CustodyTransfer calldata t)
        private
        view
        returns (uint32 fromParticipant, uint32 fromSite, uint32 toParticipant, uint32 toSite)
    {
        Batch storage b = _batches[t.batchId];
        if (b.createdAt == 0) revert BatchUnknown(t.batchId);
        Model model = b.model;
        if (t.certifiedQuantity != 0 && model != Model.MassBalance) revert BatchDeclarationNotAllowed(t.batchId, model);
        if (model == Model.MassBalance && t.certifiedQuantity == 0) model = Model.Uncertified;
        (fromParticipant, fromSite, toParticipant, toSite) =
            registry.requireTransferParties(t.from, t.to, b.material, b.characteristic, model);
        if (t.certifiedQuantity != 0) {
            if (fromSite == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(t.from);
            if (toSite == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(t.to);
        }
    }

    /// @dev Hands the quantity from sender to receiver and moves the declared credits with it.
    function _settle(CustodyTransfer calldata t, bytes32 id) private {
        (uint32 fromParticipant, uint32 fromSite, uint32 toParticipant, uint32 toSite) = _transferParties(t);
        _move(t.from, t.to, t.batchId, t.quantity);
        if (t.certifiedQuantity != 0) {
            Batch storage b = _batches[t.batchId];
            massBalance.deliver(
                fromParticipant, fromSite, toParticipant, toSite, b.material, b.characteristic, t.certifiedQuantity, id
            );
        }
    }

    function _return(CustodyTransfer calldata t, bytes32 id, TransferStatus status) private {
        TransferRecord storage record = _transfers[id];
        record.status = status;
        _move(address(this), t.from, t.batchId, t.quantity);
        if (t.certifiedQuantity != 0) {
            Batch storage b = _batches[t.batchId];
            massBalance.creditReturned(
                record.fromParticipant, record.fromSite, b.material, b.characteristic, t.certifiedQuantity, record.creditVintage, id
            );
        }
    }

    function _move(address from, address to, uint256 id, uint256 quantity) private {
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        ids[0] = id;
        values[0] = quantity;
        _update(from, to, ids, values);
    }

    // ================================================================ internals: models

    /// @dev Burns the inputs and decides what claim survives the mix. The requested model must be one the
    /// inputs can support: identity preserved only from one origin, segregated only from segregated inputs
    /// of one characteristic, controlled blending with the quantity-weighted share, mass balance from
    /// anything (certified content turns into credits), or no claim at all.
    function _mix(address holder, uint256[] calldata ids, uint256[] calldata quantities, Model model)
        private
        returns (Mix memory mix, Parent[] memory ps)
    {
        if (ids.length == 0 || ids.length != quantities.length) revert BatchLengthMismatch(ids.length, quantities.length);
        ps = new Parent[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 id = ids[i];
            uint256 q = quantities[i];
            Batch memory b = _batch(id);
            if (q == 0) revert BatchZeroQuantity();
            if (i == 0) {
                mix.material = b.material;
                mix.origin = b.origin;
            } else if (b.material != mix.material) {
                revert BatchMaterialMismatch(id, mix.material, b.material);
            }
            if (b.origin != mix.origin) mix.mixedOrigins = true;
            if (model != Model.Uncertified && b.model != Model.Uncertified) {
                if (mix.characteristic == 0) mix.characteristic = b.characteristic;
                else if (b.characteristic != mix.characteristic) {
                    revert BatchCharacteristicMismatch(id, mix.characteristic, b.characteristic);
                }
            }
            if (model >= Model.Segregated && b.model < model) revert BatchModelUpgrade(id, b.model, model);
            if (model == Model.IdentityPreserved && b.origin != mix.origin) {
                revert BatchIdentityPreservedMixed(id, mix.origin, b.origin);
            }
            if (b.model >= Model.ControlledBlending) mix.certified += q * b.share / PPM;
            mix.total += q;
            _burn(holder, id, q);
            ps[i] = Parent(uint64(id), SafeCast.toUint96(q));
        }
        if (model == Model.ControlledBlending && mix.certified == 0) revert BatchNoCertifiedInput();
        if (model == Model.MassBalance && mix.characteristic == 0) revert BatchNoCertifiedInput();
    }

    function _output(
        address holder,
        uint32 participantId,
        uint32 material,
        Mix memory mix,
        Model model,
        BatchKind kind,
        uint256 quantity,
        Parent[] memory ps
    ) private returns (uint256) {
        uint32 share;
        uint64 originId;
        if (model >= Model.Segregated) {
            share = PPM;
            if (!mix.mixedOrigins) originId = mix.origin;
        } else if (model == Model.ControlledBlending) {
            share = uint32(mix.certified * PPM / mix.total);
        }
        uint32 characteristic = model == Model.Uncertified ? 0 : mix.characteristic;
        return _newBatch(holder, participantId, material, characteristic, model, share, originId, kind, quantity, ps);
    }

    /// @dev Certified content that enters a mass-balance output becomes credits of the site, so that the
    /// claim survives as a credit and cannot also be made on the physical batch.
    function _bookDowngrade(
        address holder,
        uint32 participantId,
        uint32 siteId,
        Mix memory mix,
        Model model,
        uint256 batchId
    ) private {
        if (model != Model.MassBalance || mix.certified == 0) return;
        if (siteId == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(holder);
        massBalance.credit(
            participantId, siteId, mix.material, mix.characteristic, mix.certified, IMassBalance.Reason.Downgrade, bytes32(batchId)
        );
    }

    function _checkYield(uint256 input, uint256 output, IParticipantRegistry.Process memory proc) private pure {
        if (output == 0) revert BatchZeroQuantity();
        uint256 maximum = input * proc.factor / PPM;
        if (output > maximum) revert BatchTransformExceedsFactor(output, maximum);
        uint256 minimum = input * (proc.factor - proc.tolerance) / PPM;
        if (output < minimum) revert BatchTransformBelowTolerance(output, minimum);
    }

    function _newBatch(
        address holder,
        uint32 participantId,
        uint32 material,
        uint32 characteristic,
        Model model,
        uint32 share,
        uint64 originId,
        BatchKind kind,
        uint256 quantity,
        Parent[] memory ps
    ) private returns (uint256 batchId) {
        batchId = ++_batchCount;
        _batches[batchId] = Batch(material, characteristic, model, share, participantId, originId, kind, uint40(block.timestamp));
        Parent[] storage stored = _parents[batchId];
        for (uint256 i = 0; i < ps.length; ++i) {
            stored.push(ps[i]);
        }
        _mint(holder, batchId, quantity, "");
        emit BatchCreated(batchId, participantId, holder, kind, material, characteristic, model, share, originId, quantity, ps);
    }

    function _batch(uint256 batchId) private view returns (Batch memory b) {
        b = _batches[batchId];
        if (b.createdAt == 0) revert BatchUnknown(batchId);
    }

    // ================================================================ ERC-2771 plumbing

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
