// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Book & claim certificates
/// @notice ERC-1155 where a token id is one issuance and a unit is a fixed amount of certified production
/// (e.g. 1 t). Certificates are issued once per piece of evidence, move only between registered
/// participants, can be revoked by their issuer while unretired, and are retired (burned) for a
/// beneficiary, a claim period and a purpose.
interface ICertificateRegistry {
    enum Source {
        Verified, // production verified by the issuer outside the physical ledger
        Credits, // mass-balance credits pledged by the producer
        Batch // the attributes of a certified batch pledged by its holder
    }

    struct Issuance {
        uint32 issuer;
        uint32 producer;
        uint32 material;
        uint32 characteristic;
        uint40 periodStart;
        uint40 periodEnd;
        bool revoked;
        Source source;
    }

    struct Amounts {
        uint96 unitSize; // base units of the material per certificate unit
        uint64 amount; // units issued
        uint64 retired; // units retired
        uint32 retirementCount;
    }

    struct Pledge {
        uint32 producer;
        uint32 material;
        uint32 characteristic;
        Source source;
        bool used;
        uint96 quantity; // certified quantity in base units taken out of the physical chain
    }

    struct Retirement {
        uint64 certificateId;
        uint64 amount;
        uint32 retiredBy;
        uint40 periodStart;
        uint40 periodEnd;
    }

    struct IssueParams {
        uint32 producer;
        address to;
        uint64 amount;
        uint96 unitSize;
        string unitLabel;
        uint32 material;
        uint32 characteristic;
        uint40 periodStart;
        uint40 periodEnd;
        bytes32 evidenceHash;
        uint64 pledgeId; // 0: verified production without a pledge from the physical chain
    }

    error CertificateUnknown(uint256 certificateId);
    error CertificateInvalid(string field);
    error CertificateEvidenceAlreadyUsed(bytes32 evidenceHash, uint256 certificateId);
    error CertificateEvidenceBacksBatch(bytes32 evidenceHash, uint256 batchId);
    error CertificateRevoked(uint256 certificateId);
    error CertificateNotIssuer(uint256 certificateId, uint32 participantId);
    error CertificateNothingToRevoke(uint256 certificateId);
    error CertificatePledgeUnusable(uint64 pledgeId);
    error CertificatePledgeMismatch(uint64 pledgeId, string field);
    error CertificateUnknownRetirement(uint256 retirementId);

    event AttributesPledged(
        uint64 indexed pledgeId,
        uint32 indexed producer,
        address indexed holder,
        Source source,
        uint32 material,
        uint32 characteristic,
        uint256 quantity,
        uint256 batchId,
        uint256 releasedBatchId
    );
    event CertificatesIssued(
        uint256 indexed certificateId,
        uint32 indexed issuer,
        uint32 indexed producer,
        address to,
        uint64 amount,
        uint96 unitSize,
        string unitLabel,
        uint32 material,
        uint32 characteristic,
        uint40 periodStart,
        uint40 periodEnd,
        bytes32 evidenceHash,
        uint64 pledgeId
    );
    event IssuanceRevoked(uint256 indexed certificateId, uint32 indexed issuer, uint64 outstanding, bytes32 reasonHash);
    event CertificatesRetired(
        uint256 indexed retirementId,
        uint256 indexed certificateId,
        address indexed holder,
        uint32 retiredBy,
        uint64 amount,
        string beneficiary,
        uint40 periodStart,
        uint40 periodEnd,
        bytes32 purposeHash
    );

    /// @notice Takes mass-balance credits of the caller's site out of the physical chain for an issuance.
    function pledgeCredits(uint32 material, uint32 characteristic, uint96 quantity) external returns (uint64 pledgeId);

    /// @notice Takes the attributes of `quantity` of a certified batch held by the caller out of the physical
    /// chain for an issuance; the material continues as an uncertified batch.
    function pledgeBatch(uint256 batchId, uint256 quantity) external returns (uint64 pledgeId);

    /// @notice Issues certificates for verified production. Issuer only; evidence can back one issuance only.
    function issue(IssueParams calldata params) external returns (uint256 certificateId);

    /// @notice Revokes every unretired unit of an issuance. Only its issuer.
    function revoke(uint256 certificateId, bytes32 reasonHash) external;

    /// @notice Burns `amount` of the caller's units for a beneficiary, claim period and purpose.
    function retire(
        uint256 certificateId,
        uint64 amount,
        string calldata beneficiary,
        uint40 periodStart,
        uint40 periodEnd,
        bytes32 purposeHash
    ) external returns (uint256 retirementId);

    function issuance(uint256 certificateId) external view returns (Issuance memory, Amounts memory);
    function retirement(uint256 retirementId) external view returns (Retirement memory);
    function pledge(uint64 pledgeId) external view returns (Pledge memory);
    function evidenceUsedBy(bytes32 evidenceHash) external view returns (uint256 certificateId);
    function certificateCount() external view returns (uint256);
    function pledgeCount() external view returns (uint64);
}
