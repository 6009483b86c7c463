"""Book & claim (CertificateRegistry events): pledges of a batch's attributes, the certificates
issued from them, their holders over time, retirements and revocations."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Row

from node_api.domain import CertificateSource

from .. import schema as t
from ..spelling import checksum
from .common import ANCESTORS_CTE, ZERO_ADDRESS, fact
from .reference import Reference


def issuance(r: Row, ref: Reference) -> dict[str, Any]:
    m = r._mapping
    return {
        "certificate_id": m["certificate_id"], "issuer_id": m["issuer"], "issuer": ref.participant_name(m["issuer"]),
        "producer_id": m["producer"], "producer": ref.participant_name(m["producer"]),
        "issued_to": ref.who(m["to_address"], m["block_number"]), "amount": m["amount"],
        "unit_size": m["unit_size"], "unit_label": m["unit_label"], "material_id": m["material"],
        "material": ref.material_name(m["material"]), "characteristic_id": m["characteristic"],
        "characteristic": ref.characteristic_name(m["characteristic"]), "period_start": m["period_start"],
        "period_end": m["period_end"], "evidence_hash": m["evidence_hash"], "pledge_id": m["pledge_id"] or None,
        **fact(r),
    }


def retirement(r: Row, ref: Reference) -> dict[str, Any]:
    m = r._mapping
    return {"retirement_id": m["retirement_id"], "certificate_id": m["certificate_id"],
            "holder": ref.who(m["holder"], m["block_number"]), "retired_by_id": m["retired_by"],
            "retired_by": ref.participant_name(m["retired_by"]), "amount": m["amount"],
            "beneficiary": m["beneficiary"], "period_start": m["period_start"], "period_end": m["period_end"],
            "purpose_hash": m["purpose_hash"], **fact(r)}


def pledge(r: Row, ref: Reference) -> dict[str, Any]:
    m = r._mapping
    return {"pledge_id": m["pledge_id"], "producer_id": m["producer"], "producer": ref.participant_name(m["producer"]),
            "holder": ref.who(m["holder"], m["block_number"]), "source": CertificateSource(m["source"]).label,
            "material": ref.material_name(m["material"]), "characteristic": ref.characteristic_name(m["characteristic"]),
            "quantity": m["quantity"], "batch_id": m["batch_id"] or None,
            "released_batch_id": m["released_batch_id"] or None, **fact(r)}


def retirements_of(conn: Connection, certificate_id: int, ref: Reference) -> list[dict[str, Any]]:
    return [retirement(x, ref) for x in conn.execute(
        select(t.retirements).where(t.retirements.c.certificate_id == certificate_id)
        .order_by(t.retirements.c.block_number, t.retirements.c.log_index))]


def revocation_of(conn: Connection, certificate_id: int) -> dict[str, Any] | None:
    rev = conn.execute(select(t.revocations).where(t.revocations.c.certificate_id == certificate_id)).first()
    return None if rev is None else {"outstanding": rev.outstanding, "reason_hash": rev.reason_hash, **fact(rev)}


def retired_by(conn: Connection, participant_id: int, ref: Reference) -> list[dict[str, Any]]:
    """Every retirement a participant made, in chain order."""
    return [retirement(r, ref) for r in conn.execute(select(t.retirements).where(
        t.retirements.c.retired_by == participant_id).order_by(t.retirements.c.block_number))]


def book_and_claim(conn: Connection, batch_id: int, ref: Reference) -> list[dict[str, Any]]:
    """Book & claim certificates tied to this token: pledges of this batch itself, and pledges whose
    released (now uncertified) batch lies in its ancestry; with the certificates issued from those
    pledges and their retirements."""
    q = text(f"{ANCESTORS_CTE}, n(id) AS (SELECT id FROM anc UNION SELECT :root) "
             "SELECT p.* FROM idx_pledges p WHERE p.batch_id = :root "
             "OR (p.released_batch_id <> 0 AND p.released_batch_id IN (SELECT id FROM n)) ORDER BY p.pledge_id")
    out = []
    for r in conn.execute(q, {"root": batch_id}):
        item = pledge(r, ref)
        item["certificates"] = []
        for c in conn.execute(select(t.issuances).where(t.issuances.c.pledge_id == r.pledge_id)):
            cert = issuance(c, ref)
            cert["retirements"] = retirements_of(conn, c.certificate_id, ref)
            cert["revoked"] = revocation_of(conn, c.certificate_id)
            item["certificates"].append(cert)
        out.append(item)
    return out


def certificate(conn: Connection, certificate_id: int, ref: Reference) -> dict[str, Any] | None:
    """A book & claim issuance: issuance, the pledge behind it, holders over time, retirements."""
    r = conn.execute(select(t.issuances).where(t.issuances.c.certificate_id == certificate_id)).first()
    if r is None:
        return None
    out = issuance(r, ref)
    if r.pledge_id:
        p = conn.execute(select(t.pledges).where(t.pledges.c.pledge_id == r.pledge_id)).first()
        out["pledge"] = pledge(p, ref) if p is not None else None
    m = t.token_moves.c
    history = []
    bal: dict[str, int] = defaultdict(int)
    for mv in conn.execute(select(t.token_moves).where(m.contract == "certificates", m.token_id == certificate_id)
                           .order_by(m.block_number, m.log_index, m.position)):
        if mv.from_address != ZERO_ADDRESS:
            bal[mv.from_address] -= mv.value
        if mv.to_address != ZERO_ADDRESS:
            bal[mv.to_address] += mv.value
        kind = "issued" if mv.from_address == ZERO_ADDRESS else "retired" if mv.to_address == ZERO_ADDRESS else "transferred"
        history.append({"kind": kind, "from": None if mv.from_address == ZERO_ADDRESS else ref.who(mv.from_address, mv.block_number),
                        "to": None if mv.to_address == ZERO_ADDRESS else ref.who(mv.to_address, mv.block_number),
                        "units": mv.value, "holders_after": {checksum(a): q for a, q in bal.items() if q > 0},
                        **fact(mv)})
    out["holders_over_time"] = history
    out["holders"] = [{**ref.who(a), "units": q} for a, q in sorted(bal.items()) if q > 0]
    out["retirements"] = retirements_of(conn, certificate_id, ref)
    out["retired"] = sum(x["amount"] for x in out["retirements"])
    out["revoked"] = revocation_of(conn, certificate_id)
    return out
