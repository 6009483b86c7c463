// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Supply} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Supply.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ERC1155Utils} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Utils.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {IMassBalance} from "./interfaces/IMassBalance.sol";
import {ICertificateRegistry} from "./interfaces/ICertificateRegistry.sol";
import {Model, ROLE_SUPPLIER, ROLE_BRAND} from "./libraries/CocTypes.sol";
import {ModelRules} from "./libraries/ModelRules.sol";
import {Origins} from "./libraries/Origins.sol";
import {EudrTrace} from "./libraries/EudrTrace.sol";
import {CustodyHandshake} from "./ledger/CustodyHandshake.sol";

/// @title BatchLedger
/// @notice Batches as ERC-1155 tokens. Physical conservation (nothing created except at certified origin,
/// nothing lost except as recorded consumption or process loss) and the chain-of-custody models are
/// enforced here; credits are booked through MassBalance, permissions are asked of the registry.
/// @dev The model rules live in ModelRules (inlined), origin admission and recording in the linked Origins
/// library, the signed custody handshake in CustodyHandshake; this contract holds the batches and says
/// what each operation does to tokens and credits. ERC1155 comes first among the bases so that its
/// balances keep storage slot 0.
/// Checks-effects-interactions: a new batch is minted without the ERC-1155 acceptance call; every state
/// change and event of an operation (batches, parents, origin and evidence, credits, totals) comes first,
/// and the receivers' hooks (`_accept`) are called last, so a contract wallet re-entering from its hook
/// finds the operation complete and its own events come after the operation's.
contract BatchLedger is ERC1155Supply, ERC2771Context, CustodyHandshake {
    using ModelRules for ModelRules.Mix;

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

    constructor(IParticipantRegistry registry_, IMassBalance massBalance_, address trustedForwarder)
        ERC1155("")
        ERC2771Context(trustedForwarder)
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
        (uint32 participantId, uint32 siteId, uint64 certificationId) = Origins.admit(
            registry, ICertificateRegistry(_certificates), _originEvidence, holder, p
        );
        batchId = _newBatch(
            holder,
            participantId,
            p.material,
            p.characteristic,
            p.model,
            p.share,
            ModelRules.originOf(p.model, _batchCount + 1),
            BatchKind.Origin,
            p.quantity,
            new Parent[](0)
        );
        _created += p.quantity;
        Origins.record(_batches, _origins, _originEvidence, massBalance, batchId, participantId, siteId, certificationId, p);
        _accept(holder, batchId, p.quantity);
    }

    // ================================================================ split, merge, transform, consume

    /// @inheritdoc IBatchLedger
    function split(uint256 batchId, uint256[] calldata quantities) external returns (uint256[] memory childIds) {
        address holder = _msgSender();
        Batch memory b = _batch(batchId);
        (uint32 participantId,) =
            registry.requireCertifiedActor(holder, ROLE_SUPPLIER, b.material, b.characteristic, b.model);
        b.kind = BatchKind.Split; // b is this call's copy: the children's claim
        childIds = new uint256[](quantities.length);
        for (uint256 i = 0; i < quantities.length; ++i) {
            uint256 q = quantities[i];
            if (q == 0) revert BatchZeroQuantity();
            _burn(holder, batchId, q);
            childIds[i] = _newChild(holder, participantId, b, q, _parent(batchId, q));
        }
        for (uint256 i = 0; i < childIds.length; ++i) {
            _accept(holder, childIds[i], quantities[i]);
        }
    }

    /// @inheritdoc IBatchLedger
    function merge(uint256[] calldata batchIds, uint256[] calldata quantities, Model model)
        external
        returns (uint256 batchId)
    {
        address holder = _msgSender();
        (ModelRules.Mix memory mix, Parent[] memory ps) = _mix(holder, batchIds, quantities, model);
        (uint32 participantId, uint32 siteId) =
            registry.requireCertifiedActor(holder, ROLE_SUPPLIER, mix.material, mix.characteristic, model);
        batchId = _output(holder, participantId, siteId, mix.material, mix, model, BatchKind.Merge, mix.total, ps);
        _accept(holder, batchId, mix.total);
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
        (ModelRules.Mix memory mix, Parent[] memory ps) = _mix(holder, batchIds, quantities, model);
        if (mix.material != proc.inputMaterial) revert BatchMaterialMismatch(batchIds[0], proc.inputMaterial, mix.material);
        ModelRules.checkYield(mix.total, outputQuantity, proc.factor, proc.tolerance);
        ModelRules.checkConversion(creditsToConvert, mix.total, model);
        _lost += mix.total - outputQuantity;
        {
            (uint32 participantId, uint32 siteId) =
                registry.requireCertifiedActor(holder, ROLE_SUPPLIER, proc.outputMaterial, mix.characteristic, model);
            batchId = _output(holder, participantId, siteId, proc.outputMaterial, mix, model, BatchKind.Transform, outputQuantity, ps);
        }
        uint256 produced;
        if (creditsToConvert != 0) {
            IParticipantRegistry.Wallet memory w = registry.wallet(holder);
            produced = massBalance.convert(
                w.participantId, w.siteId, proc.inputMaterial, proc.outputMaterial, mix.characteristic, creditsToConvert, proc.factor, bytes32(batchId)
            );
        }
        emit TransformRecorded(batchId, processId, mix.total, outputQuantity, mix.total - outputQuantity, creditsToConvert, produced);
        _accept(holder, batchId, outputQuantity);
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
    /// @dev The child is minted without an acceptance call: the holder already holds this ledger's tokens
    /// of the parent batch and the child is the same goods relabelled, and a hook here would run in the
    /// middle of the certificate registry's pledge (before the pledge is recorded).
    function releaseAttributes(address holder, uint256 batchId, uint256 quantity)
        external
        returns (uint32 material, uint32 characteristic, uint256 certifiedQuantity, uint256 childId)
    {
        if (msg.sender != _certificates) revert BatchNotLinkedContract(msg.sender);
        Batch memory b = _batch(batchId);
        ModelRules.checkReleasable(batchId, b.model);
        if (quantity == 0) revert BatchZeroQuantity();
        _burn(holder, batchId, quantity);
        Parent[] memory ps = _parent(batchId, quantity);
        Batch memory released = Batch(b.material, 0, Model.Uncertified, 0, 0, 0, BatchKind.AttributesReleased, 0);
        childId = _newChild(holder, registry.wallet(holder).participantId, released, quantity, ps);
        return (b.material, b.characteristic, ModelRules.certifiedContent(quantity, b.share), childId);
    }

    // ================================================================ direct token moves are closed

    /// @notice Always reverts: custody moves only through the signed handshake, never by a plain ERC-1155 transfer.
    function safeTransferFrom(address, address, uint256, uint256, bytes memory) public pure override {
        revert BatchTransferRequiresSignatures();
    }

    /// @notice Always reverts: custody moves only through the signed handshake.
    function safeBatchTransferFrom(address, address, uint256[] memory, uint256[] memory, bytes memory)
        public
        pure
        override
    {
        revert BatchTransferRequiresSignatures();
    }

    /// @notice Always reverts: no operator may move a holder's batches.
    function setApprovalForAll(address, bool) public pure override {
        revert BatchTransferRequiresSignatures();
    }

    // ================================================================ views

    /// @inheritdoc IBatchLedger
    function batch(uint256 batchId) external view returns (Batch memory) {
        return _batch(batchId);
    }

    /// @inheritdoc IBatchLedger
    function parents(uint256 batchId) external view returns (Parent[] memory) {
        return _parents[batchId];
    }

    /// @inheritdoc IBatchLedger
    function origin(uint256 batchId) external view returns (Origin memory) {
        return _origins[batchId];
    }

    /// @inheritdoc IBatchLedger
    function originByEvidence(bytes32 evidenceHash) external view returns (uint256) {
        return _originEvidence[evidenceHash];
    }

    /// @inheritdoc IBatchLedger
    function batchCount() external view returns (uint64) {
        return _batchCount;
    }

    /// @inheritdoc IBatchLedger
    function eudrStatus(uint256 batchId) external view returns (EudrStatus) {
        return EudrTrace.status(_batches, batchId);
    }

    /// @inheritdoc IBatchLedger
    function totals() external view returns (uint256 created, uint256 consumed, uint256 lost, uint256 supply) {
        return (_created, _consumed, _lost, totalSupply());
    }

    // ================================================================ custody: the handshake's hooks

    function _escrow(CustodyTransfer calldata t, bytes32 id)
        internal
        override
        returns (uint32 vintage, uint32 fromParticipant, uint32 fromSite)
    {
        (fromParticipant, fromSite,,) = _transferParties(t);
        _move(t.from, address(this), t.batchId, t.quantity);
        if (t.certifiedQuantity != 0) {
            Batch storage b = _batches[t.batchId];
            vintage = massBalance.debit(
                fromParticipant, fromSite, b.material, b.characteristic, t.certifiedQuantity, IMassBalance.Reason.Delivery, id
            );
        }
    }

    function _release(CustodyTransfer calldata t, bytes32 id, TransferRecord storage record) internal override {
        (,, uint32 toParticipant, uint32 toSite) = _transferParties(t);
        _move(address(this), t.to, t.batchId, t.quantity);
        if (t.certifiedQuantity != 0) {
            Batch storage b = _batches[t.batchId];
            // The credits keep the age they had when escrowed (MassBalance.deliver does the same in one step).
            massBalance.creditAged(
                toParticipant, toSite, b.material, b.characteristic, t.certifiedQuantity, IMassBalance.Reason.Delivery,
                record.creditVintage, id
            );
        }
    }

    function _refund(CustodyTransfer calldata t, bytes32 id, TransferRecord storage record) internal override {
        _move(address(this), t.from, t.batchId, t.quantity);
        if (t.certifiedQuantity != 0) {
            Batch storage b = _batches[t.batchId];
            massBalance.creditAged(
                record.fromParticipant, record.fromSite, b.material, b.characteristic, t.certifiedQuantity,
                IMassBalance.Reason.DeliveryReturned, record.creditVintage, id
            );
        }
    }

    function _settle(CustodyTransfer calldata t, bytes32 id) internal override {
        (uint32 fromParticipant, uint32 fromSite, uint32 toParticipant, uint32 toSite) = _transferParties(t);
        _move(t.from, t.to, t.batchId, t.quantity);
        if (t.certifiedQuantity != 0) {
            Batch storage b = _batches[t.batchId];
            massBalance.deliver(
                fromParticipant, fromSite, toParticipant, toSite, b.material, b.characteristic, t.certifiedQuantity, id
            );
        }
    }

    function _requireActor(address wallet, uint8 roles) internal view override {
        registry.requireActor(wallet, roles);
    }

    /// @dev Both parties, checked at this block, for the model the transfer claims (ModelRules.transferModel).
    function _transferParties(CustodyTransfer calldata t)
        private
        view
        returns (uint32 fromParticipant, uint32 fromSite, uint32 toParticipant, uint32 toSite)
    {
        Batch storage b = _batches[t.batchId];
        if (b.createdAt == 0) revert BatchUnknown(t.batchId);
        Model model = ModelRules.transferModel(t.batchId, b.model, t.certifiedQuantity);
        (fromParticipant, fromSite, toParticipant, toSite) =
            registry.requireTransferParties(t.from, t.to, b.material, b.characteristic, model);
        if (t.certifiedQuantity != 0) {
            if (fromSite == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(t.from);
            if (toSite == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(t.to);
        }
    }

    function _move(address from, address to, uint256 id, uint256 quantity) private {
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        ids[0] = id;
        values[0] = quantity;
        _update(from, to, ids, values);
    }

    /// @dev The ERC-1155 acceptance check of a batch minted to `holder`, made last (checks-effects-interactions).
    function _accept(address holder, uint256 batchId, uint256 quantity) private {
        ERC1155Utils.checkOnERC1155Received(_msgSender(), address(0), holder, batchId, quantity, "");
    }

    // ================================================================ internals: batches

    /// @dev Burns the inputs in order, each after ModelRules.addInput judged it, so a refusal names the first
    /// input at fault; then ModelRules.checkMix judges the whole.
    function _mix(address holder, uint256[] calldata ids, uint256[] calldata quantities, Model model)
        private
        returns (ModelRules.Mix memory mix, Parent[] memory ps)
    {
        if (ids.length == 0 || ids.length != quantities.length) revert BatchLengthMismatch(ids.length, quantities.length);
        ps = new Parent[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 id = ids[i];
            uint256 q = quantities[i];
            mix.addInput(i, id, _batch(id), q, model);
            _burn(holder, id, q);
            ps[i] = Parent(uint64(id), SafeCast.toUint96(q));
        }
        mix.checkMix(model);
    }

    /// @dev Mints the output of a merge or transform with the claim ModelRules.outputClaim gives it, and
    /// books the certified content of a mass-balance output as credits of the site.
    function _output(
        address holder,
        uint32 participantId,
        uint32 siteId,
        uint32 material,
        ModelRules.Mix memory mix,
        Model model,
        BatchKind kind,
        uint256 quantity,
        Parent[] memory ps
    ) private returns (uint256 batchId) {
        (uint32 characteristic, uint32 share, uint64 originId) = mix.outputClaim(model);
        batchId = _newBatch(holder, participantId, material, characteristic, model, share, originId, kind, quantity, ps);
        uint256 credits = mix.downgradeCredits(model);
        if (credits == 0) return batchId;
        if (siteId == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(holder);
        massBalance.credit(
            participantId, siteId, mix.material, mix.characteristic, credits, IMassBalance.Reason.Downgrade, bytes32(batchId)
        );
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
        // A Batch fills one storage slot. Written as one packed word, in the layout solc gives the struct
        // (fields from the low-order bytes up), because the IR pipeline would otherwise read and write the
        // slot once per field (about 1,400 gas more per batch). batch() reads it back field by field, so
        // the tests of every batch's fields check this packing.
        uint256 packed = uint256(material) | uint256(characteristic) << 32 | uint256(uint8(model)) << 64
            | uint256(share) << 72 | uint256(participantId) << 104 | uint256(originId) << 136
            | uint256(uint8(kind)) << 200 | uint256(uint40(block.timestamp)) << 208;
        Batch storage b = _batches[batchId];
        assembly ("memory-safe") {
            sstore(b.slot, packed)
        }
        // The parents, likewise one packed word each (a Parent fills one slot), into the new batch's
        // empty array: length, then the elements from keccak256(slot) on. An origin has none and
        // touches no slot (a write of zero to a cold slot would still cost 2,200 gas).
        Parent[] storage stored = _parents[batchId];
        uint256 count = ps.length;
        if (count != 0) assembly ("memory-safe") {
            sstore(stored.slot, count)
            mstore(0, stored.slot)
            let data := keccak256(0, 0x20)
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                let p := mload(add(ps, mul(add(i, 1), 0x20)))
                sstore(add(data, i), or(mload(p), shl(64, mload(add(p, 0x20)))))
            }
        }
        // Minted without the acceptance call: the operation calls _accept once all its effects are written.
        _move(address(0), holder, batchId, quantity);
        emit BatchCreated(batchId, participantId, holder, kind, material, characteristic, model, share, originId, quantity, ps);
        if (count != 0) EudrTrace.derive(_batches, batchId, model, ps); // EUDR status, in the slot's top byte; an origin's: Origins.record
    }

    /// @dev A batch from one parent (split, attributes released) with the claim and kind of `claim`. Both go
    /// through this one call of _newBatch: with constant arguments at each call site the optimizer kept a
    /// specialised copy of _newBatch per site (about 600 bytes more code).
    function _newChild(address holder, uint32 participantId, Batch memory claim, uint256 quantity, Parent[] memory ps)
        private
        returns (uint256)
    {
        return _newBatch(
            holder, participantId, claim.material, claim.characteristic, claim.model, claim.share, claim.origin, claim.kind, quantity, ps
        );
    }

    /// @dev One parent: `quantity` of `batchId`.
    function _parent(uint256 batchId, uint256 quantity) private pure returns (Parent[] memory ps) {
        ps = new Parent[](1);
        ps[0] = Parent(uint64(batchId), SafeCast.toUint96(quantity));
    }

    /// @dev The stored batch, which must exist. A storage pointer: callers copy what they need, and the
    /// IR pipeline allocates no zeroed memory struct for a return value that is overwritten at once.
    function _batch(uint256 batchId) private view returns (Batch storage b) {
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
