"""How the index's answers spell enums and addresses (shared by the writer, which renders lineage
facts at ingest, and the reader).

Every enum name comes from ``node_api.domain``; nothing is listed here. Most answers use the
domain's display label ("mass balance"); batch kinds and credit entries and reasons have always
been answered by the enum's name in snake case ("attributes_released", "converted_in",
"origin_created"), and keep that spelling. Addresses are shown EIP-55 checksummed.
"""

from __future__ import annotations

from functools import lru_cache

from eth_utils import to_checksum_address

from node_api.domain import BatchKind, CreditEntry, CreditReason


def kind_name(kind: int) -> str:
    return BatchKind(kind).name.lower()


def entry_name(entry: int) -> str:
    return CreditEntry(entry).name.lower()


def reason_name(reason: int) -> str:
    return CreditReason(reason).name.lower()


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    return to_checksum_address(address)
