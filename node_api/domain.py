"""The ledger's vocabulary in Python: one table of every enum the contracts speak, with display names.

Each enum mirrors a Solidity enum or constant set (``contracts/libraries/CocTypes.sol`` and the
interfaces); the values are the on-chain integers, ``label`` is what people read. Nothing else in the
node keeps a list of model, role, status or kind names: import them from here. The auditor keeps its
own copy on purpose (it is a second implementation and imports nothing from the node).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class _Labelled(IntEnum):
    @property
    def label(self) -> str:
        """Display name: ``MASS_BALANCE`` -> ``"mass balance"``."""
        return self.name.lower().replace("_", " ")

    @classmethod
    def labels(cls) -> list[str]:
        """Display names indexed by value (the enums are dense from 0)."""
        return [m.label for m in cls]

    @classmethod
    def parse(cls, value: int | str) -> "_Labelled":
        """A member from its value, its name or its display name (case-insensitive)."""
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            key = value.strip().lower().replace("-", " ").replace("_", " ")
            for m in cls:
                if m.label == key:
                    return m
            raise ValueError(f"unknown {cls.__name__}: {value!r} (one of {', '.join(cls.labels())})")
        return cls(int(value))


class Model(_Labelled):
    """ISO 22095 chain-of-custody models, weakest to strongest (CocTypes.sol ``Model``)."""

    UNCERTIFIED = 0
    MASS_BALANCE = 1
    CONTROLLED_BLENDING = 2
    SEGREGATED = 3
    IDENTITY_PRESERVED = 4


class BatchKind(_Labelled):
    """How a batch came to be (IBatchLedger ``BatchKind``)."""

    ORIGIN = 0
    SPLIT = 1
    MERGE = 2
    TRANSFORM = 3
    ATTRIBUTES_RELEASED = 4


class TransferStatus(_Labelled):
    """A custody transfer's state (IBatchLedger ``TransferStatus``)."""

    NONE = 0
    PENDING = 1
    ACCEPTED = 2
    REJECTED = 3
    CANCELLED = 4


class ConsumeReason(_Labelled):
    SOLD = 0
    DESTROYED = 1


class ParticipantStatus(_Labelled):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class CertificationStatus(_Labelled):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    WITHDRAWN = 3


class CertificateSource(_Labelled):
    """What a book & claim issuance rests on (ICertificateRegistry ``Source``)."""

    VERIFIED = 0
    CREDITS = 1
    BATCH = 2


class CreditEntry(_Labelled):
    """Direction of a mass-balance booking (IMassBalance ``Entry``)."""

    IN = 0
    OUT = 1
    CONVERTED_IN = 2
    CONVERTED_OUT = 3
    LAPSED = 4


class CreditReason(_Labelled):
    """Cause of a mass-balance booking (IMassBalance ``Reason``)."""

    ORIGIN_CREATED = 0
    DELIVERY = 1
    DELIVERY_RETURNED = 2
    DOWNGRADE = 3
    CONVERSION = 4
    MOVED = 5
    PLEDGED = 6
    LAPSE = 7


class Role(IntFlag):
    """Participant roles, bits of one byte (CocTypes.sol ``ROLE_*``)."""

    ADMIN = 1
    CERTIFIER = 2
    SUPPLIER = 4
    ISSUER = 8
    AUDITOR = 16
    BRAND = 32

    @classmethod
    def names(cls, bits: int) -> list[str]:
        """Display names of the roles set in ``bits``, lowest bit first."""
        return [m.name.lower() for m in cls if int(bits) & m.value]

    @classmethod
    def parse(cls, value: int | str | list[str]) -> int:
        """A bitmask from an int, a role name, or a list of names."""
        if isinstance(value, int):
            return value
        names = value if isinstance(value, list) else [value]
        bits = 0
        for n in names:
            key = str(n).strip().upper()
            if key not in cls.__members__:
                raise ValueError(f"unknown role {n!r} (one of {', '.join(m.lower() for m in cls.__members__)})")
            bits |= cls[key].value
        return bits


ALL_ROLES = 63
#: Shares, conversion factors and tolerances are parts per million on chain.
PPM = 1_000_000

#: Deployed contracts: artifact name -> the short name used in deployment records, the index and
#: the API (one naming scheme everywhere).
CONTRACTS: dict[str, str] = {
    "ParticipantRegistry": "registry",
    "CocForwarder": "forwarder",
    "MassBalance": "mass_balance",
    "BatchLedger": "ledger",
    "CertificateRegistry": "certificates",
    "ProductIdentifiers": "identifiers",  # GS1 identifiers of product tokens (issue 14)
    "DueDiligenceRegistry": "dds",
}
