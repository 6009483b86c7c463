"""CertificateRegistry: book & claim certificates issued once per evidence, moved only between
registered participants, revoked by their issuer (then frozen on every path, since `_update` checks it),
retired for a beneficiary; and the pledges that take attributes out of the physical chain (mass-balance
credits or a certified batch) so that the same tonne is never claimed both ways.

Every refusal asserts the decoded custom error with all of its arguments, and that certificate
balances, issuances, pledges, batch balances and credits are exactly as before.
"""

from __future__ import annotations


import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from helpers import call_revert, events, expect_revert
from helpers import read_views, tx
from testkit.sandbox import (
    CONTROLLED_BLENDING,
    DAY,
    IDENTITY_PRESERVED,
    MASS_BALANCE,
    PPM,
    ROLE_ISSUER,
    ROLE_SUPPLIER,
    SEGREGATED,
    UNCERTIFIED,
    Actor,
    h,
)

# ICertificateRegistry.Source, IBatchLedger.BatchKind, IMassBalance.Entry / Reason
VERIFIED, CREDITS, BATCH = 0, 1, 2
KIND_ATTRIBUTES_RELEASED = 4
ENTRY_OUT, REASON_PLEDGED = 1, 6
P_SUSPENDED = 2
C_WITHDRAWN = 3
UNIT = 1_000_000  # 1 t in grams
ZERO = "0x" + "00" * 20


# ---------------------------------------------------------------------------------------------- helpers





def account_key(actor: Actor, material: int, characteristic: int) -> bytes:
    """MassBalance.accountKey, computed off chain."""
    return keccak(abi_encode(["uint32"] * 4, [actor.participant_id, actor.site_id, material, characteristic]))


def parties(world, extra=()):
    w = world
    return [w.farm, w.farm2, w.ginner, w.spinner, w.brand, w.trader, w.issuer, w.auditor, w.certifier, *extra]


def book_state(world, certificates=(), batches=(), pledges=(), evidence=(), extra=()) -> dict:
    """Certificate balances and issuances, pledges, evidence use, batch balances and totals, and the
    credit accounts of every party: all that a refused book & claim action could have touched."""
    sb = world.sb
    certs, ledger, mb = sb.c.certificates, sb.c.ledger, sb.c.mass_balance
    who = parties(world, extra)
    holders = [a.address for a in who] + [ledger.address, certs.address]
    n_certs, n_pledges = certs.functions.certificateCount().call(), certs.functions.pledgeCount().call()
    calls = {"certificateCount": (certs, "certificateCount", ()), "pledgeCount": (certs, "pledgeCount", ())}
    calls |= {("cert", a, c): (certs, "balanceOf", (a, c)) for a in holders for c in certificates}
    calls |= {("issuance", c): (certs, "issuance", (c,)) for c in range(1, n_certs + 1)}
    calls |= {("pledge", p): (certs, "pledge", (p,)) for p in {*range(1, n_pledges + 1), *pledges}}
    calls |= {("evidence", e): (certs, "evidenceUsedBy", (e,)) for e in evidence}
    calls |= {("batch", a, b): (ledger, "balanceOf", (a, b)) for a in holders for b in batches}
    calls |= {"totals": (ledger, "totals", ()), "batchCount": (ledger, "batchCount", ())}
    calls |= {
        ("credits", a.name, m, c): (mb, "balanceOf", (account_key(a, m, c),))
        for a in who for m in (world.raw_cotton, world.lint) for c in (world.organic, world.recycled)
    }
    return read_views(sb.w3, calls)


def refused(world, fn, sender, error: str, /, *, certificates=(), batches=(), pledges=(), evidence=(), extra=(), **args):
    """`fn` sent by `sender` reverts with `error(**args)` (every argument asserted) and changes nothing."""
    before = book_state(world, certificates, batches, pledges, evidence, extra)
    rev = expect_revert(fn, getattr(sender, "account", sender), error, **args)
    assert set(rev.error_args) == set(args), f"unasserted error arguments: {rev.error_args}"
    assert book_state(world, certificates, batches, pledges, evidence, extra) == before
    return rev


def issue_params(world, *, producer=None, to=None, amount=10, unit_size=UNIT, unit_label="1 t", material=None,
                 characteristic=None, period=None, evidence=None, pledge_id=0) -> tuple:
    sb = world.sb
    start, end = period or (sb.now() - 30 * DAY, sb.now())
    return (
        (producer or world.farm).participant_id if not isinstance(producer, int) else producer,
        (to or world.brand).address if not isinstance(to, str) else to,
        amount,
        unit_size,
        unit_label,
        world.raw_cotton if material is None else material,
        world.organic if characteristic is None else characteristic,
        start,
        end,
        sb.next_evidence("production-record") if evidence is None else evidence,
        pledge_id,
    )


def issue(world, **kw) -> int:
    """Issues certificates (default: 10 x 1 t organic raw cotton produced by the farm, to the brand)."""
    c = world.sb.c.certificates
    receipt = tx(c.functions.issue(issue_params(world, **kw)), world.issuer)
    return events(c, receipt, "CertificatesIssued")[0]["certificateId"]


def cert_balance(world, actor, certificate_id) -> int:
    return world.sb.c.certificates.functions.balanceOf(actor.address, certificate_id).call()


def amounts(world, certificate_id) -> tuple:
    return tuple(world.sb.c.certificates.functions.issuance(certificate_id).call()[1])


def credits(world, actor, material=None, characteristic=None):
    return world.sb.credits(actor, world.raw_cotton if material is None else material,
                            world.organic if characteristic is None else characteristic)


def certified_batch(world, model=SEGREGATED, quantity=10_000, share=None):
    return world.sb.create_origin(world.farm, world.raw_cotton, quantity, characteristic=world.organic, model=model,
                                  share=share)


def retire_fn(world, certificate_id, amount, *, beneficiary="Brand Ltd", period=None, purpose=b"\x01" * 32):
    start, end = period or (world.sb.now() - 90 * DAY, world.sb.now())
    return world.sb.c.certificates.functions.retire(certificate_id, amount, beneficiary, start, end, purpose)


def transfer_fn(world, holder, to, certificate_id, amount):
    return world.sb.c.certificates.functions.safeTransferFrom(holder.address, to, certificate_id, amount, b"")


# ---------------------------------------------------------------------------------------------- issue


def test_issue_mints_to_holder_and_records_issuance(world):
    sb, c = world.sb, world.sb.c.certificates
    params = issue_params(world, amount=12, unit_label="1 t lint equivalent")
    receipt = tx(c.functions.issue(params), world.issuer)
    (ev,) = events(c, receipt, "CertificatesIssued")
    assert ev == {
        "certificateId": 1, "issuer": world.issuer.participant_id, "producer": world.farm.participant_id,
        "to": world.brand.address, "amount": 12, "unitSize": UNIT, "unitLabel": "1 t lint equivalent",
        "material": world.raw_cotton, "characteristic": world.organic, "periodStart": params[7], "periodEnd": params[8],
        "evidenceHash": params[9], "pledgeId": 0,
    }
    issuance, amount = c.functions.issuance(1).call()
    assert tuple(issuance) == (
        world.issuer.participant_id, world.farm.participant_id, world.raw_cotton, world.organic, params[7], params[8],
        False, VERIFIED,
    )
    assert tuple(amount) == (UNIT, 12, 0, 0)
    assert cert_balance(world, world.brand, 1) == 12
    assert c.functions.evidenceUsedBy(params[9]).call() == 1
    assert c.functions.certificateCount().call() == 1


def test_issue_by_non_issuer(world):
    refused(world, world.sb.c.certificates.functions.issue(issue_params(world)), world.farm, "RegistryMissingRole",
            wallet=world.farm.address, participantId=world.farm.participant_id, role=ROLE_ISSUER)


def test_issue_by_unregistered_wallet(world, accounts):
    refused(world, world.sb.c.certificates.functions.issue(issue_params(world)), accounts[12], "RegistryUnknownWallet",
            wallet=accounts[12].address)


def test_issue_by_suspended_issuer(world):
    sb = world.sb
    tx(sb.c.registry.functions.setParticipantStatus(world.issuer.participant_id, P_SUSPENDED), sb.admin)
    refused(world, sb.c.certificates.functions.issue(issue_params(world)), world.issuer, "RegistryParticipantSuspended",
            participantId=world.issuer.participant_id)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount": 0}, "amount"),
        ({"unit_size": 0}, "unitSize"),
        ({"evidence": b"\x00" * 32}, "evidenceHash"),
        ({"period": (2_000, 1_999)}, "periodEnd"),
    ],
)
def test_issue_invalid(world, change, field):
    params = issue_params(world, **change)
    refused(world, world.sb.c.certificates.functions.issue(params), world.issuer, "CertificateInvalid",
            evidence=[params[9]], field=field)


def test_issue_suspended_producer(world):
    sb = world.sb
    tx(sb.c.registry.functions.setParticipantStatus(world.farm.participant_id, P_SUSPENDED), sb.admin)
    params = issue_params(world)
    refused(world, sb.c.certificates.functions.issue(params), world.issuer, "RegistryParticipantSuspended",
            evidence=[params[9]], participantId=world.farm.participant_id)


def test_issue_unknown_producer(world):
    params = issue_params(world, producer=999)
    refused(world, world.sb.c.certificates.functions.issue(params), world.issuer, "RegistryUnknownParticipant",
            evidence=[params[9]], participantId=999)


def test_issue_second_issuance_on_same_evidence(world):
    sb = world.sb
    evidence = h("audit report 2026-Q3 farm")
    first = issue(world, evidence=evidence)
    # whatever else differs, the evidence can back one issuance only
    params = issue_params(world, evidence=evidence, producer=world.farm2, to=world.spinner, amount=1,
                          characteristic=world.recycled)
    refused(world, sb.c.certificates.functions.issue(params), world.issuer, "CertificateEvidenceAlreadyUsed",
            certificates=[first], evidence=[evidence], evidenceHash=evidence, certificateId=first)


def test_issue_evidence_of_revoked_issuance_stays_used(world):
    sb = world.sb
    evidence = h("audit report later found wrong")
    first = issue(world, evidence=evidence)
    tx(sb.c.certificates.functions.revoke(first, h("error")), world.issuer)
    params = issue_params(world, evidence=evidence)
    refused(world, sb.c.certificates.functions.issue(params), world.issuer, "CertificateEvidenceAlreadyUsed",
            certificates=[first], evidence=[evidence], evidenceHash=evidence, certificateId=first)


def test_issue_to_unregistered_account(world, accounts):
    params = issue_params(world, to=accounts[12].address)
    refused(world, world.sb.c.certificates.functions.issue(params), world.issuer, "RegistryUnknownWallet",
            evidence=[params[9]], wallet=accounts[12].address)


def test_issue_to_suspended_participant(world):
    sb = world.sb
    tx(sb.c.registry.functions.setParticipantStatus(world.brand.participant_id, P_SUSPENDED), sb.admin)
    params = issue_params(world)
    refused(world, sb.c.certificates.functions.issue(params), world.issuer, "RegistryParticipantSuspended",
            evidence=[params[9]], participantId=world.brand.participant_id)


# ---------------------------------------------------------------------------------------------- transfer


def test_safeTransferFrom_between_registered_participants(world):
    sb, c = world.sb, world.sb.c.certificates
    cert = issue(world)
    receipt = tx(transfer_fn(world, world.brand, world.trader.address, cert, 3), world.brand)
    assert events(c, receipt, "TransferSingle") == [{
        "operator": world.brand.address, "from": world.brand.address, "to": world.trader.address, "id": cert, "value": 3,
    }]
    assert (cert_balance(world, world.brand, cert), cert_balance(world, world.trader, cert)) == (7, 3)


def test_safeTransferFrom_by_approved_operator(world):
    sb, c = world.sb, world.sb.c.certificates
    cert = issue(world)
    tx(c.functions.setApprovalForAll(world.auditor.address, True), world.brand)
    tx(c.functions.safeTransferFrom(world.brand.address, world.ginner.address, cert, 4, b""), world.auditor)
    assert (cert_balance(world, world.brand, cert), cert_balance(world, world.ginner, cert)) == (6, 4)


def test_safeTransferFrom_to_unregistered_account(world, accounts):
    cert = issue(world)
    refused(world, transfer_fn(world, world.brand, accounts[12].address, cert, 1), world.brand, "RegistryUnknownWallet",
            certificates=[cert], wallet=accounts[12].address)
    assert cert_balance(world, world.brand, cert) == 10


def test_safeTransferFrom_by_operator_to_unregistered_account(world, accounts):
    c = world.sb.c.certificates
    cert = issue(world)
    tx(c.functions.setApprovalForAll(accounts[12].address, True), world.brand)
    fn = c.functions.safeTransferFrom(world.brand.address, accounts[12].address, cert, 1, b"")
    refused(world, fn, accounts[12], "RegistryUnknownWallet", certificates=[cert], wallet=accounts[12].address)


@pytest.mark.parametrize("side", ["holder", "receiver"])
def test_safeTransferFrom_suspended_party(world, side):
    sb = world.sb
    cert = issue(world)
    party = world.brand if side == "holder" else world.ginner
    tx(sb.c.registry.functions.setParticipantStatus(party.participant_id, P_SUSPENDED), sb.admin)
    refused(world, transfer_fn(world, world.brand, world.ginner.address, cert, 1), world.brand,
            "RegistryParticipantSuspended", certificates=[cert], participantId=party.participant_id)


def test_safeTransferFrom_holder_wallet_removed(world):
    sb = world.sb
    cert = issue(world)
    tx(sb.c.registry.functions.removeWallet(world.brand.address), sb.admin)
    refused(world, transfer_fn(world, world.brand, world.ginner.address, cert, 1), world.brand, "RegistryUnknownWallet",
            certificates=[cert], wallet=world.brand.address)


# ---------------------------------------------------------------------------------------------- revoke


def test_revoke_freezes_outstanding_units(world):
    sb, c = world.sb, world.sb.c.certificates
    cert = issue(world)
    tx(retire_fn(world, cert, 3), world.brand)
    receipt = tx(c.functions.revoke(cert, h("fraud finding")), world.issuer)
    assert events(c, receipt, "IssuanceRevoked") == [
        {"certificateId": cert, "issuer": world.issuer.participant_id, "outstanding": 7, "reasonHash": h("fraud finding")}
    ]
    assert c.functions.issuance(cert).call()[0][6] is True
    # revocation freezes, it does not erase: the retired claim and the held units stay on record
    assert amounts(world, cert) == (UNIT, 10, 3, 1)
    assert cert_balance(world, world.brand, cert) == 7


def test_revoke_by_another_issuer(world, accounts):
    sb = world.sb
    other = sb.participant("Other Registry", ROLE_ISSUER, accounts[10])
    cert = issue(world)
    refused(world, sb.c.certificates.functions.revoke(cert, h("x")), other, "CertificateNotIssuer",
            certificates=[cert], extra=[other], certificateId=cert, participantId=other.participant_id)


def test_revoke_by_non_issuer(world):
    cert = issue(world)
    refused(world, world.sb.c.certificates.functions.revoke(cert, h("x")), world.brand, "RegistryMissingRole",
            certificates=[cert], wallet=world.brand.address, participantId=world.brand.participant_id, role=ROLE_ISSUER)


def test_revoke_unknown_certificate(world):
    refused(world, world.sb.c.certificates.functions.revoke(999, h("x")), world.issuer, "CertificateUnknown",
            certificateId=999)


def test_revoke_twice(world):
    cert = issue(world)
    tx(world.sb.c.certificates.functions.revoke(cert, h("x")), world.issuer)
    refused(world, world.sb.c.certificates.functions.revoke(cert, h("y")), world.issuer, "CertificateRevoked",
            certificates=[cert], certificateId=cert)


def test_revoke_fully_retired_issuance(world):
    cert = issue(world)
    tx(retire_fn(world, cert, 10), world.brand)
    refused(world, world.sb.c.certificates.functions.revoke(cert, h("x")), world.issuer, "CertificateNothingToRevoke",
            certificates=[cert], certificateId=cert)


@pytest.mark.parametrize("path", ["transfer", "batch transfer", "operator", "retire"])
def test_revoked_certificate_cannot_move_by_any_path(world, path):
    sb, c = world.sb, world.sb.c.certificates
    cert = issue(world)
    healthy = issue(world)
    tx(c.functions.setApprovalForAll(world.auditor.address, True), world.brand)
    tx(c.functions.revoke(cert, h("double counting")), world.issuer)
    fn, sender = {
        "transfer": (transfer_fn(world, world.brand, world.ginner.address, cert, 1), world.brand),
        "batch transfer": (
            c.functions.safeBatchTransferFrom(world.brand.address, world.ginner.address, [healthy, cert], [1, 1], b""),
            world.brand,
        ),
        "operator": (c.functions.safeTransferFrom(world.brand.address, world.ginner.address, cert, 1, b""), world.auditor),
        "retire": (retire_fn(world, cert, 1), world.brand),
    }[path]
    refused(world, fn, sender, "CertificateRevoked", certificates=[cert, healthy], certificateId=cert)


# ---------------------------------------------------------------------------------------------- retire


def test_retire_burns_units_and_records_the_claim(world):
    sb, c = world.sb, world.sb.c.certificates
    cert = issue(world)
    start, end = sb.now() - 90 * DAY, sb.now()
    fn = c.functions.retire(cert, 4, "Brand Ltd, SS27 collection", start, end, h("purpose:SS27"))
    rid = fn.call({"from": world.brand.address})
    receipt = tx(fn, world.brand)
    assert rid == (cert << 32) | 1
    assert events(c, receipt, "CertificatesRetired") == [{
        "retirementId": rid, "certificateId": cert, "holder": world.brand.address,
        "retiredBy": world.brand.participant_id, "amount": 4, "beneficiary": "Brand Ltd, SS27 collection",
        "periodStart": start, "periodEnd": end, "purposeHash": h("purpose:SS27"),
    }]
    assert events(c, receipt, "TransferSingle") == [
        {"operator": world.brand.address, "from": world.brand.address, "to": ZERO, "id": cert, "value": 4}
    ]
    assert tuple(c.functions.retirement(rid).call()) == (cert, 4, world.brand.participant_id, start, end)
    assert cert_balance(world, world.brand, cert) == 6
    assert amounts(world, cert) == (UNIT, 10, 4, 1)
    assert sb.retire(world.brand, cert, 1) == (cert << 32) | 2


def test_retire_more_than_held(world):
    cert = issue(world)
    tx(retire_fn(world, cert, 4), world.brand)
    refused(world, retire_fn(world, cert, 7), world.brand, "ERC1155InsufficientBalance", certificates=[cert],
            sender=world.brand.address, balance=6, needed=7, tokenId=cert)


def test_retire_second_claim_on_retired_units(world):
    cert = issue(world)
    tx(retire_fn(world, cert, 10), world.brand)
    refused(world, retire_fn(world, cert, 1), world.brand, "ERC1155InsufficientBalance", certificates=[cert],
            sender=world.brand.address, balance=0, needed=1, tokenId=cert)
    assert amounts(world, cert) == (UNIT, 10, 10, 1)


def test_retire_retired_units_never_move_again(world):
    cert = issue(world)
    tx(retire_fn(world, cert, 10), world.brand)
    refused(world, transfer_fn(world, world.brand, world.ginner.address, cert, 1), world.brand,
            "ERC1155InsufficientBalance", certificates=[cert], sender=world.brand.address, balance=0, needed=1,
            tokenId=cert)


def test_retire_units_of_another_holder(world):
    cert = issue(world)
    refused(world, retire_fn(world, cert, 1), world.ginner, "ERC1155InsufficientBalance", certificates=[cert],
            sender=world.ginner.address, balance=0, needed=1, tokenId=cert)


@pytest.mark.parametrize(
    "change, field",
    [({"amount": 0}, "amount"), ({"period": (2_000, 1_999)}, "periodEnd"), ({"beneficiary": ""}, "beneficiary")],
)
def test_retire_invalid(world, change, field):
    cert = issue(world)
    fn = retire_fn(world, cert, change.get("amount", 1), beneficiary=change.get("beneficiary", "Brand Ltd"),
                   period=change.get("period"))
    refused(world, fn, world.brand, "CertificateInvalid", certificates=[cert], field=field)


def test_retire_by_suspended_holder(world):
    sb = world.sb
    cert = issue(world)
    tx(sb.c.registry.functions.setParticipantStatus(world.brand.participant_id, P_SUSPENDED), sb.admin)
    refused(world, retire_fn(world, cert, 1), world.brand, "RegistryParticipantSuspended", certificates=[cert],
            participantId=world.brand.participant_id)


def test_retirement_unknown(world):
    cert = issue(world)
    c = world.sb.c.certificates.functions
    assert call_revert(c.retirement((cert << 32) | 1)) == ("CertificateUnknownRetirement", {"retirementId": (cert << 32) | 1})


def test_issued_units_are_held_plus_retired(world):
    sb = world.sb
    cert = issue(world, amount=10)
    tx(transfer_fn(world, world.brand, world.ginner.address, cert, 3), world.brand)
    sb.retire(world.brand, cert, 2)
    sb.retire(world.ginner, cert, 1)
    held = sum(cert_balance(world, a, cert) for a in parties(world))
    _, issued, retired, count = amounts(world, cert)
    assert (held, retired, count, held + retired) == (7, 3, 2, issued)


# ---------------------------------------------------------------------------------------------- pledges


def test_pledgeCredits_takes_credits_out_for_one_issuance(world):
    sb, c = world.sb, world.sb.c.certificates
    certified_batch(world, MASS_BALANCE, 5 * UNIT)
    assert credits(world, world.farm) == 5 * UNIT
    receipt = tx(c.functions.pledgeCredits(world.raw_cotton, world.organic, 3 * UNIT), world.farm)
    assert events(c, receipt, "AttributesPledged") == [{
        "pledgeId": 1, "producer": world.farm.participant_id, "holder": world.farm.address, "source": CREDITS,
        "material": world.raw_cotton, "characteristic": world.organic, "quantity": 3 * UNIT, "batchId": 0,
        "releasedBatchId": 0,
    }]
    key = account_key(world.farm, world.raw_cotton, world.organic)
    booked = events(sb.c.mass_balance, receipt, "CreditsBooked")
    assert [(e["account"], e["entry"], e["reason"], e["amount"], e["balance"], e["ref"]) for e in booked] == [
        (key, ENTRY_OUT, REASON_PLEDGED, 3 * UNIT, 2 * UNIT, (1).to_bytes(32, "big"))
    ]
    assert credits(world, world.farm) == 2 * UNIT
    assert tuple(c.functions.pledge(1).call()) == (
        world.farm.participant_id, world.raw_cotton, world.organic, CREDITS, False, 3 * UNIT
    )

    cert = issue(world, amount=3, pledge_id=1)
    assert c.functions.issuance(cert).call()[0][7] == CREDITS
    assert c.functions.pledge(1).call()[4] is True
    assert cert_balance(world, world.brand, cert) == 3


def test_pledgeCredits_more_than_balance(world):
    certified_batch(world, MASS_BALANCE, 5 * UNIT)
    fn = world.sb.c.certificates.functions.pledgeCredits(world.raw_cotton, world.organic, 5 * UNIT + 1)
    refused(world, fn, world.farm, "MassBalanceInsufficientCredits",
            account=account_key(world.farm, world.raw_cotton, world.organic), balance=5 * UNIT, requested=5 * UNIT + 1)


def test_pledgeCredits_pledged_credits_cannot_also_be_delivered(world):
    """The same tonne is never claimed both ways: a pledged credit no longer backs a delivery's declaration."""
    sb = world.sb
    batch = certified_batch(world, MASS_BALANCE, 5 * UNIT)
    sb.pledge_credits(world.farm, world.raw_cotton, world.organic, 4 * UNIT)
    t = sb.offer(world.farm, world.ginner, batch, 2 * UNIT, certified=UNIT + 1)
    fn = sb.c.ledger.functions.proposeTransfer(t.as_tuple(), sb.sign_offer(world.farm, t))
    refused(world, fn, sb.relayer, "MassBalanceInsufficientCredits", batches=[batch],
            account=account_key(world.farm, world.raw_cotton, world.organic), balance=UNIT, requested=UNIT + 1)


def test_pledgeCredits_uncertified_supplier(world):
    fn = world.sb.c.certificates.functions.pledgeCredits(world.raw_cotton, world.organic, 1)
    refused(world, fn, world.trader, "RegistryNotCertified", participantId=world.trader.participant_id,
            material=world.raw_cotton, characteristic=world.organic, model=MASS_BALANCE)


def test_pledgeCredits_by_non_supplier(world):
    fn = world.sb.c.certificates.functions.pledgeCredits(world.raw_cotton, world.organic, 1)
    refused(world, fn, world.issuer, "RegistryMissingRole", wallet=world.issuer.address,
            participantId=world.issuer.participant_id, role=ROLE_SUPPLIER)


def test_pledgeCredits_zero(world):
    certified_batch(world, MASS_BALANCE, 5 * UNIT)
    fn = world.sb.c.certificates.functions.pledgeCredits(world.raw_cotton, world.organic, 0)
    refused(world, fn, world.farm, "MassBalanceZeroAmount")


def test_pledgeCredits_wallet_without_site(world, accounts):
    sb = world.sb
    certified_batch(world, MASS_BALANCE, 5 * UNIT)
    # the wallet the certificate registry's RegistryWalletHasNoSite guards against cannot be bound any more:
    # a supplier's wallet must name a site (issue 13)
    fn = sb.c.registry.functions.addWallet(accounts[10].address, world.farm.participant_id, 0)
    refused(world, fn, world.farm, "RegistryWalletNeedsSite", wallet=accounts[10].address,
            participantId=world.farm.participant_id)
    assert tuple(sb.c.registry.functions.wallet(accounts[10].address).call()) == (0, 0)


def test_pledgeBatch_releases_attributes_and_material_continues_uncertified(world):
    sb, c, ledger = world.sb, world.sb.c.certificates, world.sb.c.ledger
    batch = certified_batch(world, SEGREGATED, 10 * UNIT)
    totals = ledger.functions.totals().call()
    receipt = tx(c.functions.pledgeBatch(batch, 4 * UNIT), world.farm)
    (child,) = [e["batchId"] for e in events(ledger, receipt, "BatchCreated")]
    assert events(c, receipt, "AttributesPledged") == [{
        "pledgeId": 1, "producer": world.farm.participant_id, "holder": world.farm.address, "source": BATCH,
        "material": world.raw_cotton, "characteristic": world.organic, "quantity": 4 * UNIT, "batchId": batch,
        "releasedBatchId": child,
    }]
    assert (sb.balance(world.farm, batch), sb.balance(world.farm, child)) == (6 * UNIT, 4 * UNIT)
    material, characteristic, model, share, creator, origin, kind, _ = sb.batch(child)
    assert (material, characteristic, model, share, creator, origin, kind) == (
        world.raw_cotton, 0, UNCERTIFIED, 0, world.farm.participant_id, 0, KIND_ATTRIBUTES_RELEASED
    )
    assert [tuple(p) for p in ledger.functions.parents(child).call()] == [(batch, 4 * UNIT)]
    assert ledger.functions.totals().call() == totals  # nothing physical was created or lost
    assert tuple(c.functions.pledge(1).call()) == (
        world.farm.participant_id, world.raw_cotton, world.organic, BATCH, False, 4 * UNIT
    )
    # the released material counts as conventional: it may go to an uncertified trader
    sb.transfer(world.farm, world.trader, child, UNIT)
    assert sb.balance(world.trader, child) == UNIT

    cert = issue(world, amount=4, pledge_id=1)
    assert c.functions.issuance(cert).call()[0][7] == BATCH


def test_pledgeBatch_controlled_blending_pledges_its_certified_share(world):
    sb = world.sb
    batch = certified_batch(world, CONTROLLED_BLENDING, 8 * UNIT, share=PPM // 4)
    pledge_id = sb.pledge_batch(world.farm, batch, 4 * UNIT)
    assert sb.c.certificates.functions.pledge(pledge_id).call()[5] == UNIT


@pytest.mark.parametrize("model", [MASS_BALANCE, UNCERTIFIED])
def test_pledgeBatch_without_physical_claim(world, model):
    sb = world.sb
    batch = sb.create_origin(world.farm, world.raw_cotton, UNIT, characteristic=0 if model == UNCERTIFIED else world.organic,
                             model=model)
    refused(world, sb.c.certificates.functions.pledgeBatch(batch, UNIT), world.farm, "BatchNotCertified",
            batches=[batch], batchId=batch)


def test_pledgeBatch_zero_quantity(world):
    batch = certified_batch(world)
    refused(world, world.sb.c.certificates.functions.pledgeBatch(batch, 0), world.farm, "BatchZeroQuantity",
            batches=[batch])


def test_pledgeBatch_more_than_held(world):
    batch = certified_batch(world, IDENTITY_PRESERVED, 10_000)
    refused(world, world.sb.c.certificates.functions.pledgeBatch(batch, 10_001), world.farm,
            "ERC1155InsufficientBalance", batches=[batch], sender=world.farm.address, balance=10_000, needed=10_001,
            tokenId=batch)


def test_pledgeBatch_certified_quantity_rounds_to_zero(world):
    batch = certified_batch(world, CONTROLLED_BLENDING, PPM, share=1)  # 1 ppm certified: 1 g in the batch
    refused(world, world.sb.c.certificates.functions.pledgeBatch(batch, PPM - 1), world.farm, "CertificateInvalid",
            batches=[batch], field="quantity")


def test_pledgeBatch_certification_withdrawn(world):
    sb = world.sb
    batch = certified_batch(world)
    cert = world.certifications[world.farm.name]
    tx(sb.c.registry.functions.setCertificationStatus(cert, C_WITHDRAWN, h("withdrawn")), world.certifier)
    refused(world, sb.c.certificates.functions.pledgeBatch(batch, 1_000), world.farm, "RegistryNotCertified",
            batches=[batch], participantId=world.farm.participant_id, material=world.raw_cotton,
            characteristic=world.organic, model=SEGREGATED)


def test_pledgeBatch_unknown_batch(world):
    refused(world, world.sb.c.certificates.functions.pledgeBatch(999, 1), world.farm, "BatchUnknown", batchId=999)


def test_releaseAttributes_only_certificate_registry(world):
    batch = certified_batch(world)
    fn = world.sb.c.ledger.functions.releaseAttributes(world.farm.address, batch, 1_000)
    refused(world, fn, world.farm, "BatchNotLinkedContract", batches=[batch], caller=world.farm.address)


def test_issue_pledge_used_twice(world):
    sb = world.sb
    certified_batch(world, MASS_BALANCE, 5 * UNIT)
    pledge_id = sb.pledge_credits(world.farm, world.raw_cotton, world.organic, 2 * UNIT)
    first = issue(world, amount=2, pledge_id=pledge_id)
    params = issue_params(world, amount=2, pledge_id=pledge_id)
    refused(world, sb.c.certificates.functions.issue(params), world.issuer, "CertificatePledgeUnusable",
            certificates=[first], pledges=[pledge_id], evidence=[params[9]], pledgeId=pledge_id)


def test_issue_unknown_pledge(world):
    params = issue_params(world, pledge_id=99)
    refused(world, world.sb.c.certificates.functions.issue(params), world.issuer, "CertificatePledgeUnusable",
            pledges=[99], evidence=[params[9]], pledgeId=99)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"producer": "farm2"}, "producer"),
        ({"material": "lint"}, "material"),
        ({"characteristic": "recycled"}, "characteristic"),
        ({"amount": 2}, "amount"),
        ({"unit_size": UNIT // 2}, "amount"),
    ],
)
def test_issue_pledge_mismatch(world, change, field):
    sb = world.sb
    certified_batch(world, MASS_BALANCE, 5 * UNIT)
    pledge_id = sb.pledge_credits(world.farm, world.raw_cotton, world.organic, 3 * UNIT)
    kw = {"amount": 3, "pledge_id": pledge_id, **{k: getattr(world, v) if isinstance(v, str) else v for k, v in change.items()}}
    params = issue_params(world, **kw)
    refused(world, sb.c.certificates.functions.issue(params), world.issuer, "CertificatePledgeMismatch",
            pledges=[pledge_id], evidence=[params[9]], pledgeId=pledge_id, field=field)
