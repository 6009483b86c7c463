"""What every part of the replay shares: one decoded event, its reference, account keys, event enums."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..eip712 import fast_keccak as keccak

COVERAGE_SLOTS = 4  # ParticipantRegistry remembers the 4 newest certifications per holder/material/characteristic
IN, OUT, CONV_IN, CONV_OUT, LAPSED = range(5)  # IMassBalance.Entry
R_ORIGIN, R_DELIVERY, R_RETURNED, R_DOWNGRADE, R_CONVERSION, R_MOVED, R_PLEDGED, R_LAPSE = range(8)  # .Reason
ACTIVE = 1  # ParticipantStatus.Active == CertificationStatus.Active


class Ev:
    __slots__ = ("name", "c", "a", "block", "ts", "tx", "li")

    def __init__(self, name: str, c: str, a: dict, block: int, ts: int, tx: str, li: int):
        self.name, self.c, self.a, self.block, self.ts, self.tx, self.li = name, c, a, block, ts, tx, li

    def ref(self) -> dict[str, Any]:
        return {"event": self.name, "tx": self.tx, "block": self.block, "logIndex": self.li}


def w32(v: int) -> bytes:
    return v.to_bytes(32, "big")


@lru_cache(maxsize=65536)
def account_key(pid: int, site: int, material: int, characteristic: int) -> str:
    return "0x" + keccak(w32(pid) + w32(site) + w32(material) + w32(characteristic)).hex()


def int_ref(v: int) -> str:
    return "0x" + w32(v).hex()
