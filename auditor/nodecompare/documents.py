"""The expected answers of the node's documents built from chain events: a transaction's facts
(GET /provenance/tx/{hash}), a batch's EPCIS document (GET /provenance/batches/{id}/epcis) and its passport
(GET /provenance/batches/{id}/passport). Each compares what the replay can vouch for: block numbers and block
times, the events with their arguments, the quantities and origin facts; wording and presentation are the
node's own."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..model import KINDS, MODELS
from ..replay import Ev
from .facts import Facts, batch_refs
from .values import ABSENT, EVIDENCE, Keyed, snake_name

ACCEPTED = 2
CONTRACT_NAMES = {"mass": "mass_balance", "certs": "certificates"}  # the node's short names of the contracts
ORIGIN, TRANSFORM = 0, 3  # IBatchLedger.BatchKind


def iso_time(ts: int) -> str:
    """A block time as the node's EPCIS documents write it (UTC, milliseconds)."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# ---------------------------------------------------------------------------------------------- transactions
def tx_expected(fx: Facts, tx: str) -> dict[str, Any]:
    """The transaction's block, block time and every event of the ledger's contracts with its arguments (the
    forwarder's events, which the auditor does not replay, may be listed too)."""
    evs = fx.r.tx_events[tx]
    first = evs[0]
    events = Keyed([{"log_index": e.li, "contract": CONTRACT_NAMES.get(e.c, e.c), "event": e.name, "args": dict(e.a), EVIDENCE: [e.ref()]}
                    for e in evs], "log_index", extra=lambda g: isinstance(g, dict) and g.get("contract") == "forwarder")
    return {"tx_hash": tx, "block_number": first.block, "time": first.ts, "events": events,
            EVIDENCE: [first.ref()]}


# ---------------------------------------------------------------------------------------------- EPCIS
def _urn(fx: Facts, what: str, ident: Any) -> str:
    return f"urn:coc:{fx.r.chain_id}:{fx.r.ledger_addr}:{what}:{ident}"


def _quantities(fx: Facts, items: list[tuple[int, int]]) -> Keyed:
    return Keyed([{"epcClass": _urn(fx, "batch", b), "quantity": q} for b, q in items], "epcClass")


def _epcis_event(fx: Facts, event_id: str, e: Ev) -> dict[str, Any]:
    r = fx.r
    item: dict[str, Any] = {"eventID": event_id, "eventTime": iso_time(e.ts), "coc:txHash": e.tx,
                            "coc:blockNumber": e.block, EVIDENCE: [e.ref()]}
    a = e.a
    if e.name == "BatchCreated":
        b = r.batches[a["batchId"]]
        if b["kind"] == ORIGIN:
            item["quantityList"] = _quantities(fx, [(b["id"], b["quantity"])])
            info = b["originInfo"]
            if info is not None:
                ilmd = {"coc:ddsReference": info["ddsReference"], "coc:evidenceHash": info["evidenceHash"],
                        "coc:geolocationHash": info["geolocationHash"],
                        "coc:productionDate": iso_time(info["productionDate"])}
                if info["certificationId"]:
                    ilmd["coc:certificationId"] = info["certificationId"]
                item["ilmd"] = ilmd
                item[EVIDENCE] = [e.ref(), info["ref"]]
        elif b["kind"] == TRANSFORM:
            item["inputQuantityList"] = _quantities(fx, b["parents"])
            item["outputQuantityList"] = _quantities(fx, [(b["id"], b["quantity"])])
    elif e.name == "CustodyProposed":
        item.update({"quantityList": _quantities(fx, [(a["batchId"], a["quantity"])]), "coc:transferId": a["transferId"],
                     "coc:certifiedQuantity": a["certifiedQuantity"]})
    elif e.name in ("CustodyAccepted", "CustodyRejected", "CustodyCancelled"):
        t = r.transfers.get(a["transferId"])
        if t is not None:
            item.update({"quantityList": _quantities(fx, [(t["batchId"], t["quantity"])]),
                         "coc:transferId": a["transferId"]})
    return item


def _event_ref(event_id: Any, prefix: str) -> tuple[str, int] | None:
    if not isinstance(event_id, str) or not event_id.lower().startswith(prefix):
        return None
    tx, _, li = event_id[len(prefix):].rpartition(":")
    return (tx.lower(), int(li)) if li.isdigit() else None


def epcis_expected(fx: Facts, bid: int, answer: Any) -> dict[str, Any]:
    """Every event of the node's document must name a replayed chain event (its eventID carries the transaction
    and log index) and agree with it: time, block, quantities, origin facts; the creation of the batch and of
    every ancestor must be there (an event of the transaction that created it), and the shipping and receiving
    of every accepted delivery of the lineage."""
    r = fx.r
    prefix = _urn(fx, "event", "")
    listed = ((answer or {}).get("epcisBody") or {}).get("eventList") if isinstance(answer, dict) else None
    items: dict[str, dict] = {}
    for ev in listed if isinstance(listed, list) else []:
        ref = _event_ref(ev.get("eventID") if isinstance(ev, dict) else None, prefix)
        e = r.event_at.get(ref) if ref else None
        if e is not None:
            items[ev["eventID"]] = _epcis_event(fx, ev["eventID"], e)
    lineage = [bid, *r.ancestors(bid)]
    for x in lineage:  # every accepted delivery of the lineage: its shipping and its receiving
        for tid in r.batches[x]["transfers"]:
            t = r.transfers[tid]
            if t["status"] != ACCEPTED:
                continue
            for ref in (t["proposed"], t["settled"]):
                event_id = f"{prefix}{ref['tx']}:{ref['logIndex']}"
                items.setdefault(event_id, _epcis_event(fx, event_id, r.event_at[(ref["tx"], ref["logIndex"])]))
    for x in lineage:
        ref = r.batches[x]["ref"]
        event_id = f"{prefix}{ref['tx']}:{ref['logIndex']}"
        # one EPCIS event may stand for several creations of one transaction (a split's children)
        if not any((_event_ref(k, prefix) or ("", 0))[0] == ref["tx"] for k in items):
            items[event_id] = _epcis_event(fx, event_id, r.event_at[(ref["tx"], ref["logIndex"])])
    return {"type": "EPCISDocument", "schemaVersion": "2.0",
            "epcisBody": {"eventList": Keyed(list(items.values()), "eventID")}, EVIDENCE: batch_refs(r, bid)}


# ---------------------------------------------------------------------------------------------- passport
def passport_expected(fx: Facts, bid: int) -> dict[str, Any]:
    """The product, its creation (block and time), its transform, its certified origins and the accepted
    deliveries of its lineage (the passport may list more of them: only what it lists is checked, and the
    ones named here must be there)."""
    r = fx.r
    b = r.batches[bid]
    created = {"tx_hash": b["ref"]["tx"], "block_number": b["ref"]["block"], "time": b["createdAt"]}
    product = {"token_id": bid, "id": _urn(fx, "batch", bid), "material": fx.material(b["material"]),
               "quantity_created": b["quantity"], "kind": snake_name(KINDS[b["kind"]]), "model": MODELS[b["model"]],
               "characteristic": fx.characteristic(b["characteristic"]), "share_ppm": b["share"], "created": created}
    tr = b["transform"]
    if tr is not None:
        product["transform"] = {"process_id": tr["processId"], "input_quantity": tr["inputQuantity"],
                                "output_quantity": tr["outputQuantity"], "loss": tr["loss"],
                                "tx_hash": tr["ref"]["tx"], "block_number": tr["ref"]["block"], "time": b["createdAt"]}
    else:
        product["transform"] = ABSENT
    origins = []
    for o in sorted(x for x in [bid, *r.ancestors(bid)] if r.batches[x]["kind"] == ORIGIN):
        ob = r.batches[o]
        info = ob["originInfo"]
        if ob["model"] == 0 or info is None:
            continue
        origins.append({"batch_id": o, "production_date": info["productionDate"],
                        "geolocation_hash": info["geolocationHash"], "dds_reference": info["ddsReference"],
                        "evidence_hash": info["evidenceHash"], "tx_hash": ob["ref"]["tx"],
                        "block_number": ob["ref"]["block"], EVIDENCE: [ob["ref"], info["ref"]]})
    custody = []
    for x in sorted({bid, *r.ancestors(bid)}):
        for tid in r.batches[x]["transfers"]:
            t = r.transfers[tid]
            if t["status"] != ACCEPTED:
                continue
            custody.append({"transfer_id": tid, "batch_id": t["batchId"], "status": "accepted",
                            "quantity": t["quantity"], "certified_quantity": t["certifiedQuantity"],
                            "time": t["settledAt"], "tx_hash": t["settled"]["tx"],
                            EVIDENCE: [t["proposed"], t["settled"]]})
    return {"chain_id": r.chain_id, "ledger": r.ledger_addr, "product": product,
            "origins": Keyed(origins, "batch_id", extra=lambda g: True),
            "custody": Keyed(custody, "transfer_id", extra=lambda g: True), EVIDENCE: batch_refs(r, bid)}
