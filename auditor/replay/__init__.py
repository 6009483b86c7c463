"""Replay every event of the ledger and rebuild its whole state, checking each rule on the way.

The state is rebuilt from logs alone, one part per contract: registry (participants, roles, wallets, sites,
certifications over time, capacities, reference data: `registry.py`), batch ledger (batches, lineage, custody
balances from TransferSingle: `batch_ledger.py`; transfers and their signatures: `custody.py`), mass balance
(accounts, bookings, periods, lapse: MassBalance's logic replicated, `mass_balance.py`), and certificates
(issuances, holdings, retirements, revocations, pledges: `certificates.py`). The forwarder emits nothing the
ledger's state depends on, so it has no part.

Events are handled one transaction at a time, in a canonical order that does not depend on the order of the
transaction's logs (`order.py`: hooks of contract wallets emit events out of order); each event updates the
state and is checked against the state at that point; at the end of the transaction the token flows and credit
bookings it caused are reconciled with the events that explain them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import eip712
from ..model import Findings
from .batch_ledger import BatchLedgerReplay
from .certificates import CertificateReplay
from .custody import CustodyReplay
from .eudr import EudrReplay
from .events import CONV_IN, Ev, account_key, int_ref
from .mass_balance import Account, MassBalanceReplay, balance_at, closing_of, statement_at
from .order import canonical_order
from .registry import RegistryReplay

__all__ = ["Account", "Ev", "Replay", "account_key", "balance_at", "closing_of", "int_ref", "statement_at"]


class Replay(RegistryReplay, BatchLedgerReplay, CustodyReplay, MassBalanceReplay, CertificateReplay, EudrReplay):
    """The whole ledger replayed: the contracts' parts composed over one set of findings. Each part holds its
    contract's state and handlers; they are mixed into one object because the contracts' rules ask one another
    (the ledger asks the registry who may act, mass balance reads batches and wallets), as the contracts call
    one another. Each event goes to the handler `on_<contract>_<event>` of the part that owns it."""

    def __init__(self, chain_id: int, addresses: dict[str, str]):
        self.chain_id = chain_id
        self.addr = {k: v.lower() for k, v in addresses.items()}
        self.ledger_addr = self.addr["ledger"]
        self.separator = eip712.domain_separator(chain_id, self.ledger_addr)
        self.f = Findings()
        #: has_code(address) -> bool, set by the driver: a signer with code answers ERC-1271, not ECDSA
        self.has_code: Any = None
        self.unverifiable: list[dict] = []
        self._init_registry()
        self._init_batch_ledger()
        self._init_custody()
        self._init_mass_balance()
        self._init_certificates()
        self._init_eudr()
        # progress
        self.events = 0
        self.txs = 0
        self.last_block = 0
        self.last_ts = 0
        self.signatures_checked = 0
        #: every replayed transaction's events in log order, and every block's time (what the node's
        #: transaction facts, EPCIS documents and passports are compared with)
        self.tx_events: dict[str, list[Ev]] = {}
        self.event_at: dict[tuple[str, int], Ev] = {}
        self.block_time: dict[int, int] = {}

    @property
    def operations(self) -> int:
        """Operations replayed: one per transaction (every action of the ledger is one transaction)."""
        return self.txs

    # ================================================================== driving
    def apply_tx(self, evs: list[Ev]) -> None:
        self.txs += 1
        self.tx_events[evs[0].tx] = sorted(evs, key=lambda e: e.li)
        for e in evs:
            self.event_at[(e.tx, e.li)] = e
        self.block_time[evs[0].block] = evs[0].ts
        evs = canonical_order(evs, self._balance_before)
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
        last = max(evs, key=lambda e: e.li)
        self.last_block, self.last_ts = last.block, last.ts
        self.f.position = last.ref()

    def _balance_before(self, account: str) -> int | None:
        acct = self.accounts.get(account)
        return None if acct is None else acct.balance

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

    # ================================================================== end of replay
    def finish(self) -> None:
        for key, exp in self._expected_roll.items():
            if exp:
                self.f.add("credits.periods", f"account {key[:10]}..: period closing(s) {[x[1] for x in exp]} expected "
                           "but never emitted", [self.accounts[key].opened])
        self.check_totals()
        self._check_eudr()
        for pid_, pl in self.pledges.items():
            if pl["used"] is None:
                self.f.add("certificates.double_attribute", f"pledge {pid_} of {pl['quantity']} taken out of the physical "
                           "chain but not (yet) issued as certificates", [pl["ref"]], severity="info")

    def check_totals(self) -> None:
        """The totals that hold after every transaction: physical supply, holdings, certificate supply."""
        supply = sum(self.supply.values())
        if self.created - self.consumed - self.lost != supply:
            self.f.add("physical.totals", f"created {self.created} - consumed {self.consumed} - lost {self.lost} != "
                       f"supply {supply}", [])
        else:
            self.f.ok("physical.totals")
        neg = [(h, b, v) for (h, b), v in self.balances.items() if v < 0]
        for h, b, v in neg:
            self.f.add("physical.totals", f"holder {h} has negative balance {v} of batch {b}",
                       list(self.batch_moves.get(b, []))[-3:])
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
