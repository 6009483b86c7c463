// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ROLE_SUPPLIER, ROLE_BRAND} from "./libraries/CocTypes.sol";

/// @title DueDiligenceRegistry
/// @notice The EUDR due-diligence statements (DDS) filed in the EU information system (TRACES) for
/// batches placed on the market, with the reference and verification numbers TRACES returned: a
/// downstream operator and the auditor read them here. Rules: only a registered supplier or brand that
/// holds some of the batch records a statement for it, and only while the batch is EUDR-traceable
/// (BatchLedger.eudrStatus); a reference is recorded once per batch; only the recording participant amends
/// or retracts its statement, and a retracted statement stays retracted.
contract DueDiligenceRegistry is ERC2771Context {
    struct Statement {
        string referenceNumber;
        string verificationNumber;
        bytes32 documentHash; // keccak of the statement as submitted (canonical JSON)
        uint32 participantId; // the operator that recorded it
        uint40 recordedAt;
        bool retracted;
    }

    IParticipantRegistry public immutable registry;
    IBatchLedger public immutable batchLedger;

    mapping(uint256 => Statement[]) private _statements;
    mapping(uint256 => mapping(bytes32 => bool)) private _referenced;

    event DdsRecorded(
        uint256 indexed batchId, uint256 indexed index, uint32 indexed participantId,
        string referenceNumber, string verificationNumber, bytes32 documentHash
    );
    event DdsAmended(
        uint256 indexed batchId, uint256 indexed index, uint32 indexed participantId,
        string verificationNumber, bytes32 documentHash
    );
    event DdsRetracted(uint256 indexed batchId, uint256 indexed index, uint32 indexed participantId);

    error DdsNotTraceable(uint256 batchId, IBatchLedger.EudrStatus status);
    error DdsNotHolder(uint256 batchId, address wallet);
    error DdsInvalid(string field);
    error DdsDuplicateReference(uint256 batchId, string referenceNumber);
    error DdsUnknown(uint256 batchId, uint256 index);
    error DdsNotOperator(uint256 batchId, uint256 index, uint32 participantId);
    error DdsAlreadyRetracted(uint256 batchId, uint256 index);

    constructor(IParticipantRegistry registry_, IBatchLedger ledger_, address trustedForwarder)
        ERC2771Context(trustedForwarder)
    {
        registry = registry_;
        batchLedger = ledger_;
    }

    /// @notice Records the statement TRACES accepted for `batchId`; returns its index among the batch's.
    function record(uint256 batchId, string calldata referenceNumber, string calldata verificationNumber, bytes32 documentHash)
        external
        returns (uint256 index)
    {
        address sender = _msgSender();
        (uint32 participantId,) = registry.requireActor(sender, ROLE_SUPPLIER | ROLE_BRAND);
        IBatchLedger.EudrStatus s = batchLedger.eudrStatus(batchId);
        if (s != IBatchLedger.EudrStatus.Traceable) revert DdsNotTraceable(batchId, s);
        if (IERC1155(address(batchLedger)).balanceOf(sender, batchId) == 0) revert DdsNotHolder(batchId, sender);
        _checkNumbers(referenceNumber, verificationNumber, documentHash);
        bytes32 key = keccak256(bytes(referenceNumber));
        if (_referenced[batchId][key]) revert DdsDuplicateReference(batchId, referenceNumber);
        _referenced[batchId][key] = true;
        index = _statements[batchId].length;
        _statements[batchId].push(
            Statement(referenceNumber, verificationNumber, documentHash, participantId, uint40(block.timestamp), false)
        );
        emit DdsRecorded(batchId, index, participantId, referenceNumber, verificationNumber, documentHash);
    }

    /// @notice Records an amendment of statement `index` of `batchId` (TRACES keeps the reference number).
    function amend(uint256 batchId, uint256 index, string calldata verificationNumber, bytes32 documentHash) external {
        (Statement storage st, uint32 participantId) = _own(batchId, index);
        _checkNumbers("-", verificationNumber, documentHash);
        st.verificationNumber = verificationNumber;
        st.documentHash = documentHash;
        emit DdsAmended(batchId, index, participantId, verificationNumber, documentHash);
    }

    /// @notice Records that statement `index` of `batchId` was retracted in TRACES.
    function retract(uint256 batchId, uint256 index) external {
        (Statement storage st, uint32 participantId) = _own(batchId, index);
        st.retracted = true;
        emit DdsRetracted(batchId, index, participantId);
    }

    /// @notice Every statement recorded for `batchId`, retracted ones included.
    function statements(uint256 batchId) external view returns (Statement[] memory) {
        return _statements[batchId];
    }

    function _own(uint256 batchId, uint256 index) private view returns (Statement storage st, uint32 participantId) {
        (participantId,) = registry.requireActor(_msgSender(), ROLE_SUPPLIER | ROLE_BRAND);
        if (index >= _statements[batchId].length) revert DdsUnknown(batchId, index);
        st = _statements[batchId][index];
        if (st.participantId != participantId) revert DdsNotOperator(batchId, index, participantId);
        if (st.retracted) revert DdsAlreadyRetracted(batchId, index);
    }

    function _checkNumbers(string memory referenceNumber, string calldata verificationNumber, bytes32 documentHash)
        private
        pure
    {
        if (bytes(referenceNumber).length == 0 || bytes(referenceNumber).length > 64) revert DdsInvalid("referenceNumber");
        if (bytes(verificationNumber).length == 0 || bytes(verificationNumber).length > 64) {
            revert DdsInvalid("verificationNumber");
        }
        if (documentHash == bytes32(0)) revert DdsInvalid("documentHash");
    }
}
