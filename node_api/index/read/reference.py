"""Reference data: participants with their sites and wallets, materials, characteristics, schemes,
processes, and the index's chain id and contract addresses.

Small tables that every answer names things from, and that change only when the registry emits a
registration event. They are loaded once per database and kept; the writer stamps a new
``reference_version`` in ``idx_meta`` whenever a block range writes any of them (node_api.index.store),
and ``reference(conn)`` reloads only when that stamp (or the chain id or contracts, i.e. a rebuilt
index) differs from the one the cached copy was loaded under. A request costs one read of
``idx_meta`` (a handful of rows) instead of seven tables.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import defaultdict
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Mapping, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection, Engine

from .. import schema as t
from ..spelling import checksum

_T = TypeVar("_T")


def _of(cls: type[_T], row: Any) -> _T:
    """A dataclass from a row, field by field by column name."""
    m = row._mapping
    return cls(**{f.name: m[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Participant:
    participant_id: int
    name: str
    roles: int
    status: int
    block_number: int
    log_index: int
    tx_hash: str
    block_time: int

    @property
    def registered(self) -> dict[str, Any]:
        return {"tx_hash": self.tx_hash, "block_number": self.block_number, "time": self.block_time}


@dataclass(frozen=True)
class Site:
    site_id: int
    participant_id: int
    name: str
    location_ref: str


@dataclass(frozen=True)
class WalletBinding:
    """A wallet bound to a participant (and site) from ``added_block`` on."""

    address: str
    added_block: int
    added_log_index: int
    participant_id: int
    site_id: int


@dataclass(frozen=True)
class Material:
    material: int
    name: str
    unit: str


@dataclass(frozen=True)
class Characteristic:
    characteristic: int
    name: str
    scheme: int


@dataclass(frozen=True)
class Scheme:
    scheme: int
    name: str


@dataclass(frozen=True)
class Process:
    process_id: int
    name: str
    factor: int


@dataclass(frozen=True)
class Reference:
    """Names of everything that has an id (read-only: one copy is shared by every request, in every
    thread, until reloaded)."""

    participants: Mapping[int, Participant]
    sites: Mapping[int, Site]
    materials: Mapping[int, Material]
    characteristics: Mapping[int, Characteristic]
    schemes: Mapping[int, Scheme]
    processes: Mapping[int, Process]
    wallets: Mapping[str, tuple[WalletBinding, ...]]  # address -> bindings in chain order
    chain_id: int | None
    contracts: Mapping[str, str]  # short name -> address, as the follower recorded them
    version: tuple[Any, ...]

    @classmethod
    def load(cls, conn: Connection, meta: Mapping[str, str], version: tuple[Any, ...]) -> "Reference":
        def rows(table: Table, key: str, kind: type[_T]) -> Mapping[Any, _T]:
            return MappingProxyType({r._mapping[key]: _of(kind, r)
                                     for r in conn.execute(select(table).order_by(table.c[key]))})

        wallets: dict[str, list[WalletBinding]] = defaultdict(list)
        for r in conn.execute(select(t.wallets).order_by(t.wallets.c.added_block, t.wallets.c.added_log_index)):
            wallets[r.address].append(_of(WalletBinding, r))
        return cls(
            participants=rows(t.participants, "participant_id", Participant),
            sites=rows(t.sites, "site_id", Site),
            materials=rows(t.materials, "material", Material),
            characteristics=rows(t.characteristics, "characteristic", Characteristic),
            schemes=rows(t.schemes, "scheme", Scheme),
            processes=rows(t.processes, "process_id", Process),
            wallets=MappingProxyType({a: tuple(ws) for a, ws in wallets.items()}),
            chain_id=int(meta["chain_id"]) if "chain_id" in meta else None,
            contracts=MappingProxyType(json.loads(meta.get("contracts", "{}"))),
            version=version,
        )

    # ------------------------------------------------------------------ names
    def participant_name(self, pid: int | None) -> str | None:
        p = self.participants.get(pid) if pid else None
        return p.name if p else None

    def site_name(self, sid: int | None) -> str | None:
        s = self.sites.get(sid) if sid else None
        return s.name if s else None

    def material_name(self, mid: int) -> str:
        m = self.materials.get(mid)
        return m.name if m else f"material {mid}"

    def unit(self, mid: int) -> str:
        m = self.materials.get(mid)
        return m.unit if m else ""

    def characteristic_name(self, cid: int) -> str | None:
        if not cid:
            return None
        c = self.characteristics.get(cid)
        return c.name if c else f"characteristic {cid}"

    def scheme_name(self, sid: int) -> str | None:
        s = self.schemes.get(sid)
        return s.name if s else None

    def scheme_of(self, cid: int) -> str | None:
        """The scheme a characteristic belongs to, by name."""
        c = self.characteristics.get(cid)
        return self.scheme_name(c.scheme) if c else None

    # ------------------------------------------------------------------ wallets
    def who(self, address: str, block: int | None = None) -> dict[str, Any]:
        """A wallet as the participant (and site) it was bound to at ``block`` (latest if None)."""
        address = address.lower()
        out: dict[str, Any] = {"address": checksum(address), "participant_id": None, "participant": None,
                               "site_id": None, "site": None}
        binding = None
        for w in self.wallets.get(address, ()):
            if block is None or w.added_block <= block:
                binding = w
        if binding is not None:
            out.update(participant_id=binding.participant_id, participant=self.participant_name(binding.participant_id),
                       site_id=binding.site_id or None, site=self.site_name(binding.site_id))
        return out

    def wallets_of(self, pid: int) -> list[str]:
        return [a for a, ws in self.wallets.items() if any(w.participant_id == pid for w in ws)]

    @property
    def ledger(self) -> str:
        """The BatchLedger's address, lowercase ("" before the follower has recorded it)."""
        return self.contracts.get("ledger", "").lower()


# ---------------------------------------------------------------------- the cache
_lock = threading.Lock()
_cached: "weakref.WeakKeyDictionary[Engine, Reference]" = weakref.WeakKeyDictionary()


def reference(conn: Connection) -> Reference:
    """The reference data of ``conn``'s database, from the cache unless the writer has changed it."""
    # idx_meta is read before the tables: a copy may hold data newer than its version (then the next
    # request reloads it), never older.
    meta = t.read_meta(conn)
    version = (meta.get(t.REFERENCE_VERSION), meta.get("chain_id"), meta.get("contracts"), meta.get("start_block"))
    with _lock:
        ref = _cached.get(conn.engine)
    if ref is not None and ref.version == version:
        return ref
    ref = Reference.load(conn, meta, version)
    with _lock:
        _cached[conn.engine] = ref
    return ref
