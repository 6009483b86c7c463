"""Names of the registry's ids, for people: participants, sites, materials (with their unit), schemes,
characteristics and processes, read from the registry's own events (names live in events only, not
in contract storage). Works against any node, index or not.

The registry never renames anything, so a name once seen is kept; an id not seen yet makes the next
lookup read the logs added since the last read (at most once per ``min_refresh`` seconds).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from .contracts import Contracts

REGISTRY = "ParticipantRegistry"


@dataclass
class Material:
    name: str
    unit: str
    group: int
    waste: bool


@dataclass
class Site:
    name: str
    participant_id: int
    location_ref: str


@dataclass
class Names:
    contracts: Contracts
    min_refresh: float = 0.5
    participants: dict[int, str] = field(default_factory=dict)
    roles_at_registration: dict[int, int] = field(default_factory=dict)
    sites: dict[int, Site] = field(default_factory=dict)
    materials: dict[int, Material] = field(default_factory=dict)
    schemes: dict[int, str] = field(default_factory=dict)
    characteristics: dict[int, tuple[str, int]] = field(default_factory=dict)
    #: process id -> (name, input material, output material)
    processes: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    _next_block: int | None = None
    _last: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            if not force and self._next_block is not None and time.monotonic() - self._last < self.min_refresh:
                return
            c = self.contracts
            start = self._next_block if self._next_block is not None else c.deploy_block
            head = int(await c.rpc.call("eth_blockNumber", []), 16)
            if head < start:
                self._last = time.monotonic()
                return
            events = ("ParticipantRegistered", "SiteAdded", "MaterialRegistered", "SchemeRegistered",
                      "CharacteristicRegistered", "ProcessRegistered")
            batches = await asyncio.gather(*(self._logs(e, start, head) for e in events))
            for logs in batches:
                for lg in logs:
                    self._apply(lg["event"], lg["args"])
            self._next_block = head + 1
            self._last = time.monotonic()

    async def _logs(self, event: str, start: int, head: int) -> list[dict[str, Any]]:
        c = self.contracts
        ev = c.abis[REGISTRY].events_by_name[event]
        flt = {"address": c.addresses[REGISTRY], "fromBlock": hex(start), "toBlock": hex(head),
               "topics": ["0x" + ev.topic.hex()]}
        return c.decode_logs(await c.rpc.call("eth_getLogs", [flt]))

    def _apply(self, event: str, a: dict[str, Any]) -> None:
        if event == "ParticipantRegistered":
            self.participants[a["participantId"]] = a["name"]
            self.roles_at_registration[a["participantId"]] = a["roles"]
        elif event == "SiteAdded":
            self.sites[a["siteId"]] = Site(a["name"], a["participantId"], a["locationRef"])
        elif event == "MaterialRegistered":
            self.materials[a["material"]] = Material(a["name"], a["unit"], a["group"], a["waste"])
        elif event == "SchemeRegistered":
            self.schemes[a["scheme"]] = a["name"]
        elif event == "CharacteristicRegistered":
            self.characteristics[a["characteristic"]] = (a["name"], a["scheme"])
        elif event == "ProcessRegistered":
            self.processes[a["processId"]] = (a["name"], a["inputMaterial"], a["outputMaterial"])

    async def _get(self, table: dict, key: int) -> Any:
        if key not in table:
            await self.refresh()
        return table.get(key)

    async def participant(self, pid: int) -> str | None:
        return await self._get(self.participants, int(pid))

    async def site(self, site_id: int) -> Site | None:
        return await self._get(self.sites, int(site_id))

    async def material(self, material_id: int) -> Material | None:
        return await self._get(self.materials, int(material_id))

    async def characteristic(self, cid: int) -> tuple[str, int] | None:
        return await self._get(self.characteristics, int(cid))

    async def scheme(self, sid: int) -> str | None:
        return await self._get(self.schemes, int(sid))

    async def process(self, pid: int) -> tuple[str, int, int] | None:
        return await self._get(self.processes, int(pid))

    async def sites_of(self, pid: int) -> list[tuple[int, Site]]:
        await self.refresh()
        return [(i, s) for i, s in sorted(self.sites.items()) if s.participant_id == int(pid)]
