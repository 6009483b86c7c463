"""A participant: its sites and wallets, batches held and in transit, credit accounts with period
statements, certificates held and retired, certifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from node_api.domain import Model, ParticipantStatus, Role

from .. import schema as t
from ..spelling import checksum
from . import certifications
from .certificates import retired_by
from .credits import accounts_of
from .custody import pending
from .holdings import balances
from .reference import Reference


def _batches_held(conn: Connection, wallets: list[str], ref: Reference) -> list[dict[str, Any]]:
    bal = balances(conn, "ledger", wallets)
    if not bal:
        return []
    ids = sorted({bid for _, bid in bal})
    rows = {r.batch_id: r for r in conn.execute(select(t.batches).where(t.batches.c.batch_id.in_(ids)))}
    held = []
    for (addr, bid), q in sorted(bal.items(), key=lambda kv: kv[0][1]):
        b = rows[bid]
        held.append({"batch_id": bid, "wallet": checksum(addr), "quantity": q, "material": ref.material_name(b.material),
                     "unit": ref.unit(b.material), "model": Model(b.model).label,
                     "characteristic": ref.characteristic_name(b.characteristic), "share_ppm": b.share})
    return held


def participant(conn: Connection, participant_id: int, ref: Reference) -> dict[str, Any] | None:
    head = conn.execute(select(func.max(t.events.c.block_number).label("block"),
                               func.max(t.events.c.block_time).label("time"))).one()
    as_of_block, as_of_time = (head.block or 0), (head.time or 0)
    p = ref.participants.get(participant_id)
    if p is None:
        return None
    wallets = ref.wallets_of(participant_id)
    certs_held = [{"certificate_id": cid, "wallet": checksum(a), "units": q}
                  for (a, cid), q in sorted(balances(conn, "certificates", wallets).items(), key=lambda kv: kv[0][1])]
    cert_rows = [dict(r._mapping) for r in conn.execute(select(t.certifications).where(
        t.certifications.c.holder == participant_id).order_by(t.certifications.c.certification_id))]
    _, history = certifications.load(conn, [c["certification_id"] for c in cert_rows])
    return {
        "participant_id": participant_id,
        "name": p.name,
        "roles": Role.names(p.roles),
        "status": ParticipantStatus(p.status).label,
        "registered": p.registered,
        "sites": [{"site_id": s.site_id, "name": s.name, "location_ref": s.location_ref}
                  for s in ref.sites.values() if s.participant_id == participant_id],
        "wallets": [checksum(a) for a in wallets],
        "batches_held": _batches_held(conn, wallets, ref),
        "in_transit": pending(conn, wallets, ref),
        "credit_accounts": accounts_of(conn, participant_id, ref),
        "certificates_held": certs_held,
        "retirements": retired_by(conn, participant_id, ref),
        # Status and validity as of the last indexed block: the index answers for what it has seen.
        "certifications": [certifications.at(c, history.get(c["certification_id"], []), as_of_block, as_of_time, ref)
                           for c in cert_rows],
        "as_of": {"block_number": as_of_block, "time": as_of_time},
    }
