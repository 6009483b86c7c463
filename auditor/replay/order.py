"""One transaction's events in an order that depends on what they say, never on the order of their logs.

Why: work done inside an ERC-1155 receiver hook (a participant's contract wallet) emits its events before the
events of the call that triggered it, so a child's `BatchCreated` can come before its parent's and
`CertificatesRetired` before `CertificatesIssued` (finding G). Replaying logs as they come would report false
failures forever, and any member with a contract wallet could jam every audit. The replay therefore applies a
transaction's events in a dependency-respecting canonical order: what creates a thing before what uses it,
ids ascending (the contracts hand them out in sequence), and each credit account's bookings along the chain of
the running balance they report. The order is a function of the set of events alone, so any permutation of a
transaction's logs gives the same state and the same findings; the checks that could depend on the order
within a transaction (holdings never negative, the evidence of an origin) are made once the whole transaction
is applied. A finding still cites each event's own log index.
"""

from __future__ import annotations

from typing import Any, Callable

from .events import CONV_IN, CONV_OUT, IN, LAPSED, OUT, Ev

ZERO = "0x" + "00" * 20

# registry events among themselves: what is registered before what refers to it
_REGISTRY = ["SchemeRegistered", "MaterialRegistered", "CharacteristicRegistered", "ProcessRegistered",
             "ParticipantRegistered", "SiteAdded", "WalletAdded", "ParticipantRolesChanged", "ParticipantStatusChanged",
             "CertificationRecorded", "CertificationStatusChanged", "CapacitySet", "WalletRemoved", "ContractsLinked"]


def _content(e: Ev) -> tuple:
    return (e.c, e.name, repr(sorted(e.a.items())))


def _rank(e: Ev) -> tuple:
    """(group, key within the group) for every event but the mass-balance bookings and closings."""
    a, c, n = e.a, e.c, e.name
    if c == "registry":
        if n == "CapacityUsed":  # the counter it reports grows with every use
            return (50, a["participantId"], a["material"], a["used"])
        return (0, _REGISTRY.index(n) if n in _REGISTRY else len(_REGISTRY))
    if c == "certs" and n == "ApprovalForAll":
        return (10,)
    if c == "mass" and n == "AccountOpened":
        return (20, a["account"])
    if c == "ledger":
        if n == "BatchCreated":  # parents before children: ids are handed out in sequence
            return (30, a["batchId"])
        if n in ("OriginRecorded", "TransformRecorded"):
            return (40, a.get("batchId", a.get("outputBatchId")))
        if n == "CustodyProposed":  # a sender's nonces in sequence
            return (60, a["from"], a["nonce"])
        if n in ("CustodyAccepted", "CustodyRejected", "CustodyCancelled"):
            return (70, a["transferId"])
        if n == "BatchConsumed":
            return (80,)
        return (90,)  # TransferSingle / TransferBatch: balances are reconciled per transaction
    if c == "certs":
        if n == "AttributesPledged":
            return (100, a["pledgeId"])
        if n == "CertificatesIssued":
            return (110, a["certificateId"])
        if n in ("TransferSingle", "TransferBatch"):  # mints, then transfers, then burns
            return (120, 0 if a["from"] == ZERO else 2 if a["to"] == ZERO else 1)
        if n == "CertificatesRetired":
            return (130, a["retirementId"])
        if n == "IssuanceRevoked":
            return (140, a["certificateId"])
    return (200,)


MASS_GROUP = 150


def _after(balance: int, e: Ev) -> int:
    a = e.a
    return balance + a["amount"] if a["entry"] in (IN, CONV_IN) else balance - a["amount"]


def _account_chain(evs: list[Ev], start: int | None) -> list[Ev]:
    """One account's PeriodClosed and CreditsBooked of one transaction in MassBalance's order: first the roll
    (each closed period's lapse, then its closing), then the bookings along the balance each one reports."""
    booked = [e for e in evs if e.name == "CreditsBooked" and e.a["entry"] != LAPSED]
    current = min((e.a["period"] for e in booked), default=None)
    roll = [e for e in evs if e.name == "PeriodClosed"
            or (e.a["entry"] == LAPSED and (current is None or e.a["period"] < current))]
    roll.sort(key=lambda e: (e.a["period"], e.name == "PeriodClosed", _content(e)))
    rest = sorted((e for e in evs if e not in roll), key=_content)
    closings = [e for e in roll if e.name == "PeriodClosed"]
    balance = closings[-1].a["closing"] if closings else (start or 0)
    out = list(roll)
    while rest:
        nxt = next((e for e in rest if _after(balance, e) == e.a["balance"]), rest[0])  # rest[0]: a broken chain
        rest.remove(nxt)
        out.append(nxt)
        balance = nxt.a["balance"]
    return out


def _mass_events(evs: list[Ev], balance_of: Callable[[str], int | None]) -> list[Ev]:
    """The accounts' chains merged; a conversion's debit before its credit (the credit takes the debit's age)."""
    by_account: dict[str, list[Ev]] = {}
    for e in evs:
        by_account.setdefault(e.a["account"], []).append(e)
    chains = {k: _account_chain(v, balance_of(k)) for k, v in sorted(by_account.items())}
    pending_out: dict[Any, int] = {}
    for e in evs:
        if e.name == "CreditsBooked" and e.a["entry"] == CONV_OUT:
            pending_out[e.a["ref"]] = pending_out.get(e.a["ref"], 0) + 1
    out: list[Ev] = []
    while any(chains.values()):
        heads = [(k, ch[0]) for k, ch in chains.items() if ch]
        ready = [(k, e) for k, e in heads if not (e.name == "CreditsBooked" and e.a["entry"] == CONV_IN
                                                  and pending_out.get(e.a["ref"]))]
        k, e = min(ready or heads, key=lambda ke: (ke[1].name == "CreditsBooked" and ke[1].a["entry"] not in (OUT,
                                                                                                          CONV_OUT),
                                                   _content(ke[1])))
        chains[k].pop(0)
        if e.name == "CreditsBooked" and e.a["entry"] == CONV_OUT:
            pending_out[e.a["ref"]] -= 1
        out.append(e)
    return out


def canonical_order(evs: list[Ev], balance_of: Callable[[str], int | None]) -> list[Ev]:
    """`evs` (one transaction) in the canonical order; `balance_of(account)` is the account's balance before the
    transaction (None for an account not opened yet)."""
    mass = [e for e in evs if e.c == "mass" and e.name in ("CreditsBooked", "PeriodClosed")]
    others = sorted((e for e in evs if not (e.c == "mass" and e.name in ("CreditsBooked", "PeriodClosed"))),
                    key=lambda e: (_rank(e), _content(e)))
    if not mass:
        return others
    head = [e for e in others if _rank(e)[0] < MASS_GROUP]
    tail = [e for e in others if _rank(e)[0] >= MASS_GROUP]
    return head + _mass_events(mass, balance_of) + tail
