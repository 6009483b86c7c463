// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Model} from "../libraries/CocTypes.sol";

/// @title The consortium's permissions and reference data
/// @notice Participants (organisations) with roles, wallets and sites; certifications recorded by
/// certification bodies; certified capacities; and the reference data every rule refers to
/// (materials, sustainability characteristics with their scheme, processes with conversion factors).
interface IParticipantRegistry {
    enum ParticipantStatus {
        None,
        Active,
        Suspended
    }

    enum CertificationStatus {
        None,
        Active,
        Suspended,
        Withdrawn
    }

    struct Participant {
        uint8 roles;
        ParticipantStatus status;
    }

    struct Wallet {
        uint32 participantId;
        uint32 siteId;
    }

    struct Certification {
        uint32 holder;
        uint32 certifier;
        uint8 models; // bit (1 << Model) per covered chain-of-custody model
        CertificationStatus status;
        uint40 validFrom;
        uint40 validTo;
    }

    struct CertificationParams {
        uint32 holder;
        string scheme; // e.g. "ISCC PLUS", "GOTS", "RSPO"
        string certificateNumber;
        uint32[] materials;
        uint32[] characteristics;
        uint8 models; // bit (1 << Model) per covered chain-of-custody model
        uint40 validFrom;
        uint40 validTo;
    }

    struct Capacity {
        uint40 validFrom;
        uint40 validTo;
        uint88 amount;
        uint88 used;
    }

    struct Material {
        uint32 group; // materials of one group share conversion factors: credits may move between them
        bool waste; // waste or residue: its credits never move to regular material
        bool exists;
    }

    struct Scheme {
        uint40 periodLength; // balancing period in seconds (ISCC: at most 3 months)
        uint40 anchor; // start of period 0
        uint16 lapseAfterPeriods; // 0: credits carry over forever; N: credits lapse N periods after they came in
        bool exists;
    }

    struct Process {
        uint32 inputMaterial;
        uint32 outputMaterial;
        uint32 factor; // ppm of output per input
        uint32 tolerance; // ppm below the factor that an output may still fall (yield loss)
        bool exists;
    }

    // ---------------------------------------------------------------- errors
    error RegistryUnknownWallet(address wallet);
    error RegistryWalletAlreadyRegistered(address wallet, uint32 participantId);
    error RegistryUnknownParticipant(uint32 participantId);
    error RegistryParticipantSuspended(uint32 participantId);
    error RegistryMissingRole(address wallet, uint32 participantId, uint8 role);
    error RegistryInvalidRoles(uint8 roles);
    error RegistryUnknownSite(uint32 siteId);
    error RegistrySiteNotOwned(uint32 siteId, uint32 participantId);
    error RegistryWalletHasNoSite(address wallet);
    error RegistryNotCertified(uint32 participantId, uint32 material, uint32 characteristic, Model model);
    error RegistryUnknownCertification(uint64 certificationId);
    error RegistryNotCertificationOwner(uint64 certificationId, uint32 participantId);
    error RegistryInvalidCertification(string field);
    error RegistryCoverageFull(bytes32 coverageKey);
    /// @notice `certifier` already holds COVERAGE_PER_BODY live coverage slots of this (holder, material, characteristic).
    error RegistryCoverageBodyLimit(bytes32 coverageKey, uint32 certifier);
    /// @notice `body` holds no live certification of `participantId` for `material` (and is not the admin).
    error RegistryNotCertifyingBody(uint32 body, uint32 participantId, uint32 material);
    /// @notice `participantId` already has (or had) a wallet: only a wallet of its own may bind another.
    error RegistryWalletConsentRequired(uint32 participantId, address caller);
    /// @notice A wallet of a participant that acts from a site (supplier or brand) must be bound to one of its
    /// sites: site 0 would fail its first action (RegistryWalletHasNoSite).
    error RegistryWalletNeedsSite(address wallet, uint32 participantId);
    /// @notice Supplier or brand roles for a participant that still has `wallets` wallets bound to no site.
    error RegistrySitelessWallets(uint32 participantId, uint32 wallets);
    error RegistryCertificationStatusChange(uint64 certificationId, CertificationStatus from, CertificationStatus to);
    error RegistryCapacityExceeded(uint32 participantId, uint32 material, uint256 available, uint256 requested);
    error RegistryInvalidCapacity(string field);
    error RegistryUnknownMaterial(uint32 material);
    error RegistryUnknownCharacteristic(uint32 characteristic);
    error RegistryUnknownScheme(uint32 scheme);
    error RegistryInvalidScheme(string field);
    error RegistryUnknownProcess(uint32 processId);
    error RegistryInvalidProcess(string field);
    error RegistryNotLinkedContract(address caller);
    error RegistryAlreadyLinked();

    // ---------------------------------------------------------------- events
    event ParticipantRegistered(uint32 indexed participantId, string name, uint8 roles);
    event ParticipantRolesChanged(uint32 indexed participantId, uint8 roles);
    event ParticipantStatusChanged(uint32 indexed participantId, ParticipantStatus status);
    event SiteAdded(uint32 indexed siteId, uint32 indexed participantId, string name, bytes32 locationRef);
    /// @notice `by` is the wallet that bound it: the admin for a participant's first wallet, a wallet of the
    /// participant itself for every further one (address(0) for the admin's own first wallet at deployment).
    event WalletAdded(address indexed wallet, uint32 indexed participantId, uint32 siteId, address by);
    event WalletRemoved(address indexed wallet, uint32 indexed participantId);
    event CertificationRecorded(
        uint64 indexed certificationId, uint32 indexed holder, uint32 indexed certifier, CertificationParams params
    );
    event CertificationStatusChanged(uint64 indexed certificationId, CertificationStatus status, bytes32 reasonHash);
    event CapacitySet(
        uint32 indexed participantId, uint32 indexed material, uint32 certifier, uint40 validFrom, uint40 validTo, uint88 amount
    );
    event CapacityUsed(uint32 indexed participantId, uint32 indexed material, uint88 amount, uint88 used);
    event MaterialRegistered(uint32 indexed material, string name, string unit, uint32 group, bool waste);
    event SchemeRegistered(uint32 indexed scheme, string name, uint40 periodLength, uint40 anchor, uint16 lapseAfterPeriods);
    event CharacteristicRegistered(uint32 indexed characteristic, string name, uint32 indexed scheme);
    event ProcessRegistered(
        uint32 indexed processId, string name, uint32 inputMaterial, uint32 outputMaterial, uint32 factor, uint32 tolerance
    );
    event ContractsLinked(address forwarder, address batchLedger, address massBalance, address certificateRegistry);

    // ---------------------------------------------------------------- administration
    /// @notice Registers an organisation with its roles. Admin only.
    function registerParticipant(string calldata name, uint8 roles) external returns (uint32 participantId);
    /// @notice Replaces the roles of a participant. Admin only. Supplier or brand roles only while every wallet of
    /// the participant is bound to a site (RegistrySitelessWallets).
    function setRoles(uint32 participantId, uint8 roles) external;
    /// @notice Suspends or reactivates a participant; a suspended participant can do nothing. Admin only.
    function setParticipantStatus(uint32 participantId, ParticipantStatus status) external;
    /// @notice Adds a site (a physical location that holds stock and credit accounts). Admin only.
    function addSite(uint32 participantId, string calldata name, bytes32 locationRef) external returns (uint32 siteId);
    /// @notice Binds a wallet to a participant and one of its sites (0: no site, refused with
    /// RegistryWalletNeedsSite for a participant with the supplier or brand role). The participant's consent:
    /// the admin alone binds only a participant's first wallet (onboarding, before it ever had a wallet, so
    /// there is nothing of the participant's to spend); every further wallet is bound by an active wallet of
    /// the participant itself (its own signed request). The admin binding a wallet to a participant that has
    /// or had one reverts RegistryWalletConsentRequired.
    function addWallet(address wallet, uint32 participantId, uint32 siteId) external;
    /// @notice Unbinds a wallet. Admin only.
    function removeWallet(address wallet) external;
    /// @notice Registers a material with its unit, its conversion-factor group and whether it is waste. Admin only.
    function registerMaterial(string calldata name, string calldata unit, uint32 group, bool waste)
        external
        returns (uint32 material);
    /// @notice Registers a certification scheme's balancing rules. Admin only; never changed afterwards.
    function registerScheme(string calldata name, uint40 periodLength, uint40 anchor, uint16 lapseAfterPeriods)
        external
        returns (uint32 scheme);
    /// @notice Registers a sustainability characteristic under a scheme. Admin only.
    function registerCharacteristic(string calldata name, uint32 scheme) external returns (uint32 characteristic);
    /// @notice Registers a process (input material -> output material, factor and tolerance in ppm). Admin only.
    function registerProcess(
        string calldata name,
        uint32 inputMaterial,
        uint32 outputMaterial,
        uint32 factor,
        uint32 tolerance
    ) external returns (uint32 processId);
    /// @notice Records the ledger's other contracts once, so that anyone can discover them from here.
    function linkContracts(address batchLedger, address massBalance, address certificateRegistry) external;

    // ---------------------------------------------------------------- certification bodies
    /// @notice Records a certification of `params.holder`. Certifier only. It takes a coverage slot for each
    /// (material, characteristic): a slot is free when its certification is withdrawn, expired or suspended
    /// (a suspended one that lost its slot no longer covers once reinstated: the body records it again);
    /// one body holds at most two live slots of a holder's (material, characteristic) (RegistryCoverageBodyLimit),
    /// so no body can fill the four slots against another body's certification (RegistryCoverageFull).
    function recordCertification(CertificationParams calldata params) external returns (uint64 certificationId);
    /// @notice Suspends, reinstates or withdraws (final) a certification. Only its certifier.
    function setCertificationStatus(uint64 certificationId, CertificationStatus status, bytes32 reasonHash) external;
    /// @notice Sets how much certified origin material a participant may create per material in a window.
    /// Only the participant's certifying body for that material (a body that recorded a certification of the
    /// participant covering the material, still active and not expired) or the admin may set it (else
    /// RegistryNotCertifyingBody), so another body can neither raise it nor reset what was used. Changing it
    /// within the current window keeps what was already used; a window starting after the previous one
    /// ended starts from zero.
    function setCapacity(uint32 participantId, uint32 material, uint40 validFrom, uint40 validTo, uint88 amount)
        external;
    /// @notice Counts certified origin creation against the capacity. Batch ledger only.
    function useCapacity(uint32 participantId, uint32 material, uint256 amount) external;

    // ---------------------------------------------------------------- checks used by the other contracts
    /// @notice The participant and site of an active wallet holding any of `roles`; reverts otherwise.
    function requireActor(address wallet, uint8 roles) external view returns (uint32 participantId, uint32 siteId);
    /// @notice As requireActor, and certified at this block for material, characteristic and model.
    function requireCertifiedActor(
        address wallet,
        uint8 roles,
        uint32 material,
        uint32 characteristic,
        Model model
    ) external view returns (uint32 participantId, uint32 siteId);
    /// @notice Both ends of a custody transfer: a supplier sending, a supplier or brand receiving, both
    /// certified for the claim when the model carries one.
    function requireTransferParties(
        address from,
        address to,
        uint32 material,
        uint32 characteristic,
        Model model
    ) external view returns (uint32 fromParticipant, uint32 fromSite, uint32 toParticipant, uint32 toSite);
    /// @notice Whether `participantId` holds a valid certification for the combination at this block.
    function certificationFor(uint32 participantId, uint32 material, uint32 characteristic, Model model)
        external
        view
        returns (bool valid, uint64 certificationId);

    // ---------------------------------------------------------------- views
    function participant(uint32 participantId) external view returns (Participant memory);
    function wallet(address account) external view returns (Wallet memory);
    function siteOwner(uint32 siteId) external view returns (uint32);
    function certification(uint64 certificationId) external view returns (Certification memory);
    function capacity(uint32 participantId, uint32 material) external view returns (Capacity memory);
    function material(uint32 materialId) external view returns (Material memory);
    function schemeOf(uint32 characteristic) external view returns (uint32 schemeId, Scheme memory);
    function process(uint32 processId) external view returns (Process memory);
    function counts()
        external
        view
        returns (
            uint32 participants,
            uint32 sites,
            uint64 certifications,
            uint32 materials,
            uint32 characteristics,
            uint32 schemes,
            uint32 processes
        );
    function forwarder() external view returns (address);
    function batchLedger() external view returns (address);
    function massBalance() external view returns (address);
    function certificateRegistry() external view returns (address);
}
