"""MassBalance: credit accounts, no negative balance at any moment, linked-contract bookings,
moves within a conversion-factor group, balancing periods with carry-over or lapse.

Quantities are grams. Every refusal asserts the decoded custom error with its arguments and that
nothing changed (credit balances, batch balances, in-transit quantities).
"""

from __future__ import annotations

import pytest

from helpers import events, expect_revert, tx
from testkit.sandbox import (
    DAY,
    MASS_BALANCE,
    ROLE_SUPPLIER,
    SEGREGATED,
    h,
    models_mask,
)

T = 1_000_000  # one tonne in grams
PERIOD = 90 * DAY  # GOTS / ISCC PLUS in the world

ENTRY_IN, ENTRY_OUT, ENTRY_CONVERTED_IN, ENTRY_CONVERTED_OUT, ENTRY_LAPSED = range(5)
(R_ORIGIN, R_DELIVERY, R_RETURNED, R_DOWNGRADE, R_CONVERSION, R_MOVED, R_PLEDGED, R_LAPSE) = range(8)
WITHDRAWN = 3  # CertificationStatus
ZERO32 = bytes(32)


# ---------------------------------------------------------------------------------------------- helpers


def mb_origin(sb, actor, material, characteristic, qty):
    return sb.create_origin(actor, material, qty, characteristic=characteristic, model=MASS_BALANCE)


def key(sb, actor, material, characteristic):
    return sb.account_key(actor, material, characteristic)


def account(sb, k) -> dict:
    balance, period, opened, length, anchor, lapse, is_open = sb.c.mass_balance.functions.account(k).call()
    return dict(balance=balance, period=period, opened_period=opened, period_length=length, anchor=anchor,
                lapse_after=lapse, open=is_open)


def stmt(sb, k, period) -> dict:
    (opening, inflow, materialized, outflow, conv_in, conv_out, lapsed), closing = (
        sb.c.mass_balance.functions.statement(k, period).call())
    return dict(opening=opening, inflow=inflow, outflow=outflow, converted_in=conv_in, converted_out=conv_out,
                lapsed=lapsed, closing=closing, materialized=materialized)


def balance(sb, k) -> int:
    return sb.c.mass_balance.functions.balanceOf(k).call()


def current_period(sb, k) -> int:
    return sb.c.mass_balance.functions.currentPeriod(k).call()


def booked(sb, receipt) -> list[tuple]:
    return [(e["account"], e["period"], e["entry"], e["reason"], e["amount"], e["balance"])
            for e in events(sb.c.mass_balance, receipt, "CreditsBooked")]


def closed(sb, receipt) -> list[dict]:
    return events(sb.c.mass_balance, receipt, "PeriodClosed")


def roll(sb, k, who=None):
    """roll by a registered wallet (the admin's unless `who`): an outsider may not (issue 9)."""
    return sb.tx(sb.c.mass_balance.functions.roll(k), who or sb.admin)


def state(sb, credit_accounts=(), balances=()) -> dict:
    ledger = sb.c.ledger
    return dict(
        credits={(a.name, m, c): sb.credits(a, m, c) for a, m, c in credit_accounts},
        raw_accounts={(a.name, m, c): account(sb, key(sb, a, m, c)) for a, m, c in credit_accounts},
        balances={(a.name, b): sb.balance(a, b) for a, b in balances},
        in_transit={b: sb.balance(ledger.address, b) for _, b in balances},
        batch_count=ledger.functions.batchCount().call(),
        pledges=sb.c.certificates.functions.pledgeCount().call(),
    )


def refused(sb, fn, actor, error, /, *, credit_accounts=(), balances=(), **args):
    """Sends `fn` from `actor`, asserts the custom error and its arguments, and that the watched
    credit accounts (balance and account record), batch balances and pledge count did not change."""
    before = state(sb, credit_accounts, balances)
    rev = expect_revert(fn, getattr(actor, "account", actor), error, **args)
    assert state(sb, credit_accounts, balances) == before
    return rev


def lapse_scheme(sb, w, lapse_after: int, period: int = 30 * DAY, actors=None):
    """A scheme whose credits lapse `lapse_after` periods after they came in, with its own
    characteristic, certified by the world's certifier for the given actors on every material."""
    scheme = sb.scheme(f"lapsing-{lapse_after}", period_length=period, lapse_after=lapse_after)
    characteristic = sb.characteristic(f"sustainable-{lapse_after}", scheme)
    for actor in actors or (w.farm, w.ginner):
        sb.certify(w.certifier, actor, [w.raw_cotton, w.lint, w.yarn, w.cotton_waste], [characteristic],
                   scheme="MSPO")
    return scheme, characteristic


def pledge(sb, actor, material, characteristic, qty):
    return sb.pledge_credits(actor, material, characteristic, qty)


# ---------------------------------------------------------------------------------------------- accounts


@pytest.mark.parametrize("which", ["organic", "recycled"])
def test_credit_opens_account_with_scheme_settings(world, which):
    sb, w = world.sb, world
    characteristic = getattr(w, which)
    scheme_id, (length, anchor, lapse, exists) = sb.c.registry.functions.schemeOf(characteristic).call()
    assert exists and lapse == 0 and length == PERIOD  # GOTS and ISCC PLUS carry credits over
    k = key(sb, w.farm, w.raw_cotton, characteristic)
    assert account(sb, k)["open"] is False

    fn = sb.c.ledger.functions.createOrigin((w.raw_cotton, characteristic, MASS_BALANCE, 0, 5 * T, h("geo"), "DDS-1",
                                              h("evidence-open"), sb.now() - DAY))
    receipt = sb.tx(fn, w.farm)
    batch_id = events(sb.c.ledger, receipt, "BatchCreated")[0]["batchId"]

    assert events(sb.c.mass_balance, receipt, "AccountOpened") == [dict(
        account=k, participantId=w.farm.participant_id, siteId=w.farm.site_id, material=w.raw_cotton,
        characteristic=characteristic, scheme=scheme_id, periodLength=length, anchor=anchor, lapseAfterPeriods=0)]
    assert [(e["entry"], e["reason"], e["amount"], e["balance"], e["ref"])
            for e in events(sb.c.mass_balance, receipt, "CreditsBooked")] == [
        (ENTRY_IN, R_ORIGIN, 5 * T, 5 * T, batch_id.to_bytes(32, "big"))]
    assert account(sb, k) == dict(balance=5 * T, period=0, opened_period=0, period_length=length, anchor=anchor,
                                  lapse_after=0, open=True)
    assert balance(sb, k) == 5 * T


def test_credit_second_booking_does_not_reopen(world):
    sb, w = world.sb, world
    mb_origin(sb, w.farm, w.raw_cotton, w.organic, T)
    fn = sb.c.ledger.functions.createOrigin((w.raw_cotton, w.organic, MASS_BALANCE, 0, 2 * T, h("geo"), "DDS-2",
                                              h("evidence-second"), sb.now() - DAY))
    receipt = sb.tx(fn, w.farm)
    assert events(sb.c.mass_balance, receipt, "AccountOpened") == []
    assert sb.credits(w.farm, w.raw_cotton, w.organic) == 3 * T


def test_account_unopened_reads_empty(world):
    sb, w = world.sb, world
    k = key(sb, w.ginner, w.lint, w.organic)
    assert account(sb, k)["open"] is False
    assert balance(sb, k) == 0
    assert stmt(sb, k, 0) == dict(opening=0, inflow=0, outflow=0, converted_in=0, converted_out=0, lapsed=0,
                                  closing=0, materialized=False)
    receipt = roll(sb, k)  # any registered wallet may roll; an unopened account stays untouched
    assert closed(sb, receipt) == [] and booked(sb, receipt) == []
    assert account(sb, k)["open"] is False


def test_accounts_separate_per_site_material_and_characteristic(world, accounts):
    sb, w = world.sb, world
    second_site = sb.add_wallet(w.farm, accounts[10], site="Farm Gujarat North")
    mb_origin(sb, w.farm, w.raw_cotton, w.organic, 3 * T)
    mb_origin(sb, second_site, w.raw_cotton, w.organic, 5 * T)
    mb_origin(sb, w.farm, w.raw_cotton, w.recycled, 7 * T)
    assert sb.credits(w.farm, w.raw_cotton, w.organic) == 3 * T
    assert sb.credits(second_site, w.raw_cotton, w.organic) == 5 * T
    assert sb.credits(w.farm, w.raw_cotton, w.recycled) == 7 * T
    assert sb.credits(w.farm, w.lint, w.organic) == 0
    assert len({key(sb, w.farm, w.raw_cotton, w.organic), key(sb, second_site, w.raw_cotton, w.organic),
                key(sb, w.farm, w.raw_cotton, w.recycled)}) == 3


# ---------------------------------------------------------------------------------------------- never negative


@pytest.fixture
def short_ginner(world):
    """The ginner holds 6 t of mass-balance raw cotton but only 2 t of credits for it."""
    sb, w = world.sb, world
    b = mb_origin(sb, w.farm, w.raw_cotton, w.organic, 10 * T)
    sb.transfer(w.farm, w.ginner, b, 6 * T, certified=2 * T)
    assert sb.credits(w.ginner, w.raw_cotton, w.organic) == 2 * T
    return b


def _watch(w, b):
    return dict(
        credit_accounts=[(w.ginner, w.raw_cotton, w.organic), (w.spinner, w.raw_cotton, w.organic),
                         (w.ginner, w.lint, w.organic), (w.farm, w.raw_cotton, w.organic)],
        balances=[(w.ginner, b), (w.spinner, b)],
    )


def test_delivery_proposal_beyond_credits_refused(world, short_ginner):
    sb, w, b = world.sb, world, short_ginner
    t = sb.offer(w.ginner, w.spinner, b, 5 * T, certified=3 * T)
    fn = sb.c.ledger.functions.proposeTransfer(t.as_tuple(), sb.sign_offer(w.ginner, t))
    refused(sb, fn, sb.relayer, "MassBalanceInsufficientCredits", **_watch(w, b),
            account=key(sb, w.ginner, w.raw_cotton, w.organic), balance=2 * T, requested=3 * T)
    assert sb.c.ledger.functions.transferStatus(t.transfer_id()).call() == 0  # None


def test_delivery_with_acceptance_beyond_credits_refused(world, short_ginner):
    sb, w, b = world.sb, world, short_ginner
    t = sb.offer(w.ginner, w.spinner, b, 5 * T, certified=3 * T)
    deadline = sb.now() + 3600
    fn = sb.c.ledger.functions.transferWithAcceptance(t.as_tuple(), sb.sign_offer(w.ginner, t), deadline,
                                                       sb.sign_accept(w.spinner, t, deadline))
    refused(sb, fn, sb.relayer, "MassBalanceInsufficientCredits", **_watch(w, b),
            account=key(sb, w.ginner, w.raw_cotton, w.organic), balance=2 * T, requested=3 * T)


def test_pledge_beyond_credits_refused(world, short_ginner):
    sb, w, b = world.sb, world, short_ginner
    fn = sb.c.certificates.functions.pledgeCredits(w.raw_cotton, w.organic, 3 * T)
    refused(sb, fn, w.ginner, "MassBalanceInsufficientCredits", **_watch(w, b),
            account=key(sb, w.ginner, w.raw_cotton, w.organic), balance=2 * T, requested=3 * T)


def test_conversion_beyond_credits_refused(world, short_ginner):
    sb, w, b = world.sb, world, short_ginner
    fn = sb.c.ledger.functions.transform(w.ginning, [b], [6 * T], 2_100_000, MASS_BALANCE, 3 * T)
    refused(sb, fn, w.ginner, "MassBalanceInsufficientCredits", **_watch(w, b),
            account=key(sb, w.ginner, w.raw_cotton, w.organic), balance=2 * T, requested=3 * T)


def test_credits_in_transit_cannot_be_spent_again(world, short_ginner):
    # the declaration leaves the sender's account when proposed, not when accepted
    sb, w, b = world.sb, world, short_ginner
    sb.propose(w.ginner, w.spinner, b, 2 * T, certified=2 * T)
    assert sb.credits(w.ginner, w.raw_cotton, w.organic) == 0
    fn = sb.c.certificates.functions.pledgeCredits(w.raw_cotton, w.organic, 1)
    refused(sb, fn, w.ginner, "MassBalanceInsufficientCredits", **_watch(w, b),
            account=key(sb, w.ginner, w.raw_cotton, w.organic), balance=0, requested=1)


def test_credits_spent_exactly_to_zero_then_refused(world, short_ginner):
    sb, w, b = world.sb, world, short_ginner
    sb.transfer(w.ginner, w.spinner, b, 2 * T, certified=2 * T)
    assert sb.credits(w.ginner, w.raw_cotton, w.organic) == 0
    assert sb.credits(w.spinner, w.raw_cotton, w.organic) == 2 * T
    t = sb.offer(w.ginner, w.spinner, b, T, certified=1)
    fn = sb.c.ledger.functions.proposeTransfer(t.as_tuple(), sb.sign_offer(w.ginner, t))
    refused(sb, fn, sb.relayer, "MassBalanceInsufficientCredits", **_watch(w, b),
            account=key(sb, w.ginner, w.raw_cotton, w.organic), balance=0, requested=1)


# ---------------------------------------------------------------------------------------------- linked contracts


def _booking_calls(mb, w, p):
    pid, site = p.participant_id, p.site_id
    return {
        "credit": mb.functions.credit(pid, site, w.raw_cotton, w.organic, T, R_ORIGIN, ZERO32),
        "debit": mb.functions.debit(pid, site, w.raw_cotton, w.organic, T, R_DELIVERY, ZERO32),
        "deliver": mb.functions.deliver(pid, site, w.ginner.participant_id, w.ginner.site_id, w.raw_cotton,
                                        w.organic, T, ZERO32),
        "convert": mb.functions.convert(pid, site, w.raw_cotton, w.lint, w.organic, T, 350_000, ZERO32),
    }


@pytest.mark.parametrize("call", ["credit", "debit", "deliver", "convert"])
@pytest.mark.parametrize("caller", ["farm", "admin", "relayer"])
def test_bookings_only_by_linked_contracts(world, call, caller):
    sb, w = world.sb, world
    mb_origin(sb, w.farm, w.raw_cotton, w.organic, 5 * T)
    sender = {"farm": w.farm.account, "admin": sb.admin, "relayer": sb.relayer}[caller]
    fn = _booking_calls(sb.c.mass_balance, w, w.farm)[call]
    refused(sb, fn, sender, "MassBalanceNotLinkedContract",
            credit_accounts=[(w.farm, w.raw_cotton, w.organic), (w.ginner, w.raw_cotton, w.organic),
                             (w.farm, w.lint, w.organic)],
            caller=sender.address)


def test_link_only_once(world):
    sb, w = world.sb, world
    refused(sb, sb.c.mass_balance.functions.link(), sb.admin, "MassBalanceAlreadyLinked")
    refused(sb, sb.c.mass_balance.functions.link(), w.farm, "MassBalanceAlreadyLinked")


# ---------------------------------------------------------------------------------------------- moveCredits


@pytest.fixture
def lint_credits(world):
    """The ginner holds 1 t of organic lint credits from a certified mass-balance lint origin."""
    sb, w = world.sb, world
    sb.capacity(w.certifier, w.ginner, w.lint, 100 * T)
    mb_origin(sb, w.ginner, w.lint, w.organic, T)
    return key(sb, w.ginner, w.lint, w.organic)


def _move(sb, frm, to, characteristic, amount):
    return sb.c.mass_balance.functions.moveCredits(frm, to, characteristic, amount)


def test_move_credits_regular_to_waste_in_group(world, lint_credits):
    sb, w = world.sb, world
    assert tuple(sb.c.registry.functions.material(w.lint).call())[:2] == (2, False)
    assert tuple(sb.c.registry.functions.material(w.cotton_waste).call())[:2] == (2, True)
    waste_key = key(sb, w.ginner, w.cotton_waste, w.organic)

    receipt = sb.tx(_move(sb, w.lint, w.cotton_waste, w.organic, 400_000), w.ginner)

    assert booked(sb, receipt) == [
        (lint_credits, 0, ENTRY_CONVERTED_OUT, R_MOVED, 400_000, 600_000),
        (waste_key, 0, ENTRY_CONVERTED_IN, R_MOVED, 400_000, 400_000)]
    assert sb.credits(w.ginner, w.lint, w.organic) == 600_000
    assert sb.credits(w.ginner, w.cotton_waste, w.organic) == 400_000
    assert stmt(sb, lint_credits, 0)["converted_out"] == 400_000
    assert stmt(sb, waste_key, 0)["converted_in"] == 400_000


def test_move_credits_waste_to_regular_refused(world, lint_credits):
    sb, w = world.sb, world
    sb.tx(_move(sb, w.lint, w.cotton_waste, w.organic, 400_000), w.ginner)
    refused(sb, _move(sb, w.cotton_waste, w.lint, w.organic, 100_000), w.ginner, "MassBalanceWasteToRegular",
            credit_accounts=[(w.ginner, w.lint, w.organic), (w.ginner, w.cotton_waste, w.organic)],
            fromMaterial=w.cotton_waste, toMaterial=w.lint)


@pytest.mark.parametrize("target", ["raw_cotton", "yarn", "lint"], ids=["other_group_1", "other_group_3", "same"])
def test_move_credits_outside_group_refused(world, lint_credits, target):
    sb, w = world.sb, world
    to = getattr(w, target)
    refused(sb, _move(sb, w.lint, to, w.organic, 100_000), w.ginner, "MassBalanceMaterialGroupMismatch",
            credit_accounts=[(w.ginner, w.lint, w.organic), (w.ginner, to, w.organic)],
            fromMaterial=w.lint, toMaterial=to)


def test_move_credits_group_zero_refused(world):
    # group 0 means "no conversion-factor group": credits never move from or to it
    sb, w = world.sb, world
    a = sb.material("fibre a", group=0)
    b = sb.material("fibre b", group=0)
    sb.certify(w.certifier, w.ginner, [a, b], [w.organic], models_mask(MASS_BALANCE))
    sb.capacity(w.certifier, w.ginner, a, 100 * T)
    mb_origin(sb, w.ginner, a, w.organic, T)
    refused(sb, _move(sb, a, b, w.organic, 100_000), w.ginner, "MassBalanceMaterialGroupMismatch",
            credit_accounts=[(w.ginner, a, w.organic), (w.ginner, b, w.organic)], fromMaterial=a, toMaterial=b)


def test_move_credits_beyond_balance_refused(world, lint_credits):
    sb, w = world.sb, world
    refused(sb, _move(sb, w.lint, w.cotton_waste, w.organic, T + 1), w.ginner, "MassBalanceInsufficientCredits",
            credit_accounts=[(w.ginner, w.lint, w.organic), (w.ginner, w.cotton_waste, w.organic)],
            account=lint_credits, balance=T, requested=T + 1)


def test_move_credits_zero_refused(world, lint_credits):
    sb, w = world.sb, world
    refused(sb, _move(sb, w.lint, w.cotton_waste, w.organic, 0), w.ginner, "MassBalanceZeroAmount",
            credit_accounts=[(w.ginner, w.lint, w.organic), (w.ginner, w.cotton_waste, w.organic)])


@pytest.mark.parametrize("withdrawn", ["from", "to"])
def test_move_credits_requires_mass_balance_certification_for_both(world, accounts, withdrawn):
    sb, w = world.sb, world
    mill = sb.participant("Lint Trader Mill", ROLE_SUPPLIER, accounts[13], site="Lint Yard")
    lint_cert = sb.certify(w.certifier, mill, [w.lint], [w.organic], models_mask(MASS_BALANCE))
    waste_cert = sb.certify(w.certifier, mill, [w.cotton_waste], [w.organic], models_mask(MASS_BALANCE))
    # segregated on both stays: only mass balance certification counts for credits
    sb.certify(w.certifier, mill, [w.lint, w.cotton_waste], [w.organic], models_mask(SEGREGATED))
    sb.capacity(w.certifier, mill, w.lint, 100 * T)
    mb_origin(sb, mill, w.lint, w.organic, T)
    cert, material = (lint_cert, w.lint) if withdrawn == "from" else (waste_cert, w.cotton_waste)
    sb.tx(sb.c.registry.functions.setCertificationStatus(cert, WITHDRAWN, h("withdrawn")), w.certifier)

    refused(sb, _move(sb, w.lint, w.cotton_waste, w.organic, 100_000), mill, "RegistryNotCertified",
            credit_accounts=[(mill, w.lint, w.organic), (mill, w.cotton_waste, w.organic)],
            participantId=mill.participant_id, material=material, characteristic=w.organic, model=MASS_BALANCE)


def test_move_credits_by_uncertified_trader_refused(world):
    sb, w = world.sb, world
    refused(sb, _move(sb, w.lint, w.cotton_waste, w.organic, 1), w.trader, "RegistryNotCertified",
            credit_accounts=[(w.trader, w.lint, w.organic), (w.trader, w.cotton_waste, w.organic)],
            participantId=w.trader.participant_id, material=w.lint, characteristic=w.organic, model=MASS_BALANCE)


# ---------------------------------------------------------------------------------------------- periods


@pytest.fixture
def busy_period(world):
    """Period 0 of the farm's organic raw-cotton account: 10 t in from origin, 3 t delivered,
    1 t proposed and rejected (out and back in), 2 t converted to lint. Closing 5 t."""
    sb, w = world.sb, world
    b = mb_origin(sb, w.farm, w.raw_cotton, w.organic, 10 * T)
    sb.transfer(w.farm, w.ginner, b, 3 * T, certified=3 * T)
    t = sb.propose(w.farm, w.ginner, b, T, certified=T)
    sb.reject(w.ginner, t)
    sb.transform(w.farm, w.ginning, [b], [5 * T], 1_750_000, MASS_BALANCE, 2 * T)
    return key(sb, w.farm, w.raw_cotton, w.organic)


def test_statement_records_period_flows(world, busy_period):
    sb, w, k = world.sb, world, busy_period
    assert current_period(sb, k) == 0
    assert stmt(sb, k, 0) == dict(opening=0, inflow=11 * T, outflow=4 * T, converted_in=0, converted_out=2 * T,
                                  lapsed=0, closing=5 * T, materialized=True)
    assert balance(sb, k) == 5 * T
    lint = stmt(sb, key(sb, w.farm, w.lint, w.organic), 0)
    assert (lint["converted_in"], lint["closing"]) == (700_000, 700_000)


def test_roll_closes_period_and_carries_over(world, busy_period):
    sb, w, k = world.sb, world, busy_period
    sb.advance(PERIOD)
    assert current_period(sb, k) == 1
    assert account(sb, k)["period"] == 0  # not touched yet
    assert balance(sb, k) == 5 * T  # no lapse in GOTS

    receipt = roll(sb, k, w.auditor)  # any registered participant's wallet may roll

    assert closed(sb, receipt) == [dict(account=k, period=0, opening=0, inflow=11 * T, convertedIn=0,
                                        outflow=4 * T, convertedOut=2 * T, lapsed=0, closing=5 * T)]
    assert booked(sb, receipt) == []
    assert stmt(sb, k, 1) == dict(opening=5 * T, inflow=0, outflow=0, converted_in=0, converted_out=0, lapsed=0,
                                  closing=5 * T, materialized=True)
    assert stmt(sb, k, 0)["closing"] == 5 * T
    assert account(sb, k)["period"] == 1
    assert balance(sb, k) == 5 * T
    # rolling again in the same period closes nothing
    assert closed(sb, roll(sb, k)) == []


def test_booking_after_period_end_closes_period_first(world, busy_period):
    sb, w, k = world.sb, world, busy_period
    sb.advance(PERIOD)
    fn = sb.c.ledger.functions.createOrigin((w.raw_cotton, w.organic, MASS_BALANCE, 0, T, h("geo"), "DDS-9",
                                              h("evidence-next-period"), sb.now() - DAY))
    receipt = sb.tx(fn, w.farm)
    assert [e["period"] for e in closed(sb, receipt)] == [0]
    assert booked(sb, receipt) == [(k, 1, ENTRY_IN, R_ORIGIN, T, 6 * T)]
    assert stmt(sb, k, 1) == dict(opening=5 * T, inflow=T, outflow=0, converted_in=0, converted_out=0, lapsed=0,
                                  closing=6 * T, materialized=True)
    assert stmt(sb, k, 0)["closing"] == 5 * T  # a closed period never changes


def test_statement_closing_identity_over_several_periods(world, busy_period):
    sb, w, k = world.sb, world, busy_period
    for p in range(1, 4):
        sb.advance(PERIOD)
        mb_origin(sb, w.farm, w.raw_cotton, w.organic, p * T)
        pledge(sb, w.farm, w.raw_cotton, w.organic, T)
    prev_closing = 0
    for p in range(0, 4):
        s = stmt(sb, k, p)
        assert s["opening"] == prev_closing
        assert s["closing"] == (s["opening"] + s["inflow"] + s["converted_in"] - s["outflow"] - s["converted_out"]
                                - s["lapsed"])
        prev_closing = s["closing"]
    assert prev_closing == balance(sb, k) == 5 * T + (1 + 2 + 3) * T - 3 * T


def test_inactive_gap_carries_balance_through_middle_periods(world):
    sb, w = world.sb, world
    mb_origin(sb, w.farm, w.raw_cotton, w.organic, 10 * T)
    k = key(sb, w.farm, w.raw_cotton, w.organic)
    sb.advance(3 * PERIOD)
    assert current_period(sb, k) == 3
    carried = dict(opening=10 * T, inflow=0, outflow=0, converted_in=0, converted_out=0, lapsed=0, closing=10 * T,
                   materialized=False)
    # before anyone touches the account, the views already derive the middle periods
    assert stmt(sb, k, 2) == carried
    assert balance(sb, k) == 10 * T

    receipt = roll(sb, k)

    assert [(e["period"], e["closing"]) for e in closed(sb, receipt)] == [(0, 10 * T)]
    assert stmt(sb, k, 1) == carried
    assert stmt(sb, k, 2) == carried
    assert stmt(sb, k, 3) == dict(carried, materialized=True)
    assert account(sb, k)["period"] == 3


# ---------------------------------------------------------------------------------------------- lapse


def test_lapse_scheme_account_takes_its_settings(world):
    sb, w = world.sb, world
    scheme, char = lapse_scheme(sb, w, 4)
    receipt = sb.tx(sb.c.ledger.functions.createOrigin((w.raw_cotton, char, MASS_BALANCE, 0, T, h("geo"), "DDS",
                                                         h("evidence-lapse-open"), sb.now() - DAY)), w.farm)
    opened = events(sb.c.mass_balance, receipt, "AccountOpened")[0]
    assert (opened["scheme"], opened["periodLength"], opened["lapseAfterPeriods"]) == (scheme, 30 * DAY, 4)


def test_lapse_spends_oldest_credits_first(world):
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 2)
    k = key(sb, w.farm, w.raw_cotton, char)
    mb_origin(sb, w.farm, w.raw_cotton, char, 100 * T)  # period 0
    sb.advance(30 * DAY)
    mb_origin(sb, w.farm, w.raw_cotton, char, 50 * T)  # period 1
    pledge(sb, w.farm, w.raw_cotton, char, 120 * T)  # takes all 100 of period 0 and 20 of period 1
    assert balance(sb, k) == 30 * T

    # end of period 1: period 0's credits lapse, and none of them is left
    sb.advance(30 * DAY)
    assert balance(sb, k) == 30 * T
    receipt = roll(sb, k)
    assert [b for b in booked(sb, receipt) if b[2] == ENTRY_LAPSED] == []
    assert closed(sb, receipt) == [dict(account=k, period=1, opening=100 * T, inflow=50 * T, convertedIn=0,
                                        outflow=120 * T, convertedOut=0, lapsed=0, closing=30 * T)]

    # end of period 2: what is left of period 1 lapses
    sb.advance(30 * DAY)
    assert balance(sb, k) == 0  # projected before the account is touched
    assert account(sb, k)["balance"] == 30 * T
    receipt = roll(sb, k)
    assert booked(sb, receipt) == [(k, 2, ENTRY_LAPSED, R_LAPSE, 30 * T, 0)]
    assert closed(sb, receipt) == [dict(account=k, period=2, opening=30 * T, inflow=0, convertedIn=0, outflow=0,
                                        convertedOut=0, lapsed=30 * T, closing=0)]
    assert stmt(sb, k, 2)["lapsed"] == 30 * T
    assert stmt(sb, k, 3)["opening"] == 0
    assert balance(sb, k) == account(sb, k)["balance"] == 0


def test_lapse_after_one_period_means_no_carry_over(world):
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 1)
    k = key(sb, w.farm, w.raw_cotton, char)
    mb_origin(sb, w.farm, w.raw_cotton, char, 100 * T)
    pledge(sb, w.farm, w.raw_cotton, char, 30 * T)
    sb.advance(30 * DAY)
    assert balance(sb, k) == 0
    assert account(sb, k)["balance"] == 70 * T

    receipt = roll(sb, k)

    assert booked(sb, receipt) == [(k, 0, ENTRY_LAPSED, R_LAPSE, 70 * T, 0)]
    assert closed(sb, receipt) == [dict(account=k, period=0, opening=0, inflow=100 * T, convertedIn=0,
                                        outflow=30 * T, convertedOut=0, lapsed=70 * T, closing=0)]
    assert stmt(sb, k, 1)["opening"] == 0
    # what comes in now is all there is
    mb_origin(sb, w.farm, w.raw_cotton, char, 5 * T)
    assert balance(sb, k) == 5 * T


def test_lapsed_credits_cannot_be_spent(world):
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 1)
    k = key(sb, w.farm, w.raw_cotton, char)
    mb_origin(sb, w.farm, w.raw_cotton, char, 100 * T)
    sb.advance(30 * DAY)
    # the pledge brings the account up to date first (lapse 100 t), then finds nothing to take
    fn = sb.c.certificates.functions.pledgeCredits(w.raw_cotton, char, 1)
    refused(sb, fn, w.farm, "MassBalanceInsufficientCredits", credit_accounts=[(w.farm, w.raw_cotton, char)],
            account=k, balance=0, requested=1)


def test_lapse_over_inactive_gap(world):
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 2)
    k = key(sb, w.farm, w.raw_cotton, char)
    mb_origin(sb, w.farm, w.raw_cotton, char, 100 * T)  # period 0
    sb.advance(30 * DAY)
    mb_origin(sb, w.farm, w.raw_cotton, char, 50 * T)  # period 1
    sb.advance(4 * 30 * DAY)  # period 5
    assert current_period(sb, k) == 5
    assert balance(sb, k) == 0  # projected: both vintages are past their age

    receipt = roll(sb, k)

    assert booked(sb, receipt) == [(k, 1, ENTRY_LAPSED, R_LAPSE, 100 * T, 50 * T),
                                   (k, 2, ENTRY_LAPSED, R_LAPSE, 50 * T, 0)]
    assert [(e["period"], e["opening"], e["lapsed"], e["closing"]) for e in closed(sb, receipt)] == [
        (1, 100 * T, 100 * T, 50 * T), (2, 50 * T, 50 * T, 0)]
    for p in (3, 4):
        assert (stmt(sb, k, p)["opening"], stmt(sb, k, p)["closing"]) == (0, 0)
    assert stmt(sb, k, 5)["opening"] == 0


def test_lapse_projection_is_partial_within_age(world):
    # balanceOf drops only what is due: period-1 credits survive the end of period 1 with lapse 2
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 2)
    k = key(sb, w.farm, w.raw_cotton, char)
    mb_origin(sb, w.farm, w.raw_cotton, char, 100 * T)
    sb.advance(30 * DAY)
    mb_origin(sb, w.farm, w.raw_cotton, char, 50 * T)
    sb.advance(30 * DAY)  # period 2: period 0's 100 t are due, period 1's 50 t are not
    assert balance(sb, k) == 50 * T
    assert account(sb, k)["balance"] == 150 * T


def test_lapse_cancelled_delivery_does_not_revive_credits(world):
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 1)
    k = key(sb, w.farm, w.raw_cotton, char)
    b = mb_origin(sb, w.farm, w.raw_cotton, char, 100 * T)
    t = sb.propose(w.farm, w.ginner, b, 100 * T, certified=100 * T)  # period 0
    sb.advance(30 * DAY)  # period 0's credits are past their age now
    sb.cancel(w.farm, t)
    assert sb.balance(w.farm, b) == 100 * T  # the material comes back
    assert balance(sb, k) == 0  # the credits, booked in period 0, do not


def test_lapse_moved_credits_keep_their_age(world):
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 2)
    a = sb.material("fibre lot a", group=9)
    b = sb.material("fibre lot b", group=9)
    sb.certify(w.certifier, w.farm, [a, b], [char], models_mask(MASS_BALANCE), scheme="MSPO")
    sb.capacity(w.certifier, w.farm, a, 1000 * T)
    mb_origin(sb, w.farm, a, char, 100 * T)  # period 0: lapses at the end of period 1
    sb.advance(30 * DAY)
    sb.tx(_move(sb, a, b, char, 100 * T), w.farm)  # period 1
    sb.advance(30 * DAY)  # period 2
    assert balance(sb, key(sb, w.farm, a, char)) == 0
    assert balance(sb, key(sb, w.farm, b, char)) == 0


def test_lapse_statement_agrees_with_projected_balance_before_roll(world):
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 1)
    k = key(sb, w.farm, w.raw_cotton, char)
    mb_origin(sb, w.farm, w.raw_cotton, char, 100 * T)
    sb.advance(2 * 30 * DAY)  # period 2; period 0's credits lapsed at its end
    before = stmt(sb, k, 1)
    assert balance(sb, k) == 0
    assert (before["opening"], before["closing"]) == (0, 0)
    roll(sb, k)
    assert stmt(sb, k, 1) == before


# ---------------------------------------------------------------------------------------------- roll's actor


def test_roll_by_an_outsider_refused(world, accounts):
    """Issue 9: roll needs an active registered participant's wallet, so strangers cannot spend a relayer's gas."""
    sb, w = world.sb, world
    mb_origin(sb, w.farm, w.raw_cotton, w.organic, 5 * T)
    k = key(sb, w.farm, w.raw_cotton, w.organic)
    sb.advance(PERIOD + DAY)
    before = account(sb, k)
    for outsider in (sb.relayer, accounts[15]):
        expect_revert(sb.c.mass_balance.functions.roll(k), outsider, "RegistryUnknownWallet", wallet=outsider.address)
    tx(sb.c.registry.functions.setParticipantStatus(w.auditor.participant_id, 2), sb.admin)  # suspended
    expect_revert(sb.c.mass_balance.functions.roll(k), w.auditor.account, "RegistryParticipantSuspended",
                  participantId=w.auditor.participant_id)
    assert account(sb, k) == before
    assert closed(sb, roll(sb, k, w.brand)) != []


# ---------------------------------------------------------------------------------------------- L: bouncing


@pytest.mark.parametrize("two_step", [False, True])
def test_deliver_bouncing_declarations_back_and_forth_still_lapse(world, two_step):
    """Issue 10 (L): two members passing the same declared credits back and forth every period used to make
    them young again at each delivery (booked in the receiver's current period), so they never lapsed.
    Delivered credits now keep their age: bounced for more periods than lapseAfterPeriods, they lapse."""
    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 2)
    batch = mb_origin(sb, w.farm, w.raw_cotton, char, 100 * T)  # period 0: vintage 0
    farm_k, gin_k = key(sb, w.farm, w.raw_cotton, char), key(sb, w.ginner, w.raw_cotton, char)

    def bounce(sender, receiver):
        if two_step:
            sb.accept(receiver, sb.propose(sender, receiver, batch, 100 * T, certified=100 * T))
        else:
            sb.transfer(sender, receiver, batch, 100 * T, certified=100 * T)

    bounce(w.farm, w.ginner)  # period 0
    sb.advance(30 * DAY)
    bounce(w.ginner, w.farm)  # period 1: still alive (vintage 0 + 2 > 1)
    assert balance(sb, farm_k) == 100 * T and balance(sb, gin_k) == 0
    sb.advance(30 * DAY)
    # period 2: the credits came in in period 0 whoever holds them now: lapsed at the end of period 1
    assert balance(sb, farm_k) == 0
    t = sb.offer(w.farm, w.ginner, batch, 100 * T, certified=100 * T)
    deadline = sb.now() + 3600
    fn = sb.c.ledger.functions.transferWithAcceptance(t.as_tuple(), sb.sign_offer(w.farm, t), deadline,
                                                      sb.sign_accept(w.ginner, t, deadline))
    expect_revert(fn, sb.relayer, "MassBalanceInsufficientCredits", account=farm_k, balance=0, requested=100 * T)
    receipt = roll(sb, farm_k)
    assert [b for b in booked(sb, receipt) if b[2] == ENTRY_LAPSED] == [(farm_k, 1, ENTRY_LAPSED, R_LAPSE, 100 * T, 0)]
    # the goods themselves still move, without a declaration
    sb.transfer(w.farm, w.ginner, batch, 100 * T)
    assert sb.balance(w.ginner, batch) == 100 * T


def test_moveCredits_of_two_vintages_books_in_per_vintage_and_the_auditor_agrees(world):
    """A move of credits from two periods books them out once and in once per vintage (they keep their age).
    The auditor once paired one credit-out with one credit-in per move and reported this honest move as
    "credit move without its counterpart" (found by the stateful test); it now sums a move's parts."""
    from auditor.cli import run_audit

    sb, w = world.sb, world
    _, char = lapse_scheme(sb, w, 2)
    a = sb.material("fibre lot c", group=9)
    b = sb.material("fibre lot d", group=9)
    sb.certify(w.certifier, w.farm, [a, b], [char], models_mask(MASS_BALANCE), scheme="MSPO")
    sb.capacity(w.certifier, w.farm, a, 1000 * T)
    mb_origin(sb, w.farm, a, char, 100 * T)  # period 0
    sb.advance(30 * DAY)
    mb_origin(sb, w.farm, a, char, 50 * T)  # period 1
    receipt = sb.tx(_move(sb, a, b, char, 150 * T), w.farm)
    entries = [row[2] for row in booked(sb, receipt)]
    assert entries.count(ENTRY_CONVERTED_OUT) == 1 and entries.count(ENTRY_CONVERTED_IN) == 2
    assert balance(sb, key(sb, w.farm, b, char)) == 150 * T

    res = run_audit(sb.w3.provider.endpoint_uri, sb.c.registry.address, views=False)
    assert res["rules"]["credits.bookings"]["failures"] == 0, [f for f in res["findings"] if f["rule"] == "credits.bookings"]
