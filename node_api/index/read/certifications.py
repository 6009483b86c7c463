"""Producers' certifications (CertificationRecorded) and their status history: what a lineage
answer shows about an origin's certification, and what a participant answer lists."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from node_api.domain import CertificationStatus, Model

from .. import schema as t
from .reference import Reference

#: A certification row and its status events (mappings by column name).
Certs = dict[int, dict[str, Any]]
History = dict[int, list[dict[str, Any]]]


def load(conn: Connection, ids: Iterable[int]) -> tuple[Certs, History]:
    """(certifications by id, their status events in chain order by id) for ``ids``."""
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}, {}
    certs = {r.certification_id: dict(r._mapping) for r in conn.execute(
        select(t.certifications).where(t.certifications.c.certification_id.in_(ids)))}
    status: History = defaultdict(list)
    for r in conn.execute(select(t.certification_status).where(t.certification_status.c.certification_id.in_(ids))
                          .order_by(t.certification_status.c.block_number, t.certification_status.c.log_index)):
        status[r.certification_id].append(dict(r._mapping))
    return certs, status


def describe(cert: dict[str, Any], history: list[dict[str, Any]], ref: Reference) -> dict[str, Any]:
    """A certification as it stands now, with every status change."""
    now = history[-1]["status"] if history else CertificationStatus.ACTIVE
    return {
        "certification_id": cert["certification_id"],
        "scheme": cert["scheme"],
        "certificate_number": cert["certificate_number"],
        "holder_id": cert["holder"],
        "holder": ref.participant_name(cert["holder"]),
        "certifier_id": cert["certifier"],
        "certifier": ref.participant_name(cert["certifier"]),
        "valid_from": cert["valid_from"],
        "valid_to": cert["valid_to"],
        "models": [m.label for m in Model if m != Model.UNCERTIFIED and (cert["models"] >> m) & 1],
        "status_now": CertificationStatus(now).label,
        "recorded": {"tx_hash": cert["tx_hash"], "block_number": cert["block_number"]},
        "status_changes": [{"status": CertificationStatus(s["status"]).label, "reason_hash": s["reason_hash"],
                            "tx_hash": s["tx_hash"], "block_number": s["block_number"], "time": s["block_time"]}
                           for s in history],
    }


def at(cert: dict[str, Any], history: list[dict[str, Any]], block: int, when: int, ref: Reference) -> dict[str, Any]:
    """A certification as it stood at ``block`` (status from the status events up to that block)."""
    status = CertificationStatus.ACTIVE
    for s in history:
        if s["block_number"] <= block:
            status = CertificationStatus(s["status"])
    return {**describe(cert, history, ref), "status_at_time": status.label,
            "valid_at_time": status == CertificationStatus.ACTIVE and cert["valid_from"] <= when <= cert["valid_to"]}


def details(conn: Connection, ids: Iterable[int], ref: Reference) -> dict[int, dict[str, Any]]:
    """``describe`` of each certification in ``ids``, by id in ascending order."""
    certs, status = load(conn, ids)
    return {cid: describe(c, status.get(cid, []), ref) for cid, c in sorted(certs.items())}
