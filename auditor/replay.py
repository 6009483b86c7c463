"""Replay every event of the ledger and rebuild its whole state, checking each rule on the way.

The state is rebuilt from logs alone: registry (participants, roles, wallets, sites, certifications over
time, capacities, reference data), batch ledger (batches, lineage, custody balances from TransferSingle,
transfers), mass balance (accounts, bookings, periods, lapse: MassBalance's logic replicated), and
certificates (issuances, holdings, retirements, revocations, pledges).

Events are handled one transaction at a time: each event updates the state and is checked against the
state at that point; at the end of the transaction the token flows and credit bookings it caused are
reconciled with the events that explain them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from functools import lru_cache

from .eip712 import fast_keccak as keccak

from . import eip712
from .model import (
    ALL_ROLES,
    CERT_STATUS,
    CONTROLLED_BLENDING,
    ENTRIES,
    FAIL,
    IDENTITY_PRESERVED,
    KINDS,
    MASS_BALANCE,
    MERGE,
    ORIGIN,
    PPM,
    REASONS,
    RELEASED,
    ROLE_BRAND,
    ROLE_SUPPLIER,
    SEGREGATED,
    SPLIT,
    TRANSFORM,
    UNCERTIFIED,
    WARN,
    ZERO,
    Findings,
)

COVERAGE_SLOTS = 4  # ParticipantRegistry remembers the 4 newest certifications per holder/material/characteristic
IN, OUT, CONV_IN, CONV_OUT, LAPSED = range(5)
R_ORIGIN, R_DELIVERY, R_RETURNED, R_DOWNGRADE, R_CONVERSION, R_MOVED, R_PLEDGED, R_LAPSE = range(8)
ACTIVE = 1


class Ev:
    __slots__ = ("name", "c", "a", "block", "ts", "tx", "li")

    def __init__(self, name: str, c: str, a: dict, block: int, ts: int, tx: str, li: int):
        self.name, self.c, self.a, self.block, self.ts, self.tx, self.li = name, c, a, block, ts, tx, li

    def ref(self) -> dict[str, Any]:
        return {"event": self.name, "tx": self.tx, "block": self.block, "logIndex": self.li}


def w32(v: int) -> bytes:
    return v.to_bytes(32, "big")


@lru_cache(maxsize=65536)
def account_key(pid: int, site: int, material: int, characteristic: int) -> str:
    return "0x" + keccak(w32(pid) + w32(site) + w32(material) + w32(characteristic)).hex()


def int_ref(v: int) -> str:
    return "0x" + w32(v).hex()


@dataclass
class Account:
    key: str
    participant: int
    site: int
    material: int
    characteristic: int
    scheme: int
    period_length: int
    anchor: int
    lapse: int
    period: int
    opened_period: int
    opened: dict
    balance: int = 0
    statements: dict[int, dict[str, int]] = field(default_factory=dict)
    vintages: dict[int, int] = field(default_factory=dict)
    history: list[tuple[int, int, dict]] = field(default_factory=list)  # (timestamp, balance, ref)
    bookings: list[dict] = field(default_factory=list)
    closed: dict[int, dict] = field(default_factory=dict)  # period -> emitted PeriodClosed values + ref

    def period_at(self, ts: int) -> int:
        if ts < self.anchor:
            return 0
        return (ts - self.anchor) // self.period_length


def _new_statement(opening: int = 0) -> dict[str, int]:
    return {"opening": opening, "inflow": 0, "convertedIn": 0, "outflow": 0, "convertedOut": 0, "lapsed": 0}


def closing_of(st: dict[str, int]) -> int:
    return st["opening"] + st["inflow"] + st["convertedIn"] - st["outflow"] - st["convertedOut"] - st["lapsed"]


class Replay:
    def __init__(self, chain_id: int, addresses: dict[str, str]):
        self.chain_id = chain_id
        self.addr = {k: v.lower() for k, v in addresses.items()}
        self.ledger_addr = self.addr["ledger"]
        self.separator = eip712.domain_separator(chain_id, self.ledger_addr)
        self.f = Findings()
        #: has_code(address) -> bool, set by the driver: a signer with code answers ERC-1271, not ECDSA
        self.has_code: Any = None
        self.unverifiable: list[dict] = []
        # registry
        self.participants: dict[int, dict] = {}
        self.sites: dict[int, dict] = {}
        self.wallets: dict[str, tuple[int, int]] = {}
        self.wallet_history: list[dict] = []
        self.certifications: dict[int, dict] = {}
        self.coverage: dict[tuple[int, int, int], list[int]] = {}
        self.capacity: dict[tuple[int, int], dict] = {}
        self.materials: dict[int, dict] = {}
        self.schemes: dict[int, dict] = {}
        self.characteristics: dict[int, dict] = {}
        self.processes: dict[int, dict] = {}
        self.linked: dict | None = None
        # ledger
        self.batches: dict[int, dict] = {}
        self.balances: dict[tuple[str, int], int] = defaultdict(int)  # (holder, batch) -> quantity
        self.supply: dict[int, int] = defaultdict(int)
        self.created = self.consumed = self.lost = 0
        self.transfers: dict[str, dict] = {}
        self.nonces: dict[str, int] = defaultdict(int)
        self.origin_evidence: dict[str, int] = {}
        self.consumptions: list[dict] = []
        self.batch_moves: dict[int, list[dict]] = defaultdict(list)  # batch -> refs of its ERC-1155 moves
        # mass balance
        self.accounts: dict[str, Account] = {}
        self._expected_roll: dict[str, list[tuple]] = defaultdict(list)
        self._debit_vintage: dict[tuple[str, int], int] = {}  # (delivery ref, sender) -> oldest vintage taken
        self._aged_parts: dict[tuple[str, int], list[tuple[int, int]]] = {}
        self._tx_converted_in: dict[tuple[str, int], int] = {}
        # certificates
        self.issuances: dict[int, dict] = {}
        self.holdings: dict[tuple[str, int], int] = defaultdict(int)
        self.retirements: dict[int, dict] = {}
        self.pledges: dict[int, dict] = {}
        self.evidence: dict[str, int] = {}
        self.cert_transfers: list[dict] = []
        self.cert_moves: dict[int, list[tuple[str, str, int, dict]]] = defaultdict(list)  # (from, to, units, ref)
        # progress
        self.events = 0
        self.txs = 0
        self.last_block = 0
        self.last_ts = 0
        self.signatures_checked = 0

    @property
    def operations(self) -> int:
        """Operations replayed: one per transaction (every action of the ledger is one transaction)."""
        return self.txs

    # ================================================================== registry queries (at replay time)
    def actor(self, wallet: str, roles: int) -> tuple[int, int, str | None]:
        """(participant, site, problem or None) as requireActor would answer now."""
        pid, site = self.wallets.get(wallet, (0, 0))
        if pid == 0:
            return 0, 0, f"wallet {wallet} is not registered"
        p = self.participants.get(pid)
        if p is None or p["status"] != ACTIVE:
            return pid, site, f"participant {pid} is not active"
        if p["roles"] & roles == 0:
            return pid, site, f"participant {pid} lacks role {roles} (has {p['roles']})"
        return pid, site, None

    def certification_for(self, pid: int, material: int, characteristic: int, model: int, ts: int) -> tuple[bool, int]:
        for cid in self.coverage.get((pid, material, characteristic), []):
            c = self.certifications[cid]
            if c["status"] == ACTIVE and c["validFrom"] <= ts <= c["validTo"] and (c["models"] >> model) & 1:
                return True, cid
        return False, 0

    def certified_actor(self, wallet: str, roles: int, material: int, characteristic: int, model: int, ts: int):
        pid, site, problem = self.actor(wallet, roles)
        if problem is None and model != UNCERTIFIED:
            valid, _ = self.certification_for(pid, material, characteristic, model, ts)
            if not valid:
                problem = (f"participant {pid} holds no valid certification for material {material}, "
                           f"characteristic {characteristic}, model {model} at that block")
        return pid, site, problem

    def certification_at(self, cid: int, ts: int) -> str:
        c = self.certifications.get(cid)
        if c is None:
            return "unknown"
        status = ACTIVE
        for when, st, _ in c["history"]:
            if when <= ts:
                status = st
        return CERT_STATUS[status]

    # ================================================================== driving
    def apply_tx(self, evs: list[Ev]) -> None:
        self.txs += 1
        self._tx_ledger: list[Ev] = []
        self._tx_moves: dict = {}  # (addr, batch) -> net delta from TransferSingle
        self._tx_bookings: list[Ev] = []
        self._tx_cert_moves: list[tuple[str, str, int, int, Ev]] = []
        self._tx_capacity: list[Ev] = []
        self._tx_pledges: list[Ev] = []
        conv: dict = {}
        for e in evs:
            if e.name == "CreditsBooked" and e.a["entry"] == CONV_IN:
                k = (e.a["ref"], e.a["reason"])
                conv[k] = conv.get(k, 0) + e.a["amount"]
        self._tx_converted_in = conv
        self._aged_parts = {}
        for e in evs:
            self.events += 1
            handler = getattr(self, f"on_{e.c}_{e.name}", None)
            if handler is not None:
                handler(e)
        self._reconcile_tx(evs)
        last = evs[-1]
        self.last_block, self.last_ts = last.block, last.ts

    # ================================================================== registry events
    def on_registry_ParticipantRegistered(self, e: Ev) -> None:
        a = e.a
        self.participants[a["participantId"]] = {
            "name": a["name"], "roles": a["roles"], "status": ACTIVE, "ref": e.ref(),
            "history": [(e.ts, a["roles"], ACTIVE, e.ref())],
        }

    def on_registry_ParticipantRolesChanged(self, e: Ev) -> None:
        p = self.participants.get(e.a["participantId"])
        if p is None:
            self.f.add("registry.consistency", "roles changed for an unknown participant", [e.ref()])
            return
        p["roles"] = e.a["roles"]
        p["history"].append((e.ts, p["roles"], p["status"], e.ref()))

    def on_registry_ParticipantStatusChanged(self, e: Ev) -> None:
        p = self.participants.get(e.a["participantId"])
        if p is None:
            self.f.add("registry.consistency", "status changed for an unknown participant", [e.ref()])
            return
        p["status"] = e.a["status"]
        p["history"].append((e.ts, p["roles"], p["status"], e.ref()))

    def on_registry_SiteAdded(self, e: Ev) -> None:
        self.sites[e.a["siteId"]] = {"owner": e.a["participantId"], "name": e.a["name"],
                                     "locationRef": e.a["locationRef"], "ref": e.ref()}

    def on_registry_WalletAdded(self, e: Ev) -> None:
        a = e.a
        site = a["siteId"]
        if site and self.sites.get(site, {}).get("owner") != a["participantId"]:
            self.f.add("registry.consistency", f"wallet bound to site {site} not owned by participant {a['participantId']}",
                       [e.ref()])
        self.wallets[a["wallet"]] = (a["participantId"], site)
        self.wallet_history.append({"wallet": a["wallet"], "participant": a["participantId"], "site": site,
                                    "added": e.ref(), "ts": e.ts})

    def on_registry_WalletRemoved(self, e: Ev) -> None:
        self.wallets.pop(e.a["wallet"], None)
        self.wallet_history.append({"wallet": e.a["wallet"], "participant": e.a["participantId"], "removed": e.ref(),
                                    "ts": e.ts})

    def on_registry_CertificationRecorded(self, e: Ev) -> None:
        a, p = e.a, e.a["params"]
        cid = a["certificationId"]
        self.certifications[cid] = {
            "holder": a["holder"], "certifier": a["certifier"], "scheme": p["scheme"], "number": p["certificateNumber"],
            "materials": list(p["materials"]), "characteristics": list(p["characteristics"]), "models": p["models"],
            "validFrom": p["validFrom"], "validTo": p["validTo"], "status": ACTIVE, "ref": e.ref(),
            "history": [(e.ts, ACTIVE, e.ref())],
        }
        for m in p["materials"]:
            for ch in p["characteristics"]:
                slots = self.coverage.setdefault((a["holder"], m, ch), [])
                slots.insert(0, cid)
                del slots[COVERAGE_SLOTS:]

    def on_registry_CertificationStatusChanged(self, e: Ev) -> None:
        c = self.certifications.get(e.a["certificationId"])
        if c is None:
            self.f.add("registry.consistency", "status change of an unknown certification", [e.ref()])
            return
        frm, to = c["status"], e.a["status"]
        allowed = (to == 2 and frm == 1) or (to == 1 and frm == 2) or (to == 3 and frm != 3)
        if not allowed:
            self.f.add("registry.consistency", f"certification {e.a['certificationId']} went {CERT_STATUS[frm]} -> "
                       f"{CERT_STATUS[to]}, a change the registry must refuse", [c["ref"], e.ref()])
        else:
            self.f.ok("registry.consistency")
        c["status"] = to
        c["history"].append((e.ts, to, e.ref()))
        c.setdefault("changes", []).append({"status": to, "reasonHash": e.a["reasonHash"], "ref": e.ref()})

    def on_registry_CapacitySet(self, e: Ev) -> None:
        a = e.a
        self.capacity[(a["participantId"], a["material"])] = {
            "validFrom": a["validFrom"], "validTo": a["validTo"], "amount": a["amount"], "used": 0, "ref": e.ref(),
        }

    def on_registry_CapacityUsed(self, e: Ev) -> None:
        self._tx_capacity.append(e)
        a = e.a
        cap = self.capacity.get((a["participantId"], a["material"]))
        if cap is None:
            self.f.add("origin.capacity", f"capacity used by participant {a['participantId']} without a capacity set",
                       [e.ref()])
            return
        available = cap["amount"] - cap["used"] if cap["validFrom"] <= e.ts <= cap["validTo"] else 0
        problems = []
        if a["amount"] > available:
            problems.append(f"used {a['amount']} with only {available} available in the window")
        if cap["used"] + a["amount"] != a["used"]:
            problems.append(f"counter says {a['used']}, replay {cap['used'] + a['amount']}")
        cap["used"] += a["amount"]
        if problems:
            self.f.add("origin.capacity", "; ".join(problems), [cap["ref"], e.ref()])
        else:
            self.f.ok("origin.capacity")

    def on_registry_MaterialRegistered(self, e: Ev) -> None:
        a = e.a
        self.materials[a["material"]] = {"name": a["name"], "unit": a["unit"], "group": a["group"], "waste": a["waste"]}

    def on_registry_SchemeRegistered(self, e: Ev) -> None:
        a = e.a
        self.schemes[a["scheme"]] = {"name": a["name"], "periodLength": a["periodLength"], "anchor": a["anchor"],
                                     "lapseAfterPeriods": a["lapseAfterPeriods"]}

    def on_registry_CharacteristicRegistered(self, e: Ev) -> None:
        self.characteristics[e.a["characteristic"]] = {"name": e.a["name"], "scheme": e.a["scheme"]}

    def on_registry_ProcessRegistered(self, e: Ev) -> None:
        a = e.a
        self.processes[a["processId"]] = {"name": a["name"], "input": a["inputMaterial"], "output": a["outputMaterial"],
                                          "factor": a["factor"], "tolerance": a["tolerance"]}

    def on_registry_ContractsLinked(self, e: Ev) -> None:
        a = e.a
        self.linked = {"forwarder": a["forwarder"], "ledger": a["batchLedger"], "mass": a["massBalance"],
                       "certs": a["certificateRegistry"], "ref": e.ref()}
        bad = [k for k in ("forwarder", "ledger", "mass", "certs") if self.addr.get(k) and self.linked[k] != self.addr[k]]
        if bad:
            self.f.add("registry.consistency", f"ContractsLinked names other contracts than the registry's views: {bad}",
                       [e.ref()])
        else:
            self.f.ok("registry.consistency")

    # ================================================================== ledger events
    def on_ledger_TransferSingle(self, e: Ev) -> None:
        a = e.a
        self._token_move(a["from"], a["to"], a["id"], a["value"])
        self.batch_moves[a["id"]].append(e.ref())

    def on_ledger_TransferBatch(self, e: Ev) -> None:
        for i, v in zip(e.a["ids"], e.a["values"]):
            self._token_move(e.a["from"], e.a["to"], i, v)
            self.batch_moves[i].append(e.ref())

    def _token_move(self, frm: str, to: str, bid: int, value: int) -> None:
        moves = self._tx_moves
        if frm != ZERO:
            self.balances[(frm, bid)] -= value
            moves[(frm, bid)] = moves.get((frm, bid), 0) - value
        else:
            self.supply[bid] += value
        if to != ZERO:
            self.balances[(to, bid)] += value
            moves[(to, bid)] = moves.get((to, bid), 0) + value
        else:
            self.supply[bid] -= value

    def on_ledger_BatchCreated(self, e: Ev) -> None:
        a = e.a
        bid = a["batchId"]
        if bid in self.batches or bid != len(self.batches) + 1:
            self.f.add("physical.conservation", f"batch id {bid} created twice or out of sequence", [e.ref()])
        b = {
            "id": bid, "creator": a["creator"], "holder": a["holder"], "kind": a["kind"], "material": a["material"],
            "characteristic": a["characteristic"], "model": a["model"], "share": a["share"], "origin": a["origin"],
            "quantity": a["quantity"], "parents": [(p["batchId"], p["quantity"]) for p in a["parents"]],
            "createdAt": e.ts, "block": e.block, "ref": e.ref(), "children": [], "originInfo": None, "transform": None,
            "consumed": 0, "transfers": [], "release": None,
        }
        self.batches[bid] = b
        for pid_, _q in b["parents"]:
            parent = self.batches.get(pid_)
            if parent is None:
                self.f.add("physical.conservation", f"batch {bid} names unknown parent {pid_}", [e.ref()])
            else:
                parent["children"].append(bid)
        self._tx_ledger.append(e)

    def on_ledger_OriginRecorded(self, e: Ev) -> None:
        b = self.batches.get(e.a["batchId"])
        if b is None:
            self.f.add("physical.conservation", "origin recorded for an unknown batch", [e.ref()])
            return
        b["originInfo"] = dict(e.a, ref=e.ref())
        self._tx_ledger.append(e)

    def on_ledger_TransformRecorded(self, e: Ev) -> None:
        b = self.batches.get(e.a["outputBatchId"])
        if b is None:
            self.f.add("physical.conservation", "transform recorded for an unknown batch", [e.ref()])
            return
        b["transform"] = dict(e.a, ref=e.ref())
        self._tx_ledger.append(e)

    def on_ledger_BatchConsumed(self, e: Ev) -> None:
        a = e.a
        b = self.batches.get(a["batchId"])
        if b is not None:
            b["consumed"] += a["quantity"]
        self.consumed += a["quantity"]
        self.consumptions.append(dict(a, ref=e.ref(), consumeRef=a["ref"]))
        _, _, problem = self.actor(a["holder"], ROLE_SUPPLIER | ROLE_BRAND)
        if problem:
            self.f.add("actors.eligibility", f"consumption of batch {a['batchId']} by an ineligible holder: {problem}",
                       [e.ref()])
        else:
            self.f.ok("actors.eligibility")
        self._tx_ledger.append(e)

    # ------------------------------------------------------------------ custody
    def _check_sig(self, e: Ev, signer: str, struct_hash: bytes, signature: bytes, deadline: int, what: str) -> dict:
        self.signatures_checked += 1
        recovered, note = eip712.recover(eip712.digest(self.separator, struct_hash), signature)
        result = {"signer": signer, "recovered": recovered, "kind": what}
        if e.ts > deadline:
            self.f.add("custody.signatures", f"{what} signature used after its deadline {deadline} (block time {e.ts})",
                       [e.ref()])
        if recovered == signer:
            self.f.ok("custody.signatures")
            result["verified"] = "ecdsa"
        elif self.has_code is not None and self.has_code(signer):
            # SignatureChecker falls back to ERC-1271 for a signer with code: not verifiable from logs alone
            result["verified"] = "erc1271-unverifiable-offchain"
            self.unverifiable.append({"event": e.ref(), "signer": signer, "kind": what, "note": note})
            self.f.add("custody.signatures", f"{what} signed by contract {signer} (ERC-1271): unverifiable offchain",
                       [e.ref()], severity=WARN, signer=signer)
        else:
            result["verified"] = False
            self.f.add("custody.signatures", f"{what} signature does not recover to {signer} "
                       f"(recovered {recovered}{'; ' + note if note else ''})", [e.ref()], signer=signer,
                       recovered=recovered)
        return result

    def _check_parties(self, e: Ev, t: dict, stage: str) -> None:
        b = self.batches.get(t["batchId"])
        if b is None:
            self.f.add("custody.eligibility", f"transfer of unknown batch {t['batchId']}", [e.ref()])
            return
        model = b["model"]
        if t["certifiedQuantity"] and model != MASS_BALANCE:
            self.f.add("credits.bookings", f"declaration on batch {b['id']} of model {model}", [e.ref()])
        if model == MASS_BALANCE and t["certifiedQuantity"] == 0:
            model = UNCERTIFIED
        _, fsite, p1 = self.certified_actor(t["from"], ROLE_SUPPLIER, b["material"], b["characteristic"], model, e.ts)
        _, tsite, p2 = self.certified_actor(t["to"], ROLE_SUPPLIER | ROLE_BRAND, b["material"], b["characteristic"],
                                            model, e.ts)
        problems = [f"sender: {p1}"] if p1 else []
        if p2:
            problems.append(f"receiver: {p2}")
        if t["certifiedQuantity"] and (fsite == 0 or tsite == 0):
            problems.append("a declaration needs a site at both ends")
        if problems:
            self.f.add("custody.eligibility", f"transfer {t['id'][:10]}.. at {stage}: " + "; ".join(problems),
                       [t["proposed"], e.ref()], transferId=t["id"])
        else:
            self.f.ok("custody.eligibility")

    def on_ledger_CustodyProposed(self, e: Ev) -> None:
        a = e.a
        tid = a["transferId"]
        struct = eip712.transfer_struct_hash(a["batchId"], a["from"], a["to"], a["quantity"], a["certifiedQuantity"],
                                             a["nonce"], a["deadline"])
        if "0x" + struct.hex() != tid:
            self.f.add("custody.signatures", "transfer id is not the EIP-712 struct hash of the event's fields", [e.ref()])
        t = {
            "id": tid, "batchId": a["batchId"], "from": a["from"], "to": a["to"], "quantity": a["quantity"],
            "certifiedQuantity": a["certifiedQuantity"], "nonce": a["nonce"], "deadline": a["deadline"],
            "status": 1, "proposed": e.ref(), "proposedAt": e.ts, "settled": None, "signatures": [],
            "signature": a["signature"], "settleSignature": None, "settleDeadline": None,
        }
        if tid in self.transfers:
            self.f.add("custody.nonces", f"transfer {tid[:10]}.. proposed twice", [self.transfers[tid]["proposed"], e.ref()])
        self.transfers[tid] = t
        expected = self.nonces[a["from"]]
        if a["nonce"] != expected:
            self.f.add("custody.nonces", f"sender {a['from']} used nonce {a['nonce']}, expected {expected}", [e.ref()])
        else:
            self.f.ok("custody.nonces")
        self.nonces[a["from"]] = a["nonce"] + 1
        t["signatures"].append(self._check_sig(e, a["from"], struct, a["signature"], a["deadline"], "CustodyTransfer"))
        self._check_parties(e, t, "proposal")
        b = self.batches.get(a["batchId"])
        if b is not None:
            b["transfers"].append(tid)
        self._tx_ledger.append(e)

    def _settle(self, e: Ev, status: int, party_field: str) -> dict | None:
        a = e.a
        t = self.transfers.get(a["transferId"])
        if t is None:
            self.f.add("custody.settlement", f"settlement of an unknown transfer {a['transferId'][:10]}..", [e.ref()])
            return None
        if t["status"] != 1:
            self.f.add("custody.settlement", f"transfer {t['id'][:10]}.. settled twice", [t["settled"], e.ref()])
            return None
        if t["batchId"] != a["batchId"] or t[party_field] != a[party_field]:
            self.f.add("custody.settlement", "settlement event disagrees with the proposal", [t["proposed"], e.ref()])
        else:
            self.f.ok("custody.settlement")
        t["status"] = status
        t["settled"] = e.ref()
        t["settledAt"] = e.ts
        t["sameTx"] = t["proposed"]["tx"] == e.tx
        t["settleSignature"], t["settleDeadline"] = a["signature"], a["deadline"]
        self._tx_ledger.append(e)
        return t

    def on_ledger_CustodyAccepted(self, e: Ev) -> None:
        t = self._settle(e, 2, "to")
        if t is None:
            return
        tid = bytes.fromhex(t["id"][2:])
        t["signatures"].append(self._check_sig(
            e, t["to"], eip712.accept_struct_hash(tid, t["batchId"], t["quantity"], e.a["deadline"]), e.a["signature"],
            e.a["deadline"], "AcceptTransfer"))
        self._check_parties(e, t, "acceptance")

    def on_ledger_CustodyRejected(self, e: Ev) -> None:
        t = self._settle(e, 3, "to")
        if t is None:
            return
        tid = bytes.fromhex(t["id"][2:])
        t["signatures"].append(self._check_sig(e, t["to"], eip712.reject_struct_hash(tid, e.a["deadline"]),
                                               e.a["signature"], e.a["deadline"], "RejectTransfer"))

    def on_ledger_CustodyCancelled(self, e: Ev) -> None:
        t = self._settle(e, 4, "from")
        if t is None:
            return
        tid = bytes.fromhex(t["id"][2:])
        t["signatures"].append(self._check_sig(e, t["from"], eip712.cancel_struct_hash(tid, e.a["deadline"]),
                                               e.a["signature"], e.a["deadline"], "CancelTransfer"))

    # ================================================================== mass balance events
    def on_mass_AccountOpened(self, e: Ev) -> None:
        a = e.a
        key = a["account"]
        if account_key(a["participantId"], a["siteId"], a["material"], a["characteristic"]) != key:
            self.f.add("credits.bookings", "account key is not keccak(participant, site, material, characteristic)",
                       [e.ref()])
        ch = self.characteristics.get(a["characteristic"])
        sch = self.schemes.get(a["scheme"])
        if ch is None or ch["scheme"] != a["scheme"] or sch is None or (
                sch["periodLength"], sch["anchor"], sch["lapseAfterPeriods"]) != (
                a["periodLength"], a["anchor"], a["lapseAfterPeriods"]):
            self.f.add("credits.periods", "account opened with other period rules than its scheme's", [e.ref()])
        if key in self.accounts:
            self.f.add("credits.bookings", "account opened twice", [self.accounts[key].opened, e.ref()])
            return
        acct = Account(key, a["participantId"], a["siteId"], a["material"], a["characteristic"], a["scheme"],
                       a["periodLength"], a["anchor"], a["lapseAfterPeriods"], 0, 0, e.ref())
        p = acct.period_at(e.ts)
        acct.period = acct.opened_period = p
        acct.statements[p] = _new_statement()
        acct.history.append((e.ts, 0, e.ref()))
        self.accounts[key] = acct

    def _roll(self, acct: Account, ts: int) -> None:
        """MassBalance._roll, replicated: closes every period that ended, lapsing old vintages."""
        q = acct.period_at(ts)
        x = acct.period
        if q == x:
            return
        balance = acct.balance
        n = acct.lapse
        expected = self._expected_roll[acct.key]
        while True:
            st = acct.statements.setdefault(x, _new_statement())
            if n and x + 1 >= n:
                lapsing = acct.vintages.pop(x + 1 - n, 0)
                if lapsing:
                    balance -= lapsing
                    st["lapsed"] += lapsing
                    expected.append(("lapse", x, lapsing, balance))
            expected.append(("close", x, dict(st), balance))
            if x + 1 == q or n == 0 or balance == 0:
                break
            x += 1
            acct.statements[x] = _new_statement(balance)
        acct.statements[q] = _new_statement(balance)
        acct.period = q
        acct.balance = balance

    def on_mass_CreditsBooked(self, e: Ev) -> None:
        a = e.a
        acct = self.accounts.get(a["account"])
        if acct is None:
            self.f.add("credits.bookings", "booking on an account never opened", [e.ref()])
            return
        self._roll(acct, e.ts)
        entry, amount = a["entry"], a["amount"]
        expected = self._expected_roll[acct.key]
        if entry == LAPSED:
            if expected and expected[0][0] == "lapse" and expected[0][1] == a["period"] and expected[0][2] == amount \
                    and expected[0][3] == a["balance"]:
                expected.pop(0)
                self.f.ok("credits.periods")
            else:
                self.f.add("credits.periods", f"lapse of {amount} in period {a['period']} does not match the replay "
                           f"(expected {expected[0] if expected else 'none'})", [e.ref()])
            acct.history.append((e.ts, acct.balance, e.ref()))
            acct.bookings.append(self._booking(e, acct))
            return
        if expected:
            self.f.add("credits.periods", f"period closing(s) {[x[1] for x in expected]} due but not emitted before "
                       "the next booking", [e.ref()])
            expected.clear()
        if a["period"] != acct.period:
            self.f.add("credits.periods", f"booking in period {a['period']}, replay says {acct.period}", [e.ref()])
        st = acct.statements.setdefault(acct.period, _new_statement())
        lapse_now = 0
        if entry in (IN, CONV_IN):
            acct.balance += amount
            st["inflow" if entry == IN else "convertedIn"] += amount
            if acct.lapse:
                vintage = self._vintage_in(acct, e)
                if vintage + acct.lapse > acct.period:
                    acct.vintages[vintage] = acct.vintages.get(vintage, 0) + amount
                else:  # credits whose vintage already expired (a late return) lapse at once
                    lapse_now = amount
        else:
            if amount > acct.balance:
                self.f.add("credits.non_negative", f"account {acct.key[:10]}.. (participant {acct.participant}, material "
                           f"{acct.material}) would go to {acct.balance - amount}", [e.ref()], account=acct.key)
            else:
                self.f.ok("credits.non_negative")
            acct.balance -= amount
            st["outflow" if entry == OUT else "convertedOut"] += amount
            if acct.lapse:
                self._vintage_out(acct, e)
        if acct.balance != a["balance"]:
            self.f.add("credits.bookings", f"booking reports balance {a['balance']}, replay {acct.balance}", [e.ref()],
                       account=acct.key)
        else:
            self.f.ok("credits.bookings")
        acct.history.append((e.ts, acct.balance, e.ref()))
        acct.bookings.append(self._booking(e, acct))
        self._tx_bookings.append(e)
        if lapse_now:
            acct.balance -= lapse_now
            st["lapsed"] += lapse_now
            expected.append(("lapse", acct.period, lapse_now, acct.balance))

    # ------------------------------------------------------------------ vintages (schemes whose credits lapse)
    def _take(self, acct: Account, amount: int, e: Ev) -> tuple[int, list[int]]:
        """MassBalance._takeVintages: spend the oldest living vintages first."""
        p, n = acct.period, acct.lapse
        first = p + 1 - n if p + 1 >= n else 0
        taken = []
        v = first
        while amount and v <= p:
            left = acct.vintages.get(v, 0)
            used = min(left, amount)
            if used:
                acct.vintages[v] = left - used
            taken.append(used)
            amount -= used
            v += 1
        if amount:
            self.f.add("credits.periods", f"account {acct.key[:10]}..: {amount} credits spent that no living vintage "
                       "holds", [e.ref()], account=acct.key)
        return first, taken

    def _vintage_out(self, acct: Account, e: Ev) -> None:
        a = e.a
        first, taken = self._take(acct, a["amount"], e)
        if a["entry"] == OUT:
            oldest = first + next((i for i, x in enumerate(taken) if x), len(taken))
            self._debit_vintage[(a["ref"], acct.participant)] = oldest
        else:  # a conversion keeps the credits' age: parts per vintage, rounding to the oldest
            converted = self._tx_converted_in.get((a["ref"], a["reason"]), 0)
            if converted == 0:
                return
            parts = [x * converted // a["amount"] for x in taken]
            left = converted - sum(parts)
            oldest = next((i for i, x in enumerate(taken) if x), None)
            if oldest is not None:
                parts[oldest] += left
            self._aged_parts[(a["ref"], a["reason"])] = [(first + i, x) for i, x in enumerate(parts) if x]

    def _vintage_in(self, acct: Account, e: Ev) -> int:
        a = e.a
        if a["entry"] == CONV_IN:
            parts = self._aged_parts.get((a["ref"], a["reason"]))
            if parts is None:
                return acct.period
            if not parts or parts[0][1] != a["amount"]:
                self.f.add("credits.periods", f"converted credits of {a['amount']} do not match the aged parts "
                           f"{parts} of what was converted", [e.ref()], account=acct.key)
                return acct.period
            return parts.pop(0)[0]
        if a["reason"] == R_RETURNED:
            return self._debit_vintage.get((a["ref"], acct.participant), acct.period)
        return acct.period

    def _booking(self, e: Ev, acct: Account) -> dict:
        a = e.a
        return {"period": a["period"], "entry": ENTRIES[a["entry"]], "reason": REASONS[a["reason"]], "amount": a["amount"],
                "balance": a["balance"], "ref": a["ref"], "ts": e.ts, "tx": e.tx, "block": e.block, "logIndex": e.li}

    def on_mass_PeriodClosed(self, e: Ev) -> None:
        a = e.a
        acct = self.accounts.get(a["account"])
        if acct is None:
            self.f.add("credits.periods", "period closed on an account never opened", [e.ref()])
            return
        self._roll(acct, e.ts)
        expected = self._expected_roll[acct.key]
        got = {k: a[k] for k in ("opening", "inflow", "convertedIn", "outflow", "convertedOut", "lapsed")}
        acct.closed[a["period"]] = dict(got, closing=a["closing"], ref=e.ref())
        if expected and expected[0][0] == "close" and expected[0][1] == a["period"]:
            _, period, st, closing = expected.pop(0)
            diffs = {k: (a[k], st[k]) for k in st if st[k] != a[k]}
            if closing != a["closing"]:
                diffs["closing"] = (a["closing"], closing)
            if closing_of(got) != a["closing"]:
                diffs["arithmetic"] = (a["closing"], closing_of(got))
            if diffs:
                self.f.add("credits.periods", f"statement of period {period} differs from the replay (event, replay): "
                           f"{diffs}", [e.ref()], account=acct.key)
            else:
                self.f.ok("credits.periods")
        else:
            self.f.add("credits.periods", f"period {a['period']} closed when the replay expected "
                       f"{expected[0][:2] if expected else 'nothing'}", [e.ref()], account=acct.key)

    # ================================================================== certificate events
    def on_certs_TransferSingle(self, e: Ev) -> None:
        a = e.a
        self._cert_move(a["from"], a["to"], a["id"], a["value"], e)

    def on_certs_TransferBatch(self, e: Ev) -> None:
        for i, v in zip(e.a["ids"], e.a["values"]):
            self._cert_move(e.a["from"], e.a["to"], i, v, e)

    def _cert_move(self, frm: str, to: str, cid: int, value: int, e: Ev) -> None:
        iss = self.issuances.get(cid)
        if iss is not None and iss["revoked"]:
            self.f.add("certificates.single_claim", f"units of revoked issuance {cid} moved", [iss["revokedRef"], e.ref()])
        problems = []
        for who in (frm, to):
            if who != ZERO:
                _, _, problem = self.actor(who, ALL_ROLES)
                if problem:
                    problems.append(problem)
        if problems:
            self.f.add("certificates.single_claim", f"certificate {cid} moved with an ineligible party: {problems}",
                       [e.ref()])
        else:
            self.f.ok("certificates.single_claim")
        if frm != ZERO:
            self.holdings[(frm, cid)] -= value
            if self.holdings[(frm, cid)] < 0:
                self.f.add("certificates.single_claim", f"holding of {frm} in certificate {cid} went negative", [e.ref()])
        if to != ZERO:
            self.holdings[(to, cid)] += value
        self._tx_cert_moves.append((frm, to, cid, value, e))
        self.cert_moves[cid].append((frm, to, value, e.ref()))
        if frm != ZERO and to != ZERO:
            self.cert_transfers.append({"certificateId": cid, "from": frm, "to": to, "amount": value, "ref": e.ref()})

    def on_certs_AttributesPledged(self, e: Ev) -> None:
        a = e.a
        pl = dict(a, used=None, ref=e.ref(), ts=e.ts)
        if a["pledgeId"] in self.pledges or a["pledgeId"] != len(self.pledges) + 1:
            self.f.add("certificates.double_attribute", f"pledge id {a['pledgeId']} reused or out of sequence", [e.ref()])
        self.pledges[a["pledgeId"]] = pl
        if a["source"] == 1:  # credits
            _, _, problem = self.certified_actor(a["holder"], ROLE_SUPPLIER, a["material"], a["characteristic"],
                                                 MASS_BALANCE, e.ts)
        else:
            b = self.batches.get(a["batchId"])
            problem = None if b else f"unknown batch {a['batchId']}"
            if b:
                _, _, problem = self.certified_actor(a["holder"], ROLE_SUPPLIER, b["material"], b["characteristic"],
                                                     b["model"], e.ts)
        if problem:
            self.f.add("actors.eligibility", f"pledge {a['pledgeId']} by an ineligible holder: {problem}", [e.ref()])
        else:
            self.f.ok("actors.eligibility")
        self._tx_pledges.append(e)

    def on_certs_CertificatesIssued(self, e: Ev) -> None:
        a = e.a
        cid = a["certificateId"]
        if cid in self.issuances or cid != len(self.issuances) + 1:
            self.f.add("certificates.evidence", f"certificate id {cid} issued twice or out of sequence", [e.ref()])
        first = self.evidence.get(a["evidenceHash"])
        if first is not None:
            self.f.add("certificates.evidence", f"evidence {a['evidenceHash'][:10]}.. backs certificate {cid} and, "
                       f"before it, certificate {first}", [self.issuances[first]["ref"], e.ref()],
                       evidence=a["evidenceHash"])
        else:
            self.f.ok("certificates.evidence")
            self.evidence[a["evidenceHash"]] = cid
        issuer = self.participants.get(a["issuer"])
        if issuer is None or issuer["status"] != ACTIVE or not issuer["roles"] & 8:
            self.f.add("actors.eligibility", f"certificate {cid} issued by participant {a['issuer']} without an active "
                       "issuer role", [e.ref()])
        self.issuances[cid] = dict(a, ref=e.ref(), ts=e.ts, revoked=False, revokedRef=None, revokedOutstanding=0,
                                   retired=0, retirementCount=0, retirements=[])
        # no attribute claimed twice: a pledge backs exactly this issuance, once
        if a["pledgeId"]:
            pl = self.pledges.get(a["pledgeId"])
            problems = []
            if pl is None:
                problems.append("pledge does not exist")
            else:
                if pl["used"] is not None:
                    problems.append(f"pledge already used by certificate {pl['used']}")
                for k_is, k_pl in (("producer", "producer"), ("material", "material"), ("characteristic", "characteristic")):
                    if a[k_is] != pl[k_pl]:
                        problems.append(f"{k_is} {a[k_is]} != pledge's {pl[k_pl]}")
                if a["amount"] * a["unitSize"] != pl["quantity"]:
                    problems.append(f"{a['amount']} x {a['unitSize']} != pledged {pl['quantity']}")
                if pl["used"] is None:
                    pl["used"] = cid
            if problems:
                self.f.add("certificates.double_attribute", f"certificate {cid}: " + "; ".join(problems),
                           [pl["ref"] if pl else None, e.ref()])
            else:
                self.f.ok("certificates.double_attribute")
        else:
            # verified production: its evidence must not be the record of a certified physical batch
            bid = self.origin_evidence.get(a["evidenceHash"])
            if bid is not None and self.batches[bid]["model"] != UNCERTIFIED:
                self.f.add("certificates.double_attribute", f"certificate {cid} is backed by the evidence of certified "
                           f"origin batch {bid}, whose attributes are still claimed physically",
                           [self.batches[bid]["ref"], e.ref()])
            else:
                self.f.ok("certificates.double_attribute")

    def on_certs_IssuanceRevoked(self, e: Ev) -> None:
        a = e.a
        iss = self.issuances.get(a["certificateId"])
        if iss is None:
            self.f.add("certificates.supply", "revocation of an unknown issuance", [e.ref()])
            return
        held = sum(v for (h, c), v in self.holdings.items() if c == a["certificateId"])
        problems = []
        if iss["revoked"]:
            problems.append("revoked twice")
        if a["issuer"] != iss["issuer"]:
            problems.append(f"revoked by {a['issuer']}, issued by {iss['issuer']}")
        if a["outstanding"] != iss["amount"] - iss["retired"] or a["outstanding"] != held:
            problems.append(f"outstanding {a['outstanding']} but issued - retired = {iss['amount'] - iss['retired']}, "
                            f"held {held}")
        if problems:
            self.f.add("certificates.supply", f"revocation of certificate {a['certificateId']}: " + "; ".join(problems),
                       [iss["ref"], e.ref()])
        else:
            self.f.ok("certificates.supply")
        iss["revoked"] = True
        iss["revokedRef"] = e.ref()
        iss["revokedAt"] = e.ts
        iss["revokedOutstanding"] = a["outstanding"]
        iss["revokedReason"] = a["reasonHash"]

    def on_certs_CertificatesRetired(self, e: Ev) -> None:
        a = e.a
        cid, rid = a["certificateId"], a["retirementId"]
        iss = self.issuances.get(cid)
        if iss is None:
            self.f.add("certificates.single_claim", f"retirement {rid} of an unknown certificate", [e.ref()])
            return
        n = iss["retirementCount"] + 1
        problems = []
        if rid != (cid << 32) | n or rid in self.retirements:
            problems.append(f"retirement id {rid} is not certificate<<32|{n} or was used before")
        if iss["revoked"]:
            problems.append("retired after the issuance was revoked")
        if iss["retired"] + a["amount"] > iss["amount"]:
            problems.append("more retired than issued")
        wallet = self.wallets.get(a["holder"], (0, 0))
        if wallet[0] != a["retiredBy"]:
            problems.append(f"retiredBy {a['retiredBy']} is not the holder's participant {wallet[0]}")
        if problems:
            self.f.add("certificates.single_claim", f"retirement {rid}: " + "; ".join(problems), [iss["ref"], e.ref()])
        else:
            self.f.ok("certificates.single_claim")
        iss["retirementCount"] = n
        iss["retired"] += a["amount"]
        r = dict(a, ref=e.ref(), ts=e.ts)
        self.retirements[rid] = r
        iss["retirements"].append(rid)

    # ================================================================== per-transaction reconciliation
    def _reconcile_tx(self, evs: list[Ev]) -> None:
        if self._tx_ledger or self._tx_moves:
            self._reconcile_physical()
        if self._tx_bookings or self._tx_ledger or self._tx_pledges:
            self._reconcile_credits()
        if self._tx_cert_moves:
            self._reconcile_certificates()
        for e in self._tx_pledges:
            if e.a["source"] == 2:
                self._check_release(e)

    def _reconcile_physical(self) -> None:
        expected: Counter = Counter()
        refs = []
        for e in self._tx_ledger:
            a = e.a
            refs.append(e.ref())
            if e.name == "BatchCreated":
                b = self.batches[a["batchId"]]
                expected[(a["holder"], a["batchId"])] += a["quantity"]
                for pid_, q in b["parents"]:
                    expected[(a["holder"], pid_)] -= q
                self._check_batch(b, e)
            elif e.name == "BatchConsumed":
                expected[(a["holder"], a["batchId"])] -= a["quantity"]
            elif e.name == "CustodyProposed":
                expected[(a["from"], a["batchId"])] -= a["quantity"]
                expected[(self.ledger_addr, a["batchId"])] += a["quantity"]
            elif e.name in ("CustodyAccepted", "CustodyRejected", "CustodyCancelled"):
                t = self.transfers.get(a["transferId"])
                if t is None:
                    continue
                back = t["to"] if e.name == "CustodyAccepted" else t["from"]
                expected[(self.ledger_addr, t["batchId"])] -= t["quantity"]
                expected[(back, t["batchId"])] += t["quantity"]
        actual = self._tx_moves
        keys = {k for k, v in expected.items() if v} | {k for k, v in actual.items() if v}
        diffs = {f"{k[0]}:{k[1]}": {"tokens": actual.get(k, 0), "events": expected.get(k, 0)}
                 for k in keys if actual.get(k, 0) != expected.get(k, 0)}
        if diffs:
            self.f.add("physical.conservation", "token flows of the transaction differ from what its ledger events "
                       f"explain: {diffs}", refs, diffs=diffs)
        else:
            self.f.ok("physical.conservation")

    def _check_batch(self, b: dict, e: Ev) -> None:
        kind = b["kind"]
        ts = e.ts
        if kind == ORIGIN:
            self._check_origin(b, e)
            return
        parents = [(self.batches.get(p), q) for p, q in b["parents"]]
        if not parents or any(p is None for p, _ in parents):
            self.f.add("physical.conservation", f"batch {b['id']} ({KINDS[kind]}) without known parents", [e.ref()])
            return
        total = sum(q for _, q in parents)
        problems: list[str] = []
        if kind == SPLIT or kind == RELEASED:
            p = parents[0][0]
            if len(parents) != 1 or b["quantity"] != total:
                problems.append(f"{KINDS[kind]} child holds {b['quantity']} of parent quantity {total}")
            if kind == SPLIT:
                same = all(b[k] == p[k] for k in ("material", "characteristic", "model", "share", "origin"))
                if not same:
                    self.f.add("physical.models", f"split child {b['id']} changed the claim of parent {p['id']}",
                               [p["ref"], e.ref()])
                else:
                    self.f.ok("physical.models")
                _, _, problem = self.certified_actor(b["holder"], ROLE_SUPPLIER, p["material"], p["characteristic"],
                                                     p["model"], ts)
                self._eligible(problem, f"split of batch {p['id']}", e)
            else:
                if (b["model"], b["characteristic"], b["share"], b["origin"], b["material"]) != (
                        UNCERTIFIED, 0, 0, 0, p["material"]) or p["model"] < CONTROLLED_BLENDING:
                    self.f.add("physical.models", f"attribute release {b['id']} of batch {p['id']} kept a claim "
                               "or released an uncertified batch", [p["ref"], e.ref()])
                else:
                    self.f.ok("physical.models")
        else:
            if kind == MERGE and b["quantity"] != total:
                problems.append(f"merge output {b['quantity']} != inputs {total}")
            self._check_mix(b, parents, e)
        if problems:
            self.f.add("physical.conservation", f"batch {b['id']}: " + "; ".join(problems), [e.ref()])
        else:
            self.f.ok("physical.conservation")

    def _eligible(self, problem: str | None, what: str, e: Ev) -> None:
        if problem:
            self.f.add("actors.eligibility", f"{what} by an ineligible holder: {problem}", [e.ref()])
        else:
            self.f.ok("actors.eligibility")

    def _mix(self, parents: list[tuple[dict, int]], model: int) -> tuple[dict, list[str]]:
        problems = []
        mix = {"material": parents[0][0]["material"], "origin": parents[0][0]["origin"], "characteristic": 0,
               "certified": 0, "total": 0, "mixed": False}
        for p, q in parents:
            if p["material"] != mix["material"]:
                problems.append(f"input {p['id']} of material {p['material']} mixed with {mix['material']}")
            if p["origin"] != mix["origin"]:
                mix["mixed"] = True
            if model != UNCERTIFIED and p["model"] != UNCERTIFIED:
                if mix["characteristic"] == 0:
                    mix["characteristic"] = p["characteristic"]
                elif p["characteristic"] != mix["characteristic"]:
                    problems.append(f"input {p['id']} has characteristic {p['characteristic']}, "
                                    f"not {mix['characteristic']}")
            if model >= SEGREGATED and p["model"] < model:
                problems.append(f"input {p['id']} of model {p['model']} upgraded to {model}")
            if model == IDENTITY_PRESERVED and p["origin"] != mix["origin"]:
                problems.append(f"identity preserved output mixes origins {mix['origin']} and {p['origin']}")
            if p["model"] >= CONTROLLED_BLENDING:
                mix["certified"] += q * p["share"] // PPM
            mix["total"] += q
        if model == CONTROLLED_BLENDING and mix["certified"] == 0:
            problems.append("controlled blending without certified input")
        if model == MASS_BALANCE and mix["characteristic"] == 0:
            problems.append("mass balance output without certified input")
        return mix, problems

    def _check_mix(self, b: dict, parents: list[tuple[dict, int]], e: Ev) -> None:
        model = b["model"]
        mix, problems = self._mix(parents, model)
        b["mix"] = {"certified": mix["certified"], "total": mix["total"]}
        share = PPM if model >= SEGREGATED else (mix["certified"] * PPM // mix["total"] if model == CONTROLLED_BLENDING
                                                 else 0)
        origin = mix["origin"] if model >= SEGREGATED and not mix["mixed"] else 0
        characteristic = 0 if model == UNCERTIFIED else mix["characteristic"]
        material = mix["material"]
        if b["kind"] == TRANSFORM:
            tr = b["transform"]
            if tr is None:
                self.f.add("physical.conservation", f"transform output {b['id']} without TransformRecorded", [e.ref()])
                return
            proc = self.processes.get(tr["processId"])
            if proc is None:
                self.f.add("physical.yield", f"transform {b['id']} through unknown process {tr['processId']}", [e.ref()])
                return
            if mix["material"] != proc["input"]:
                problems.append(f"input material {mix['material']} is not process input {proc['input']}")
            material = proc["output"]
            conservation = []
            if tr["inputQuantity"] != mix["total"]:
                conservation.append(f"recorded input {tr['inputQuantity']} != parents {mix['total']}")
            if tr["outputQuantity"] != b["quantity"]:
                conservation.append(f"recorded output {tr['outputQuantity']} != batch {b['quantity']}")
            if tr["loss"] != tr["inputQuantity"] - tr["outputQuantity"]:
                conservation.append(f"loss {tr['loss']} != input - output")
            if conservation:
                self.f.add("physical.conservation", f"transform {b['id']}: " + "; ".join(conservation),
                           [tr["ref"], e.ref()])
            else:
                self.f.ok("physical.conservation")
            self.lost += tr["loss"]
            maximum = mix["total"] * proc["factor"] // PPM
            minimum = mix["total"] * (proc["factor"] - proc["tolerance"]) // PPM
            if not minimum <= b["quantity"] <= maximum or b["quantity"] == 0:
                self.f.add("physical.yield", f"transform {b['id']} ({proc['name']}): output {b['quantity']} outside "
                           f"[{minimum}, {maximum}] for input {mix['total']}", [tr["ref"], e.ref()],
                           minimum=minimum, maximum=maximum)
            else:
                self.f.ok("physical.yield")
            if tr["creditsConverted"] > mix["total"] or (tr["creditsConverted"] and model != MASS_BALANCE) or \
                    tr["creditsProduced"] != tr["creditsConverted"] * proc["factor"] // PPM:
                self.f.add("credits.bookings", f"transform {b['id']} converted {tr['creditsConverted']} credits into "
                           f"{tr['creditsProduced']} (factor {proc['factor']}, input {mix['total']})", [tr["ref"]])
            _, _, problem = self.certified_actor(b["holder"], ROLE_SUPPLIER, proc["output"], mix["characteristic"],
                                                 model, e.ts)
        else:
            _, _, problem = self.certified_actor(b["holder"], ROLE_SUPPLIER, mix["material"], mix["characteristic"],
                                                 model, e.ts)
        self._eligible(problem, f"{KINDS[b['kind']].lower()} into batch {b['id']}", e)
        got = (b["material"], b["characteristic"], b["share"], b["origin"])
        want = (material, characteristic, share, origin)
        if got != want:
            problems.append(f"(material, characteristic, share, origin) {got}, inputs give {want}")
        if problems:
            self.f.add("physical.models", f"{KINDS[b['kind']].lower()} {b['id']}: " + "; ".join(problems),
                       [self.batches[p["id"]]["ref"] for p, _ in parents] + [e.ref()])
        else:
            self.f.ok("physical.models")

    def _check_origin(self, b: dict, e: Ev) -> None:
        self.created += b["quantity"]
        info = b["originInfo"]
        problems = []
        if info is None:
            self.f.add("physical.conservation", f"origin batch {b['id']} without OriginRecorded", [e.ref()])
            return
        pid, site, problem = self.actor(b["holder"], ROLE_SUPPLIER)
        if problem:
            problems.append(problem)
        if pid != b["creator"] or site != info["siteId"] or site == 0:
            problems.append(f"creator {b['creator']}/site {info['siteId']} are not the wallet's {pid}/{site}")
        model, share = b["model"], b["share"]
        if (model == UNCERTIFIED) != (b["characteristic"] == 0):
            problems.append("characteristic inconsistent with model")
        share_ok = share == PPM if model >= SEGREGATED else (0 < share <= PPM if model == CONTROLLED_BLENDING
                                                             else share == 0)
        if not share_ok or b["origin"] != (b["id"] if model >= CONTROLLED_BLENDING else 0):
            self.f.add("physical.models", f"origin {b['id']}: share {share} / origin {b['origin']} invalid for model "
                       f"{model}", [e.ref()])
        else:
            self.f.ok("physical.models")
        if info["productionDate"] > e.ts or info["evidenceHash"] == "0x" + "00" * 32:
            problems.append("production date in the future or no evidence")
        first = self.origin_evidence.get(info["evidenceHash"])
        if first is not None:
            self.f.add("actors.eligibility", f"origin batch {b['id']} reuses the evidence of origin batch {first}",
                       [self.batches[first]["ref"], e.ref()], severity=WARN)
        else:
            self.origin_evidence[info["evidenceHash"]] = b["id"]
        if model != UNCERTIFIED:
            valid, cid = self.certification_for(pid, b["material"], b["characteristic"], model, e.ts)
            if not valid:
                problems.append(f"creator not certified for material {b['material']}, characteristic "
                                f"{b['characteristic']}, model {model}")
            elif cid != info["certificationId"]:
                problems.append(f"recorded certification {info['certificationId']}, replay finds {cid}")
            certified = b["quantity"] if model == MASS_BALANCE else b["quantity"] * share // PPM
            used = [c for c in self._tx_capacity if c.a["participantId"] == pid and c.a["material"] == b["material"]
                    and c.a["amount"] == certified]
            if not used:
                self.f.add("origin.capacity", f"certified origin {b['id']} of {certified} not counted against capacity",
                           [e.ref()])
            else:
                self._tx_capacity.remove(used[0])
        elif info["certificationId"] != 0:
            problems.append("uncertified origin names a certification")
        if problems:
            self.f.add("actors.eligibility", f"origin {b['id']}: " + "; ".join(problems), [e.ref()])
        else:
            self.f.ok("actors.eligibility")

    def _reconcile_credits(self) -> None:
        """Bookings of the transaction == the bookings its causes require (declarations, origins, downgrades,
        conversions, pledges); moves within a group are checked on their own."""
        expected: Counter = Counter()
        causes: list[dict] = []
        for e in self._tx_ledger:
            a = e.a
            causes.append(e.ref())
            if e.name == "BatchCreated":
                b = self.batches[a["batchId"]]
                if b["model"] != MASS_BALANCE:
                    continue
                if b["kind"] == ORIGIN and b["originInfo"]:
                    key = account_key(b["creator"], b["originInfo"]["siteId"], b["material"], b["characteristic"])
                    expected[(key, IN, R_ORIGIN, b["quantity"], int_ref(b["id"]))] += 1
                elif b["kind"] in (MERGE, TRANSFORM) and b.get("mix", {}).get("certified"):
                    pid, site = self.wallets.get(a["holder"], (0, 0))
                    mat = self.batches[b["parents"][0][0]]["material"]
                    key = account_key(pid, site, mat, b["characteristic"])
                    expected[(key, IN, R_DOWNGRADE, b["mix"]["certified"], int_ref(b["id"]))] += 1
            elif e.name == "TransformRecorded" and a["creditsConverted"]:
                b = self.batches[a["outputBatchId"]]
                proc = self.processes.get(a["processId"], {})
                pid, site = self.wallets.get(b["holder"], (0, 0))
                ref = int_ref(b["id"])
                expected[(account_key(pid, site, proc.get("input", 0), b["characteristic"]), CONV_OUT, R_CONVERSION,
                          a["creditsConverted"], ref)] += 1
                if a["creditsProduced"]:
                    expected[(account_key(pid, site, proc.get("output", 0), b["characteristic"]), CONV_IN, R_CONVERSION,
                              a["creditsProduced"], ref)] += 1
            elif e.name in ("CustodyProposed", "CustodyAccepted", "CustodyRejected", "CustodyCancelled"):
                t = self.transfers.get(a["transferId"])
                if t is None or not t["certifiedQuantity"]:
                    continue
                b = self.batches.get(t["batchId"])
                if b is None:
                    continue
                if e.name == "CustodyProposed":
                    who, entry, reason = t["from"], OUT, R_DELIVERY
                elif e.name == "CustodyAccepted":
                    who, entry, reason = t["to"], IN, R_DELIVERY
                else:
                    who, entry, reason = t["from"], IN, R_RETURNED
                pid, site = self.wallets.get(who, (0, 0))
                key = account_key(pid, site, b["material"], b["characteristic"])
                expected[(key, entry, reason, t["certifiedQuantity"], t["id"])] += 1
        for e in self._tx_pledges:
            a = e.a
            causes.append(e.ref())
            if a["source"] == 1:
                pid, site = self.wallets.get(a["holder"], (0, 0))
                key = account_key(a["producer"], site, a["material"], a["characteristic"])
                expected[(key, OUT, R_PLEDGED, a["quantity"], int_ref(a["pledgeId"]))] += 1
        actual: Counter = Counter()
        moved = []
        for e in self._tx_bookings:
            a = e.a
            if a["reason"] == R_MOVED:
                moved.append(e)
                continue
            actual[(a["account"], a["entry"], a["reason"], a["amount"], a["ref"])] += 1
        if moved:
            self._check_moves(moved)
        missing = expected - actual
        extra = actual - expected
        refs = causes + [e.ref() for e in self._tx_bookings]
        if missing or extra:
            fmt = lambda c: [{"account": k[0], "entry": ENTRIES[k[1]], "reason": REASONS[k[2]], "amount": k[3],
                              "ref": k[4]} for k in c.elements()]
            self.f.add("credits.bookings", "credit bookings of the transaction differ from their causes: "
                       f"{len(list(missing.elements()))} required but not booked, {len(list(extra.elements()))} booked "
                       "without cause", refs, missing=fmt(missing), unexplained=fmt(extra))
        elif expected:
            self.f.ok("credits.bookings")

    def _check_moves(self, moved: list[Ev]) -> None:
        outs = [e for e in moved if e.a["entry"] == CONV_OUT]
        ins = [e for e in moved if e.a["entry"] == CONV_IN]
        if len(outs) != len(ins):
            self.f.add("credits.bookings", "credit move without its counterpart", [e.ref() for e in moved])
            return
        for o, i in zip(outs, ins):
            ao, ai = self.accounts.get(o.a["account"]), self.accounts.get(i.a["account"])
            problems = []
            if ao is None or ai is None:
                problems.append("unknown account")
            else:
                mo, mi = self.materials.get(ao.material, {}), self.materials.get(ai.material, {})
                if (ao.participant, ao.site, ao.characteristic) != (ai.participant, ai.site, ai.characteristic):
                    problems.append("moved between participants, sites or characteristics")
                if o.a["amount"] != i.a["amount"]:
                    problems.append("amounts differ")
                if not mo.get("group") or mo.get("group") != mi.get("group") or ao.material == ai.material:
                    problems.append(f"materials {ao.material} -> {ai.material} are not one conversion-factor group")
                if mo.get("waste") and not mi.get("waste"):
                    problems.append("credits moved from waste to regular material")
                for m in (ao.material, ai.material):
                    if not self.certification_for(ao.participant, m, ao.characteristic, MASS_BALANCE, o.ts)[0]:
                        problems.append(f"participant not certified mass balance for material {m}")
            if problems:
                self.f.add("credits.bookings", "credit move: " + "; ".join(problems), [o.ref(), i.ref()])
            else:
                self.f.ok("credits.bookings")

    def _reconcile_certificates(self) -> None:
        mints = Counter()
        burns = Counter()
        for frm, to, cid, v, e in self._tx_cert_moves:
            if frm == ZERO:
                mints[(to, cid)] += v
            if to == ZERO:
                burns[(frm, cid)] += v
        want_mints = Counter()
        want_burns = Counter()
        refs = [m[4].ref() for m in self._tx_cert_moves]
        for cid, iss in ((c, self.issuances[c]) for (_, c) in list(mints) if c in self.issuances):
            if iss["ref"]["tx"] == self._tx_cert_moves[0][4].tx:
                want_mints[(iss["to"], cid)] = iss["amount"]
        for rid, r in self.retirements.items():
            if r["ref"]["tx"] == self._tx_cert_moves[0][4].tx:
                want_burns[(r["holder"], r["certificateId"])] += r["amount"]
        if mints != want_mints or burns != want_burns:
            self.f.add("certificates.supply", "certificate mints/burns differ from issuances/retirements in the "
                       "transaction", refs, mints=dict((f"{k[0]}:{k[1]}", v) for k, v in mints.items()),
                       burns=dict((f"{k[0]}:{k[1]}", v) for k, v in burns.items()))
        elif mints or burns:
            self.f.ok("certificates.supply")

    def _check_release(self, e: Ev) -> None:
        a = e.a
        parent, child = self.batches.get(a["batchId"]), self.batches.get(a["releasedBatchId"])
        problems = []
        if parent is None or child is None:
            problems.append("released batch unknown")
        else:
            if child["kind"] != RELEASED or child["parents"] != [(parent["id"], child["quantity"])]:
                problems.append(f"batch {child['id']} is not the uncertified continuation of batch {parent['id']}")
            if child["holder"] != a["holder"]:
                problems.append("continuation held by someone else")
            if (a["material"], a["characteristic"]) != (parent["material"], parent["characteristic"]):
                problems.append("pledged attributes are not the batch's")
            if a["quantity"] != child["quantity"] * parent["share"] // PPM:
                problems.append(f"pledged {a['quantity']} != released {child['quantity']} x share {parent['share']}")
            parent["release"] = {"pledgeId": a["pledgeId"], "child": child["id"], "ref": e.ref()}
        if problems:
            self.f.add("certificates.double_attribute", f"pledge {a['pledgeId']}: " + "; ".join(problems), [e.ref()])
        else:
            self.f.ok("certificates.double_attribute")

    # ================================================================== end of replay
    def finish(self) -> None:
        for key, exp in self._expected_roll.items():
            if exp:
                self.f.add("credits.periods", f"account {key[:10]}..: period closing(s) {[x[1] for x in exp]} expected "
                           "but never emitted", [self.accounts[key].opened])
        # totals
        supply = sum(self.supply.values())
        if self.created - self.consumed - self.lost != supply:
            self.f.add("physical.totals", f"created {self.created} - consumed {self.consumed} - lost {self.lost} != "
                       f"supply {supply}", [])
        else:
            self.f.ok("physical.totals")
        neg = [(h, b, v) for (h, b), v in self.balances.items() if v < 0]
        for h, b, v in neg:
            self.f.add("physical.totals", f"holder {h} has negative balance {v} of batch {b}", [])
        # certificates: issued == held + retired + revoked
        held: Counter = Counter()
        for (h, cid), v in self.holdings.items():
            held[cid] += v
        for cid, iss in self.issuances.items():
            revoked = iss["revokedOutstanding"] if iss["revoked"] else 0
            holding = 0 if iss["revoked"] else held[cid]
            if iss["amount"] != holding + iss["retired"] + revoked or (iss["revoked"] and held[cid] != revoked):
                self.f.add("certificates.supply", f"certificate {cid}: issued {iss['amount']} != held {held[cid]} + "
                           f"retired {iss['retired']} + revoked {revoked}", [iss["ref"]])
            else:
                self.f.ok("certificates.supply")
        for pid_, pl in self.pledges.items():
            if pl["used"] is None:
                self.f.add("certificates.double_attribute", f"pledge {pid_} of {pl['quantity']} taken out of the physical "
                           "chain but not (yet) issued as certificates", [pl["ref"]], severity="info")

    # ================================================================== helpers for reports and claims
    def holders_of(self, bid: int) -> dict[str, int]:
        return {h: v for (h, b), v in self.balances.items() if b == bid and v}

    def ancestors(self, bid: int) -> list[int]:
        seen, stack, out = set(), [bid], []
        while stack:
            x = stack.pop()
            for p, _ in self.batches[x]["parents"]:
                if p not in seen:
                    seen.add(p)
                    out.append(p)
                    stack.append(p)
        return out
