"""What the web pages read, from the provenance index (names, units and dates included): the
signed-in wallet, reference lists for the forms, a wallet's inbox and holdings, a certification
body's certifications, an issuer's issuances, and the product search."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from ..domain import Role
from ..index import schema as t
from ..index.read import batches, certifications, participants
from ..index.read.certificates import issuance, revocation_of
from ..index.read.reference import Reference
from ..index.spelling import checksum

SEARCH_LIMIT = 50


def who(ref: Reference, address: str | None) -> dict[str, Any] | None:
    """The signed-in wallet: its organisation, site and roles by name (participant None when the
    wallet is bound to nobody)."""
    if not address:
        return None
    w = ref.who(address)
    p = ref.participants.get(w["participant_id"]) if w["participant_id"] else None
    return {**w, "roles": Role.names(p.roles) if p else []}


def materials(ref: Reference) -> list[tuple[int, str, dict[str, Any]]]:
    return [(m.material, f"{m.name} ({m.unit})", {"unit": m.unit}) for m in ref.materials.values()]


def characteristics(ref: Reference) -> list[tuple[int, str, dict[str, Any]]]:
    return [(c.characteristic, f"{c.name} ({ref.scheme_name(c.scheme) or 'no scheme'})", {})
            for c in ref.characteristics.values()]


def processes(conn: Connection, ref: Reference) -> list[tuple[int, str, dict[str, Any]]]:
    """Processes, each with the units of its output and input materials (for the quantity fields)."""
    io = {r.process_id: (r.input_material, r.output_material) for r in conn.execute(select(t.processes))}
    out = []
    for p in ref.processes.values():
        i, o = io.get(p.process_id, (0, 0))
        out.append((p.process_id, f"{p.name}: {ref.material_name(i)} to {ref.material_name(o)} "
                    f"(factor {p.factor / 10_000:g} %)", {"unit": ref.unit(o), "in-unit": ref.unit(i)}))
    return out


def organisations(ref: Reference, *, exclude: int | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """Every wallet bound to an organisation, named by organisation and site (the value is the wallet)."""
    out = []
    for address in sorted(ref.wallets):
        w = ref.who(address)
        if w["participant_id"] and w["participant_id"] != exclude:
            site = f", {w['site']}" if w["site"] else ""
            out.append((checksum(address), f"{w['participant']}{site}", {}))
    return sorted(out, key=lambda o: o[1])


def participant_list(ref: Reference) -> list[tuple[int, str, dict[str, Any]]]:
    return [(p.participant_id, p.name, {}) for p in ref.participants.values()]


def own_view(conn: Connection, ref: Reference, address: str) -> dict[str, Any] | None:
    """The participant answer of the wallet's organisation, with the batches, transfers and
    certificates narrowed to this wallet (what it can sign for)."""
    w = ref.who(address)
    if not w["participant_id"]:
        return None
    p = participants.participant(conn, w["participant_id"], ref)
    if p is None:
        return None
    mine = checksum(address.lower())
    p["batches_held"] = [b for b in p["batches_held"] if b["wallet"] == mine]
    p["incoming"] = [x for x in p["in_transit"]["incoming"] if x["receiver"]["address"] == mine]
    p["outgoing"] = [x for x in p["in_transit"]["outgoing"] if x["signer"]["address"] == mine]
    p["certificates_held"] = [dict(c, issuance=certificate_row(conn, ref, c["certificate_id"]))
                              for c in p["certificates_held"] if c["wallet"] == mine]
    p["credit_accounts"] = [a for a in p["credit_accounts"] if a["site_id"] == (w["site_id"] or 0)]
    return p


def batch_facts(conn: Connection, ref: Reference, batch_id: int) -> dict[str, Any] | None:
    return batches.batch(conn, batch_id, ref)


def certificate_row(conn: Connection, ref: Reference, certificate_id: int) -> dict[str, Any] | None:
    r = conn.execute(select(t.issuances).where(t.issuances.c.certificate_id == certificate_id)).first()
    return None if r is None else issuance(r, ref)


def certified_by(conn: Connection, ref: Reference, certifier: int) -> list[dict[str, Any]]:
    ids = [r.certification_id for r in conn.execute(
        select(t.certifications.c.certification_id).where(t.certifications.c.certifier == certifier))]
    return list(certifications.details(conn, ids, ref).values())


def issued_by(conn: Connection, ref: Reference, issuer: int) -> list[dict[str, Any]]:
    out = []
    for r in conn.execute(select(t.issuances).where(t.issuances.c.issuer == issuer)
                          .order_by(t.issuances.c.certificate_id)):
        out.append({**issuance(r, ref), "revoked": revocation_of(conn, r.certificate_id)})
    return out


def gs1_tokens(conn: Connection, q: str) -> set[int]:
    """Tokens whose GS1 lot, serial or GTIN (ProductIdentifierBound events of the ProductIdentifiers
    contract, issue 14, as the index records every event) contains ``q``."""
    ev = t.events.c
    found = set()
    needle = q.lower()
    text = q.lstrip("0") or q if q.isdigit() else q  # a GTIN is recorded as a number: no leading zeros
    for r in conn.execute(select(ev.args).where(ev.contract == "identifiers", ev.name == "ProductIdentifierBound",
                                                ev.args.icontains(text, autoescape=True)).limit(1000)):
        a = json.loads(r.args)
        if needle in str(a.get("value", "")).lower() or needle in str(a.get("gtin", "")).zfill(14):
            found.add(int(a["batchId"]))
    return found


def search(conn: Connection, ref: Reference, q: str) -> list[dict[str, Any]]:
    """Products (batches) by token number, material or maker name, lot (a GS1 lot or serial, a GTIN, a
    due-diligence statement reference) or batch; newest first."""
    q = q.strip()
    if not q:
        return []
    b = t.batches.c
    digits = q.lstrip("#")
    number = int(digits) if digits.isdigit() and int(digits) < 2**63 else None
    conds = [] if number is None else [b.batch_id == number]
    if not q.startswith("#"):  # "#12" is batch 12 only; "12" also a lot, a GTIN or a reference containing it
        needle = q.lower()
        mats = [m.material for m in ref.materials.values() if needle in m.name.lower()]
        makers = [p.participant_id for p in ref.participants.values() if needle in p.name.lower()]
        if mats:
            conds.append(b.material.in_(mats))
        if makers:
            conds.append(b.creator.in_(makers))
        conds.append(b.batch_id.in_(select(t.origins.c.batch_id).where(
            t.origins.c.dds_reference.icontains(q, autoescape=True))))
        lots = gs1_tokens(conn, q)
        if lots:
            conds.append(b.batch_id.in_(lots))
    if not conds:
        return []
    ids = [r.batch_id for r in conn.execute(select(b.batch_id).where(or_(*conds)).order_by(b.batch_id.desc())
                                            .limit(SEARCH_LIMIT))]
    ids.sort(key=lambda i: i != number)  # the batch of that number first
    return [x for x in (batches.batch(conn, i, ref) for i in ids) if x is not None]
