// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Model} from "../libraries/CocTypes.sol";

/// @title Batch tokens with custody and lineage
/// @notice ERC-1155 where a token id is a batch and a balance is a quantity (integer base units of the
/// material's unit, e.g. grams) held in custody. Batches are created at origin, split, merged, transformed
/// and consumed; every batch records its parents; custody moves only with the holder's EIP-712 signature
/// and the receiver's acceptance.
interface IBatchLedger {
    enum BatchKind {
        Origin,
        Split,
        Merge,
        Transform,
        AttributesReleased
    }

    enum TransferStatus {
        None,
        Pending,
        Accepted,
        Rejected,
        Cancelled
    }

    enum ConsumeReason {
        Sold,
        Destroyed
    }

    /// @notice EUDR traceability of a batch (libraries/EudrTrace.sol): None (no plot in its lineage),
    /// Traceable (every origin in its lineage has a plot and every step was segregated or identity
    /// preserved: a due-diligence statement may rely on it), Ended (it was mixed into a weaker model or
    /// with material without a plot: no deforestation-free claim from here on).
    enum EudrStatus {
        None,
        Traceable,
        Ended
    }

    /// @notice Why EUDR traceability ended: a weaker model than segregated (mass balance, controlled
    /// blending, uncertified, attributes released), or mixed with material that has no plot.
    enum EudrEndReason {
        None,
        ModelNotSegregated,
        MixedWithNonEudr
    }

    struct Batch {
        uint32 material;
        uint32 characteristic; // 0 for uncertified material
        Model model;
        uint32 share; // certified share in ppm: 1e6 for identity preserved and segregated, the blend for controlled blending
        uint32 creator; // participant that created the batch
        uint64 origin; // origin batches with a physical claim (controlled blending or stronger) and segregated or
        // identity-preserved batches descending from that one origin only: the origin batch id; else 0
        BatchKind kind;
        uint40 createdAt;
    }

    struct Parent {
        uint64 batchId;
        uint96 quantity;
    }

    struct Origin {
        uint32 siteId;
        uint40 productionDate;
        uint64 certificationId; // the producer's certification that covered the creation (0: uncertified)
        bytes32 geolocationHash; // keccak of the plot's GeoJSON
        bytes32 evidenceHash; // hash of the production record or harvest evidence
    }

    struct OriginParams {
        uint32 material;
        uint32 characteristic;
        Model model;
        uint32 share;
        uint256 quantity;
        bytes32 geolocationHash;
        string ddsReference; // EUDR due-diligence statement number
        bytes32 evidenceHash;
        uint40 productionDate;
    }

    /// @notice The message a holder signs to hand custody of `quantity` of `batchId` to `to`.
    /// `certifiedQuantity` is a mass-balance delivery's declaration: the certified quantity claimed with it.
    struct CustodyTransfer {
        uint256 batchId;
        address from;
        address to;
        uint256 quantity;
        uint256 certifiedQuantity;
        uint256 nonce;
        uint256 deadline;
    }

    // ---------------------------------------------------------------- errors
    error BatchNotLinkedContract(address caller);
    error BatchAlreadyLinked();
    error BatchUnknown(uint256 batchId);
    error BatchZeroQuantity();
    error BatchLengthMismatch(uint256 ids, uint256 quantities);
    error BatchInvalidOrigin(string field);
    error BatchEvidenceAlreadyUsed(bytes32 evidenceHash, uint256 batchId, uint256 certificateId);
    error BatchTransferRequiresSignatures();
    error BatchInvalidTransfer(string field);
    error BatchSignatureExpired(uint256 deadline, uint256 timestamp);
    error BatchInvalidSignature(address expectedSigner);
    error BatchTransferNotPending(bytes32 transferId, TransferStatus status);
    error BatchDeclarationNotAllowed(uint256 batchId, Model model);
    error BatchDeclarationExceedsQuantity(uint256 certifiedQuantity, uint256 quantity);
    error BatchMaterialMismatch(uint256 batchId, uint32 expected, uint32 actual);
    error BatchCharacteristicMismatch(uint256 batchId, uint32 expected, uint32 actual);
    error BatchIdentityPreservedMixed(uint256 batchId, uint64 expectedOrigin, uint64 origin);
    error BatchModelUpgrade(uint256 batchId, Model inputModel, Model requested);
    error BatchNoCertifiedInput();
    error BatchNotCertified(uint256 batchId);
    error BatchTransformExceedsFactor(uint256 output, uint256 maximum);
    error BatchTransformBelowTolerance(uint256 output, uint256 minimum);
    error BatchConversionExceedsInput(uint256 credits, uint256 input);

    // ---------------------------------------------------------------- events
    /// @notice A batch came into being, with everything needed to rebuild it and its lineage.
    event BatchCreated(
        uint256 indexed batchId,
        uint32 indexed creator,
        address indexed holder,
        BatchKind kind,
        uint32 material,
        uint32 characteristic,
        Model model,
        uint32 share,
        uint64 origin,
        uint256 quantity,
        Parent[] parents
    );
    event OriginRecorded(
        uint256 indexed batchId,
        uint32 indexed siteId,
        uint64 certificationId,
        bytes32 geolocationHash,
        string ddsReference,
        bytes32 evidenceHash,
        uint40 productionDate
    );
    event TransformRecorded(
        uint256 indexed outputBatchId,
        uint32 indexed processId,
        uint256 inputQuantity,
        uint256 outputQuantity,
        uint256 loss,
        uint256 creditsConverted,
        uint256 creditsProduced
    );
    /// @notice Batch `batchId` came from EUDR-traceable material (an input, or its own plot) but is not
    /// EUDR-traceable itself, for `reason`.
    event EudrTraceabilityEnded(uint256 indexed batchId, EudrEndReason reason);
    event BatchConsumed(uint256 indexed batchId, address indexed holder, uint256 quantity, ConsumeReason reason, bytes32 ref);
    event CustodyProposed(
        bytes32 indexed transferId,
        uint256 indexed batchId,
        address indexed from,
        address to,
        uint256 quantity,
        uint256 certifiedQuantity,
        uint256 nonce,
        uint256 deadline,
        bytes signature
    );
    event CustodyAccepted(bytes32 indexed transferId, uint256 indexed batchId, address indexed to, uint256 deadline, bytes signature);
    event CustodyRejected(bytes32 indexed transferId, uint256 indexed batchId, address indexed to, uint256 deadline, bytes signature);
    event CustodyCancelled(bytes32 indexed transferId, uint256 indexed batchId, address indexed from, uint256 deadline, bytes signature);

    // ---------------------------------------------------------------- actions
    /// @notice Copies the certificate registry address from the participant registry, once.
    function link() external;

    /// @notice Creates an origin batch held by the caller at its wallet's site. Certified creation needs a
    /// certification for material, characteristic and model, and counts against the certified capacity.
    function createOrigin(OriginParams calldata params) external returns (uint256 batchId);

    /// @notice Proposes a custody transfer signed by the holder; the quantity is in transit until the
    /// receiver accepts or rejects, or the sender cancels.
    function proposeTransfer(CustodyTransfer calldata transfer, bytes calldata signature)
        external
        returns (bytes32 transferId);

    /// @notice The receiver accepts a pending transfer with its signed AcceptTransfer message.
    function acceptTransfer(CustodyTransfer calldata transfer, uint256 deadline, bytes calldata signature) external;

    /// @notice The receiver rejects a pending transfer; quantity and declared credits return to the sender.
    function rejectTransfer(CustodyTransfer calldata transfer, uint256 deadline, bytes calldata signature) external;

    /// @notice The sender cancels a pending transfer; quantity and declared credits return to it.
    function cancelTransfer(CustodyTransfer calldata transfer, uint256 deadline, bytes calldata signature) external;

    /// @notice Sender's transfer and receiver's acceptance in one transaction.
    function transferWithAcceptance(
        CustodyTransfer calldata transfer,
        bytes calldata senderSignature,
        uint256 acceptDeadline,
        bytes calldata receiverSignature
    ) external returns (bytes32 transferId);

    /// @notice Splits quantities of a batch held by the caller into new child batches with the same claim.
    function split(uint256 batchId, uint256[] calldata quantities) external returns (uint256[] memory childIds);

    /// @notice Merges batches of one material held by the caller into one batch of the requested model.
    function merge(uint256[] calldata batchIds, uint256[] calldata quantities, Model model)
        external
        returns (uint256 batchId);

    /// @notice Turns inputs into one output batch through a registered process; outputs may not exceed
    /// inputs times its factor nor fall below its tolerance; the loss is recorded. A mass-balance output may
    /// convert up to the input quantity of the site's credits with the same factor.
    function transform(
        uint32 processId,
        uint256[] calldata batchIds,
        uint256[] calldata quantities,
        uint256 outputQuantity,
        Model model,
        uint256 creditsToConvert
    ) external returns (uint256 batchId);

    /// @notice Takes quantity out of the physical chain: sold to the end user or destroyed.
    function consume(uint256 batchId, uint256 quantity, ConsumeReason reason, bytes32 ref) external;

    /// @notice Releases the sustainability attributes of a certified batch quantity into book & claim: the
    /// quantity continues as an uncertified child batch. Certificate registry only.
    function releaseAttributes(address holder, uint256 batchId, uint256 quantity)
        external
        returns (uint32 material, uint32 characteristic, uint256 certifiedQuantity, uint256 childId);

    // ---------------------------------------------------------------- views
    /// @notice A batch's claim and provenance as created (reverts BatchUnknown for an id never created).
    function batch(uint256 batchId) external view returns (Batch memory);
    /// @notice The batches (and quantities of them) a batch was made from; none for an origin.
    function parents(uint256 batchId) external view returns (Parent[] memory);
    /// @notice The origin record of an origin batch (all zero for any other batch).
    function origin(uint256 batchId) external view returns (Origin memory);
    /// @notice The origin batch an evidence hash backs (0: none). Evidence backs one origin or one
    /// certificate issuance, never both, so the same production is never claimed twice.
    function originByEvidence(bytes32 evidenceHash) external view returns (uint256 batchId);
    /// @notice The state of a two-step transfer (None for a one-transaction transfer or an unknown id).
    function transferStatus(bytes32 transferId) external view returns (TransferStatus);
    /// @notice The number of batches created so far (batch ids run from 1 to this).
    function batchCount() external view returns (uint64);

    /// @notice The EUDR traceability of `batchId` (None for an unknown batch).
    function eudrStatus(uint256 batchId) external view returns (EudrStatus);
    /// @notice Physical conservation totals: supply == created - consumed - lost at all times.
    function totals() external view returns (uint256 created, uint256 consumed, uint256 lost, uint256 supply);
    /// @notice The EIP-712 digest a holder signs for `transfer`.
    function transferDigest(CustodyTransfer calldata transfer) external view returns (bytes32);
    /// @notice The EIP-712 struct hash of `transfer`, which is also its transfer id.
    function transferId(CustodyTransfer calldata transfer) external pure returns (bytes32);
}
