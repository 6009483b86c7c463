"""Turns decoded events into rows, one block range at a time, written in one transaction.

Inserts are collected per table and written with executemany (the fast path); the few events
that change an earlier row (a transfer settled, a participant suspended, a wallet removed) update
the pending row in memory when it was created in the same range, else queue an UPDATE that runs
after the inserts, in chain order. Then the derived lineage rows of the range's new batches are
computed and written (node_api.index.lineage_ingest). A range that registers or changes reference
data (participants, sites, wallets, materials, schemes, characteristics, processes) also stamps a new
``reference_version`` in ``idx_meta``, in the same transaction: readers keep that data cached until
the stamp changes (node_api.index.read.reference).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any, Callable

from sqlalchemy import and_, update
from sqlalchemy.engine import Connection

from node_api.domain import TransferStatus

from . import lineage_ingest
from . import schema as t

INT64_MAX = (1 << 63) - 1

#: The event that settles a custody transfer -> the status it leaves (as ``idx_transfers.status`` spells it).
SETTLED_BY = {"CustodyAccepted": TransferStatus.ACCEPTED, "CustodyRejected": TransferStatus.REJECTED,
              "CustodyCancelled": TransferStatus.CANCELLED}


class IndexOverflow(ValueError):
    pass


def _q(v: int) -> int:
    if v > INT64_MAX:
        raise IndexOverflow(f"quantity {v} exceeds the index's 64-bit columns")
    return v


class RangeWriter:
    def __init__(self) -> None:
        self.rows: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self.pending: dict[tuple[str, Any], dict[str, Any]] = {}
        self.updates: list[tuple[Any, Any, dict[str, Any]]] = []  # (table, where clause, values)
        self.count = 0
        self.reference_changed = False

    # ------------------------------------------------------------------ entry point
    def add(self, contract: str, name: str, args: dict[str, Any], log: dict[str, Any]) -> None:
        fact = {
            "block_number": log["_block"],
            "log_index": log["_log_index"],
            "tx_hash": log["transactionHash"],
            "block_time": log["_time"],
        }
        self.count += 1
        self.rows[t.events].append({**fact, "contract": contract, "name": name, "args": json.dumps(args, default=str)})
        handler = _HANDLERS.get((contract, name)) or _HANDLERS.get(("*", name))
        if handler is not None:
            handler(self, contract, args, fact)
            self.reference_changed |= (contract, name) in _REFERENCE

    def update_row(self, table: Any, key: Any, where: Any, values: dict[str, Any]) -> None:
        row = self.pending.get((table.name, key))
        if row is not None:
            row.update(values)
        else:
            self.updates.append((table, where, values))

    def insert(self, table: Any, row: dict[str, Any], key: Any = None) -> None:
        self.rows[table].append(row)
        if key is not None:
            self.pending[(table.name, key)] = row

    # ------------------------------------------------------------------ write
    def flush(self, conn: Connection) -> None:
        for table in t.metadata.sorted_tables:
            rows = self.rows.get(table)
            if rows:
                conn.execute(table.insert(), rows)
        for table, where, values in self.updates:
            conn.execute(update(table).where(where).values(**values))
        # derived: the lineage of the new batches, from their parents' (same transaction)
        lineage_ingest.derive(conn, self.rows.get(t.batches, []), self.rows.get(t.edges, []),
                              self.rows.get(t.origins, []))
        if self.reference_changed:
            # any new value will do: readers compare it with the one their cache was loaded under
            t.write_meta(conn, {t.REFERENCE_VERSION: uuid.uuid4().hex})


# ---------------------------------------------------------------------- handlers
Handler = Callable[[RangeWriter, str, dict[str, Any], dict[str, Any]], None]
_HANDLERS: dict[tuple[str, str], Handler] = {}
#: Events that write reference data (what readers cache).
_REFERENCE: set[tuple[str, str]] = set()


def on(contract: str, name: str, *, reference: bool = False) -> Callable[[Handler], Handler]:
    def deco(f: Handler) -> Handler:
        _HANDLERS[(contract, name)] = f
        if reference:
            _REFERENCE.add((contract, name))
        return f

    return deco


# ------------------------------------------------------------ registry
@on("registry", "ParticipantRegistered", reference=True)
def _participant(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    pid = a["participantId"]
    w.insert(t.participants, {"participant_id": pid, "name": a["name"], "roles": a["roles"], "status": 1, **f}, pid)


@on("registry", "ParticipantRolesChanged", reference=True)
def _roles(w: RangeWriter, _c: str, a: dict, _f: dict) -> None:
    pid = a["participantId"]
    w.update_row(t.participants, pid, t.participants.c.participant_id == pid, {"roles": a["roles"]})


@on("registry", "ParticipantStatusChanged", reference=True)
def _pstatus(w: RangeWriter, _c: str, a: dict, _f: dict) -> None:
    pid = a["participantId"]
    w.update_row(t.participants, pid, t.participants.c.participant_id == pid, {"status": a["status"]})


@on("registry", "SiteAdded", reference=True)
def _site(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.sites, {"site_id": a["siteId"], "participant_id": a["participantId"], "name": a["name"],
                       "location_ref": a["locationRef"], **f})


@on("registry", "WalletAdded", reference=True)
def _wallet(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    addr = a["wallet"]
    w.insert(t.wallets, {"address": addr, "added_block": f["block_number"], "added_log_index": f["log_index"],
                         "participant_id": a["participantId"], "site_id": a["siteId"], "removed_block": None,
                         "tx_hash": f["tx_hash"]}, ("wallet", addr))


@on("registry", "WalletRemoved", reference=True)
def _wallet_removed(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    addr = a["wallet"]
    row = w.pending.pop((t.wallets.name, ("wallet", addr)), None)
    if row is not None:
        row["removed_block"] = f["block_number"]
    else:
        w.updates.append((t.wallets, and_(t.wallets.c.address == addr, t.wallets.c.removed_block.is_(None)),
                          {"removed_block": f["block_number"]}))


@on("registry", "MaterialRegistered", reference=True)
def _material(w: RangeWriter, _c: str, a: dict, _f: dict) -> None:
    w.insert(t.materials, {"material": a["material"], "name": a["name"], "unit": a["unit"],
                           "material_group": a["group"], "waste": bool(a["waste"])})


@on("registry", "SchemeRegistered", reference=True)
def _scheme(w: RangeWriter, _c: str, a: dict, _f: dict) -> None:
    w.insert(t.schemes, {"scheme": a["scheme"], "name": a["name"], "period_length": a["periodLength"],
                         "anchor": a["anchor"], "lapse_after_periods": a["lapseAfterPeriods"]})


@on("registry", "CharacteristicRegistered", reference=True)
def _characteristic(w: RangeWriter, _c: str, a: dict, _f: dict) -> None:
    w.insert(t.characteristics, {"characteristic": a["characteristic"], "name": a["name"], "scheme": a["scheme"]})


@on("registry", "ProcessRegistered", reference=True)
def _process(w: RangeWriter, _c: str, a: dict, _f: dict) -> None:
    w.insert(t.processes, {"process_id": a["processId"], "name": a["name"], "input_material": a["inputMaterial"],
                           "output_material": a["outputMaterial"], "factor": a["factor"], "tolerance": a["tolerance"]})


@on("registry", "CertificationRecorded")
def _certification(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    p = a["params"]
    w.insert(t.certifications, {
        "certification_id": a["certificationId"], "holder": a["holder"], "certifier": a["certifier"],
        "scheme": p["scheme"], "certificate_number": p["certificateNumber"],
        "materials": json.dumps(p["materials"]), "characteristics": json.dumps(p["characteristics"]),
        "models": p["models"], "valid_from": p["validFrom"], "valid_to": p["validTo"], **f})


@on("registry", "CertificationStatusChanged")
def _cert_status(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.certification_status, {"certification_id": a["certificationId"], "status": a["status"],
                                      "reason_hash": a["reasonHash"], **f})


# ------------------------------------------------------------ batch ledger
@on("ledger", "BatchCreated")
def _batch(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    bid = a["batchId"]
    w.insert(t.batches, {"batch_id": bid, "kind": a["kind"], "material": a["material"],
                         "characteristic": a["characteristic"], "model": a["model"], "share": a["share"],
                         "origin": a["origin"], "creator": a["creator"], "holder": a["holder"],
                         "quantity": _q(a["quantity"]), **f})
    rows = w.rows[t.edges]
    for i, p in enumerate(a["parents"]):
        rows.append({"child_id": bid, "position": i, "parent_id": p["batchId"], "quantity": _q(p["quantity"])})


@on("ledger", "OriginRecorded")
def _origin(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.origins, {"batch_id": a["batchId"], "site_id": a["siteId"], "certification_id": a["certificationId"],
                         "geolocation_hash": a["geolocationHash"], "dds_reference": a["ddsReference"],
                         "evidence_hash": a["evidenceHash"], "production_date": a["productionDate"], **f})


@on("ledger", "TransformRecorded")
def _transform(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.transforms, {"output_batch_id": a["outputBatchId"], "process_id": a["processId"],
                            "input_quantity": _q(a["inputQuantity"]), "output_quantity": _q(a["outputQuantity"]),
                            "loss": _q(a["loss"]), "credits_converted": _q(a["creditsConverted"]),
                            "credits_produced": _q(a["creditsProduced"]), **f})


@on("ledger", "BatchConsumed")
def _consumed(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.consumptions, {"batch_id": a["batchId"], "holder": a["holder"], "quantity": _q(a["quantity"]),
                              "reason": a["reason"], "ref": a["ref"], **f})


@on("ledger", "CustodyProposed")
def _proposed(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    tid = a["transferId"]
    w.insert(t.transfers, {
        "transfer_id": tid, "batch_id": a["batchId"], "from_address": a["from"], "to_address": a["to"],
        "quantity": _q(a["quantity"]), "certified_quantity": _q(a["certifiedQuantity"]), "nonce": str(a["nonce"]),
        "deadline": str(a["deadline"]), "signature": a["signature"], "status": TransferStatus.PENDING.label,
        "proposed_block": f["block_number"], "proposed_log_index": f["log_index"], "proposed_tx": f["tx_hash"],
        "proposed_time": f["block_time"], "settled_block": None, "settled_log_index": None, "settled_tx": None,
        "settled_time": None, "settle_deadline": None, "settle_signature": None}, ("transfer", tid))


def _settled(w: RangeWriter, _c: str, a: dict, f: dict, status: TransferStatus) -> None:
    tid = a["transferId"]
    values = {"status": status.label, "settled_block": f["block_number"], "settled_log_index": f["log_index"],
              "settled_tx": f["tx_hash"], "settled_time": f["block_time"], "settle_deadline": str(a["deadline"]),
              "settle_signature": a["signature"]}
    w.update_row(t.transfers, ("transfer", tid), t.transfers.c.transfer_id == tid, values)


for _name, _status in SETTLED_BY.items():
    _HANDLERS[("ledger", _name)] = (lambda s: lambda w, c, a, f: _settled(w, c, a, f, s))(_status)


def _moves_single(w: RangeWriter, contract: str, a: dict, f: dict) -> None:
    w.rows[t.token_moves].append({"contract": contract, **f, "position": 0, "operator": a["operator"],
                                  "from_address": a["from"], "to_address": a["to"], "token_id": _q(a["id"]),
                                  "value": _q(a["value"])})


def _moves_batch(w: RangeWriter, contract: str, a: dict, f: dict) -> None:
    rows = w.rows[t.token_moves]
    for i, (tid, v) in enumerate(zip(a["ids"], a["values"])):
        rows.append({"contract": contract, **f, "position": i, "operator": a["operator"], "from_address": a["from"],
                     "to_address": a["to"], "token_id": _q(tid), "value": _q(v)})


for _c in ("ledger", "certificates"):
    _HANDLERS[(_c, "TransferSingle")] = _moves_single
    _HANDLERS[(_c, "TransferBatch")] = _moves_batch


# ------------------------------------------------------------ mass balance
@on("mass_balance", "AccountOpened")
def _account(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.accounts, {"account": a["account"], "participant_id": a["participantId"], "site_id": a["siteId"],
                          "material": a["material"], "characteristic": a["characteristic"], "scheme": a["scheme"],
                          "period_length": a["periodLength"], "anchor": a["anchor"],
                          "lapse_after_periods": a["lapseAfterPeriods"], **f})


@on("mass_balance", "CreditsBooked")
def _booked(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.credit_bookings, {"account": a["account"], "period": a["period"], "entry": a["entry"],
                                 "reason": a["reason"], "amount": _q(a["amount"]), "balance": _q(a["balance"]),
                                 "ref": a["ref"], **f})


@on("mass_balance", "PeriodClosed")
def _closed(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.period_closings, {"account": a["account"], "period": a["period"], "opening": _q(a["opening"]),
                                 "inflow": _q(a["inflow"]), "converted_in": _q(a["convertedIn"]),
                                 "outflow": _q(a["outflow"]), "converted_out": _q(a["convertedOut"]),
                                 "lapsed": _q(a["lapsed"]), "closing": _q(a["closing"]), **f})


# ------------------------------------------------------------ certificates
@on("certificates", "AttributesPledged")
def _pledged(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.pledges, {"pledge_id": a["pledgeId"], "producer": a["producer"], "holder": a["holder"],
                         "source": a["source"], "material": a["material"], "characteristic": a["characteristic"],
                         "quantity": _q(a["quantity"]), "batch_id": _q(a["batchId"]),
                         "released_batch_id": _q(a["releasedBatchId"]), **f})


@on("certificates", "CertificatesIssued")
def _issued(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.issuances, {"certificate_id": a["certificateId"], "issuer": a["issuer"], "producer": a["producer"],
                           "to_address": a["to"], "amount": a["amount"], "unit_size": _q(a["unitSize"]),
                           "unit_label": a["unitLabel"], "material": a["material"],
                           "characteristic": a["characteristic"], "period_start": a["periodStart"],
                           "period_end": a["periodEnd"], "evidence_hash": a["evidenceHash"],
                           "pledge_id": a["pledgeId"], **f})


@on("certificates", "IssuanceRevoked")
def _revoked(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.revocations, {"certificate_id": a["certificateId"], "issuer": a["issuer"],
                             "outstanding": a["outstanding"], "reason_hash": a["reasonHash"], **f})


@on("certificates", "CertificatesRetired")
def _retired(w: RangeWriter, _c: str, a: dict, f: dict) -> None:
    w.insert(t.retirements, {"retirement_id": str(a["retirementId"]), "certificate_id": a["certificateId"],
                             "holder": a["holder"], "retired_by": a["retiredBy"], "amount": a["amount"],
                             "beneficiary": a["beneficiary"], "period_start": a["periodStart"],
                             "period_end": a["periodEnd"], "purpose_hash": a["purposeHash"], **f})
