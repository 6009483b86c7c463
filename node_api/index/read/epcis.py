"""EPCIS 2.0 (JSON-LD) documents from the index: a token's history, or everything in a time range.

Mapping (CBV 2.0 vocabulary):
- origin creation       ObjectEvent ADD, bizStep commissioning, quantityList, ilmd (lot number,
                        geolocation hash, EUDR DDS reference, evidence hash, production date, model)
- split                 TransformationEvent: the parent's quantity in, the child lots out (one per tx)
- merge                 TransformationEvent (the inputs are burned into a new lot: a transformation,
                        not a container aggregation), coc:kind "merge"
- transform             TransformationEvent with the process, the factor and the recorded loss
- attributes released   TransformationEvent certified lot -> uncertified lot, bizTransaction = pledge
- custody proposed      ObjectEvent OBSERVE, bizStep shipping, disposition in_transit, sourceList /
                        destinationList (owning_party and possessing_party); a mass-balance delivery's
                        declaration as a bizTransaction with coc:certifiedQuantity
- custody accepted      ObjectEvent OBSERVE, bizStep receiving, disposition active
- rejected / cancelled  ObjectEvent OBSERVE, bizStep void_shipping, disposition returned / active
- consumption           ObjectEvent DELETE, bizStep retail_selling / destroying
Identifiers are URNs scoped by chain id and ledger address; every event carries coc:txHash and
coc:blockNumber, the transaction it was read from.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from node_api.domain import BatchKind, ConsumeReason, Model, TransferStatus

from .. import schema as t
from ..spelling import kind_name
from .common import ANCESTORS_CTE
from .reference import Reference, reference

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
COC_NS = "urn:coc:ns:"
UOM = {"g": "GRM", "kg": "KGM", "t": "TNE", "l": "LTR", "m": "MTR", "m2": "MTK", "m3": "MTQ", "pcs": "H87", "unit": "H87"}


def iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class _Ids:
    def __init__(self, chain_id: int | None, ledger: str):
        self.prefix = f"urn:coc:{chain_id or 0}:{ledger.lower()}"

    def batch(self, bid: int) -> str:
        return f"{self.prefix}:batch:{bid}"

    def participant(self, pid: int | None) -> str:
        return f"{self.prefix}:participant:{pid or 0}"

    def site(self, sid: int) -> str:
        return f"{self.prefix}:site:{sid}"

    def event(self, tx: str, log_index: int, suffix: str = "") -> str:
        return f"{self.prefix}:event:{tx}:{log_index}{suffix}"

    def tx(self, tx: str) -> str:
        return f"{self.prefix}:tx:{tx}"

    def transfer(self, tid: str) -> str:
        return f"{self.prefix}:transfer:{tid}"

    def wallet(self, address: str) -> str:
        return f"{self.prefix}:wallet:{address.lower()}"


def _q(ids: _Ids, ref: Reference, batch_row: dict[str, Any], quantity: int) -> dict[str, Any]:
    item: dict[str, Any] = {"epcClass": ids.batch(batch_row["batch_id"]), "quantity": quantity}
    uom = UOM.get(ref.unit(batch_row["material"]).lower())
    if uom:
        item["uom"] = uom
    return item


def _base(kind: str, ts: int, event_id: str, tx: str, block: int) -> dict[str, Any]:
    return {"type": kind, "eventTime": iso(ts), "eventTimeZoneOffset": "+00:00", "eventID": event_id,
            "coc:txHash": tx, "coc:blockNumber": block}


def _party(ids: _Ids, ref: Reference, address: str, block: int, key: str) -> list[dict[str, str]]:
    w = ref.who(address, block)
    owner = ids.participant(w["participant_id"]) if w["participant_id"] else ids.wallet(address)
    possessor = ids.site(w["site_id"]) if w["site_id"] else owner
    return [{"type": "owning_party", key: owner}, {"type": "possessing_party", key: possessor}]


def _location(ids: _Ids, ref: Reference, address: str, block: int) -> dict[str, Any]:
    w = ref.who(address, block)
    return {"bizLocation": {"id": ids.site(w["site_id"])}, "readPoint": {"id": ids.site(w["site_id"])}} if w["site_id"] else {}


def build_events(conn: Connection, ref: Reference, batch_ids: set[int] | None, time_range: tuple[int, int] | None) -> list[dict[str, Any]]:
    """EPCIS events for the given batches (their creation, custody, consumption), or for every
    event whose block time falls in ``time_range`` (inclusive)."""
    ids = _Ids(ref.chain_id, ref.contracts.get("ledger", "0x0"))
    b, e, tr, co, o, tf, pl = t.batches.c, t.edges.c, t.transfers.c, t.consumptions.c, t.origins.c, t.transforms.c, t.pledges.c

    def where_batches(col: Any, time_col: Any) -> Any:
        if batch_ids is not None:
            return col.in_(sorted(batch_ids))
        return time_col.between(*time_range)  # type: ignore[misc]

    created = [dict(r._mapping) for r in conn.execute(select(t.batches).where(where_batches(b.batch_id, b.block_time)))]
    involved = {r["batch_id"] for r in created}
    parents: dict[int, list[dict]] = defaultdict(list)
    if involved:
        for r in conn.execute(select(t.edges).where(e.child_id.in_(sorted(involved))).order_by(e.child_id, e.position)):
            parents[r.child_id].append(dict(r._mapping))
    parent_ids = {p["parent_id"] for ps in parents.values() for p in ps}
    transfers = [dict(r._mapping) for r in conn.execute(select(t.transfers).where(
        where_batches(tr.batch_id, tr.proposed_time) if batch_ids is not None
        else (tr.proposed_time.between(*time_range) | tr.settled_time.between(*time_range))))]  # type: ignore[misc]
    consumptions = [dict(r._mapping) for r in conn.execute(select(t.consumptions).where(where_batches(co.batch_id, co.block_time)))]
    all_ids = involved | parent_ids | {x["batch_id"] for x in transfers} | {x["batch_id"] for x in consumptions}
    rows = {r.batch_id: dict(r._mapping) for r in conn.execute(select(t.batches).where(b.batch_id.in_(sorted(all_ids))))} if all_ids else {}
    origins = {r.batch_id: dict(r._mapping) for r in conn.execute(select(t.origins).where(o.batch_id.in_(sorted(involved))))} if involved else {}
    transforms = {r.output_batch_id: dict(r._mapping) for r in conn.execute(
        select(t.transforms).where(tf.output_batch_id.in_(sorted(involved))))} if involved else {}
    pledges = {r.released_batch_id: dict(r._mapping) for r in conn.execute(
        select(t.pledges).where(pl.released_batch_id.in_(sorted(involved))))} if involved else {}

    events: list[tuple[tuple[int, int, int], dict[str, Any]]] = []

    # --- creations, grouped by transaction for splits (one split tx makes several lots)
    split_groups: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(created, key=lambda r: (r["block_number"], r["log_index"])):
        order = (r["block_number"], r["log_index"], 0)
        common = {"coc:kind": kind_name(r["kind"]), "coc:model": Model(r["model"]).label, "coc:sharePpm": r["share"]}
        if r["characteristic"]:
            common["coc:characteristic"] = ref.characteristic_name(r["characteristic"])
        if r["kind"] == BatchKind.ORIGIN:
            og = origins.get(r["batch_id"], {})
            ev = _base("ObjectEvent", r["block_time"], ids.event(r["tx_hash"], r["log_index"]), r["tx_hash"], r["block_number"])
            ev.update(action="ADD", bizStep="commissioning", disposition="active",
                      quantityList=[_q(ids, ref, r, r["quantity"])])
            if og:
                ev["readPoint"] = {"id": ids.site(og["site_id"])}
                ev["bizLocation"] = {"id": ids.site(og["site_id"])}
            ev["ilmd"] = {
                "cbvmda:lotNumber": str(r["batch_id"]),
                "coc:material": ref.material_name(r["material"]),
                "coc:producer": ref.participant_name(r["creator"]),
                "coc:geolocationHash": og.get("geolocation_hash"),
                "coc:ddsReference": og.get("dds_reference"),
                "coc:evidenceHash": og.get("evidence_hash"),
                "coc:productionDate": iso(og["production_date"]) if og else None,
                "coc:certificationId": og.get("certification_id") or None,
            }
            ev["ilmd"] = {k: v for k, v in ev["ilmd"].items() if v is not None}
            ev.update(common)
            events.append((order, ev))
        elif r["kind"] == BatchKind.SPLIT:
            split_groups[r["tx_hash"]].append(r)
        else:
            ins = [_q(ids, ref, rows[p["parent_id"]], p["quantity"]) for p in parents.get(r["batch_id"], [])]
            ev = _base("TransformationEvent", r["block_time"], ids.event(r["tx_hash"], r["log_index"]), r["tx_hash"], r["block_number"])
            ev.update(inputQuantityList=ins, outputQuantityList=[_q(ids, ref, r, r["quantity"])],
                      transformationID=ids.tx(r["tx_hash"]) + f":{r['log_index']}", bizStep="commissioning",
                      disposition="active", ilmd={"cbvmda:lotNumber": str(r["batch_id"]),
                                                  "coc:material": ref.material_name(r["material"])})
            ev.update(_location(ids, ref, r["holder"], r["block_number"]))
            ev.update(common)
            if r["kind"] == BatchKind.TRANSFORM and r["batch_id"] in transforms:
                x = transforms[r["batch_id"]]
                proc = ref.processes.get(x["process_id"])
                ev.update({"coc:process": proc.name if proc else None, "coc:factorPpm": proc.factor if proc else None,
                           "coc:loss": x["loss"],
                           "coc:creditsConverted": x["credits_converted"], "coc:creditsProduced": x["credits_produced"]})
            if r["kind"] == BatchKind.ATTRIBUTES_RELEASED and r["batch_id"] in pledges:
                p = pledges[r["batch_id"]]
                ev["bizTransactionList"] = [{"type": "cert", "bizTransaction": f"{ids.prefix}:pledge:{p['pledge_id']}"}]
                ev["coc:certifiedQuantityReleased"] = p["quantity"]
            events.append((order, ev))
    for tx, group in split_groups.items():
        # a split is one transformation: all lots the transaction made, not only those asked about
        group = [dict(r._mapping) for r in conn.execute(select(t.batches).where(
            b.tx_hash == tx, b.kind == int(BatchKind.SPLIT)).order_by(b.log_index))]
        missing = [r["batch_id"] for r in group if r["batch_id"] not in parents]
        if missing:
            for r in conn.execute(select(t.edges).where(e.child_id.in_(missing)).order_by(e.child_id, e.position)):
                parents[r.child_id].append(dict(r._mapping))
        for pid in {p["parent_id"] for r in group for p in parents[r["batch_id"]]} - rows.keys():
            rows[pid] = dict(conn.execute(select(t.batches).where(b.batch_id == pid)).one()._mapping)
        first = group[0]
        by_parent: dict[int, int] = defaultdict(int)
        for r in group:
            for p in parents.get(r["batch_id"], []):
                by_parent[p["parent_id"]] += p["quantity"]
        ev = _base("TransformationEvent", first["block_time"], ids.event(tx, first["log_index"]), tx, first["block_number"])
        ev.update(inputQuantityList=[_q(ids, ref, rows[pid], q) for pid, q in by_parent.items()],
                  outputQuantityList=[_q(ids, ref, r, r["quantity"]) for r in group],
                  transformationID=ids.tx(tx), bizStep="repackaging", disposition="active",
                  **{"coc:kind": kind_name(BatchKind.SPLIT), "coc:model": Model(first["model"]).label})
        ev.update(_location(ids, ref, first["holder"], first["block_number"]))
        events.append(((first["block_number"], first["log_index"], 0), ev))

    # --- custody
    for x in transfers:
        r = rows[x["batch_id"]]
        q = [_q(ids, ref, r, x["quantity"])]
        biz = [{"type": "desadv", "bizTransaction": ids.transfer(x["transfer_id"])}]
        if x["certified_quantity"]:
            biz.append({"type": f"{COC_NS}btt:sustainability_declaration",
                        "bizTransaction": f"{ids.prefix}:declaration:{x['transfer_id']}"})
        in_range = time_range is None or time_range[0] <= x["proposed_time"] <= time_range[1]
        if in_range:
            ev = _base("ObjectEvent", x["proposed_time"], ids.event(x["proposed_tx"], x["proposed_log_index"]),
                       x["proposed_tx"], x["proposed_block"])
            ev.update(action="OBSERVE", bizStep="shipping", disposition="in_transit", quantityList=q,
                      bizTransactionList=biz,
                      sourceList=_party(ids, ref, x["from_address"], x["proposed_block"], "source"),
                      destinationList=_party(ids, ref, x["to_address"], x["proposed_block"], "destination"),
                      **{"coc:transferId": x["transfer_id"], "coc:certifiedQuantity": x["certified_quantity"],
                         "coc:signedBy": x["from_address"]})
            ev.update(_location(ids, ref, x["from_address"], x["proposed_block"]))
            events.append(((x["proposed_block"], x["proposed_log_index"], 1), ev))
        if x["settled_tx"] is not None and (time_range is None or time_range[0] <= x["settled_time"] <= time_range[1]):
            step, disp, at = {TransferStatus.ACCEPTED.label: ("receiving", "active", x["to_address"]),
                              TransferStatus.REJECTED.label: ("void_shipping", "returned", x["from_address"]),
                              TransferStatus.CANCELLED.label: ("void_shipping", "active", x["from_address"])}[x["status"]]
            ev = _base("ObjectEvent", x["settled_time"], ids.event(x["settled_tx"], x["settled_log_index"]),
                       x["settled_tx"], x["settled_block"])
            ev.update(action="OBSERVE", bizStep=step, disposition=disp, quantityList=q, bizTransactionList=biz,
                      sourceList=_party(ids, ref, x["from_address"], x["settled_block"], "source"),
                      destinationList=_party(ids, ref, x["to_address"], x["settled_block"], "destination"),
                      **{"coc:transferId": x["transfer_id"], "coc:status": x["status"],
                         "coc:certifiedQuantity": x["certified_quantity"],
                         "coc:signedBy": x["from_address"] if x["status"] == TransferStatus.CANCELLED.label else x["to_address"]})
            ev.update(_location(ids, ref, at, x["settled_block"]))
            events.append(((x["settled_block"], x["settled_log_index"], 1), ev))

    # --- consumption
    for c in consumptions:
        r = rows[c["batch_id"]]
        sold = c["reason"] == ConsumeReason.SOLD
        ev = _base("ObjectEvent", c["block_time"], ids.event(c["tx_hash"], c["log_index"]), c["tx_hash"], c["block_number"])
        ev.update(action="DELETE", bizStep="retail_selling" if sold else "destroying",
                  disposition="retail_sold" if sold else "destroyed", quantityList=[_q(ids, ref, r, c["quantity"])],
                  **{"coc:reference": c["ref"]})
        ev.update(_location(ids, ref, c["holder"], c["block_number"]))
        events.append(((c["block_number"], c["log_index"], 2), ev))

    events.sort(key=lambda x: x[0])
    return [ev for _, ev in events]


def document(events: list[dict[str, Any]], *, created: int | None = None) -> dict[str, Any]:
    return {
        "@context": [EPCIS_CONTEXT, {"coc": COC_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(created) if created is not None else
        datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "epcisBody": {"eventList": events},
    }


def token_document(conn: Connection, batch_id: int) -> dict[str, Any] | None:
    """The history of a token: every batch in its ancestry and itself, created, moved, consumed."""
    if conn.execute(select(t.batches.c.batch_id).where(t.batches.c.batch_id == batch_id)).first() is None:
        return None
    ref = reference(conn)
    ids = {r.id for r in conn.execute(text(f"{ANCESTORS_CTE} SELECT id FROM anc"), {"root": batch_id})}
    ids.add(batch_id)
    return document(build_events(conn, ref, ids, None))


def range_document(conn: Connection, start: int, end: int) -> dict[str, Any]:
    """Every event whose block time is in [start, end] (unix seconds)."""
    return document(build_events(conn, reference(conn), None, (start, end)))


