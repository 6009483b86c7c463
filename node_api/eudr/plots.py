"""The node's plot registry: each plot's GeoJSON file as uploaded (named by its keccak-256, the hash the chain
keeps in the origin), with who registered it, and the rule of who may read it.

Who may read a plot's file (``may_read``):
  - the consortium admin (X-Admin-Key);
  - the participant that registered it (any of its wallets);
  - for a named batch (``?batch=``) whose lineage includes an origin on that plot: a participant whose
    wallet holds some of that batch, or a participant with the auditor role.
Anyone else gets 403 PlotAccessDenied naming what was missing; an unknown plot is 404 for everyone, and a
caller without a key 401. The file's hash and existence are on chain for all to see; the coordinates are not.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ApiError

HASH = re.compile(r"^0x[0-9a-f]{64}$")
ROLE_AUDITOR = 16


@dataclass(frozen=True)
class Caller:
    """Who asks: the admin, or a wallet (with its participant and roles; 0 / 0 when it is not registered)."""

    admin: bool
    address: str | None
    participant_id: int = 0
    roles: int = 0


def check_hash(h: str) -> str:
    h = h.lower()
    if not HASH.match(h):
        raise ApiError(422, "InvalidRequest", "a plot hash is 0x followed by 64 hex digits", {"field": "hash"})
    return h


class PlotStore:
    """Files under ``<root>/plots``: ``<hash>.geojson`` (the bytes as uploaded) and ``<hash>.json`` (meta)."""

    def __init__(self, root: Path):
        self.dir = root / "plots"
        self.dir.mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def put(self, h: str, raw: bytes, meta: dict[str, Any]) -> dict[str, Any]:
        existing = self.meta(h)
        if existing is not None:
            return existing  # the same bytes registered again: the first registration stands
        meta = {**meta, "geolocationHash": h, "registeredAt": int(time.time())}
        self._write(self.dir / f"{h[2:]}.geojson", raw)
        self._write(self.dir / f"{h[2:]}.json", json.dumps(meta, sort_keys=True).encode())
        return meta

    def meta(self, h: str) -> dict[str, Any] | None:
        p = self.dir / f"{h[2:]}.json"
        return json.loads(p.read_text()) if p.exists() else None

    def raw(self, h: str) -> bytes:
        return (self.dir / f"{h[2:]}.geojson").read_bytes()

    def feature(self, h: str) -> dict[str, Any] | None:
        """The plot's Feature as stored (for a statement's geolocation), or None if not registered."""
        m = self.meta(h)
        return None if m is None else m["feature"]


def may_read(caller: Caller, meta: dict[str, Any], *, batch_id: int | None, lineage_has_plot: bool,
             holds_batch: bool) -> None:
    """Raises 403 PlotAccessDenied unless ``caller`` is entitled to the plot of ``meta`` (module docstring)."""
    if caller.admin:
        return
    if caller.participant_id and caller.participant_id == meta["registeredBy"]:
        return
    if batch_id is None:
        raise ApiError(403, "PlotAccessDenied", "only the participant that registered this plot and the consortium admin "
                       "may read it; holders and auditors name the batch (?batch=) whose lineage includes it",
                       {"field": "batch"})
    if not lineage_has_plot:
        raise ApiError(403, "PlotAccessDenied", f"batch {batch_id}'s lineage does not include this plot",
                       {"field": "batch", "batchId": batch_id})
    if caller.participant_id and (holds_batch or caller.roles & ROLE_AUDITOR):
        return
    raise ApiError(403, "PlotAccessDenied", f"the caller neither holds batch {batch_id} nor is a registered auditor",
                   {"field": "batch", "batchId": batch_id})
