// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ROLE_SUPPLIER, ROLE_BRAND} from "./libraries/CocTypes.sol";

/// @title ProductIdentifiers
/// @notice GS1 identifiers of product tokens (GS1 Digital Link, issue 14): a registered supplier or brand
/// that holds a batch binds a GTIN with a lot (GS1 application identifier 10) or a serial (AI 21) to it.
/// The binding is signed by the holder (directly or as an ERC-2771 request relayed through CocForwarder),
/// checked here (GTIN check digit, GS1 character set, holder of the batch, one token per identifier), and
/// recorded in an event and in storage, so any resolver or auditor can verify it from the chain alone.
/// A separate contract, not BatchLedger: the ledger has under 600 bytes of code size left, and an
/// identifier says nothing about custody or claims; it only names a token.
contract ProductIdentifiers is ERC2771Context {
    /// @dev GS1 application identifiers: 10 = batch or lot number, 21 = serial number.
    enum Kind {
        Lot,
        Serial
    }

    struct Binding {
        uint256 batchId;
        uint64 gtin; // GTIN-14 as a number (GTIN-8/12/13 are left-padded with zeros to 14 digits)
        Kind kind;
        string value; // the lot or serial: 1..20 characters of GS1 AI encodable character set 82
        address by; // the holder's wallet that signed the binding
        uint32 participantId;
        uint40 boundAt;
    }

    uint64 private constant GTIN_LIMIT = 1e14; // 14 digits
    uint256 private constant MAX_VALUE_LENGTH = 20; // AI 10 and AI 21: up to 20 characters

    IParticipantRegistry public immutable registry;
    IERC1155 public immutable ledger;

    mapping(bytes32 key => Binding) private _bindings;
    mapping(uint256 batchId => bytes32[]) private _keysOf;

    error IdentifierInvalidGtin(uint64 gtin);
    error IdentifierInvalidValue(string value);
    error IdentifierNotHolder(address wallet, uint256 batchId);
    error IdentifierAlreadyBound(bytes32 key, uint256 batchId);

    /// @notice A GS1 identifier bound to a product token by a wallet holding it.
    event ProductIdentifierBound(
        uint256 indexed batchId,
        uint64 indexed gtin,
        Kind kind,
        string value,
        address by,
        uint32 participantId,
        bytes32 key
    );

    constructor(address registry_, address ledger_, address trustedForwarder) ERC2771Context(trustedForwarder) {
        registry = IParticipantRegistry(registry_);
        ledger = IERC1155(ledger_);
    }

    /// @notice Binds (gtin, kind, value) to `batchId`; the signer must hold some of the batch.
    function bind(uint256 batchId, uint64 gtin, Kind kind, string calldata value) external returns (bytes32 key) {
        address sender = _msgSender();
        (uint32 participantId,) = registry.requireActor(sender, ROLE_SUPPLIER | ROLE_BRAND);
        if (!validGtin(gtin)) revert IdentifierInvalidGtin(gtin);
        if (!validValue(value)) revert IdentifierInvalidValue(value);
        if (ledger.balanceOf(sender, batchId) == 0) revert IdentifierNotHolder(sender, batchId);
        key = keyOf(gtin, kind, value);
        uint256 bound = _bindings[key].batchId;
        if (bound != 0) revert IdentifierAlreadyBound(key, bound);
        _bindings[key] = Binding(batchId, gtin, kind, value, sender, participantId, uint40(block.timestamp));
        _keysOf[batchId].push(key);
        emit ProductIdentifierBound(batchId, gtin, kind, value, sender, participantId, key);
    }

    /// @notice The token an identifier is bound to (0: none).
    function batchOf(uint64 gtin, Kind kind, string calldata value) external view returns (uint256) {
        return _bindings[keyOf(gtin, kind, value)].batchId;
    }

    /// @notice Every identifier bound to `batchId`, in the order they were bound.
    function identifiersOf(uint256 batchId) external view returns (Binding[] memory out) {
        bytes32[] storage keys = _keysOf[batchId];
        out = new Binding[](keys.length);
        for (uint256 i = 0; i < keys.length; ++i) {
            out[i] = _bindings[keys[i]];
        }
    }

    function keyOf(uint64 gtin, Kind kind, string calldata value) public pure returns (bytes32) {
        return keccak256(abi.encode(gtin, kind, value));
    }

    /// @notice GS1 check digit: the last digit makes the sum of the others, weighted 3 and 1 alternately from
    /// the right, a multiple of 10. Zero (no GTIN) is refused.
    function validGtin(uint64 gtin) public pure returns (bool) {
        if (gtin == 0 || gtin >= GTIN_LIMIT) return false;
        uint64 check = gtin % 10;
        uint64 rest = gtin / 10;
        uint64 sum = 0;
        uint64 weight = 3;
        while (rest != 0) {
            sum += (rest % 10) * weight;
            rest /= 10;
            weight = 4 - weight;
        }
        return (10 - (sum % 10)) % 10 == check;
    }

    /// @notice 1..20 characters of GS1 character set 82 (letters, digits and !"%&'()*+,-./:;<=>?_).
    function validValue(string calldata value) public pure returns (bool) {
        bytes calldata b = bytes(value);
        if (b.length == 0 || b.length > MAX_VALUE_LENGTH) return false;
        for (uint256 i = 0; i < b.length; ++i) {
            bytes1 c = b[i];
            bool ok = (c >= "0" && c <= "9") || (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || c == "!"
                || c == '"' || (c >= "%" && c <= "/") || (c >= ":" && c <= "?") || c == "_";
            if (!ok) return false;
        }
        return true;
    }
}
