// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {
    Model,
    ROLE_ADMIN,
    ROLE_CERTIFIER,
    ROLE_SUPPLIER,
    ROLE_BRAND,
    ALL_ROLES,
    PPM
} from "./libraries/CocTypes.sol";

/// @title ParticipantRegistry
/// @notice What makes the ledger permissioned: who may act, in which role, from which site, under which
/// certification. The other contracts ask it at block time, so a suspension or a withdrawn certificate
/// takes effect on the very next transaction.
contract ParticipantRegistry is IParticipantRegistry, ERC2771Context {
    /// @dev How many live certifications are remembered per (holder, material, characteristic): enough for
    /// a certificate and its overlapping renewals. A new one takes the place of an expired or withdrawn
    /// one, never of one that still counts; with four live ones a fifth is refused.
    uint256 private constant COVERAGE_SLOTS = 4;
    /// @dev How many live slots one certifying body may hold per (holder, material, characteristic): its
    /// certificate and one overlapping renewal. With four slots, one body can never fill them all.
    uint256 private constant COVERAGE_PER_BODY = 2;
    /// @dev Roles that act from a site (hold stock, credit accounts): their wallets must name a site.
    uint8 private constant SITE_ROLES = ROLE_SUPPLIER | ROLE_BRAND;

    mapping(uint32 => Participant) private _participants;
    mapping(address => Wallet) private _wallets;
    mapping(uint32 => uint32) private _siteOwner;
    mapping(uint64 => Certification) private _certifications;
    /// @dev keccak(holder, material, characteristic) => up to four certification ids, newest in the low bits.
    mapping(bytes32 => uint256) private _coverage;
    mapping(bytes32 => Capacity) private _capacity;
    mapping(uint32 => Material) private _materials;
    mapping(uint32 => uint32) private _characteristicScheme;
    mapping(uint32 => Scheme) private _schemes;
    mapping(uint32 => Process) private _processes;
    /// @dev keccak(holder, material, certifier) => the newest certification that body recorded for that holder
    /// covering that material: what makes a body the participant's certifying body for setCapacity.
    mapping(bytes32 => uint64) private _bodyCertification;
    /// @dev Participants that ever had a wallet: from then on only their own wallets bind further ones.
    mapping(uint32 => bool) private _onboarded;
    /// @dev Wallets of each participant bound to no site: none may exist while it holds a role in SITE_ROLES.
    mapping(uint32 => uint32) private _sitelessWallets;

    uint32 private _participantCount;
    uint32 private _siteCount;
    uint32 private _materialCount;
    uint32 private _characteristicCount;
    uint32 private _schemeCount;
    uint32 private _processCount;
    uint64 private _certificationCount;

    address private _batchLedger;
    address private _massBalance;
    address private _certificateRegistry;

    /// @param admin the first wallet of the consortium administration (participant 1)
    /// @param trustedForwarder the ERC-2771 forwarder that relays wallet-signed requests
    constructor(address admin, address trustedForwarder) ERC2771Context(trustedForwarder) {
        uint32 id = _newParticipant("Consortium administration", ROLE_ADMIN);
        _wallets[admin] = Wallet(id, 0);
        _sitelessWallets[id] = 1;
        _onboarded[id] = true;
        emit WalletAdded(admin, id, 0, address(0));
    }

    modifier onlyRole(uint8 role) {
        requireActor(_msgSender(), role);
        _;
    }

    // ================================================================ administration

    /// @inheritdoc IParticipantRegistry
    function registerParticipant(string calldata name, uint8 roles)
        external
        onlyRole(ROLE_ADMIN)
        returns (uint32 participantId)
    {
        return _newParticipant(name, roles);
    }

    /// @inheritdoc IParticipantRegistry
    function setRoles(uint32 participantId, uint8 roles) external onlyRole(ROLE_ADMIN) {
        _requireParticipant(participantId);
        if (roles == 0 || roles & ~ALL_ROLES != 0) revert RegistryInvalidRoles(roles);
        uint32 siteless = _sitelessWallets[participantId];
        if (roles & SITE_ROLES != 0 && siteless != 0) revert RegistrySitelessWallets(participantId, siteless);
        _participants[participantId].roles = roles;
        emit ParticipantRolesChanged(participantId, roles);
    }

    /// @inheritdoc IParticipantRegistry
    function setParticipantStatus(uint32 participantId, ParticipantStatus status) external onlyRole(ROLE_ADMIN) {
        _requireParticipant(participantId);
        if (status == ParticipantStatus.None) revert RegistryUnknownParticipant(participantId);
        _participants[participantId].status = status;
        emit ParticipantStatusChanged(participantId, status);
    }

    /// @inheritdoc IParticipantRegistry
    function addSite(uint32 participantId, string calldata name, bytes32 locationRef)
        external
        onlyRole(ROLE_ADMIN)
        returns (uint32 siteId)
    {
        _requireParticipant(participantId);
        siteId = ++_siteCount;
        _siteOwner[siteId] = participantId;
        emit SiteAdded(siteId, participantId, name, locationRef);
    }

    /// @inheritdoc IParticipantRegistry
    function addWallet(address account, uint32 participantId, uint32 siteId) external {
        address sender = _msgSender();
        (uint32 by,) = requireActor(sender, ALL_ROLES);
        _requireParticipant(participantId);
        // Consent: a participant's own active wallet binds its further wallets; the admin alone only the
        // first one, at onboarding, before the participant ever had a wallet.
        if (by != participantId) {
            if (_participants[by].roles & ROLE_ADMIN == 0) revert RegistryMissingRole(sender, by, ROLE_ADMIN);
            if (_onboarded[participantId]) revert RegistryWalletConsentRequired(participantId, sender);
        }
        uint32 current = _wallets[account].participantId;
        if (current != 0) revert RegistryWalletAlreadyRegistered(account, current);
        if (siteId == 0) {
            if (_participants[participantId].roles & SITE_ROLES != 0) revert RegistryWalletNeedsSite(account, participantId);
            ++_sitelessWallets[participantId];
        } else {
            uint32 owner = _siteOwner[siteId];
            if (owner == 0) revert RegistryUnknownSite(siteId);
            if (owner != participantId) revert RegistrySiteNotOwned(siteId, participantId);
        }
        _onboarded[participantId] = true;
        _wallets[account] = Wallet(participantId, siteId);
        emit WalletAdded(account, participantId, siteId, sender);
    }

    /// @inheritdoc IParticipantRegistry
    function removeWallet(address account) external onlyRole(ROLE_ADMIN) {
        uint32 participantId = _wallets[account].participantId;
        if (participantId == 0) revert RegistryUnknownWallet(account);
        if (_wallets[account].siteId == 0) --_sitelessWallets[participantId];
        delete _wallets[account];
        emit WalletRemoved(account, participantId);
    }

    /// @inheritdoc IParticipantRegistry
    function registerMaterial(string calldata name, string calldata unit, uint32 group, bool waste)
        external
        onlyRole(ROLE_ADMIN)
        returns (uint32 materialId)
    {
        materialId = ++_materialCount;
        _materials[materialId] = Material(group, waste, true);
        emit MaterialRegistered(materialId, name, unit, group, waste);
    }

    /// @inheritdoc IParticipantRegistry
    function registerScheme(string calldata name, uint40 periodLength, uint40 anchor, uint16 lapseAfterPeriods)
        external
        onlyRole(ROLE_ADMIN)
        returns (uint32 schemeId)
    {
        if (periodLength == 0 || periodLength > 366 days) revert RegistryInvalidScheme("periodLength");
        if (anchor > block.timestamp) revert RegistryInvalidScheme("anchor");
        if (lapseAfterPeriods > 16) revert RegistryInvalidScheme("lapseAfterPeriods");
        schemeId = ++_schemeCount;
        _schemes[schemeId] = Scheme(periodLength, anchor, lapseAfterPeriods, true);
        emit SchemeRegistered(schemeId, name, periodLength, anchor, lapseAfterPeriods);
    }

    /// @inheritdoc IParticipantRegistry
    function registerCharacteristic(string calldata name, uint32 schemeId)
        external
        onlyRole(ROLE_ADMIN)
        returns (uint32 characteristic)
    {
        if (!_schemes[schemeId].exists) revert RegistryUnknownScheme(schemeId);
        characteristic = ++_characteristicCount;
        _characteristicScheme[characteristic] = schemeId;
        emit CharacteristicRegistered(characteristic, name, schemeId);
    }

    /// @inheritdoc IParticipantRegistry
    function registerProcess(
        string calldata name,
        uint32 inputMaterial,
        uint32 outputMaterial,
        uint32 factor,
        uint32 tolerance
    ) external onlyRole(ROLE_ADMIN) returns (uint32 processId) {
        _requireMaterial(inputMaterial);
        _requireMaterial(outputMaterial);
        // A process may lose mass but never create it: outputs are bounded by inputs times the factor.
        if (factor == 0 || factor > PPM) revert RegistryInvalidProcess("factor");
        if (tolerance > factor) revert RegistryInvalidProcess("tolerance");
        processId = ++_processCount;
        _processes[processId] = Process(inputMaterial, outputMaterial, factor, tolerance, true);
        emit ProcessRegistered(processId, name, inputMaterial, outputMaterial, factor, tolerance);
    }

    /// @inheritdoc IParticipantRegistry
    function linkContracts(address batchLedger_, address massBalance_, address certificateRegistry_)
        external
        onlyRole(ROLE_ADMIN)
    {
        if (_batchLedger != address(0)) revert RegistryAlreadyLinked();
        _batchLedger = batchLedger_;
        _massBalance = massBalance_;
        _certificateRegistry = certificateRegistry_;
        emit ContractsLinked(trustedForwarder(), batchLedger_, massBalance_, certificateRegistry_);
    }

    // ================================================================ certification bodies

    /// @inheritdoc IParticipantRegistry
    function recordCertification(CertificationParams calldata p) external returns (uint64 certificationId) {
        (uint32 certifier,) = requireActor(_msgSender(), ROLE_CERTIFIER);
        _requireParticipant(p.holder);
        if (p.materials.length == 0) revert RegistryInvalidCertification("materials");
        if (p.characteristics.length == 0) revert RegistryInvalidCertification("characteristics");
        // Bit 0 is "uncertified": a certification that covers no real model certifies nothing.
        if (p.models & 0x1e == 0 || p.models & ~uint8(0x1e) != 0) revert RegistryInvalidCertification("models");
        if (p.validTo <= p.validFrom || p.validTo <= block.timestamp) revert RegistryInvalidCertification("validTo");
        if (bytes(p.certificateNumber).length == 0) revert RegistryInvalidCertification("certificateNumber");

        certificationId = ++_certificationCount;
        _certifications[certificationId] =
            Certification(p.holder, certifier, p.models, CertificationStatus.Active, p.validFrom, p.validTo);
        for (uint256 i = 0; i < p.materials.length; ++i) {
            _requireMaterial(p.materials[i]);
            for (uint256 j = 0; j < p.characteristics.length; ++j) {
                uint32 characteristic = p.characteristics[j];
                if (_characteristicScheme[characteristic] == 0) revert RegistryUnknownCharacteristic(characteristic);
                _cover(_coverageKey(p.holder, p.materials[i], characteristic), certificationId, certifier);
            }
            _bodyCertification[_bodyKey(p.holder, p.materials[i], certifier)] = certificationId;
        }
        emit CertificationRecorded(certificationId, p.holder, certifier, p);
    }

    /// @inheritdoc IParticipantRegistry
    function setCertificationStatus(uint64 certificationId, CertificationStatus status, bytes32 reasonHash) external {
        (uint32 certifier,) = requireActor(_msgSender(), ROLE_CERTIFIER);
        Certification storage c = _certifications[certificationId];
        if (c.status == CertificationStatus.None) revert RegistryUnknownCertification(certificationId);
        if (c.certifier != certifier) revert RegistryNotCertificationOwner(certificationId, certifier);
        // Withdrawal is final; anything may be suspended; only a suspension can be lifted.
        CertificationStatus from = c.status;
        bool allowed = (status == CertificationStatus.Suspended && from == CertificationStatus.Active)
            || (status == CertificationStatus.Active && from == CertificationStatus.Suspended)
            || (status == CertificationStatus.Withdrawn && from != CertificationStatus.Withdrawn);
        if (!allowed) revert RegistryCertificationStatusChange(certificationId, from, status);
        c.status = status;
        emit CertificationStatusChanged(certificationId, status, reasonHash);
    }

    /// @inheritdoc IParticipantRegistry
    function setCapacity(uint32 participantId, uint32 materialId, uint40 validFrom, uint40 validTo, uint88 amount)
        external
    {
        (uint32 certifier,) = requireActor(_msgSender(), ROLE_CERTIFIER | ROLE_ADMIN);
        _requireParticipant(participantId);
        _requireMaterial(materialId);
        if (_participants[certifier].roles & ROLE_ADMIN == 0) {
            // The participant's own certifying body: it recorded a certification of this participant for
            // this material that is still active and not expired.
            Certification storage cert = _certifications[_bodyCertification[_bodyKey(participantId, materialId, certifier)]];
            if (cert.status != CertificationStatus.Active || cert.validTo < block.timestamp) {
                revert RegistryNotCertifyingBody(certifier, participantId, materialId);
            }
        }
        if (validTo <= validFrom) revert RegistryInvalidCapacity("validTo");
        // Changing the amount within a window keeps what was used; only a new window starts from zero.
        // (Ending a window and starting the next one resets what was used: only the participant's own
        // certifying body can do that, which may set any amount anyway.)
        Capacity storage c = _capacity[_capacityKey(participantId, materialId)];
        uint88 used = validFrom > c.validTo ? 0 : c.used;
        (c.validFrom, c.validTo, c.amount, c.used) = (validFrom, validTo, amount, used);
        emit CapacitySet(participantId, materialId, certifier, validFrom, validTo, amount);
    }

    /// @inheritdoc IParticipantRegistry
    function useCapacity(uint32 participantId, uint32 materialId, uint256 amount) external {
        if (msg.sender != _batchLedger) revert RegistryNotLinkedContract(msg.sender);
        Capacity storage c = _capacity[_capacityKey(participantId, materialId)];
        uint256 available;
        if (block.timestamp >= c.validFrom && block.timestamp <= c.validTo && c.amount > c.used) {
            available = c.amount - c.used;
        }
        if (amount > available) revert RegistryCapacityExceeded(participantId, materialId, available, amount);
        uint88 used = c.used + uint88(amount);
        c.used = used;
        emit CapacityUsed(participantId, materialId, uint88(amount), used);
    }

    // ================================================================ checks

    /// @inheritdoc IParticipantRegistry
    function requireActor(address account, uint8 roles) public view returns (uint32 participantId, uint32 siteId) {
        // Storage pointers, not memory copies: the IR pipeline reads each packed slot once either way,
        // but a memory copy also allocates and validates every field.
        Wallet storage w = _wallets[account];
        participantId = w.participantId;
        if (participantId == 0) revert RegistryUnknownWallet(account);
        Participant storage p = _participants[participantId];
        if (p.status != ParticipantStatus.Active) revert RegistryParticipantSuspended(participantId);
        if (p.roles & roles == 0) revert RegistryMissingRole(account, participantId, roles);
        siteId = w.siteId;
    }

    /// @inheritdoc IParticipantRegistry
    function requireCertifiedActor(
        address account,
        uint8 roles,
        uint32 materialId,
        uint32 characteristic,
        Model model
    ) public view returns (uint32 participantId, uint32 siteId) {
        (participantId, siteId) = requireActor(account, roles);
        if (model != Model.Uncertified) {
            (bool valid,) = certificationFor(participantId, materialId, characteristic, model);
            if (!valid) revert RegistryNotCertified(participantId, materialId, characteristic, model);
        }
    }

    /// @inheritdoc IParticipantRegistry
    function requireTransferParties(
        address from,
        address to,
        uint32 materialId,
        uint32 characteristic,
        Model model
    ) external view returns (uint32 fromParticipant, uint32 fromSite, uint32 toParticipant, uint32 toSite) {
        (fromParticipant, fromSite) = requireCertifiedActor(from, ROLE_SUPPLIER, materialId, characteristic, model);
        (toParticipant, toSite) =
            requireCertifiedActor(to, ROLE_SUPPLIER | ROLE_BRAND, materialId, characteristic, model);
    }

    /// @inheritdoc IParticipantRegistry
    function certificationFor(uint32 participantId, uint32 materialId, uint32 characteristic, Model model)
        public
        view
        returns (bool valid, uint64 certificationId)
    {
        // The newest certification that counts now, so that a renewal is named as soon as it is valid.
        uint256 packed = _coverage[_coverageKey(participantId, materialId, characteristic)];
        for (uint256 i = 0; i < COVERAGE_SLOTS && packed != 0; ++i) {
            uint64 id = uint64(packed);
            packed >>= 64;
            if (id <= certificationId) continue;
            Certification storage c = _certifications[id];
            if (
                c.status == CertificationStatus.Active && block.timestamp >= c.validFrom
                    && block.timestamp <= c.validTo && (c.models >> uint8(model)) & 1 == 1
            ) (valid, certificationId) = (true, id);
        }
    }

    // ================================================================ views

    function participant(uint32 participantId) external view returns (Participant memory) {
        return _participants[participantId];
    }

    function wallet(address account) external view returns (Wallet memory) {
        return _wallets[account];
    }

    function siteOwner(uint32 siteId) external view returns (uint32) {
        return _siteOwner[siteId];
    }

    function certification(uint64 certificationId) external view returns (Certification memory) {
        return _certifications[certificationId];
    }

    function capacity(uint32 participantId, uint32 materialId) external view returns (Capacity memory) {
        return _capacity[_capacityKey(participantId, materialId)];
    }

    function material(uint32 materialId) external view returns (Material memory) {
        return _materials[materialId];
    }

    function schemeOf(uint32 characteristic) external view returns (uint32 schemeId, Scheme memory) {
        schemeId = _characteristicScheme[characteristic];
        if (schemeId == 0) revert RegistryUnknownCharacteristic(characteristic);
        return (schemeId, _schemes[schemeId]);
    }

    function process(uint32 processId) external view returns (Process memory p) {
        p = _processes[processId];
        if (!p.exists) revert RegistryUnknownProcess(processId);
    }

    function counts()
        external
        view
        returns (uint32, uint32, uint64, uint32, uint32, uint32, uint32)
    {
        return (
            _participantCount,
            _siteCount,
            _certificationCount,
            _materialCount,
            _characteristicCount,
            _schemeCount,
            _processCount
        );
    }

    function forwarder() external view returns (address) {
        return trustedForwarder();
    }

    function batchLedger() external view returns (address) {
        return _batchLedger;
    }

    function massBalance() external view returns (address) {
        return _massBalance;
    }

    function certificateRegistry() external view returns (address) {
        return _certificateRegistry;
    }

    // ================================================================ internals

    function _newParticipant(string memory name, uint8 roles) private returns (uint32 id) {
        if (roles == 0 || roles & ~ALL_ROLES != 0) revert RegistryInvalidRoles(roles);
        id = ++_participantCount;
        _participants[id] = Participant(roles, ParticipantStatus.Active);
        emit ParticipantRegistered(id, name, roles);
    }

    /// @dev Takes the first free slot of `key` for `certificationId`: a slot is free when empty or its
    /// certification is withdrawn, expired or suspended. A body may hold COVERAGE_PER_BODY live slots.
    function _cover(bytes32 key, uint64 certificationId, uint32 certifier) private {
        uint256 packed = _coverage[key];
        uint256 free = COVERAGE_SLOTS;
        uint256 own;
        for (uint256 i = 0; i < COVERAGE_SLOTS; ++i) {
            uint64 id = uint64(packed >> (64 * i));
            Certification storage c = _certifications[id];
            if (id == 0 || c.status != CertificationStatus.Active || c.validTo < block.timestamp) {
                if (free == COVERAGE_SLOTS) free = i;
            } else if (c.certifier == certifier) {
                ++own;
            }
        }
        if (own >= COVERAGE_PER_BODY) revert RegistryCoverageBodyLimit(key, certifier);
        if (free == COVERAGE_SLOTS) revert RegistryCoverageFull(key);
        uint256 shift = 64 * free;
        _coverage[key] = (packed & ~(uint256(type(uint64).max) << shift)) | (uint256(certificationId) << shift);
    }

    function _requireParticipant(uint32 participantId) private view {
        if (_participants[participantId].status == ParticipantStatus.None) {
            revert RegistryUnknownParticipant(participantId);
        }
    }

    function _requireMaterial(uint32 materialId) private view {
        if (!_materials[materialId].exists) revert RegistryUnknownMaterial(materialId);
    }

    function _coverageKey(uint32 holder, uint32 materialId, uint32 characteristic) private pure returns (bytes32) {
        return keccak256(abi.encode(holder, materialId, characteristic));
    }

    function _bodyKey(uint32 holder, uint32 materialId, uint32 certifier) private pure returns (bytes32) {
        return keccak256(abi.encode(holder, materialId, certifier, "body"));
    }

    function _capacityKey(uint32 participantId, uint32 materialId) private pure returns (bytes32) {
        return keccak256(abi.encode(participantId, materialId));
    }
}
