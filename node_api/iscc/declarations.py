"""ISCC PLUS sustainability declarations v4.0 from the index: one per accepted delivery that carries a claim.

A delivery carries a claim when it is an accepted custody transfer of
- a mass-balance batch with a declared certified quantity (credits applied, C8/C8a of docs/claims.md), or
- a batch of a physical method (controlled blending, segregated, identity preserved) with a certified share.
Anything else (pending, rejected, cancelled, uncertified, mass balance without credits) has no declaration,
and asking for one is refused with the reason (``NoDeclaration``).

Field mapping: ``template.FIELDS``. Every figure carries its evidence (event, tx hash, block, log index); the
auditor rebuilds the same document from JSON-RPC alone (auditor/declaration.py) and compares field by field.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from node_api.domain import PPM, BatchKind, CreditEntry, CreditReason, Model, TransferStatus

from ..index import schema as t
from ..index.read.common import ANCESTORS_CTE
from ..index.read.reference import Reference, reference
from .template import COC_METHOD, DOCUMENT_TYPE, TEMPLATE_NAME, TEMPLATE_VERSION


class NoDeclaration(Exception):
    """The transfer exists but carries no declaration; the message says why."""


def _ev(event: str, tx: str, block: int, log: int) -> dict[str, Any]:
    return {"event": event, "tx_hash": tx, "block_number": int(block), "log_index": int(log)}


def _row_ev(event: str, row: Any) -> dict[str, Any]:
    m = row._mapping if hasattr(row, "_mapping") else row
    return _ev(event, m["tx_hash"], m["block_number"], m["log_index"])


def _one(conn: Connection, table: Any, **where: Any) -> Any:
    q = select(table)
    for k, v in where.items():
        q = q.where(table.c[k] == v)
    return conn.execute(q).first()


def _certification(conn: Connection, pid: int, material: int, characteristic: int, model: int, when: int,
                   at: tuple[int, int]) -> dict[str, Any] | None:
    """The newest certification of ``pid`` that counted at ``when`` (status as of event position ``at``)."""
    best = None
    for c in conn.execute(select(t.certifications).where(t.certifications.c.holder == pid)
                          .order_by(t.certifications.c.certification_id)):
        if material not in json.loads(c.materials) or characteristic not in json.loads(c.characteristics):
            continue
        if not (c.valid_from <= when <= c.valid_to and (c.models >> model) & 1):
            continue
        status = 1
        for s in conn.execute(select(t.certification_status)
                              .where(t.certification_status.c.certification_id == c.certification_id)
                              .order_by(t.certification_status.c.block_number, t.certification_status.c.log_index)):
            if (s.block_number, s.log_index) < at:
                status = s.status
        if status == 1:
            best = c
    if best is None:
        return None
    return {"certification_id": best.certification_id, "certificate_number": best.certificate_number,
            "scheme": best.scheme, "valid_from": best.valid_from, "valid_to": best.valid_to,
            "evidence": _row_ev("CertificationRecorded", best)}


def _party(conn: Connection, ref: Reference, wallet: str, block: int, material: int, characteristic: int,
           model: int, when: int, at: tuple[int, int]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the party, its site as an address) of ``wallet`` at ``block``."""
    who = ref.who(wallet, block)
    pid, sid = who["participant_id"], who["site_id"]
    p = _one(conn, t.participants, participant_id=pid) if pid else None
    party = {"participant_id": pid, "name": p.name if p else None, "wallet": who["address"].lower(),
             "certificate": _certification(conn, pid, material, characteristic, model, when, at) if pid else None,
             "evidence": _row_ev("ParticipantRegistered", p) if p else None}
    s = _one(conn, t.sites, site_id=sid) if sid else None
    site = None if s is None else {"site_id": s.site_id, "name": s.name, "location_ref": s.location_ref,
                                   "evidence": _row_ev("SiteAdded", s)}
    return party, site


def _origins(conn: Connection, batch_id: int, characteristic: int) -> list[int]:
    """Origin batches of the lineage (the batch included) that carry ``characteristic`` under a physical method."""
    ids = [r[0] for r in conn.execute(text(ANCESTORS_CTE + " SELECT id FROM anc"), {"root": batch_id})]
    out = []
    for b in conn.execute(select(t.batches).where(t.batches.c.batch_id.in_(ids + [batch_id]))):
        if b.kind == BatchKind.ORIGIN and b.characteristic == characteristic and b.model >= Model.CONTROLLED_BLENDING:
            out.append(b.batch_id)
    return sorted(out)


def _site_transfers(conn: Connection, ref: Reference, pid: int, site: int | None, material: int,
                    characteristic: int, before: tuple[int, int]) -> list[dict[str, Any]]:
    """Accepted mass-balance deliveries between two sites of participant ``pid`` into ``site`` of the same
    material and characteristic, settled before event position ``before``."""
    out = []
    if not site:
        return out
    tr = t.transfers.c
    rows = conn.execute(select(t.transfers, t.batches.c.material, t.batches.c.characteristic, t.batches.c.model)
                        .join(t.batches, t.batches.c.batch_id == tr.batch_id)
                        .where(tr.status == TransferStatus.ACCEPTED.label, tr.certified_quantity > 0,
                               tr.settled_block <= before[0], t.batches.c.material == material,
                               t.batches.c.characteristic == characteristic,
                               t.batches.c.model == int(Model.MASS_BALANCE))
                        .order_by(tr.settled_block, tr.settled_log_index))
    for r in rows:
        if (r.settled_block, r.settled_log_index) >= before or r.material != material \
                or r.characteristic != characteristic or r.model != Model.MASS_BALANCE:
            continue
        frm, to = ref.who(r.from_address, r.proposed_block), ref.who(r.to_address, r.settled_block)
        if frm["participant_id"] == pid == to["participant_id"] and to["site_id"] == site \
                and frm["site_id"] != site:
            out.append({"transfer_id": r.transfer_id, "from_site_id": frm["site_id"], "to_site_id": to["site_id"],
                        "credits": r.certified_quantity,
                        "evidence": _ev("CustodyAccepted", r.settled_tx, r.settled_block, r.settled_log_index)})
    return out


def declaration(conn: Connection, transfer_id: str) -> dict[str, Any] | None:
    """The declaration of the delivery ``transfer_id`` (None: no such transfer; ``NoDeclaration``: it carries
    no claim, with the reason)."""
    ref = reference(conn)
    tid = transfer_id.lower()
    tr = _one(conn, t.transfers, transfer_id=tid)
    if tr is None:
        return None
    if tr.status != TransferStatus.ACCEPTED.label:
        raise NoDeclaration(f"transfer {tid} is {tr.status}: only an accepted delivery has a declaration")
    b = _one(conn, t.batches, batch_id=tr.batch_id)
    model = Model(b.model)
    if model == Model.UNCERTIFIED:
        raise NoDeclaration(f"batch {b.batch_id} is uncertified: its delivery carries no claim")
    if model == Model.MASS_BALANCE and tr.certified_quantity == 0:
        raise NoDeclaration(f"mass-balance delivery {tid} declared no certified quantity: it carries no claim (C8a)")
    accepted_at = (tr.settled_block, tr.settled_log_index)
    when = tr.settled_time
    args = (b.material, b.characteristic, int(model), when, accepted_at)
    supplier, dispatch = _party(conn, ref, tr.from_address, tr.proposed_block, *args)
    recipient, receipt = _party(conn, ref, tr.to_address, tr.settled_block, *args)
    mat = _one(conn, t.materials, material=b.material)
    unit = mat.unit
    created = _row_ev("BatchCreated", b)
    proposed = _ev("CustodyProposed", tr.proposed_tx, tr.proposed_block, tr.proposed_log_index)
    accepted = _ev("CustodyAccepted", tr.settled_tx, tr.settled_block, tr.settled_log_index)
    mb = model == Model.MASS_BALANCE
    credits = share = None
    this_site = None
    upstream: list[dict[str, Any]] = []
    if mb:
        bk = t.credit_bookings.c
        booking = conn.execute(select(t.credit_bookings).where(
            bk.ref == tid, bk.entry == CreditEntry.OUT, bk.reason == CreditReason.DELIVERY)
            .order_by(bk.block_number, bk.log_index)).first()
        credits = {"value": tr.certified_quantity, "unit": unit, "account": booking.account if booking else None,
                   "period": booking.period if booking else None,
                   "evidence": _row_ev("CreditsBooked", booking) if booking else None}
        certified = tr.certified_quantity
        if supplier["participant_id"] == recipient["participant_id"] and dispatch and receipt \
                and dispatch["site_id"] != receipt["site_id"]:
            this_site = {"transfer_id": tid, "from_site_id": dispatch["site_id"], "to_site_id": receipt["site_id"],
                         "credits": tr.certified_quantity, "evidence": accepted}
        upstream = _site_transfers(conn, ref, supplier["participant_id"], dispatch["site_id"] if dispatch else None,
                                   b.material, b.characteristic, (tr.proposed_block, tr.proposed_log_index))
    else:
        share = {"ppm": b.share, "evidence": created}
        certified = tr.quantity * b.share // PPM
    meta = t.read_meta(conn)
    return {
        "type": DOCUMENT_TYPE,
        "template": {"name": TEMPLATE_NAME, "version": TEMPLATE_VERSION},
        "id": f"urn:coc:{ref.chain_id}:{ref.ledger}:iscc-plus-sd:{tid}",
        "chain_id": ref.chain_id,
        "ledger": ref.ledger,
        "delivery": {"transfer_id": tid, "batch_id": b.batch_id,
                     "date": datetime.fromtimestamp(when, tz=timezone.utc).date().isoformat(), "time": when,
                     "proposed": proposed, "accepted": accepted},
        "supplier": supplier,
        "recipient": recipient,
        "dispatch_address": dispatch,
        "receipt_address": receipt,
        "material": {"material_id": b.material, "name": mat.name, "unit": unit, "waste_or_residue": bool(mat.waste),
                     "evidence": created},
        "quantity": {"value": tr.quantity, "unit": unit, "evidence": proposed},
        "chain_of_custody_method": {"method": COC_METHOD[model], "model": model.label, "evidence": created},
        "sustainability_characteristic": {"characteristic_id": b.characteristic,
                                          "name": ref.characteristic_name(b.characteristic),
                                          "scheme": ref.scheme_of(b.characteristic), "evidence": created},
        "certified_share": share,
        "credits_applied": credits,
        "certified_quantity": {"value": certified, "unit": unit, "evidence": proposed},
        "input_characteristics": [{
            "characteristic_id": b.characteristic, "name": ref.characteristic_name(b.characteristic),
            "scheme": ref.scheme_of(b.characteristic), "waste_or_residue": bool(mat.waste),
            "basis": "mass-balance credits" if mb else "physical share",
            "origins": [] if mb else _origins(conn, b.batch_id, b.characteristic),
            "evidence": credits["evidence"] if mb and credits["evidence"] else created}],
        "extent_of_input_compensation": {"ppm": certified * PPM // tr.quantity,
                                         "full": certified == tr.quantity,
                                         "evidence": proposed},
        "multi_site_credit_transfer": {"applies": bool(this_site or upstream), "this_delivery": this_site,
                                       "upstream": upstream},
        "document": {"generated_by": "node", "generated_at_block": int(meta["last_block"]) if "last_block" in meta
                     else None},
    }


def declarations_of(conn: Connection, batch_id: int, *, with_ancestors: bool = True) -> list[dict[str, Any]]:
    """The declarations of every delivery of ``batch_id`` (and of its ancestors) that carries a claim, in chain
    order."""
    ids = [batch_id]
    if with_ancestors:
        ids += [r[0] for r in conn.execute(text(ANCESTORS_CTE + " SELECT id FROM anc"), {"root": batch_id})]
    tr = t.transfers.c
    out = []
    for r in conn.execute(select(tr.transfer_id).where(tr.batch_id.in_(ids), tr.status == TransferStatus.ACCEPTED.label)
                          .order_by(tr.settled_block, tr.settled_log_index)):
        try:
            d = declaration(conn, r.transfer_id)
        except NoDeclaration:
            continue
        if d is not None:
            out.append(d)
    return out
