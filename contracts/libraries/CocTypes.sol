// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Shared chain-of-custody types
/// @notice One place for the vocabulary every contract of the ledger speaks: the ISO 22095
/// chain-of-custody models, participant roles and fixed-point shares.

/// @dev Models ordered from weakest to strongest, so that "a site may pass on a weaker model than it
/// received, never a stronger one" is a plain comparison (RSPO SCCS 5.2.1, ISO 22095).
enum Model {
    Uncertified,
    MassBalance,
    ControlledBlending,
    Segregated,
    IdentityPreserved
}

/// @dev Roles are bits of one byte held per participant (an organisation), not per wallet.
uint8 constant ROLE_ADMIN = 1;
uint8 constant ROLE_CERTIFIER = 2;
uint8 constant ROLE_SUPPLIER = 4;
uint8 constant ROLE_ISSUER = 8;
uint8 constant ROLE_AUDITOR = 16;
uint8 constant ROLE_BRAND = 32;
uint8 constant ALL_ROLES = 63;

/// @dev Shares (certified share of a batch, conversion factors, tolerances) are parts per million.
uint32 constant PPM = 1_000_000;
