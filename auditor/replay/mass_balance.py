"""MassBalance, replayed: credit accounts, bookings, periods and the lapse of old vintages (MassBalance's
logic replicated), and the reconciliation of each transaction's bookings with their causes."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..model import ENTRIES, MASS_BALANCE, MERGE, ORIGIN, REASONS, TRANSFORM
from ..rules import material_group_problem, vintage_alive, waste_to_regular
from .events import (
    CONV_IN,
    CONV_OUT,
    IN,
    LAPSED,
    OUT,
    R_CONVERSION,
    R_DELIVERY,
    R_DOWNGRADE,
    R_MOVED,
    R_ORIGIN,
    R_PLEDGED,
    R_RETURNED,
    Ev,
    account_key,
    int_ref,
)


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


def due_lapse(a: Account, x: int, ts: int) -> int:
    """Credits that lapse at the end of period x, if x has ended by `ts` but the account was not rolled."""
    n = a.lapse
    if n == 0 or x + 1 < n or x >= a.period_at(ts):
        return 0
    return a.vintages.get(x + 1 - n, 0)


def balance_at(a: Account, ts: int) -> int:
    """MassBalance.balanceOf at `ts`: the stored balance less whatever lapsed since the account was last
    touched."""
    balance, n = a.balance, a.lapse
    if n == 0:
        return balance
    q = a.period_at(ts)
    x = a.period
    while x < q and x < a.period + n:
        if x + 1 >= n:
            balance -= a.vintages.get(x + 1 - n, 0)
        x += 1
    return balance


def statement_at(a: Account, period: int, ts: int) -> tuple[dict, int]:
    """MassBalance.statement at `ts`: stored or derived, with the lapse due at the end of a period that ended."""
    empty = {"opening": 0, "inflow": 0, "convertedIn": 0, "outflow": 0, "convertedOut": 0, "lapsed": 0}
    if period <= a.period:
        st = a.statements.get(period)
        if st is not None:
            s = dict(st, materialized=True)
        else:
            m = period
            while m not in a.statements:
                m -= 1
            s = dict(empty, opening=closing_of(a.statements[m]), materialized=False)
        if period == a.period:
            s["lapsed"] += due_lapse(a, period, ts)
    else:
        balance = closing_of(a.statements[a.period]) - due_lapse(a, a.period, ts)
        for x in range(a.period + 1, period):
            balance -= due_lapse(a, x, ts)
        s = dict(empty, opening=balance, lapsed=due_lapse(a, period, ts), materialized=False)
    return s, closing_of(s)


class MassBalanceReplay:
    """State and event handlers of MassBalance (one part of `Replay`)."""

    def _init_mass_balance(self) -> None:
        self.accounts: dict[str, Account] = {}
        self._expected_roll: dict[str, list[tuple]] = defaultdict(list)
        self._debit_vintage: dict[tuple[str, int], int] = {}  # (delivery ref, sender) -> oldest vintage taken
        self._delivery_vintage: dict[str, int] = {}  # delivery ref -> oldest vintage the sender's credits had
        self._aged_parts: dict[tuple[str, int], list[tuple[int, int]]] = {}
        self._tx_converted_in: dict[tuple[str, int], int] = {}

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
                if vintage_alive(vintage, acct.lapse, acct.period):
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
            if a["reason"] == R_DELIVERY:
                self._delivery_vintage[a["ref"]] = oldest
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
        if a["reason"] == R_DELIVERY:  # delivered credits keep their age (MassBalance.deliver, creditAged)
            return self._delivery_vintage.get(a["ref"], acct.period)
        return acct.period

    def delivery_vintage(self, ref: str) -> int | None:
        """The oldest period the credits of a declared delivery came from at the sender (the receiver gets
        them with that age), for accounts whose credits lapse; None otherwise."""
        return self._delivery_vintage.get(ref)

    def debit_vintage(self, ref: str, participant: int) -> int | None:
        """The oldest period the credits of a declared delivery came from (they return with that age), for
        accounts whose credits lapse; None otherwise."""
        return self._debit_vintage.get((ref, participant))

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
        # A conversion of credits that lapse books its output in one part per vintage (_agedParts): together
        # they are the one conversion its TransformRecorded names.
        converted_in: Counter = Counter()
        for e in self._tx_bookings:
            a = e.a
            if a["reason"] == R_MOVED:
                moved.append(e)
                continue
            if a["entry"] == CONV_IN and a["reason"] == R_CONVERSION:
                converted_in[(a["account"], a["ref"])] += a["amount"]
                continue
            actual[(a["account"], a["entry"], a["reason"], a["amount"], a["ref"])] += 1
        for (account, ref), amount in converted_in.items():
            actual[(account, CONV_IN, R_CONVERSION, amount, ref)] += 1
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
        # A move books its credits out once and in once per vintage it took (the contract's _agedParts, as for
        # conversions), in log order; several moves can share a transaction (forwarded items of one batch).
        groups: list[tuple[Ev, list[Ev]]] = []
        for e in moved:
            if e.a["entry"] == CONV_OUT:
                groups.append((e, []))
            elif groups:
                groups[-1][1].append(e)
            else:
                self.f.add("credits.bookings", "credit move without its counterpart", [e.ref()])
                return
        for o, ins in groups:
            if not ins:
                self.f.add("credits.bookings", "credit move without its counterpart", [o.ref()])
                continue
            i = ins[0]
            ao, ai = self.accounts.get(o.a["account"]), self.accounts.get(i.a["account"])
            problems = []
            if ao is None or ai is None:
                problems.append("unknown account")
            else:
                if (ao.participant, ao.site, ao.characteristic) != (ai.participant, ai.site, ai.characteristic):
                    problems.append("moved between participants, sites or characteristics")
                if any(x.a["account"] != i.a["account"] for x in ins):
                    problems.append("one move booked into several accounts")
                if o.a["amount"] != sum(x.a["amount"] for x in ins):
                    problems.append("amounts differ")
                for problem in (material_group_problem(self.materials, ao.material, ai.material),
                                waste_to_regular(self.materials, ao.material, ai.material)):
                    if problem:
                        problems.append(problem.text)
                for m in (ao.material, ai.material):
                    if not self.certification_for(ao.participant, m, ao.characteristic, MASS_BALANCE, o.ts)[0]:
                        problems.append(f"participant not certified mass balance for material {m}")
            if problems:
                self.f.add("credits.bookings", "credit move: " + "; ".join(problems), [o.ref()] + [x.ref() for x in ins])
            else:
                self.f.ok("credits.bookings")
