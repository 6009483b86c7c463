// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IMassBalance} from "./interfaces/IMassBalance.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Model, ROLE_SUPPLIER, ALL_ROLES, PPM} from "./libraries/CocTypes.sol";

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
        Account storage a = _touch(key, participantId, siteId, material, characteristic);
        _bookIn(key, a, Entry.In, reason, amount, ref, a.period);
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
    ) external onlyLinked returns (uint32 oldestVintage) {
        bytes32 key = accountKey(participantId, siteId, material, characteristic);
        (uint32 first, uint256[] memory taken) =
            _bookOut(key, _touch(key, participantId, siteId, material, characteristic), Entry.Out, reason, amount, ref);
        return _oldest(first, taken);
    }

    /// @inheritdoc IMassBalance
    function creditAged(
        uint32 participantId,
        uint32 siteId,
        uint32 material,
        uint32 characteristic,
        uint256 amount,
        Reason reason,
        uint32 vintage,
        bytes32 ref
    ) external onlyLinked {
        bytes32 key = accountKey(participantId, siteId, material, characteristic);
        Account storage a = _touch(key, participantId, siteId, material, characteristic);
        _bookIn(key, a, Entry.In, reason, amount, ref, vintage);
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
        (uint32 first, uint256[] memory taken) = _bookOut(
            from, _touch(from, fromParticipant, fromSite, material, characteristic), Entry.Out, Reason.Delivery, amount, ref
        );
        // Delivered credits keep their age (dated to the oldest period they were taken from), so passing
        // credits back and forth never makes them younger: they lapse when they would have at the sender.
        bytes32 to = accountKey(toParticipant, toSite, material, characteristic);
        _bookIn(to, _touch(to, toParticipant, toSite, material, characteristic), Entry.In, Reason.Delivery, amount, ref, _oldest(first, taken));
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
        _convert(
            Conversion(participantId, siteId, fromMaterial, toMaterial, characteristic, amount, converted, Reason.Conversion, ref)
        );
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
        _convert(
            Conversion(participantId, siteId, fromMaterial, toMaterial, characteristic, amount, amount, Reason.Moved, bytes32(0))
        );
    }

    /// @inheritdoc IMassBalance
    function roll(bytes32 key) external {
        registry.requireActor(_msgSender(), ALL_ROLES);
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
        if (period <= a.period) {
            s = _statements[key][period];
            if (!s.materialized) {
                // A period without activity: it opens and closes with what the last active period closed with.
                uint32 m = period;
                while (!_statements[key][m].materialized) --m;
                s.opening = uint96(_closing(_statements[key][m]));
            }
            if (period == a.period) s.lapsed += uint96(_dueLapse(key, a, period));
        } else {
            // Beyond the last time the account was brought up to date: what roll() would write.
            uint256 balance = _closing(_statements[key][a.period]) - _dueLapse(key, a, a.period);
            for (uint32 x = a.period + 1; x < period; ++x) {
                balance -= _dueLapse(key, a, x);
            }
            s.opening = uint96(balance);
            s.lapsed = uint96(_dueLapse(key, a, period));
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
                    st.lapsed = SafeCast.toUint96(st.lapsed + lapsing);
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

    /// @dev Credits coming in. Where the scheme lets credits lapse they are dated to `vintage` (the current
    /// period, or for credits coming back from a cancelled or rejected delivery the oldest period they were
    /// taken from, so that a round trip never makes credits younger); credits whose vintage has already
    /// expired lapse at once.
    function _bookIn(bytes32 key, Account storage a, Entry entry, Reason reason, uint256 amount, bytes32 ref, uint32 vintage)
        private
    {
        if (amount == 0) revert MassBalanceZeroAmount();
        uint32 p = a.period;
        uint256 balance = a.balance + amount;
        Statement storage st = _statements[key][p];
        if (entry == Entry.In) st.inflow = SafeCast.toUint96(st.inflow + amount);
        else st.convertedIn = SafeCast.toUint96(st.convertedIn + amount);
        emit CreditsBooked(key, p, entry, reason, amount, balance, ref);
        uint32 n = a.lapseAfterPeriods;
        if (n != 0) {
            if (vintage + n > p) {
                _vintages[key][vintage] += amount;
            } else {
                balance -= amount;
                st.lapsed = SafeCast.toUint96(st.lapsed + amount);
                emit CreditsBooked(key, p, Entry.Lapsed, Reason.Lapse, amount, balance, ref);
            }
        }
        a.balance = SafeCast.toUint96(balance);
    }

    /// @dev Credits going out; never below zero. Where credits lapse they are spent oldest first, and the
    /// amounts taken per vintage (taken[i] from period first + i) are returned so that conversions and
    /// returned deliveries keep the credits' age.
    function _bookOut(bytes32 key, Account storage a, Entry entry, Reason reason, uint256 amount, bytes32 ref)
        private
        returns (uint32 first, uint256[] memory taken)
    {
        if (amount == 0) revert MassBalanceZeroAmount();
        uint32 p = a.period;
        uint256 balance = a.balance;
        if (amount > balance) revert MassBalanceInsufficientCredits(key, balance, amount);
        balance -= amount;
        Statement storage st = _statements[key][p];
        if (entry == Entry.Out) st.outflow = SafeCast.toUint96(st.outflow + amount);
        else st.convertedOut = SafeCast.toUint96(st.convertedOut + amount);
        a.balance = uint96(balance);
        emit CreditsBooked(key, p, entry, reason, amount, balance, ref);
        if (a.lapseAfterPeriods == 0) return (p, taken);
        return _takeVintages(key, p, a.lapseAfterPeriods, amount);
    }

    /// @dev The oldest period credits were taken from (taken[i] from period first + i); `first` when none.
    function _oldest(uint32 first, uint256[] memory taken) private pure returns (uint32 oldest) {
        oldest = first;
        for (uint256 i = 0; i < taken.length && taken[i] == 0; ++i) {
            ++oldest;
        }
    }

    function _takeVintages(bytes32 key, uint32 p, uint32 n, uint256 amount)
        private
        returns (uint32 first, uint256[] memory taken)
    {
        first = p + 1 >= n ? p + 1 - n : 0;
        taken = new uint256[](p - first + 1);
        for (uint256 i = 0; amount != 0; ++i) {
            uint32 v = first + uint32(i);
            uint256 left = _vintages[key][v];
            uint256 used = left < amount ? left : amount;
            if (used != 0) _vintages[key][v] = left - used;
            taken[i] = used;
            amount -= used;
        }
    }

    function _dueLapse(bytes32 key, Account memory a, uint32 x) private view returns (uint256) {
        uint32 n = a.lapseAfterPeriods;
        // Credits lapse at the end of a period, so only a period that has ended has lapses due.
        if (n == 0 || x + 1 < n || x >= _periodAt(a)) return 0;
        return _vintages[key][x + 1 - n];
    }

    /// @dev One conversion of credits between two materials of one site and characteristic.
    struct Conversion {
        uint32 participantId;
        uint32 siteId;
        uint32 fromMaterial;
        uint32 toMaterial;
        uint32 characteristic;
        uint256 amount;
        uint256 converted;
        Reason reason;
        bytes32 ref;
    }

    function _convert(Conversion memory c) private {
        bytes32 from = accountKey(c.participantId, c.siteId, c.fromMaterial, c.characteristic);
        Account storage fa = _touch(from, c.participantId, c.siteId, c.fromMaterial, c.characteristic);
        (uint32 first, uint256[] memory taken) = _bookOut(from, fa, Entry.ConvertedOut, c.reason, c.amount, c.ref);
        if (c.converted == 0) return;
        bytes32 to = accountKey(c.participantId, c.siteId, c.toMaterial, c.characteristic);
        Account storage ta = _touch(to, c.participantId, c.siteId, c.toMaterial, c.characteristic);
        if (taken.length == 0) {
            _bookIn(to, ta, Entry.ConvertedIn, c.reason, c.converted, c.ref, ta.period);
            return;
        }
        uint256[] memory parts = _agedParts(taken, c.amount, c.converted);
        for (uint256 i = 0; i < parts.length; ++i) {
            if (parts[i] != 0) _bookIn(to, ta, Entry.ConvertedIn, c.reason, parts[i], c.ref, first + uint32(i));
        }
    }

    /// @dev Converted credits keep the age of the credits they came from, vintage by vintage (same scheme,
    /// same periods); the rounding remainder goes to the oldest, so no credit ever gets younger.
    function _agedParts(uint256[] memory taken, uint256 amount, uint256 converted)
        private
        pure
        returns (uint256[] memory parts)
    {
        parts = new uint256[](taken.length);
        uint256 left = converted;
        uint256 oldest = taken.length;
        for (uint256 i = 0; i < taken.length; ++i) {
            parts[i] = taken[i] * converted / amount;
            left -= parts[i];
            if (oldest == taken.length && taken[i] != 0) oldest = i;
        }
        parts[oldest] += left;
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
