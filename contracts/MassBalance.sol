// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IMassBalance} from "./interfaces/IMassBalance.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {Model, ROLE_SUPPLIER, PPM} from "./libraries/CocTypes.sol";

/// @title MassBalance
/// @notice Credit accounts with balancing periods. Every rule of the credit method lives here once:
/// no negative balance at any moment, period statements, carry-over or lapse per scheme, conversion with
/// the registered factor, moves only within a conversion-factor group and never from waste to regular.
contract MassBalance is IMassBalance, ERC2771Context {
    IParticipantRegistry public immutable registry;

    address private _ledger;
    address private _certificates;

    mapping(bytes32 => Account) private _accounts;
    mapping(bytes32 => mapping(uint32 => Statement)) private _statements;
    /// @dev Credits still unused per period they came in; kept only where the scheme lets credits lapse,
    /// and spent oldest first so that what lapses is what was left the longest.
    mapping(bytes32 => mapping(uint32 => uint256)) private _vintages;

    constructor(IParticipantRegistry registry_, address trustedForwarder) ERC2771Context(trustedForwarder) {
        registry = registry_;
    }

    modifier onlyLinked() {
        if (msg.sender != _ledger && msg.sender != _certificates) revert MassBalanceNotLinkedContract(msg.sender);
        _;
    }

    /// @inheritdoc IMassBalance
    function link() external {
        if (_ledger != address(0)) revert MassBalanceAlreadyLinked();
        address ledger = registry.batchLedger();
        if (ledger == address(0)) revert MassBalanceNotLinkedContract(address(0));
        _ledger = ledger;
        _certificates = registry.certificateRegistry();
    }

    // ================================================================ bookings by the linked contracts

    /// @inheritdoc IMassBalance
    function credit(
        uint32 participantId,
        uint32 siteId,
        uint32 material,
        uint32 characteristic,
        uint256 amount,
        Reason reason,
        bytes32 ref
    ) external onlyLinked {
        bytes32 key = accountKey(participantId, siteId, material, characteristic);
        _book(key, _touch(key, participantId, siteId, material, characteristic), Entry.In, reason, amount, ref);
    }

    /// @inheritdoc IMassBalance
    function debit(
        uint32 participantId,
        uint32 siteId,
        uint32 material,
        uint32 characteristic,
        uint256 amount,
        Reason reason,
        bytes32 ref
    ) external onlyLinked {
        bytes32 key = accountKey(participantId, siteId, material, characteristic);
        _book(key, _touch(key, participantId, siteId, material, characteristic), Entry.Out, reason, amount, ref);
    }

    /// @inheritdoc IMassBalance
    function deliver(
        uint32 fromParticipant,
        uint32 fromSite,
        uint32 toParticipant,
        uint32 toSite,
        uint32 material,
        uint32 characteristic,
        uint256 amount,
        bytes32 ref
    ) external onlyLinked {
        bytes32 from = accountKey(fromParticipant, fromSite, material, characteristic);
        _book(from, _touch(from, fromParticipant, fromSite, material, characteristic), Entry.Out, Reason.Delivery, amount, ref);
        bytes32 to = accountKey(toParticipant, toSite, material, characteristic);
        _book(to, _touch(to, toParticipant, toSite, material, characteristic), Entry.In, Reason.Delivery, amount, ref);
    }

    /// @inheritdoc IMassBalance
    function convert(
        uint32 participantId,
        uint32 siteId,
        uint32 fromMaterial,
        uint32 toMaterial,
        uint32 characteristic,
        uint256 amount,
        uint32 factor,
        bytes32 ref
    ) external onlyLinked returns (uint256 converted) {
        _requireNotWasteToRegular(fromMaterial, toMaterial);
        converted = amount * factor / PPM;
        _convert(participantId, siteId, fromMaterial, toMaterial, characteristic, amount, converted, Reason.Conversion, ref);
    }

    /// @inheritdoc IMassBalance
    function moveCredits(uint32 fromMaterial, uint32 toMaterial, uint32 characteristic, uint256 amount) external {
        address sender = _msgSender();
        (uint32 participantId, uint32 siteId) =
            registry.requireCertifiedActor(sender, ROLE_SUPPLIER, fromMaterial, characteristic, Model.MassBalance);
        registry.requireCertifiedActor(sender, ROLE_SUPPLIER, toMaterial, characteristic, Model.MassBalance);
        if (siteId == 0) revert IParticipantRegistry.RegistryWalletHasNoSite(sender);
        uint32 group = registry.material(fromMaterial).group;
        if (fromMaterial == toMaterial || group == 0 || group != registry.material(toMaterial).group) {
            revert MassBalanceMaterialGroupMismatch(fromMaterial, toMaterial);
        }
        _requireNotWasteToRegular(fromMaterial, toMaterial);
        _convert(participantId, siteId, fromMaterial, toMaterial, characteristic, amount, amount, Reason.Moved, bytes32(0));
    }

    /// @inheritdoc IMassBalance
    function roll(bytes32 key) external {
        Account storage a = _accounts[key];
        if (a.open) _roll(key, a);
    }

    // ================================================================ views

    /// @inheritdoc IMassBalance
    function accountKey(uint32 participantId, uint32 siteId, uint32 material, uint32 characteristic)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(participantId, siteId, material, characteristic));
    }

    /// @inheritdoc IMassBalance
    function balanceOf(bytes32 key) external view returns (uint256 balance) {
        Account memory a = _accounts[key];
        balance = a.balance;
        uint32 n = a.lapseAfterPeriods;
        if (n == 0) return balance;
        uint32 q = _periodAt(a);
        for (uint32 x = a.period; x < q && x < a.period + n; ++x) {
            if (x + 1 >= n) balance -= _vintages[key][x + 1 - n];
        }
    }

    function account(bytes32 key) external view returns (Account memory) {
        return _accounts[key];
    }

    /// @inheritdoc IMassBalance
    function statement(bytes32 key, uint32 period) external view returns (Statement memory s, uint256 closing) {
        Account memory a = _accounts[key];
        if (!a.open || period < a.openedPeriod) return (s, 0);
        s = _statements[key][period];
        if (!s.materialized) {
            // A period without activity: it opens and closes with what the last active period closed with.
            uint32 m = period > a.period ? a.period : period;
            while (!_statements[key][m].materialized) --m;
            Statement memory last = _statements[key][m];
            s.opening = uint96(_closing(last));
        }
        closing = _closing(s);
    }

    /// @inheritdoc IMassBalance
    function currentPeriod(bytes32 key) external view returns (uint32) {
        return _periodAt(_accounts[key]);
    }

    // ================================================================ internals

    function _touch(bytes32 key, uint32 participantId, uint32 siteId, uint32 material, uint32 characteristic)
        private
        returns (Account storage a)
    {
        a = _accounts[key];
        if (a.open) {
            _roll(key, a);
            return a;
        }
        (uint32 schemeId, IParticipantRegistry.Scheme memory scheme) = registry.schemeOf(characteristic);
        a.open = true;
        a.periodLength = uint32(scheme.periodLength);
        a.anchor = scheme.anchor;
        a.lapseAfterPeriods = scheme.lapseAfterPeriods;
        uint32 p = _periodAt(a);
        a.period = p;
        a.openedPeriod = p;
        _statements[key][p].materialized = true;
        emit AccountOpened(
            key,
            participantId,
            siteId,
            material,
            characteristic,
            schemeId,
            uint32(scheme.periodLength),
            scheme.anchor,
            scheme.lapseAfterPeriods
        );
    }

    /// @dev Closes every period that ended since the account was last touched. Credits lapse at the end of
    /// the period N-1 after the one they came in; once nothing is left that can lapse, the periods between
    /// carry the balance unchanged and are not written (statement() derives them).
    function _roll(bytes32 key, Account storage a) private {
        uint32 q = _periodAt(a);
        uint32 x = a.period;
        if (q == x) return;
        uint256 balance = a.balance;
        uint32 n = a.lapseAfterPeriods;
        while (true) {
            Statement storage st = _statements[key][x];
            if (n != 0 && x + 1 >= n) {
                uint32 vintage = x + 1 - n;
                uint256 lapsing = _vintages[key][vintage];
                if (lapsing != 0) {
                    delete _vintages[key][vintage];
                    balance -= lapsing;
                    st.lapsed += uint96(lapsing);
                    emit CreditsBooked(key, x, Entry.Lapsed, Reason.Lapse, lapsing, balance, bytes32(0));
                }
            }
            emit PeriodClosed(
                key, x, st.opening, st.inflow, st.convertedIn, st.outflow, st.convertedOut, st.lapsed, balance
            );
            if (x + 1 == q || n == 0 || balance == 0) break;
            ++x;
            Statement storage next = _statements[key][x];
            next.opening = uint96(balance);
            next.materialized = true;
        }
        Statement storage current = _statements[key][q];
        current.opening = uint96(balance);
        current.materialized = true;
        a.period = q;
        a.balance = uint96(balance);
    }

    function _book(bytes32 key, Account storage a, Entry entry, Reason reason, uint256 amount, bytes32 ref) private {
        if (amount == 0) revert MassBalanceZeroAmount();
        uint32 p = a.period;
        uint256 balance = a.balance;
        Statement storage st = _statements[key][p];
        if (entry == Entry.In || entry == Entry.ConvertedIn) {
            balance += amount;
            if (entry == Entry.In) st.inflow += uint96(amount);
            else st.convertedIn += uint96(amount);
            if (a.lapseAfterPeriods != 0) _vintages[key][p] += amount;
        } else {
            if (amount > balance) revert MassBalanceInsufficientCredits(key, balance, amount);
            balance -= amount;
            if (entry == Entry.Out) st.outflow += uint96(amount);
            else st.convertedOut += uint96(amount);
            if (a.lapseAfterPeriods != 0) _spendVintages(key, a, amount);
        }
        a.balance = uint96(balance);
        emit CreditsBooked(key, p, entry, reason, amount, balance, ref);
    }

    function _spendVintages(bytes32 key, Account storage a, uint256 amount) private {
        uint32 p = a.period;
        uint32 n = a.lapseAfterPeriods;
        uint32 v = p + 1 >= n ? p + 1 - n : 0;
        if (v < a.openedPeriod) v = a.openedPeriod;
        for (; amount != 0; ++v) {
            uint256 left = _vintages[key][v];
            uint256 used = left < amount ? left : amount;
            if (used != 0) _vintages[key][v] = left - used;
            amount -= used;
        }
    }

    function _convert(
        uint32 participantId,
        uint32 siteId,
        uint32 fromMaterial,
        uint32 toMaterial,
        uint32 characteristic,
        uint256 amount,
        uint256 converted,
        Reason reason,
        bytes32 ref
    ) private {
        bytes32 from = accountKey(participantId, siteId, fromMaterial, characteristic);
        _book(from, _touch(from, participantId, siteId, fromMaterial, characteristic), Entry.ConvertedOut, reason, amount, ref);
        if (converted == 0) return;
        bytes32 to = accountKey(participantId, siteId, toMaterial, characteristic);
        _book(to, _touch(to, participantId, siteId, toMaterial, characteristic), Entry.ConvertedIn, reason, converted, ref);
    }

    function _requireNotWasteToRegular(uint32 fromMaterial, uint32 toMaterial) private view {
        if (registry.material(fromMaterial).waste && !registry.material(toMaterial).waste) {
            revert MassBalanceWasteToRegular(fromMaterial, toMaterial);
        }
    }

    function _periodAt(Account memory a) private view returns (uint32) {
        if (block.timestamp < a.anchor) return 0;
        return uint32((block.timestamp - a.anchor) / a.periodLength);
    }

    function _closing(Statement memory s) private pure returns (uint256) {
        return uint256(s.opening) + s.inflow + s.convertedIn - s.outflow - s.convertedOut - s.lapsed;
    }
}
