// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IBatchLedger} from "../interfaces/IBatchLedger.sol";
import {ROLE_SUPPLIER, ROLE_BRAND} from "../libraries/CocTypes.sol";

/// @title CustodyHandshake
/// @notice The custody handshake of BatchLedger: the EIP-712 messages a holder and a receiver sign, their
/// verification (EOA or ERC-1271 wallet), the sender's nonces and the state of each two-step transfer
/// (pending, then accepted, rejected or cancelled). What a transfer does to tokens and credits is left to
/// the ledger through the hooks below, so this contract knows signatures and transfer states only.
abstract contract CustodyHandshake is IBatchLedger, EIP712, Nonces {
    bytes32 public constant TRANSFER_TYPEHASH = keccak256(
        "CustodyTransfer(uint256 batchId,address from,address to,uint256 quantity,uint256 certifiedQuantity,uint256 nonce,uint256 deadline)"
    );
    bytes32 public constant ACCEPT_TYPEHASH =
        keccak256("AcceptTransfer(bytes32 transferId,uint256 batchId,uint256 quantity,uint256 deadline)");
    bytes32 public constant REJECT_TYPEHASH = keccak256("RejectTransfer(bytes32 transferId,uint256 deadline)");
    bytes32 public constant CANCEL_TYPEHASH = keccak256("CancelTransfer(bytes32 transferId,uint256 deadline)");

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

    constructor() EIP712("CocBatchLedger", "1") {}

    // ================================================================ hooks (the ledger's side)

    /// @dev Checks both parties, moves the quantity from the sender into escrow (the ledger) and debits the
    /// declared credits; returns the debited credits' vintage and the sender's account.
    function _escrow(CustodyTransfer calldata t, bytes32 id)
        internal
        virtual
        returns (uint32 vintage, uint32 fromParticipant, uint32 fromSite);

    /// @dev Checks both parties again, moves the escrowed quantity to the receiver and credits the declaration
    /// with the vintage it was escrowed with (record.creditVintage).
    function _release(CustodyTransfer calldata t, bytes32 id, TransferRecord storage record) internal virtual;

    /// @dev Moves the escrowed quantity back to the sender and credits the declaration back with its vintage.
    function _refund(CustodyTransfer calldata t, bytes32 id, TransferRecord storage record) internal virtual;

    /// @dev Checks both parties and hands the quantity from sender to receiver, declared credits with it.
    function _settle(CustodyTransfer calldata t, bytes32 id) internal virtual;

    /// @dev Reverts unless `wallet` is an active wallet of a participant with one of `roles`.
    function _requireActor(address wallet, uint8 roles) internal view virtual;

    // ================================================================ handshake

    /// @inheritdoc IBatchLedger
    function proposeTransfer(CustodyTransfer calldata t, bytes calldata signature) external returns (bytes32 id) {
        id = _verifyProposal(t, signature);
        (uint32 vintage, uint32 fromParticipant, uint32 fromSite) = _escrow(t, id);
        _transfers[id] = TransferRecord(TransferStatus.Pending, vintage, fromParticipant, fromSite);
        emit CustodyProposed(id, t.batchId, t.from, t.to, t.quantity, t.certifiedQuantity, t.nonce, t.deadline, signature);
    }

    /// @inheritdoc IBatchLedger
    function acceptTransfer(CustodyTransfer calldata t, uint256 deadline, bytes calldata signature) external {
        bytes32 id = _pending(t);
        _verify(t.to, keccak256(abi.encode(ACCEPT_TYPEHASH, id, t.batchId, t.quantity, deadline)), deadline, signature);
        // The receiver's eligibility is checked again in _release: a certification may have lapsed in transit.
        TransferRecord storage record = _transfers[id];
        record.status = TransferStatus.Accepted;
        _release(t, id, record);
        emit CustodyAccepted(id, t.batchId, t.to, deadline, signature);
    }

    /// @inheritdoc IBatchLedger
    function rejectTransfer(CustodyTransfer calldata t, uint256 deadline, bytes calldata signature) external {
        bytes32 id = _pending(t);
        _verify(t.to, keccak256(abi.encode(REJECT_TYPEHASH, id, deadline)), deadline, signature);
        _requireActor(t.to, ROLE_SUPPLIER | ROLE_BRAND);
        TransferRecord storage record = _transfers[id];
        record.status = TransferStatus.Rejected;
        _refund(t, id, record);
        emit CustodyRejected(id, t.batchId, t.to, deadline, signature);
    }

    /// @inheritdoc IBatchLedger
    function cancelTransfer(CustodyTransfer calldata t, uint256 deadline, bytes calldata signature) external {
        bytes32 id = _pending(t);
        _verify(t.from, keccak256(abi.encode(CANCEL_TYPEHASH, id, deadline)), deadline, signature);
        _requireActor(t.from, ROLE_SUPPLIER);
        TransferRecord storage record = _transfers[id];
        record.status = TransferStatus.Cancelled;
        _refund(t, id, record);
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

    // ================================================================ views

    /// @inheritdoc IBatchLedger
    function transferStatus(bytes32 id) external view returns (TransferStatus) {
        return _transfers[id].status;
    }

    /// @inheritdoc IBatchLedger
    function transferDigest(CustodyTransfer calldata t) external view returns (bytes32) {
        return _hashTypedDataV4(transferId(t));
    }

    /// @inheritdoc IBatchLedger
    function transferId(CustodyTransfer calldata t) public pure returns (bytes32) {
        return keccak256(
            abi.encode(TRANSFER_TYPEHASH, t.batchId, t.from, t.to, t.quantity, t.certifiedQuantity, t.nonce, t.deadline)
        );
    }

    // ================================================================ internals

    /// @dev The sender's offer: a real quantity to another party, a declaration within it, signed by the
    /// sender before the deadline with its next nonce.
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
}
