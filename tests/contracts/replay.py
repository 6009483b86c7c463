"""Rebuild the ledger's whole state from its event logs alone.

`LedgerReplay` reads ``eth_getLogs`` of the five contracts (incrementally: only blocks it has not seen)
and decodes them with the contracts' ABIs. It never calls a contract view: everything it knows comes
from the events, which the issue requires to carry "everything needed to rebuild the whole state from
logs alone". tests/contracts/test_invariants.py compares it with the views after every step, and uses it
as the model that predicts which operations the contracts must refuse.

While applying events it checks the ledger's own bookkeeping (no balance below zero, every
``CreditsBooked.balance`` equal to the replayed balance, lapses equal to the replayed vintage,
``PeriodClosed`` equal to the replayed statement, ids handed out in sequence); any inconsistency is
collected in ``errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

ZERO_ADDRESS = "0x" + "00" * 20
PPM = 1_000_000

# IBatchLedger.TransferStatus
T_NONE, T_PENDING, T_ACCEPTED, T_REJECTED, T_CANCELLED = range(5)
# IMassBalance.Entry
E_IN, E_OUT, E_CONVERTED_IN, E_CONVERTED_OUT, E_LAPSED = range(5)
# IMassBalance.Reason (the one the replay needs)
REASON_DELIVERY_RETURNED = 2
# IBatchLedger.BatchKind
K_ORIGIN, K_SPLIT, K_MERGE, K_TRANSFORM, K_RELEASED = range(5)
# ICertificateRegistry.Source
S_VERIFIED, S_CREDITS, S_BATCH = range(3)
# IParticipantRegistry.CertificationStatus / ParticipantStatus
C_ACTIVE = 1
C_WITHDRAWN = 3
P_ACTIVE = 1
COVERAGE_SLOTS = 4

CONTRACT_NAMES = ("ParticipantRegistry", "CocForwarder", "MassBalance", "BatchLedger", "CertificateRegistry")


def abi_type(param: dict[str, Any]) -> str:
    """Canonical ABI type of a parameter (tuples spelled out), as used in signatures and eth_abi."""
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + t[len("tuple") :]
    return t


def account_key(participant: int, site: int, material: int, characteristic: int) -> bytes:
    """MassBalance.accountKey, computed locally: keccak(abi.encode(uint32 x4))."""
    return keccak(abi_encode(["uint32"] * 4, [participant, site, material, characteristic]))


def _norm(abi_t: str, value: Any) -> Any:
    if abi_t == "address":
        return to_checksum_address(value)
    if abi_t == "address[]":
        return [to_checksum_address(v) for v in value]
    return value


@dataclass
class Log:
    contract: str
    event: str
    args: dict[str, Any]
    block: int
    index: int
    timestamp: int
    tx: str


class EventDecoder:
    """topic0 + emitting address -> decoded event, from the ABIs only."""

    def __init__(self, contracts: dict[str, tuple[str, list[dict[str, Any]]]]):
        self._by_key: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for name, (address, abi) in contracts.items():
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                sig = f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})"
                self._by_key[(address.lower(), "0x" + keccak(text=sig).hex())] = (name, item)

    def decode(self, raw: dict[str, Any]) -> Log | None:
        topics = raw["topics"]
        found = self._by_key.get((raw["address"].lower(), topics[0].lower())) if topics else None
        if found is None:
            return None
        contract, item = found
        args: dict[str, Any] = {}
        indexed = [i for i in item["inputs"] if i["indexed"]]
        plain = [i for i in item["inputs"] if not i["indexed"]]
        for param, topic in zip(indexed, topics[1:]):
            t = abi_type(param)
            args[param["name"]] = _norm(t, abi_decode([t], bytes.fromhex(topic[2:]))[0])
        values = abi_decode([abi_type(p) for p in plain], bytes.fromhex(raw["data"][2:]))
        for param, value in zip(plain, values):
            args[param["name"]] = _norm(abi_type(param), value)
        if "blockTimestamp" not in raw:
            raise AssertionError("the node's logs carry no blockTimestamp; the replay needs it for periods")
        return Log(
            contract,
            item["name"],
            args,
            int(raw["blockNumber"], 16),
            int(raw["logIndex"], 16),
            int(raw["blockTimestamp"], 16),
            raw["transactionHash"],
        )


class LedgerReplay:
    """The state of the five contracts, rebuilt from their events."""

    def __init__(self, decoder: EventDecoder, addresses: dict[str, str], start_block: int):
        self.decoder = decoder
        self.addresses = {n: to_checksum_address(a) for n, a in addresses.items()}
        self.ledger = self.addresses["BatchLedger"]
        self.next_block = start_block
        self.last_block: int | None = None
        self.last_hash: str | None = None
        self.last_timestamp = 0
        self.log_count = 0
        self.errors: list[str] = []
        self.unknown: list[dict[str, Any]] = []
        self.dirty: set[tuple[str, Any]] = set()
        # registry
        self.participants: dict[int, dict[str, int]] = {}
        self.wallets: dict[str, tuple[int, int]] = {}
        self.sites: dict[int, int] = {}
        self.materials: dict[int, dict[str, Any]] = {}
        self.schemes: dict[int, dict[str, int]] = {}
        self.characteristics: dict[int, int] = {}
        self.processes: dict[int, dict[str, int]] = {}
        self.certifications: dict[int, dict[str, Any]] = {}
        self.coverage: dict[tuple[int, int, int], list[int]] = {}
        self.capacities: dict[tuple[int, int], dict[str, int]] = {}
        # batch ledger
        self.batches: dict[int, dict[str, Any]] = {}
        self.parents: dict[int, list[tuple[int, int]]] = {}
        self.origins: dict[int, dict[str, Any]] = {}
        self.balances: dict[int, dict[str, int]] = {}
        self.created = 0
        self.consumed = 0
        self.lost = 0
        self.transfers: dict[bytes, dict[str, Any]] = {}
        self.nonces: dict[str, int] = {}
        # mass balance
        self.accounts: dict[bytes, dict[str, Any]] = {}
        # certificates
        self.certificates: dict[int, dict[str, Any]] = {}
        self.cert_balances: dict[int, dict[str, int]] = {}
        self.retirements: dict[int, dict[str, Any]] = {}
        self.pledges: dict[int, dict[str, Any]] = {}
        self.evidence: dict[bytes, int] = {}
        self.approvals: dict[tuple[str, str], bool] = {}
        # the oldest vintage a delivery's declaration took, by transfer id (credits return with their age)
        self.return_vintages: dict[bytes, int] = {}
        self._following: list[Log] = []
        # account -> [(vintage, amount)] a conversion is about to book in, in order
        self.parts: dict[bytes, list[tuple[int, int]]] = {}

    # ------------------------------------------------------------------ reading the chain
    def sync(self, rpc: Callable[..., Any]) -> list[Log]:
        """Applies the logs of every block since the last sync; returns them (decoded, in order)."""
        if self.last_block is not None:
            block = rpc("eth_getBlockByNumber", [hex(self.last_block), False])
            if block is None or block["hash"] != self.last_hash:
                raise AssertionError(f"block {self.last_block} changed under the replay (chain reverted?)")
        latest = rpc("eth_getBlockByNumber", ["latest", False])
        number = int(latest["number"], 16)
        out: list[Log] = []
        if number >= self.next_block:
            raw = rpc(
                "eth_getLogs",
                [{"fromBlock": hex(self.next_block), "toBlock": hex(number), "address": list(self.addresses.values())}],
            )
            raw.sort(key=lambda r: (int(r["blockNumber"], 16), int(r["logIndex"], 16)))
            for item in raw:
                log = self.decoder.decode(item)
                if log is None:
                    self.unknown.append(item)
                    continue
                out.append(log)
            for n, log in enumerate(out):
                self._following = out[n + 1 :]
                self.apply(log)
            self._following = []
            self.next_block = number + 1
        self.last_block, self.last_hash = number, latest["hash"]
        self.last_timestamp = int(latest["timestamp"], 16)
        return out

    def apply(self, log: Log) -> None:
        self.log_count += 1
        handler = getattr(self, f"_on_{log.contract}_{log.event}", None)
        if handler is None:
            handler = getattr(self, f"_on_any_{log.event}", None)
        if handler is None:
            self.unknown.append({"contract": log.contract, "event": log.event})
            return
        handler(log, log.args)

    def _error(self, log: Log, message: str) -> None:
        self.errors.append(f"block {log.block} log {log.index} {log.contract}.{log.event}: {message}")

    # ------------------------------------------------------------------ registry
    def _on_ParticipantRegistry_ParticipantRegistered(self, log: Log, a: dict) -> None:
        self.participants[a["participantId"]] = {"roles": a["roles"], "status": P_ACTIVE}

    def _on_ParticipantRegistry_ParticipantRolesChanged(self, log: Log, a: dict) -> None:
        self.participants[a["participantId"]]["roles"] = a["roles"]

    def _on_ParticipantRegistry_ParticipantStatusChanged(self, log: Log, a: dict) -> None:
        self.participants[a["participantId"]]["status"] = a["status"]

    def _on_ParticipantRegistry_SiteAdded(self, log: Log, a: dict) -> None:
        self.sites[a["siteId"]] = a["participantId"]

    def _on_ParticipantRegistry_WalletAdded(self, log: Log, a: dict) -> None:
        self.wallets[a["wallet"]] = (a["participantId"], a["siteId"])

    def _on_ParticipantRegistry_WalletRemoved(self, log: Log, a: dict) -> None:
        self.wallets.pop(a["wallet"], None)

    def _on_ParticipantRegistry_MaterialRegistered(self, log: Log, a: dict) -> None:
        self.materials[a["material"]] = {"group": a["group"], "waste": a["waste"]}

    def _on_ParticipantRegistry_SchemeRegistered(self, log: Log, a: dict) -> None:
        self.schemes[a["scheme"]] = {
            "period_length": a["periodLength"],
            "anchor": a["anchor"],
            "lapse": a["lapseAfterPeriods"],
        }

    def _on_ParticipantRegistry_CharacteristicRegistered(self, log: Log, a: dict) -> None:
        self.characteristics[a["characteristic"]] = a["scheme"]

    def _on_ParticipantRegistry_ProcessRegistered(self, log: Log, a: dict) -> None:
        self.processes[a["processId"]] = {
            "input": a["inputMaterial"],
            "output": a["outputMaterial"],
            "factor": a["factor"],
            "tolerance": a["tolerance"],
        }

    def _on_ParticipantRegistry_CertificationRecorded(self, log: Log, a: dict) -> None:
        holder, _scheme, _number, materials, characteristics, models, valid_from, valid_to = a["params"]
        cid = a["certificationId"]
        self.certifications[cid] = {
            "holder": holder,
            "certifier": a["certifier"],
            "models": models,
            "status": C_ACTIVE,
            "valid_from": valid_from,
            "valid_to": valid_to,
        }
        for m in materials:
            for c in characteristics:
                # ParticipantRegistry._cover: the first slot that is empty, withdrawn or expired.
                slots = self.coverage.setdefault((holder, m, c), [0] * COVERAGE_SLOTS)
                for i, old in enumerate(slots):
                    o = self.certifications.get(old)
                    if old == 0 or o is None or o["status"] == C_WITHDRAWN or o["valid_to"] < log.timestamp:
                        slots[i] = cid
                        break
                else:
                    self._error(log, f"certification {cid} recorded although coverage {(holder, m, c)} is full")

    def _on_ParticipantRegistry_CertificationStatusChanged(self, log: Log, a: dict) -> None:
        self.certifications[a["certificationId"]]["status"] = a["status"]

    def _on_ParticipantRegistry_CapacitySet(self, log: Log, a: dict) -> None:
        old = self.capacities.get((a["participantId"], a["material"]), {"valid_to": 0, "used": 0})
        self.capacities[(a["participantId"], a["material"])] = {
            "valid_from": a["validFrom"],
            "valid_to": a["validTo"],
            "amount": a["amount"],
            # a new amount within the window keeps what was used; a later window starts from zero
            "used": 0 if a["validFrom"] > old["valid_to"] else old["used"],
        }
        self.dirty.add(("capacity", (a["participantId"], a["material"])))

    def _on_ParticipantRegistry_CapacityUsed(self, log: Log, a: dict) -> None:
        cap = self.capacities.get((a["participantId"], a["material"]))
        if cap is None:
            cap = self.capacities[(a["participantId"], a["material"])] = {
                "valid_from": 0,
                "valid_to": 0,
                "amount": 0,
                "used": 0,
            }
        if cap["used"] + a["amount"] != a["used"]:
            self._error(log, f"used {a['used']} != replayed {cap['used']} + {a['amount']}")
        if a["used"] > cap["amount"]:
            self._error(log, f"capacity used {a['used']} above the amount {cap['amount']}")
        cap["used"] = a["used"]
        self.dirty.add(("capacity", (a["participantId"], a["material"])))

    def _on_ParticipantRegistry_ContractsLinked(self, log: Log, a: dict) -> None:
        pass

    # ------------------------------------------------------------------ ERC-1155 balances (both token contracts)
    def _on_any_TransferSingle(self, log: Log, a: dict) -> None:
        self._move(log, a["from"], a["to"], a["id"], a["value"])

    def _on_any_TransferBatch(self, log: Log, a: dict) -> None:
        for token_id, value in zip(a["ids"], a["values"]):
            self._move(log, a["from"], a["to"], token_id, value)

    def _on_any_ApprovalForAll(self, log: Log, a: dict) -> None:
        self.approvals[(a["account"], a["operator"])] = a["approved"]

    def _move(self, log: Log, frm: str, to: str, token_id: int, value: int) -> None:
        book = self.balances if log.contract == "BatchLedger" else self.cert_balances
        holders = book.setdefault(token_id, {})
        if frm != ZERO_ADDRESS:
            left = holders.get(frm, 0) - value
            if left < 0:
                self._error(log, f"{frm} holds {holders.get(frm, 0)} of {token_id}, {value} moved out")
            holders[frm] = left
        if to != ZERO_ADDRESS:
            holders[to] = holders.get(to, 0) + value
        self.dirty.add(("cert" if book is self.cert_balances else "balance", token_id))

    # ------------------------------------------------------------------ batch ledger
    def _on_BatchLedger_BatchCreated(self, log: Log, a: dict) -> None:
        batch_id = a["batchId"]
        if batch_id != len(self.batches) + 1 or batch_id in self.batches:
            self._error(log, f"batch id {batch_id} out of sequence ({len(self.batches)} known)")
        self.batches[batch_id] = {
            "material": a["material"],
            "characteristic": a["characteristic"],
            "model": a["model"],
            "share": a["share"],
            "creator": a["creator"],
            "origin": a["origin"],
            "kind": a["kind"],
            "created_at": log.timestamp,
            "quantity": a["quantity"],
            "holder": a["holder"],
            "tx": log.tx,
        }
        self.parents[batch_id] = [tuple(p) for p in a["parents"]]
        if a["kind"] == K_ORIGIN:
            self.created += a["quantity"]
        self.dirty.add(("batch", batch_id))

    def _on_BatchLedger_OriginRecorded(self, log: Log, a: dict) -> None:
        self.origins[a["batchId"]] = {
            "site": a["siteId"],
            "production_date": a["productionDate"],
            "certification": a["certificationId"],
            "geolocation": a["geolocationHash"],
            "evidence": a["evidenceHash"],
        }

    def _on_BatchLedger_TransformRecorded(self, log: Log, a: dict) -> None:
        if a["inputQuantity"] - a["outputQuantity"] != a["loss"]:
            self._error(log, "loss != input - output")
        self.lost += a["loss"]

    def _on_BatchLedger_BatchConsumed(self, log: Log, a: dict) -> None:
        self.consumed += a["quantity"]

    def _on_BatchLedger_CustodyProposed(self, log: Log, a: dict) -> None:
        tid = a["transferId"]
        if tid in self.transfers:
            self._error(log, f"transfer {tid.hex()} proposed twice")
        expected_nonce = self.nonces.get(a["from"], 0)
        if a["nonce"] != expected_nonce:
            self._error(log, f"nonce {a['nonce']} used, {expected_nonce} expected")
        self.nonces[a["from"]] = a["nonce"] + 1
        self.transfers[tid] = {
            "batch": a["batchId"],
            "from": a["from"],
            "to": a["to"],
            "quantity": a["quantity"],
            "certified": a["certifiedQuantity"],
            "nonce": a["nonce"],
            "deadline": a["deadline"],
            "status": T_PENDING,
            "stored": True,
            "tx": log.tx,
            "from_account": self.wallets.get(a["from"], (0, 0)),
        }
        self.dirty.add(("transfer", tid))

    def _settle(self, log: Log, tid: bytes, status: int) -> None:
        t = self.transfers.get(tid)
        if t is None or t["status"] != T_PENDING:
            self._error(log, f"transfer {tid.hex()} settled while not pending")
            return
        t["status"] = status
        # transferWithAcceptance emits both events in one transaction and stores nothing.
        if status == T_ACCEPTED and t["tx"] == log.tx:
            t["stored"] = False
        self.dirty.add(("transfer", tid))

    def _on_BatchLedger_CustodyAccepted(self, log: Log, a: dict) -> None:
        self._settle(log, a["transferId"], T_ACCEPTED)

    def _on_BatchLedger_CustodyRejected(self, log: Log, a: dict) -> None:
        self._settle(log, a["transferId"], T_REJECTED)

    def _on_BatchLedger_CustodyCancelled(self, log: Log, a: dict) -> None:
        self._settle(log, a["transferId"], T_CANCELLED)

    # ------------------------------------------------------------------ mass balance
    @staticmethod
    def period_at(acc: dict[str, Any], timestamp: int) -> int:
        if timestamp < acc["anchor"]:
            return 0
        return (timestamp - acc["anchor"]) // acc["period_length"]

    def _on_MassBalance_AccountOpened(self, log: Log, a: dict) -> None:
        key = a["account"]
        if key in self.accounts:
            self._error(log, "account opened twice")
        if key != account_key(a["participantId"], a["siteId"], a["material"], a["characteristic"]):
            self._error(log, "account key is not keccak(participant, site, material, characteristic)")
        acc = {
            "participant": a["participantId"],
            "site": a["siteId"],
            "material": a["material"],
            "characteristic": a["characteristic"],
            "scheme": a["scheme"],
            "period_length": a["periodLength"],
            "anchor": a["anchor"],
            "lapse": a["lapseAfterPeriods"],
            "balance": 0,
            "last_booked": 0,
            "flows": {},  # period -> [inflow, outflow, convertedIn, convertedOut, lapsed]
            "vintages": {},  # period credits came in -> still unused (lapsing schemes)
            "closed": {},  # period -> PeriodClosed values
            "immediate": None,  # credits booked in with an expired vintage, lapsing in the next booking
        }
        acc["period"] = acc["opened"] = self.period_at(acc, log.timestamp)
        self.accounts[key] = acc
        self.dirty.add(("account", key))

    def _on_MassBalance_CreditsBooked(self, log: Log, a: dict) -> None:
        """Mirrors MassBalance._bookIn/_bookOut/_roll with vintages: credits coming in are dated to the
        current period (a returned delivery to the oldest period it took; converted credits keep the
        periods of the credits they came from, split as _agedParts splits them); credits going out are
        taken oldest first; a period's close lapses the vintage n-1 periods old; credits dated to an
        expired vintage lapse at once."""
        key, period, entry, amount, ref = a["account"], a["period"], a["entry"], a["amount"], a["ref"]
        acc = self.accounts.get(key)
        if acc is None:
            self._error(log, "booking on an account never opened")
            return
        if amount == 0:
            self._error(log, "zero booking")
        n = acc["lapse"]
        flows = acc["flows"].setdefault(period, [0, 0, 0, 0, 0])
        if entry != E_LAPSED or acc["immediate"] is not None:
            now = self.period_at(acc, log.timestamp)
            if period != now:
                self._error(log, f"booked in period {period} at a time of period {now}")
            acc["period"] = now
        if entry == E_LAPSED:
            if acc["immediate"] is not None:
                if amount != acc["immediate"]:
                    self._error(log, f"immediate lapse {amount} != the {acc['immediate']} just booked in")
                acc["immediate"] = None
            else:
                vintage = period + 1 - n
                due = acc["vintages"].pop(vintage, 0)
                if n == 0 or amount != due:
                    self._error(log, f"lapsed {amount}, the replayed vintage {vintage} holds {due}")
            acc["balance"] -= amount
            flows[4] += amount
        elif entry in (E_IN, E_CONVERTED_IN):
            acc["balance"] += amount
            flows[0 if entry == E_IN else 2] += amount
            if entry == E_IN:
                vintage = period
                if a["reason"] == REASON_DELIVERY_RETURNED:
                    if ref not in self.return_vintages:
                        self._error(log, f"returned delivery {ref.hex()} never debited")
                    vintage = self.return_vintages.get(ref, period)
            elif self.parts.get(key):
                vintage, part = self.parts[key].pop(0)
                if part != amount:
                    self._error(log, f"converted credits {amount} != the aged part {part} expected")
            else:
                vintage = period
                if n:
                    self._error(log, "converted credits on a lapsing account without a conversion out")
            if n:
                if vintage + n > period:
                    acc["vintages"][vintage] = acc["vintages"].get(vintage, 0) + amount
                else:
                    acc["immediate"] = amount  # expired on arrival: the next booking lapses it
        else:
            if amount > acc["balance"]:
                self._error(log, f"debit {amount} above the balance {acc['balance']}")
            acc["balance"] -= amount
            flows[1 if entry == E_OUT else 3] += amount
            if n:
                taken = self._take_vintages(log, acc, period, amount)
                if entry == E_OUT:
                    self.return_vintages[ref] = next((v for v, used in taken if used), period)
                else:
                    self._expect_converted(log, key, amount, taken)
            elif entry == E_OUT:
                self.return_vintages[ref] = period  # no vintages where credits do not lapse
        if acc["balance"] < 0:
            self._error(log, f"negative balance {acc['balance']}")
        if a["balance"] != acc["balance"]:
            self._error(log, f"booked balance {a['balance']} != replayed {acc['balance']}")
        acc["last_booked"] = a["balance"]
        self.dirty.add(("account", key))

    def _take_vintages(self, log: Log, acc: dict[str, Any], period: int, amount: int) -> list[tuple[int, int]]:
        """Oldest credits first, from the oldest vintage that has not lapsed; [(vintage, taken)]."""
        first = max(period + 1 - acc["lapse"], 0)
        taken = []
        for v in range(first, period + 1):
            left = acc["vintages"].get(v, 0)
            used = min(left, amount)
            if used:
                acc["vintages"][v] = left - used
            taken.append((v, used))
            amount -= used
        if amount:
            self._error(log, f"{amount} spent beyond the live vintages")
        return taken

    def _expect_converted(self, log: Log, key: bytes, amount: int, taken: list[tuple[int, int]]) -> None:
        """The credits a conversion books into the other account, vintage by vintage (_agedParts)."""
        ins = []
        for later in self._following:
            if later.tx != log.tx:
                break
            if later.event != "CreditsBooked" or later.args["account"] == key:
                continue
            if later.args["entry"] == E_CONVERTED_OUT:
                break
            if later.args["entry"] == E_CONVERTED_IN and later.args["ref"] == log.args["ref"]:
                ins.append(later)
        converted = sum(x.args["amount"] for x in ins)
        if not ins:
            return
        parts = [used * converted // amount for _, used in taken]
        oldest = next((i for i, (_, used) in enumerate(taken) if used), None)
        if oldest is None:
            self._error(log, "a conversion took no credits")
            return
        parts[oldest] += converted - sum(parts)
        # The receiving account may open only after this booking: keep the parts by its key.
        self.parts[ins[0].args["account"]] = [(v, part) for (v, _), part in zip(taken, parts) if part]

    def _on_MassBalance_PeriodClosed(self, log: Log, a: dict) -> None:
        acc = self.accounts.get(a["account"])
        if acc is None:
            self._error(log, "period closed on an unknown account")
            return
        p = a["period"]
        got = (a["opening"], a["inflow"], a["convertedIn"], a["outflow"], a["convertedOut"], a["lapsed"], a["closing"])
        opening, inflow, outflow, cin, cout, lapsed, closing = self.booked_statement(a["account"], p)
        want = (opening, inflow, cin, outflow, cout, lapsed, closing)
        if got != want:
            self._error(log, f"PeriodClosed({p}) {got} != replayed statement {want}")
        if closing != acc["balance"]:
            self._error(log, f"period {p} closes at {closing}, the balance is {acc['balance']}")
        acc["closed"][p] = got
        acc["period"] = self.period_at(acc, log.timestamp)
        self.dirty.add(("account", a["account"]))

    def booked_statement(self, key: bytes, period: int) -> tuple[int, int, int, int, int, int, int]:
        """(opening, inflow, outflow, convertedIn, convertedOut, lapsed, closing) of a period, from the
        bookings only."""
        acc = self.accounts[key]
        if period < acc["opened"]:
            return (0, 0, 0, 0, 0, 0, 0)
        opening = sum(self._net(f) for q, f in acc["flows"].items() if q < period)
        f = acc["flows"].get(period, [0, 0, 0, 0, 0])
        return (opening, f[0], f[1], f[2], f[3], f[4], opening + self._net(f))

    @staticmethod
    def _net(f: list[int]) -> int:
        return f[0] + f[2] - f[1] - f[3] - f[4]

    def due_lapse(self, key: bytes, x: int, timestamp: int) -> int:
        """Credits that lapse at the end of period x, if x has ended but the account was not rolled."""
        acc = self.accounts[key]
        n = acc["lapse"]
        if n == 0 or x + 1 < n or x >= self.period_at(acc, timestamp):
            return 0
        return acc["vintages"].get(x + 1 - n, 0)

    def statement(self, key: bytes, period: int, timestamp: int) -> tuple[int, int, int, int, int, int, int]:
        """The statement as it stands at `timestamp`: the bookings, and the lapses due at the end of the
        periods that ended since the account was last brought up to date."""
        acc = self.accounts[key]
        opening, inflow, outflow, cin, cout, lapsed, _ = self.booked_statement(key, period)
        if period >= acc["period"] and period >= acc["opened"]:
            opening -= sum(self.due_lapse(key, x, timestamp) for x in range(acc["period"], period))
            lapsed += self.due_lapse(key, period, timestamp)
        return (opening, inflow, outflow, cin, cout, lapsed, opening + inflow + cin - outflow - cout - lapsed)

    def credits_at(self, key: bytes, timestamp: int) -> int:
        """The balance an account shows at `timestamp`: booked balance minus lapses due but not booked yet."""
        acc = self.accounts.get(key)
        if acc is None:
            return 0
        return acc["balance"] - sum(
            self.due_lapse(key, x, timestamp) for x in range(acc["period"], self.period_at(acc, timestamp))
        )

    # ------------------------------------------------------------------ certificates
    def _on_CertificateRegistry_AttributesPledged(self, log: Log, a: dict) -> None:
        pid = a["pledgeId"]
        if pid != len(self.pledges) + 1:
            self._error(log, f"pledge id {pid} out of sequence")
        self.pledges[pid] = {
            "producer": a["producer"],
            "material": a["material"],
            "characteristic": a["characteristic"],
            "source": a["source"],
            "used": False,
            "quantity": a["quantity"],
            "holder": a["holder"],
            "batch": a["batchId"],
            "released": a["releasedBatchId"],
        }
        self.dirty.add(("pledge", pid))

    def _on_CertificateRegistry_CertificatesIssued(self, log: Log, a: dict) -> None:
        cid = a["certificateId"]
        if cid != len(self.certificates) + 1:
            self._error(log, f"certificate id {cid} out of sequence")
        if a["evidenceHash"] in self.evidence:
            self._error(log, f"evidence already backs certificate {self.evidence[a['evidenceHash']]}")
        self.evidence[a["evidenceHash"]] = cid
        source = S_VERIFIED
        if a["pledgeId"]:
            pledge = self.pledges.get(a["pledgeId"])
            if pledge is None or pledge["used"]:
                self._error(log, f"pledge {a['pledgeId']} unknown or used twice")
            else:
                pledge["used"] = True
                source = pledge["source"]
                if a["amount"] * a["unitSize"] != pledge["quantity"]:
                    self._error(log, "issued amount does not match the pledge")
                self.dirty.add(("pledge", a["pledgeId"]))
        self.certificates[cid] = {
            "issuer": a["issuer"],
            "producer": a["producer"],
            "to": a["to"],
            "material": a["material"],
            "characteristic": a["characteristic"],
            "period_start": a["periodStart"],
            "period_end": a["periodEnd"],
            "revoked": False,
            "revoked_outstanding": 0,
            "source": source,
            "unit_size": a["unitSize"],
            "amount": a["amount"],
            "retired": 0,
            "retirement_count": 0,
            "evidence": a["evidenceHash"],
            "pledge": a["pledgeId"],
        }
        self.dirty.add(("cert", cid))

    def _on_CertificateRegistry_IssuanceRevoked(self, log: Log, a: dict) -> None:
        c = self.certificates[a["certificateId"]]
        if c["revoked"]:
            self._error(log, "revoked twice")
        if a["outstanding"] != c["amount"] - c["retired"]:
            self._error(log, f"outstanding {a['outstanding']} != issued - retired {c['amount'] - c['retired']}")
        c["revoked"] = True
        c["revoked_outstanding"] = a["outstanding"]
        self.dirty.add(("cert", a["certificateId"]))

    def _on_CertificateRegistry_CertificatesRetired(self, log: Log, a: dict) -> None:
        cid = a["certificateId"]
        c = self.certificates.get(cid)
        if c is None:
            self._error(log, f"retirement of unknown certificate {cid}")
            return
        if c["revoked"]:
            self._error(log, "retirement of a revoked certificate")
        c["retired"] += a["amount"]
        c["retirement_count"] += 1
        if a["retirementId"] != (cid << 32) | c["retirement_count"]:
            self._error(log, f"retirement id {a['retirementId']} != certificateId << 32 | {c['retirement_count']}")
        retired_by = self.wallets.get(a["holder"], (0, 0))[0]
        if a["retiredBy"] != retired_by:
            self._error(log, f"retiredBy {a['retiredBy']} != the holder's participant {retired_by}")
        self.retirements[a["retirementId"]] = {
            "certificate": cid,
            "amount": a["amount"],
            "retired_by": a["retiredBy"],
            "period_start": a["periodStart"],
            "period_end": a["periodEnd"],
            "holder": a["holder"],
        }
        self.dirty.add(("cert", cid))
        self.dirty.add(("retirement", a["retirementId"]))

    # ------------------------------------------------------------------ derived
    def supply(self) -> int:
        return sum(sum(h.values()) for h in self.balances.values())

    def balance(self, holder: str, batch_id: int) -> int:
        return self.balances.get(batch_id, {}).get(holder, 0)

    def cert_balance(self, holder: str, cert_id: int) -> int:
        return self.cert_balances.get(cert_id, {}).get(holder, 0)

    def holders(self) -> list[str]:
        """Every address that is or ever was a registered wallet or a holder, and the ledger itself."""
        seen = set(self.wallets) | {self.ledger}
        for book in (self.balances, self.cert_balances):
            for h in book.values():
                seen.update(h)
        return sorted(seen)
