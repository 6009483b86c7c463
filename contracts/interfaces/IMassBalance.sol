// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Mass-balance credit accounts
/// @notice One account per participant, site, material and sustainability characteristic (ISCC, ISO 22095-2
/// credit method). Credits come in with certified origin creation, mass-balance receipts and downgraded
/// certified inputs; go out with deliveries that carry a claim and with pledges to book & claim
/// certificates; convert through registered processes. No balance is ever negative, at any moment.
interface IMassBalance {
    enum Entry {
        In,
        Out,
        ConvertedIn,
        ConvertedOut,
        Lapsed
    }

    /// @dev Why credits moved, carried on every booking so that an auditor can match it to its cause.
    enum Reason {
        OriginCreated,
        Delivery,
        DeliveryReturned,
        Downgrade,
        Conversion,
        Moved,
        Pledged,
        Lapse
    }

    struct Account {
        uint96 balance;
        uint32 period; // the period the account was last brought up to date in
        uint32 openedPeriod;
        uint32 periodLength;
        uint40 anchor;
        uint16 lapseAfterPeriods;
        bool open;
    }

    /// @notice A balancing period's statement; closing = opening + inflow + convertedIn - outflow
    /// - convertedOut - lapsed, and the next period opens with it.
    struct Statement {
        uint96 opening;
        uint96 inflow;
        bool materialized;
        uint96 outflow;
        uint96 convertedIn;
        uint96 convertedOut;
        uint96 lapsed;
    }

    error MassBalanceNotLinkedContract(address caller);
    error MassBalanceAlreadyLinked();
    error MassBalanceInsufficientCredits(bytes32 account, uint256 balance, uint256 requested);
    error MassBalanceZeroAmount();
    error MassBalanceMaterialGroupMismatch(uint32 fromMaterial, uint32 toMaterial);
    error MassBalanceWasteToRegular(uint32 fromMaterial, uint32 toMaterial);
    error MassBalanceConversionExceedsInput(uint256 credits, uint256 inputQuantity);

    event AccountOpened(
        bytes32 indexed account,
        uint32 indexed participantId,
        uint32 siteId,
        uint32 material,
        uint32 characteristic,
        uint32 scheme,
        uint40 periodLength,
        uint40 anchor,
        uint16 lapseAfterPeriods
    );
    /// @notice Every change of a balance, with the balance after it: replaying these rebuilds every account.
    event CreditsBooked(
        bytes32 indexed account, uint32 indexed period, Entry entry, Reason reason, uint256 amount, uint256 balance, bytes32 ref
    );
    /// @notice A period closed (emitted when the account is first touched after the period's end).
    event PeriodClosed(
        bytes32 indexed account,
        uint32 indexed period,
        uint256 opening,
        uint256 inflow,
        uint256 convertedIn,
        uint256 outflow,
        uint256 convertedOut,
        uint256 lapsed,
        uint256 closing
    );

    /// @notice Copies the batch ledger and certificate registry addresses from the participant registry, once.
    function link() external;

    /// @notice Books credits into an account. Batch ledger and certificate registry only.
    function credit(
        uint32 participantId,
        uint32 siteId,
        uint32 material,
        uint32 characteristic,
        uint256 amount,
        Reason reason,
        bytes32 ref
    ) external;

    /// @notice Takes credits out of an account; reverts rather than go below zero. Linked contracts only.
    /// @return oldestVintage the period the oldest credits taken came in (where the scheme lets credits
    /// lapse), for returning them with their age if the delivery is cancelled or rejected
    function debit(
        uint32 participantId,
        uint32 siteId,
        uint32 material,
        uint32 characteristic,
        uint256 amount,
        Reason reason,
        bytes32 ref
    ) external returns (uint32 oldestVintage);

    /// @notice Books credits that keep their age, dated to `vintage` so that they lapse when they would have
    /// (already expired credits lapse at once): an accepted two-step delivery into the receiver's account
    /// (Reason.Delivery) and a cancelled or rejected one back into the sender's (Reason.DeliveryReturned),
    /// both dated to the oldest period the delivered credits were taken from. Linked contracts only.
    function creditAged(
        uint32 participantId,
        uint32 siteId,
        uint32 material,
        uint32 characteristic,
        uint256 amount,
        Reason reason,
        uint32 vintage,
        bytes32 ref
    ) external;

    /// @notice Moves a delivery's declared certified quantity from the sender's account to the receiver's in
    /// one step (a custody transfer accepted in the same transaction). Batch ledger only.
    function deliver(
        uint32 fromParticipant,
        uint32 fromSite,
        uint32 toParticipant,
        uint32 toSite,
        uint32 material,
        uint32 characteristic,
        uint256 amount,
        bytes32 ref
    ) external;

    /// @notice Converts credits of a process input into credits of its output with the registered factor.
    /// Batch ledger only (it checks the physical transform that justifies it).
    function convert(
        uint32 participantId,
        uint32 siteId,
        uint32 fromMaterial,
        uint32 toMaterial,
        uint32 characteristic,
        uint256 amount,
        uint32 factor,
        bytes32 ref
    ) external returns (uint256 converted);

    /// @notice Moves the caller's credits at its site between two materials of one conversion-factor group,
    /// never from waste to regular material.
    function moveCredits(uint32 fromMaterial, uint32 toMaterial, uint32 characteristic, uint256 amount) external;

    /// @notice Brings an account up to the current period, closing the periods that ended. Any active
    /// wallet of a registered participant may call (else the registry's RegistryUnknownWallet,
    /// RegistryParticipantSuspended or RegistryMissingRole): strangers cannot spend a relayer's gas on it.
    function roll(bytes32 account) external;

    /// @notice The key of an account.
    function accountKey(uint32 participantId, uint32 siteId, uint32 material, uint32 characteristic)
        external
        pure
        returns (bytes32);

    /// @notice The balance now, after any lapse due since the account was last touched.
    function balanceOf(bytes32 account) external view returns (uint256);

    function account(bytes32 key) external view returns (Account memory);

    /// @notice The statement of `period`, as it stands (a period still open has no final closing yet).
    function statement(bytes32 account, uint32 period) external view returns (Statement memory, uint256 closing);

    /// @notice The current period index of an account's scheme.
    function currentPeriod(bytes32 account) external view returns (uint32);
}
