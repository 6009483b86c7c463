"""Validated types of path and query parameters, shared by every router (the provenance routes too).

Each says the on-chain type it stands for, so a value the chain cannot hold is refused with 422
naming the parameter, before any call: negative ids, ids above the type's range, digits that are not
ASCII (``int("١")`` is 1 in Python, never in a URL the ledger writes), hex values that are not hex,
strings that are not addresses.
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from eth_utils import is_address, to_checksum_address
from pydantic import AfterValidator, BeforeValidator

#: Most decimal digits a uint256 has (2**256 - 1 has 78).
_MAX_DIGITS = 78


def ascii_uint(v: Any) -> Any:
    """Text of ASCII digits only (no sign, no spaces, no other scripts' digits) as an int."""
    if isinstance(v, str):
        if not (v.isascii() and v.isdigit()):
            raise ValueError("must be a non-negative whole number written with the digits 0-9")
        if len(v) > _MAX_DIGITS:
            raise ValueError("is too large")
        return int(v)
    if isinstance(v, bool):
        raise ValueError("must be a number")
    return v


def _uint(bits: int) -> Any:
    return Annotated[int, BeforeValidator(ascii_uint), Ge(0), Le(2**bits - 1)]


Uint32 = _uint(32)
Uint64 = _uint(64)
Uint256 = _uint(256)
#: A signed 64-bit quantity that cannot be negative here (block numbers, offsets, limits on SQL columns).
Int64 = Annotated[int, BeforeValidator(ascii_uint), Ge(0), Le(2**63 - 1)]


def _bytes32_hex(v: str) -> str:
    if not (isinstance(v, str) and len(v) == 66 and v[:2] in ("0x", "0X")):
        raise ValueError("must be 0x followed by 64 hex digits")
    try:
        bytes.fromhex(v[2:])
    except ValueError:
        raise ValueError("must be 0x followed by 64 hex digits") from None
    return "0x" + v[2:].lower()


def _address(v: str) -> str:
    if not isinstance(v, str) or not is_address(v):
        raise ValueError("not an Ethereum address (0x followed by 40 hex digits)")
    return to_checksum_address(v)


#: A 32-byte value in hex (transfer ids, account keys, transaction hashes): never hashed from text.
Bytes32Hex = Annotated[str, AfterValidator(_bytes32_hex)]
#: A 20-byte account, returned checksummed.
AddressParam = Annotated[str, AfterValidator(_address)]
