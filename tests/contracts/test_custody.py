"""BatchLedger custody transfers: the holder's signed EIP-712 offer, the receiver's signed acceptance or
rejection, the sender's signed cancellation, both signatures in one transaction, and the mass-balance
declaration that travels with a delivery.

Every message is signed with the participant's own key and relayed by an unregistered relayer (the
sandbox's), so only the signer can be what the contract trusts. Every refusal asserts the decoded
custom error with all of its arguments, and that balances, nonces, credits and transfer statuses are
exactly as before.
"""

from __future__ import annotations


import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from helpers import events, expect_revert
from helpers import read_views, tx
from testkit.sandbox import (
    CONTROLLED_BLENDING,
    DAY,
    IDENTITY_PRESERVED,
    MASS_BALANCE,
    PPM,
    ROLE_BRAND,
    ROLE_SUPPLIER,
    SEGREGATED,
    UNCERTIFIED,
    Actor,
    h,
    models_mask,
)
from node_api.signing import ledger_domain, digest, transfer_typed_data

# IBatchLedger.TransferStatus
T_NONE, T_PENDING, T_ACCEPTED, T_REJECTED, T_CANCELLED = range(5)
P_SUSPENDED = 2
C_WITHDRAWN = 3
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


# ---------------------------------------------------------------------------------------------- helpers





def account_key(actor: Actor, material: int, characteristic: int) -> bytes:
    """MassBalance.accountKey, computed off chain."""
    return keccak(abi_encode(["uint32"] * 4, [actor.participant_id, actor.site_id, material, characteristic]))


def custody_state(world, batches=(), transfers=(), extra=()) -> dict:
    """Balances of every party (and of the ledger, which holds what is in transit), nonces, physical
    totals, transfer statuses and the raw-cotton / lint credit accounts of every supplier and the brand."""
    sb = world.sb
    ledger, mb = sb.c.ledger, sb.c.mass_balance
    parties = [world.farm, world.farm2, world.ginner, world.spinner, world.brand, world.trader, *extra]
    holders = [a.address for a in parties] + [ledger.address, sb.relayer.address]
    calls = {("balance", a, b): (ledger, "balanceOf", (a, b)) for a in holders for b in batches}
    calls |= {("nonce", a): (ledger, "nonces", (a,)) for a in holders}
    calls |= {("status", t): (ledger, "transferStatus", (t,)) for t in transfers}
    calls |= {"totals": (ledger, "totals", ()), "batchCount": (ledger, "batchCount", ())}
    calls |= {
        ("credits", a.name, m, c): (mb, "balanceOf", (account_key(a, m, c),))
        for a in parties for m in (world.raw_cotton, world.lint) for c in (world.organic, world.recycled)
    }
    return read_views(sb.w3, calls)


def refused(world, fn, sender, error: str, /, *, batches=(), transfers=(), extra=(), **args):
    """`fn` sent by `sender` reverts with `error(**args)` (every argument asserted) and changes nothing."""
    before = custody_state(world, batches, transfers, extra)
    rev = expect_revert(fn, getattr(sender, "account", sender), error, **args)
    assert set(rev.error_args) == set(args), f"unasserted error arguments: {rev.error_args}"
    assert custody_state(world, batches, transfers, extra) == before
    return rev


def tid(t) -> bytes:
    return t.transfer_id()


def accept_fn(sb, signer, t, deadline=None, signature=None):
    deadline = sb.now() + 3600 if deadline is None else deadline
    signature = sb.sign_accept(signer, t, deadline) if signature is None else signature
    return sb.c.ledger.functions.acceptTransfer(t.as_tuple(), deadline, signature)


def reject_fn(sb, signer, t, deadline=None, signature=None):
    deadline = sb.now() + 3600 if deadline is None else deadline
    signature = sb.sign_reject(signer, t, deadline) if signature is None else signature
    return sb.c.ledger.functions.rejectTransfer(t.as_tuple(), deadline, signature)


def cancel_fn(sb, signer, t, deadline=None, signature=None):
    deadline = sb.now() + 3600 if deadline is None else deadline
    signature = sb.sign_cancel(signer, t, deadline) if signature is None else signature
    return sb.c.ledger.functions.cancelTransfer(t.as_tuple(), deadline, signature)


def both_fn(sb, sender, receiver, t, *, accept_deadline=None, offer_sig=None, accept_sig=None):
    accept_deadline = sb.now() + 3600 if accept_deadline is None else accept_deadline
    offer_sig = sb.sign_offer(sender, t) if offer_sig is None else offer_sig
    accept_sig = sb.sign_accept(receiver, t, accept_deadline) if accept_sig is None else accept_sig
    return sb.c.ledger.functions.transferWithAcceptance(t.as_tuple(), offer_sig, accept_deadline, accept_sig)


def signed_propose(sb, sender, t):
    return sb.c.ledger.functions.proposeTransfer(t.as_tuple(), sb.sign_offer(sender, t))


def segregated(world, quantity=1_000, actor=None):
    return world.sb.create_origin(actor or world.farm, world.raw_cotton, quantity, characteristic=world.organic,
                                  model=SEGREGATED)


def mass_balance(world, quantity=5_000, actor=None):
    """A mass-balance origin: the farm's raw-cotton/organic account is credited with `quantity`."""
    return world.sb.create_origin(actor or world.farm, world.raw_cotton, quantity, characteristic=world.organic,
                                  model=MASS_BALANCE)


def credits(world, actor):
    return world.sb.credits(actor, world.raw_cotton, world.organic)


def extra_supplier(world, account, *, models=None, characteristics=None, site="Weaver Coimbatore"):
    """A further supplier, certified by the consortium's certifier for raw cotton with `models`
    (None: no certification at all)."""
    sb = world.sb
    actor = sb.participant("Weaving Mill", ROLE_SUPPLIER, account, site=site)
    if models is not None:
        sb.certify(world.certifier, actor, [world.raw_cotton], characteristics or [world.organic], models)
    return actor


def wallet_without_site_refused(world, actor, account) -> None:
    """A supplier's wallet bound to no site would fail every declaration (the ledger's RegistryWalletHasNoSite):
    the registry refuses to bind it at all (issue 13), even with the participant's own consent."""
    fn = world.sb.c.registry.functions.addWallet(account.address, actor.participant_id, 0)
    refused(world, fn, actor, "RegistryWalletNeedsSite", wallet=account.address,
            participantId=actor.participant_id)
    assert tuple(world.sb.c.registry.functions.wallet(account.address).call()) == (0, 0)


# ---------------------------------------------------------------------------------------------- allowed paths


def test_proposeTransfer_puts_quantity_in_transit(world):
    sb, ledger = world.sb, world.sb.c.ledger
    assert tuple(sb.c.registry.functions.wallet(sb.relayer.address).call()) == (0, 0)  # the relayer is nobody
    batch = segregated(world)
    totals = ledger.functions.totals().call()
    t = sb.offer(world.farm, world.ginner, batch, 400)
    signature = sb.sign_offer(world.farm, t)
    receipt = tx(ledger.functions.proposeTransfer(t.as_tuple(), signature), sb.relayer)
    assert events(ledger, receipt, "CustodyProposed") == [{
        "transferId": tid(t), "batchId": batch, "from": world.farm.address, "to": world.ginner.address,
        "quantity": 400, "certifiedQuantity": 0, "nonce": 0, "deadline": t.deadline, "signature": signature,
    }]
    assert ledger.functions.transferStatus(tid(t)).call() == T_PENDING
    assert (sb.balance(world.farm, batch), sb.balance(ledger.address, batch), sb.balance(world.ginner, batch)) == (600, 400, 0)
    assert ledger.functions.nonces(world.farm.address).call() == 1
    assert ledger.functions.totals().call() == totals


def test_acceptTransfer_moves_custody_to_receiver(world):
    sb, ledger = world.sb, world.sb.c.ledger
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 400)
    deadline = sb.now() + 600
    signature = sb.sign_accept(world.ginner, t, deadline)
    receipt = tx(ledger.functions.acceptTransfer(t.as_tuple(), deadline, signature), sb.relayer)
    assert events(ledger, receipt, "CustodyAccepted") == [
        {"transferId": tid(t), "batchId": batch, "to": world.ginner.address, "deadline": deadline, "signature": signature}
    ]
    assert ledger.functions.transferStatus(tid(t)).call() == T_ACCEPTED
    assert (sb.balance(world.farm, batch), sb.balance(ledger.address, batch), sb.balance(world.ginner, batch)) == (600, 0, 400)


def test_rejectTransfer_returns_quantity_to_sender(world):
    sb, ledger = world.sb, world.sb.c.ledger
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 400)
    deadline = sb.now() + 600
    signature = sb.sign_reject(world.ginner, t, deadline)
    receipt = tx(ledger.functions.rejectTransfer(t.as_tuple(), deadline, signature), sb.relayer)
    assert events(ledger, receipt, "CustodyRejected") == [
        {"transferId": tid(t), "batchId": batch, "to": world.ginner.address, "deadline": deadline, "signature": signature}
    ]
    assert ledger.functions.transferStatus(tid(t)).call() == T_REJECTED
    assert (sb.balance(world.farm, batch), sb.balance(ledger.address, batch), sb.balance(world.ginner, batch)) == (1_000, 0, 0)


def test_cancelTransfer_returns_quantity_to_sender(world):
    sb, ledger = world.sb, world.sb.c.ledger
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 400)
    deadline = sb.now() + 600
    signature = sb.sign_cancel(world.farm, t, deadline)
    receipt = tx(ledger.functions.cancelTransfer(t.as_tuple(), deadline, signature), sb.relayer)
    assert events(ledger, receipt, "CustodyCancelled") == [
        {"transferId": tid(t), "batchId": batch, "from": world.farm.address, "deadline": deadline, "signature": signature}
    ]
    assert ledger.functions.transferStatus(tid(t)).call() == T_CANCELLED
    assert (sb.balance(world.farm, batch), sb.balance(ledger.address, batch), sb.balance(world.ginner, batch)) == (1_000, 0, 0)


def test_transferWithAcceptance_moves_custody_in_one_transaction(world):
    sb, ledger = world.sb, world.sb.c.ledger
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 250)
    deadline = sb.now() + 600
    offer_sig, accept_sig = sb.sign_offer(world.farm, t), sb.sign_accept(world.ginner, t, deadline)
    receipt = tx(ledger.functions.transferWithAcceptance(t.as_tuple(), offer_sig, deadline, accept_sig), sb.relayer)
    assert events(ledger, receipt, "CustodyProposed") == [{
        "transferId": tid(t), "batchId": batch, "from": world.farm.address, "to": world.ginner.address,
        "quantity": 250, "certifiedQuantity": 0, "nonce": 0, "deadline": t.deadline, "signature": offer_sig,
    }]
    assert events(ledger, receipt, "CustodyAccepted") == [
        {"transferId": tid(t), "batchId": batch, "to": world.ginner.address, "deadline": deadline, "signature": accept_sig}
    ]
    assert (sb.balance(world.farm, batch), sb.balance(ledger.address, batch), sb.balance(world.ginner, batch)) == (750, 0, 250)
    assert ledger.functions.nonces(world.farm.address).call() == 1
    # settled at once: nothing is left pending that could be accepted, rejected or cancelled later
    assert ledger.functions.transferStatus(tid(t)).call() == T_NONE
    refused(world, cancel_fn(sb, world.farm, t), sb.relayer, "BatchTransferNotPending",
            batches=[batch], transfers=[tid(t)], transferId=tid(t), status=T_NONE)


def test_transferWithAcceptance_mass_balance_declaration_moves_credits(world):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    assert credits(world, world.farm) == 5_000
    sb.transfer(world.farm, world.ginner, batch, 2_000, certified=1_500)
    assert (sb.balance(world.farm, batch), sb.balance(world.ginner, batch)) == (3_000, 2_000)
    assert (credits(world, world.farm), credits(world, world.ginner)) == (3_500, 1_500)


def test_proposeTransfer_mass_balance_declaration_debits_sender_until_accepted(world):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    t = sb.propose(world.farm, world.ginner, batch, 2_000, certified=1_500)
    assert (credits(world, world.farm), credits(world, world.ginner)) == (3_500, 0)
    sb.accept(world.ginner, t)
    assert (credits(world, world.farm), credits(world, world.ginner)) == (3_500, 1_500)
    assert sb.balance(world.ginner, batch) == 2_000


@pytest.mark.parametrize("how", ["reject", "cancel"])
def test_rejectTransfer_and_cancelTransfer_return_declared_credits(world, how):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    t = sb.propose(world.farm, world.ginner, batch, 2_000, certified=1_500)
    assert credits(world, world.farm) == 3_500
    if how == "reject":
        sb.reject(world.ginner, t)
    else:
        sb.cancel(world.farm, t)
    assert (credits(world, world.farm), credits(world, world.ginner)) == (5_000, 0)
    assert (sb.balance(world.farm, batch), sb.balance(world.ginner, batch)) == (5_000, 0)


def test_proposeTransfer_relayed_by_any_account_acts_for_the_signer(world):
    sb, ledger = world.sb, world.sb.c.ledger
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    # relayed by an unrelated participant (the auditor) and accepted through the receiver's own relay
    tx(signed_propose(sb, world.farm, t), world.auditor)
    tx(accept_fn(sb, world.ginner, t), world.farm)
    assert (sb.balance(world.farm, batch), sb.balance(world.ginner, batch)) == (900, 100)
    assert ledger.functions.nonces(world.auditor.address).call() == 0


@pytest.mark.parametrize("model", [UNCERTIFIED, MASS_BALANCE])
def test_transferWithAcceptance_no_claim_may_go_to_uncertified_receiver(world, model):
    sb = world.sb
    characteristic = 0 if model == UNCERTIFIED else world.organic
    batch = sb.create_origin(world.farm, world.raw_cotton, 1_000, characteristic=characteristic, model=model)
    sb.transfer(world.farm, world.trader, batch, 600)  # no declaration: no certified claim travels
    assert sb.balance(world.trader, batch) == 600
    assert credits(world, world.trader) == 0


def test_transferWithAcceptance_brand_may_receive(world):
    sb = world.sb
    batch = segregated(world)
    sb.transfer(world.farm, world.brand, batch, 1_000)
    assert sb.balance(world.brand, batch) == 1_000


def test_nonces_count_per_signer(world):
    sb, ledger = world.sb, world.sb.c.ledger
    a, b = segregated(world), segregated(world, actor=world.farm2)
    sb.transfer(world.farm, world.ginner, a, 10)
    sb.propose(world.farm, world.ginner, a, 10)
    sb.transfer(world.farm2, world.ginner, b, 10)
    assert [ledger.functions.nonces(x.address).call() for x in (world.farm, world.farm2, world.ginner)] == [2, 1, 0]


def test_eip712Domain_is_what_clients_sign_with(world):
    """ERC-5267: a client reads the domain (chain id and contract address included) from the contract."""
    sb, ledger = world.sb, world.sb.c.ledger
    fields, name, version, chain_id, contract, salt, extensions = ledger.functions.eip712Domain().call()
    assert (fields, salt, extensions) == (b"\x0f", b"\x00" * 32, [])
    assert {"name": name, "version": version, "chainId": chain_id, "verifyingContract": contract} == ledger_domain(
        sb.chain_id, ledger.address
    )
    t = sb.offer(world.farm, world.ginner, 1, 10, certified=3, nonce=7, deadline=12345)
    assert ledger.functions.transferId(t.as_tuple()).call() == tid(t)
    assert ledger.functions.transferDigest(t.as_tuple()).call() == digest(transfer_typed_data(sb.chain_id, ledger.address, t))


# ---------------------------------------------------------------------------------------------- signatures


def test_proposeTransfer_replayed_signature(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    fn = signed_propose(sb, world.farm, t)
    tx(fn, sb.relayer)
    refused(world, fn, sb.relayer, "InvalidAccountNonce", batches=[batch], transfers=[tid(t)],
            account=world.farm.address, currentNonce=1)


def test_proposeTransfer_replayed_after_cancel(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    fn = signed_propose(sb, world.farm, t)
    tx(fn, sb.relayer)
    sb.cancel(world.farm, t)
    refused(world, fn, sb.relayer, "InvalidAccountNonce", batches=[batch], transfers=[tid(t)],
            account=world.farm.address, currentNonce=1)
    assert sb.c.ledger.functions.transferStatus(tid(t)).call() == T_CANCELLED


def test_transferWithAcceptance_replayed_signatures(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    fn = both_fn(sb, world.farm, world.ginner, t)
    tx(fn, sb.relayer)
    refused(world, fn, sb.relayer, "InvalidAccountNonce", batches=[batch], account=world.farm.address, currentNonce=1)
    assert sb.balance(world.ginner, batch) == 100


def test_proposeTransfer_future_nonce(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100, nonce=5)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "InvalidAccountNonce", batches=[batch],
            transfers=[tid(t)], account=world.farm.address, currentNonce=0)


def test_proposeTransfer_expired_signature(world):
    sb = world.sb
    batch = segregated(world)
    now = sb.now()
    t = sb.offer(world.farm, world.ginner, batch, 100, deadline=now - 1)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "BatchSignatureExpired", batches=[batch],
            transfers=[tid(t)], deadline=now - 1, timestamp=now)


def test_acceptTransfer_expired_signature(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    now = sb.now()
    refused(world, accept_fn(sb, world.ginner, t, deadline=now - 1), sb.relayer, "BatchSignatureExpired",
            batches=[batch], transfers=[tid(t)], deadline=now - 1, timestamp=now)


def test_transferWithAcceptance_expired_acceptance(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    now = sb.now()
    refused(world, both_fn(sb, world.farm, world.ginner, t, accept_deadline=now - 1), sb.relayer,
            "BatchSignatureExpired", batches=[batch], deadline=now - 1, timestamp=now)


def test_transferWithAcceptance_expired_offer(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100, deadline=sb.now() + 60)
    sb.advance(61)
    now = sb.now()
    refused(world, both_fn(sb, world.farm, world.ginner, t), sb.relayer, "BatchSignatureExpired", batches=[batch],
            deadline=t.deadline, timestamp=now)


@pytest.mark.parametrize("domain", ["foreign chain", "other contract"])
def test_proposeTransfer_signature_for_another_domain(world, domain):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    if domain == "foreign chain":
        signature = sb.sign_offer(world.farm, t, chain_id=sb.chain_id + 1)
    else:
        signature = sb.sign_offer(world.farm, t, ledger=sb.c.certificates.address)
    refused(world, sb.c.ledger.functions.proposeTransfer(t.as_tuple(), signature), sb.relayer, "BatchInvalidSignature",
            batches=[batch], transfers=[tid(t)], expectedSigner=world.farm.address)


def test_proposeTransfer_signed_by_someone_else(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    # the receiver (or the relayer) cannot move the holder's goods with its own signature
    for signer in (world.ginner, sb.relayer):
        refused(world, signed_propose(sb, signer, t), sb.relayer, "BatchInvalidSignature", batches=[batch],
                transfers=[tid(t)], expectedSigner=world.farm.address)


def test_proposeTransfer_holder_sending_itself_still_needs_its_signature(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    fn = sb.c.ledger.functions.proposeTransfer(t.as_tuple(), b"")
    refused(world, fn, world.farm, "BatchInvalidSignature", batches=[batch], transfers=[tid(t)],
            expectedSigner=world.farm.address)


@pytest.mark.parametrize("field", ["quantity", "to", "certifiedQuantity", "batchId", "deadline"])
def test_proposeTransfer_tampered_message(world, field):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    other = mass_balance(world, 5_000)
    t = sb.offer(world.farm, world.ginner, batch, 100, certified=50)
    signature = sb.sign_offer(world.farm, t)
    changed = {
        "quantity": {"quantity": 200},
        "to": {"to": world.spinner.address},
        "certifiedQuantity": {"certifiedQuantity": 100},
        "batchId": {"batchId": other},
        "deadline": {"deadline": t.deadline + 1},
    }[field]
    forged = type(t)(**{**t.__dict__, **changed})
    refused(world, sb.c.ledger.functions.proposeTransfer(forged.as_tuple(), signature), sb.relayer,
            "BatchInvalidSignature", batches=[batch, other], transfers=[tid(forged)], expectedSigner=world.farm.address)


def test_proposeTransfer_malleated_signature(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    signature = sb.sign_offer(world.farm, t)
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    malleated = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # same signer, high s
    refused(world, sb.c.ledger.functions.proposeTransfer(t.as_tuple(), malleated), sb.relayer, "BatchInvalidSignature",
            batches=[batch], transfers=[tid(t)], expectedSigner=world.farm.address)


def test_acceptTransfer_signed_by_sender(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    refused(world, accept_fn(sb, world.farm, t), sb.relayer, "BatchInvalidSignature", batches=[batch],
            transfers=[tid(t)], expectedSigner=world.ginner.address)


def test_acceptTransfer_with_reject_signature(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    deadline = sb.now() + 600
    signature = sb.sign_reject(world.ginner, t, deadline)
    refused(world, accept_fn(sb, world.ginner, t, deadline, signature), sb.relayer, "BatchInvalidSignature",
            batches=[batch], transfers=[tid(t)], expectedSigner=world.ginner.address)


def test_acceptTransfer_signature_for_another_transfer(world):
    sb = world.sb
    batch = segregated(world)
    first = sb.propose(world.farm, world.ginner, batch, 100)
    second = sb.propose(world.farm, world.ginner, batch, 100)
    deadline = sb.now() + 600
    signature = sb.sign_accept(world.ginner, first, deadline)
    refused(world, accept_fn(sb, world.ginner, second, deadline, signature), sb.relayer, "BatchInvalidSignature",
            batches=[batch], transfers=[tid(first), tid(second)], expectedSigner=world.ginner.address)


def test_transferWithAcceptance_acceptance_by_third_party(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    deadline = sb.now() + 600
    fn = both_fn(sb, world.farm, world.ginner, t, accept_deadline=deadline,
                 accept_sig=sb.sign_accept(world.spinner, t, deadline))
    refused(world, fn, sb.relayer, "BatchInvalidSignature", batches=[batch], expectedSigner=world.ginner.address)


def test_rejectTransfer_signed_by_sender(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    refused(world, reject_fn(sb, world.farm, t), sb.relayer, "BatchInvalidSignature", batches=[batch],
            transfers=[tid(t)], expectedSigner=world.ginner.address)


def test_cancelTransfer_signed_by_receiver(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    refused(world, cancel_fn(sb, world.ginner, t), sb.relayer, "BatchInvalidSignature", batches=[batch],
            transfers=[tid(t)], expectedSigner=world.farm.address)


def test_cancelTransfer_with_reject_signature_of_sender(world):
    """Reject and cancel sign different types: one cannot stand in for the other."""
    sb = world.sb
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    deadline = sb.now() + 600
    signature = sb.sign_reject(world.farm, t, deadline)
    refused(world, cancel_fn(sb, world.farm, t, deadline, signature), sb.relayer, "BatchInvalidSignature",
            batches=[batch], transfers=[tid(t)], expectedSigner=world.farm.address)


# ---------------------------------------------------------------------------------------------- handshake states


@pytest.mark.parametrize(
    "first, then, status",
    [
        ("accept", "accept", T_ACCEPTED),
        ("accept", "cancel", T_ACCEPTED),
        ("reject", "accept", T_REJECTED),
        ("cancel", "accept", T_CANCELLED),
        ("cancel", "reject", T_CANCELLED),
        ("reject", "cancel", T_REJECTED),
    ],
)
def test_settled_transfer_is_not_pending(world, first, then, status):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    t = sb.propose(world.farm, world.ginner, batch, 100, certified=40)
    {"accept": lambda: sb.accept(world.ginner, t), "reject": lambda: sb.reject(world.ginner, t),
     "cancel": lambda: sb.cancel(world.farm, t)}[first]()
    fn = {"accept": accept_fn(sb, world.ginner, t), "reject": reject_fn(sb, world.ginner, t),
          "cancel": cancel_fn(sb, world.farm, t)}[then]
    refused(world, fn, sb.relayer, "BatchTransferNotPending", batches=[batch], transfers=[tid(t)],
            transferId=tid(t), status=status)


def test_acceptTransfer_never_proposed(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    refused(world, accept_fn(sb, world.ginner, t), sb.relayer, "BatchTransferNotPending", batches=[batch],
            transfers=[tid(t)], transferId=tid(t), status=T_NONE)


# ---------------------------------------------------------------------------------------------- the offer itself


def test_proposeTransfer_zero_quantity(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 0)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "BatchZeroQuantity", batches=[batch])


@pytest.mark.parametrize("receiver", ["self", "zero", "ledger"])
def test_proposeTransfer_invalid_receiver(world, receiver):
    sb = world.sb
    batch = segregated(world)
    to = {"self": world.farm.address, "zero": "0x" + "00" * 20, "ledger": sb.c.ledger.address}[receiver]
    t = sb.offer(world.farm, to, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "BatchInvalidTransfer", batches=[batch], field="to")


def test_proposeTransfer_more_than_held(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.ginner, batch, 1_001)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "ERC1155InsufficientBalance", batches=[batch],
            sender=world.farm.address, balance=1_000, needed=1_001, tokenId=batch)


def test_proposeTransfer_quantity_in_transit_cannot_be_offered_again(world):
    sb = world.sb
    batch = segregated(world)
    sb.propose(world.farm, world.ginner, batch, 600)
    t = sb.offer(world.farm, world.spinner, batch, 500)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "ERC1155InsufficientBalance", batches=[batch],
            sender=world.farm.address, balance=400, needed=500, tokenId=batch)


def test_proposeTransfer_unknown_batch(world):
    sb = world.sb
    t = sb.offer(world.farm, world.ginner, 999, 1)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "BatchUnknown", batches=[999], batchId=999)


def test_proposeTransfer_declaration_exceeds_quantity(world):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    t = sb.offer(world.farm, world.ginner, batch, 100, certified=101)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "BatchDeclarationExceedsQuantity", batches=[batch],
            certifiedQuantity=101, quantity=100)


@pytest.mark.parametrize("model", [UNCERTIFIED, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED])
def test_proposeTransfer_declaration_on_batch_not_mass_balance(world, model):
    sb = world.sb
    mass_balance(world, 5_000)  # the farm holds credits: the refusal is about the model, not the balance
    characteristic = 0 if model == UNCERTIFIED else world.organic
    share = PPM // 2 if model == CONTROLLED_BLENDING else None
    batch = sb.create_origin(world.farm, world.raw_cotton, 1_000, characteristic=characteristic, model=model, share=share)
    t = sb.offer(world.farm, world.ginner, batch, 100, certified=10)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "BatchDeclarationNotAllowed", batches=[batch],
            batchId=batch, model=model)


def test_proposeTransfer_declaration_exceeds_credits(world):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    sb.transfer(world.farm, world.ginner, batch, 2_000, certified=500)
    t = sb.offer(world.ginner, world.spinner, batch, 2_000, certified=600)
    refused(world, signed_propose(sb, world.ginner, t), sb.relayer, "MassBalanceInsufficientCredits", batches=[batch],
            account=account_key(world.ginner, world.raw_cotton, world.organic), balance=500, requested=600)


def test_transferWithAcceptance_declaration_exceeds_credits(world):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    sb.transfer(world.farm, world.ginner, batch, 2_000, certified=500)
    t = sb.offer(world.ginner, world.spinner, batch, 2_000, certified=501)
    refused(world, both_fn(sb, world.ginner, world.spinner, t), sb.relayer, "MassBalanceInsufficientCredits",
            batches=[batch], account=account_key(world.ginner, world.raw_cotton, world.organic), balance=500, requested=501)


# A declaration from or to a supplier's wallet without a site (the ledger's RegistryWalletHasNoSite, kept as a
# second line) can no longer be set up: the registry refuses such a wallet (RegistryWalletNeedsSite, issue 13).
def test_proposeTransfer_declaration_from_wallet_without_site(world, accounts):
    wallet_without_site_refused(world, world.farm, accounts[10])


def test_proposeTransfer_declaration_to_wallet_without_site(world, accounts):
    wallet_without_site_refused(world, world.ginner, accounts[10])


# ---------------------------------------------------------------------------------------------- parties


@pytest.mark.parametrize("model", [CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED, MASS_BALANCE])
def test_proposeTransfer_certified_claim_to_uncertified_receiver(world, model):
    sb = world.sb
    share = PPM // 2 if model == CONTROLLED_BLENDING else None
    batch = sb.create_origin(world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=model, share=share)
    certified = 100 if model == MASS_BALANCE else 0  # a mass-balance claim travels as its declaration
    t = sb.offer(world.farm, world.trader, batch, 100, certified=certified)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryNotCertified", batches=[batch],
            participantId=world.trader.participant_id, material=world.raw_cotton, characteristic=world.organic, model=model)


def test_transferWithAcceptance_certified_claim_to_uncertified_receiver(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.offer(world.farm, world.trader, batch, 100)
    refused(world, both_fn(sb, world.farm, world.trader, t), sb.relayer, "RegistryNotCertified", batches=[batch],
            participantId=world.trader.participant_id, material=world.raw_cotton, characteristic=world.organic,
            model=SEGREGATED)


def test_proposeTransfer_receiver_certified_for_another_model(world, accounts):
    sb = world.sb
    weaver = extra_supplier(world, accounts[10], models=models_mask(MASS_BALANCE))
    batch = segregated(world)
    t = sb.offer(world.farm, weaver, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryNotCertified", batches=[batch], extra=[weaver],
            participantId=weaver.participant_id, material=world.raw_cotton, characteristic=world.organic, model=SEGREGATED)
    # the same receiver may take a mass-balance delivery with its declaration
    mb = mass_balance(world, 1_000)
    sb.transfer(world.farm, weaver, mb, 100, certified=100)
    assert credits(world, weaver) == 100


def test_proposeTransfer_receiver_certified_for_another_characteristic(world, accounts):
    sb = world.sb
    weaver = extra_supplier(world, accounts[10], models=models_mask(SEGREGATED), characteristics=[world.recycled])
    batch = segregated(world)
    t = sb.offer(world.farm, weaver, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryNotCertified", batches=[batch], extra=[weaver],
            participantId=weaver.participant_id, material=world.raw_cotton, characteristic=world.organic, model=SEGREGATED)


@pytest.mark.parametrize("who", ["issuer", "auditor", "certifier"])
def test_proposeTransfer_receiver_without_receiving_role(world, who):
    sb = world.sb
    receiver = getattr(world, who)
    batch = sb.create_origin(world.farm, world.raw_cotton, 1_000)  # uncertified: only the role is in question
    t = sb.offer(world.farm, receiver, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryMissingRole", batches=[batch],
            wallet=receiver.address, participantId=receiver.participant_id, role=ROLE_SUPPLIER | ROLE_BRAND)


def test_proposeTransfer_unregistered_receiver(world, accounts):
    sb = world.sb
    batch = sb.create_origin(world.farm, world.raw_cotton, 1_000)
    t = sb.offer(world.farm, accounts[12].address, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryUnknownWallet", batches=[batch],
            wallet=accounts[12].address)


def test_proposeTransfer_brand_cannot_send(world):
    sb = world.sb
    batch = segregated(world)
    sb.transfer(world.farm, world.brand, batch, 500)
    t = sb.offer(world.brand, world.ginner, batch, 100)
    refused(world, signed_propose(sb, world.brand, t), sb.relayer, "RegistryMissingRole", batches=[batch],
            wallet=world.brand.address, participantId=world.brand.participant_id, role=ROLE_SUPPLIER)


@pytest.mark.parametrize("side", ["sender", "receiver"])
def test_proposeTransfer_suspended_party(world, side):
    sb = world.sb
    batch = segregated(world)
    party = world.farm if side == "sender" else world.ginner
    tx(sb.c.registry.functions.setParticipantStatus(party.participant_id, P_SUSPENDED), sb.admin)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryParticipantSuspended", batches=[batch],
            participantId=party.participant_id)


def test_transferWithAcceptance_suspended_receiver(world):
    sb = world.sb
    batch = segregated(world)
    tx(sb.c.registry.functions.setParticipantStatus(world.ginner.participant_id, P_SUSPENDED), sb.admin)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    refused(world, both_fn(sb, world.farm, world.ginner, t), sb.relayer, "RegistryParticipantSuspended",
            batches=[batch], participantId=world.ginner.participant_id)


def test_proposeTransfer_removed_wallet(world):
    sb = world.sb
    batch = segregated(world)
    tx(sb.c.registry.functions.removeWallet(world.farm.address), sb.admin)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryUnknownWallet", batches=[batch],
            wallet=world.farm.address)


def test_proposeTransfer_sender_certification_withdrawn(world):
    sb = world.sb
    batch = segregated(world)
    cert = world.certifications[world.farm.name]
    tx(sb.c.registry.functions.setCertificationStatus(cert, C_WITHDRAWN, h("withdrawn")), world.certifier)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryNotCertified", batches=[batch],
            participantId=world.farm.participant_id, material=world.raw_cotton, characteristic=world.organic,
            model=SEGREGATED)


def test_proposeTransfer_sender_certification_expired(world):
    sb = world.sb
    batch = segregated(world)
    sb.advance(366 * DAY)
    t = sb.offer(world.farm, world.ginner, batch, 100)
    refused(world, signed_propose(sb, world.farm, t), sb.relayer, "RegistryNotCertified", batches=[batch],
            participantId=world.farm.participant_id, material=world.raw_cotton, characteristic=world.organic,
            model=SEGREGATED)


def test_acceptTransfer_receiver_certification_withdrawn_in_transit(world):
    sb, ledger = world.sb, world.sb.c.ledger
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    cert = world.certifications[world.ginner.name]
    tx(sb.c.registry.functions.setCertificationStatus(cert, C_WITHDRAWN, h("withdrawn")), world.certifier)
    refused(world, accept_fn(sb, world.ginner, t), sb.relayer, "RegistryNotCertified", batches=[batch],
            transfers=[tid(t)], participantId=world.ginner.participant_id, material=world.raw_cotton,
            characteristic=world.organic, model=SEGREGATED)
    # the goods are not stuck: the receiver can still turn them down
    sb.reject(world.ginner, t)
    assert ledger.functions.transferStatus(tid(t)).call() == T_REJECTED
    assert (sb.balance(world.farm, batch), sb.balance(ledger.address, batch)) == (1_000, 0)


def test_acceptTransfer_receiver_suspended_in_transit(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    tx(sb.c.registry.functions.setParticipantStatus(world.ginner.participant_id, P_SUSPENDED), sb.admin)
    refused(world, accept_fn(sb, world.ginner, t), sb.relayer, "RegistryParticipantSuspended", batches=[batch],
            transfers=[tid(t)], participantId=world.ginner.participant_id)


def test_acceptTransfer_sender_suspended_in_transit(world):
    sb = world.sb
    batch = segregated(world)
    t = sb.propose(world.farm, world.ginner, batch, 100)
    tx(sb.c.registry.functions.setParticipantStatus(world.farm.participant_id, P_SUSPENDED), sb.admin)
    refused(world, accept_fn(sb, world.ginner, t), sb.relayer, "RegistryParticipantSuspended", batches=[batch],
            transfers=[tid(t)], participantId=world.farm.participant_id)


def test_cancelTransfer_suspended_sender(world):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    t = sb.propose(world.farm, world.ginner, batch, 100, certified=100)
    tx(sb.c.registry.functions.setParticipantStatus(world.farm.participant_id, P_SUSPENDED), sb.admin)
    refused(world, cancel_fn(sb, world.farm, t), sb.relayer, "RegistryParticipantSuspended", batches=[batch],
            transfers=[tid(t)], participantId=world.farm.participant_id)


def test_rejectTransfer_returns_credits_to_the_debited_account(world, accounts):
    sb = world.sb
    batch = mass_balance(world, 5_000)
    t = sb.propose(world.farm, world.ginner, batch, 2_000, certified=1_500)
    r = sb.c.registry.functions
    # key rotation while the delivery is in transit: the farm binds its new wallet, the admin unbinds the old
    tx(r.addWallet(accounts[10].address, world.farm.participant_id, world.farm.site_id), world.farm)
    tx(r.removeWallet(world.farm.address), sb.admin)
    sb.reject(world.ginner, t)
    assert credits(world, world.farm) == 5_000


# ---------------------------------------------------------------------------------------------- plain ERC-1155 moves


def test_safeTransferFrom_closed(world):
    sb = world.sb
    batch = segregated(world)
    fn = sb.c.ledger.functions.safeTransferFrom(world.farm.address, world.ginner.address, batch, 100, b"")
    refused(world, fn, world.farm, "BatchTransferRequiresSignatures", batches=[batch])


def test_safeBatchTransferFrom_closed(world):
    sb = world.sb
    batch = segregated(world)
    fn = sb.c.ledger.functions.safeBatchTransferFrom(world.farm.address, world.ginner.address, [batch], [100], b"")
    refused(world, fn, world.farm, "BatchTransferRequiresSignatures", batches=[batch])


def test_setApprovalForAll_closed(world):
    sb = world.sb
    fn = sb.c.ledger.functions.setApprovalForAll(world.ginner.address, True)
    refused(world, fn, world.farm, "BatchTransferRequiresSignatures")
    assert sb.c.ledger.functions.isApprovedForAll(world.farm.address, world.ginner.address).call() is False
