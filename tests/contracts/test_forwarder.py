"""CocForwarder (OpenZeppelin 5 ERC2771Forwarder): a participant signs a ForwardRequest, an
unregistered relayer (accounts[19]) pays the gas, and the target contract acts for the signer.

What OpenZeppelin 5.7 does, and these tests assert: `execute` checks, in this order, that the target
trusts the forwarder (ERC2771UntrustfulTarget), the deadline (ERC2771ForwarderExpiredRequest) and
that the signature recovers to `from` (ERC2771ForwarderInvalidSigner(signer, from)); the nonce is part
of the signed struct, so a replayed request recovers to another address and fails the same way. When
the request is valid but the target reverts, `execute` does NOT bubble the target's error: it reverts
with `Errors.FailedCall()` and the nonce is not consumed. The target's own error (e.g. the registry
check) is read from the inner call frame with debug_traceCall.
"""

from __future__ import annotations

from web3.exceptions import ContractLogicError

from helpers import events, expect_revert
from node_api.core.chain import revert_data_from_exception
from node_api.core.abi import decode_revert
from testkit.sandbox import DAY, MASS_BALANCE, SEGREGATED, UNCERTIFIED, h
from node_api.signing import forward_request_typed_data, recover_typed, sign_typed

T = 1_000_000
GAS = 1_000_000
SOLD = 0
REGISTRY_SUSPENDED = 2  # ParticipantStatus.Suspended


# ---------------------------------------------------------------------------------------------- helpers


class Request:
    """A signed ForwardRequest for `fn` (a bound web3 call on a target contract)."""

    def __init__(self, sb, signer, fn, *, sender=None, nonce=None, deadline=None, gas=GAS, chain_id=None, to=None):
        fwd = sb.c.forwarder
        self.sb = sb
        self.sender = sender or signer.address
        self.to = to or fn.address
        self.data = bytes.fromhex(fn._encode_transaction_data()[2:])
        self.nonce = fwd.functions.nonces(self.sender).call() if nonce is None else nonce
        self.deadline = sb.now() + 3600 if deadline is None else deadline
        self.gas = gas
        self.typed = forward_request_typed_data(
            chain_id or sb.chain_id, fwd.address, sender=self.sender, to=self.to, data=self.data, nonce=self.nonce,
            deadline=self.deadline, gas=gas)
        self.signature = sign_typed(signer.key, self.typed)

    def as_tuple(self, data: bytes | None = None) -> tuple:
        # ForwardRequestData(from, to, value, gas, deadline, data, signature): the nonce is implicit
        return (self.sender, self.to, 0, self.gas, self.deadline, self.data if data is None else data,
                self.signature)

    def execute(self, data: bytes | None = None):
        return self.sb.c.forwarder.functions.execute(self.as_tuple(data))

    def recovered_with(self, **changes) -> str:
        """The address OZ recovers from this signature for the request as it is checked now."""
        typed = forward_request_typed_data(
            changes.get("chain_id", self.sb.chain_id), self.sb.c.forwarder.address, sender=self.sender, to=self.to,
            data=changes.get("data", self.data), nonce=changes.get("nonce", self.nonce), deadline=self.deadline,
            gas=self.gas)
        return recover_typed(typed, self.signature)


def relay(sb, request: Request):
    return sb.tx(request.execute(), sb.relayer)


def inner_revert(sb, request: Request) -> tuple[str, dict]:
    """The target's own revert inside a forwarded call, from the call tracer's inner frame."""
    calldata = request.execute()._encode_transaction_data()
    trace = sb.w3.provider.make_request("debug_traceCall", [
        {"from": sb.relayer.address, "to": sb.c.forwarder.address, "data": calldata, "gas": hex(5_000_000)},
        "latest", {"tracer": "callTracer"}])["result"]
    frames = [c for c in trace.get("calls", []) if c["type"] == "CALL" and c["to"].lower() == request.to.lower()]
    assert len(frames) == 1, trace
    assert frames[0].get("error"), frames[0]
    return decode_revert(frames[0].get("output") or "0x")


def fwd_nonce(sb, who: str) -> int:
    return sb.c.forwarder.functions.nonces(who).call()


def ledger_state(sb, *holders_batches) -> dict:
    ledger = sb.c.ledger
    return dict(
        batch_count=ledger.functions.batchCount().call(),
        totals=tuple(ledger.functions.totals().call()),
        balances={(a, b): ledger.functions.balanceOf(a, b).call() for a, b in holders_batches},
    )


def refused(sb, request: Request, error: str, /, *, watch=(), **args):
    """The relayer submits `request`; asserts the forwarder's error and arguments, that the
    forwarder nonce of `from` was not consumed and that the watched ledger state did not change."""
    before = (ledger_state(sb, *watch), fwd_nonce(sb, request.sender))
    rev = expect_revert(request.execute(), sb.relayer, error, **args)
    assert (ledger_state(sb, *watch), fwd_nonce(sb, request.sender)) == before
    return rev


def origin_params(sb, w, qty=10 * T, model=SEGREGATED, label="fwd"):
    share = 1_000_000 if model >= SEGREGATED else 0
    characteristic = 0 if model == UNCERTIFIED else w.organic
    return (w.raw_cotton, characteristic, model, share, qty, h(f"geo:{label}"), f"DDS-{label}", h(f"evidence:{label}"),
            sb.now() - DAY)


# ---------------------------------------------------------------------------------------------- attribution


def test_execute_create_origin_attributed_to_signer(world):
    sb, w = world.sb, world
    ledger_nonce = sb.c.ledger.functions.nonces(w.farm.address).call()
    req = Request(sb, w.farm.account, sb.c.ledger.functions.createOrigin(origin_params(sb, w)))
    assert sb.c.forwarder.functions.verify(req.as_tuple()).call()

    receipt = relay(sb, req)

    assert receipt["from"] == sb.relayer.address
    created = events(sb.c.ledger, receipt, "BatchCreated")
    assert len(created) == 1
    b = created[0]["batchId"]
    assert (created[0]["creator"], created[0]["holder"]) == (w.farm.participant_id, w.farm.address)
    assert sb.balance(w.farm, b) == 10 * T
    assert sb.balance(sb.relayer.address, b) == 0
    assert sb.c.ledger.functions.origin(b).call()[0] == w.farm.site_id
    assert events(sb.c.forwarder, receipt, "ExecutedForwardRequest") == [
        dict(signer=w.farm.address, nonce=req.nonce, success=True)]
    assert fwd_nonce(sb, w.farm.address) == req.nonce + 1
    # the forwarder's nonces are its own: custody-transfer nonces of the ledger are untouched
    assert sb.c.ledger.functions.nonces(w.farm.address).call() == ledger_nonce


def test_execute_split_attributed_to_signer(world):
    sb, w = world.sb, world
    parent = sb.create_origin(w.farm, w.raw_cotton, 10 * T, characteristic=w.organic, model=SEGREGATED)
    receipt = relay(sb, Request(sb, w.farm.account, sb.c.ledger.functions.split(parent, [4 * T])))
    (created,) = events(sb.c.ledger, receipt, "BatchCreated")
    assert (created["creator"], created["holder"], created["quantity"]) == (w.farm.participant_id, w.farm.address,
                                                                            4 * T)
    assert sb.balance(w.farm, created["batchId"]) == 4 * T
    assert sb.balance(w.farm, parent) == 6 * T


def test_execute_consume_attributed_to_signer(world):
    sb, w = world.sb, world
    b = sb.create_origin(w.farm, w.raw_cotton, 10 * T, characteristic=w.organic, model=SEGREGATED)
    sb.transfer(w.farm, w.brand, b, 3 * T)
    receipt = relay(sb, Request(sb, w.brand.account, sb.c.ledger.functions.consume(b, 2 * T, SOLD, h("till"))))
    assert events(sb.c.ledger, receipt, "BatchConsumed") == [
        dict(batchId=b, holder=w.brand.address, quantity=2 * T, reason=SOLD, ref=h("till"))]
    assert sb.balance(w.brand, b) == T
    assert sb.c.ledger.functions.totals().call()[1] == 2 * T


def test_execute_retire_certificate_attributed_to_signer(world):
    sb, w = world.sb, world
    cert = sb.issue(w.issuer, w.farm, w.brand, 10, material=w.raw_cotton, characteristic=w.organic)
    start, end = sb.now() - 30 * DAY, sb.now()
    fn = sb.c.certificates.functions.retire(cert, 4, "Brand Ltd customers", start, end, h("purpose:claim"))
    receipt = relay(sb, Request(sb, w.brand.account, fn))
    (retired,) = events(sb.c.certificates, receipt, "CertificatesRetired")
    assert (retired["holder"], retired["retiredBy"], retired["amount"], retired["certificateId"]) == (
        w.brand.address, w.brand.participant_id, 4, cert)
    assert retired["retirementId"] == (cert << 32) | 1
    assert sb.c.certificates.functions.balanceOf(w.brand.address, cert).call() == 6
    assert tuple(sb.c.certificates.functions.retirement(retired["retirementId"]).call()) == (
        cert, 4, w.brand.participant_id, start, end)


def test_execute_move_credits_attributed_to_signer(world):
    # MassBalance trusts the forwarder for the caller too: the signer's own site account moves
    sb, w = world.sb, world
    sb.capacity(w.certifier, w.ginner, w.lint, 100 * T)
    sb.create_origin(w.ginner, w.lint, T, characteristic=w.organic, model=MASS_BALANCE)
    fn = sb.c.mass_balance.functions.moveCredits(w.lint, w.cotton_waste, w.organic, 300_000)
    relay(sb, Request(sb, w.ginner.account, fn))
    assert sb.credits(w.ginner, w.lint, w.organic) == 700_000
    assert sb.credits(w.ginner, w.cotton_waste, w.organic) == 300_000


# ---------------------------------------------------------------------------------------------- refusals


def test_execute_unregistered_signer_refused_by_target(world, accounts):
    sb, w = world.sb, world
    stranger = accounts[10]  # a valid key and signature, but no participant behind it
    req = Request(sb, stranger, sb.c.ledger.functions.createOrigin(origin_params(sb, w, label="stranger")))
    # the forwarder itself finds the request valid; the target's registry check refuses it
    assert sb.c.forwarder.functions.verify(req.as_tuple()).call() is True
    assert inner_revert(sb, req) == ("RegistryUnknownWallet", {"wallet": stranger.address})
    # OpenZeppelin 5: execute() does not bubble the target's error, it reverts with FailedCall()
    refused(sb, req, "FailedCall")
    assert fwd_nonce(sb, stranger.address) == 0


def test_execute_suspended_participant_refused_by_target(world):
    sb, w = world.sb, world
    sb.tx(sb.c.registry.functions.setParticipantStatus(w.farm.participant_id, REGISTRY_SUSPENDED), sb.admin)
    req = Request(sb, w.farm.account, sb.c.ledger.functions.createOrigin(origin_params(sb, w, label="suspended")))
    assert inner_revert(sb, req) == ("RegistryParticipantSuspended", {"participantId": w.farm.participant_id})
    refused(sb, req, "FailedCall")


def test_execute_split_of_someone_elses_batch_refused_by_target(world):
    # the relayer-submitted request acts for its signer only: the ginner cannot split the farm's batch
    sb, w = world.sb, world
    b = sb.create_origin(w.farm, w.raw_cotton, 10 * T, characteristic=w.organic, model=SEGREGATED)
    req = Request(sb, w.ginner.account, sb.c.ledger.functions.split(b, [T]))
    assert inner_revert(sb, req) == ("ERC1155InsufficientBalance", {
        "sender": w.ginner.address, "balance": 0, "needed": T, "tokenId": b})
    refused(sb, req, "FailedCall", watch=[(w.farm.address, b), (w.ginner.address, b)])


def test_execute_forwarded_booking_on_mass_balance_refused(world):
    # bookings check msg.sender, never the ERC-2771 sender: the forwarder is not a linked contract
    sb, w = world.sb, world
    fn = sb.c.mass_balance.functions.credit(w.farm.participant_id, w.farm.site_id, w.raw_cotton, w.organic, 5 * T,
                                             0, bytes(32))
    req = Request(sb, w.farm.account, fn)
    assert inner_revert(sb, req) == ("MassBalanceNotLinkedContract", {"caller": sb.c.forwarder.address})
    refused(sb, req, "FailedCall")
    assert sb.credits(w.farm, w.raw_cotton, w.organic) == 0


def test_execute_signature_not_matching_from_refused(world, accounts):
    sb, w = world.sb, world
    params = origin_params(sb, w, label="impostor")
    for signer in (accounts[10], w.ginner.account):  # an unregistered key, and another participant
        req = Request(sb, signer, sb.c.ledger.functions.createOrigin(params), sender=w.farm.address)
        assert sb.c.forwarder.functions.verify(req.as_tuple()).call() is False
        refused(sb, req, "ERC2771ForwarderInvalidSigner", signer=signer.address, **{"from": w.farm.address})


def test_execute_replayed_request_refused(world):
    sb, w = world.sb, world
    parent = sb.create_origin(w.farm, w.raw_cotton, 10 * T, characteristic=w.organic, model=SEGREGATED)
    req = Request(sb, w.farm.account, sb.c.ledger.functions.split(parent, [T]))
    relay(sb, req)
    assert sb.balance(w.farm, parent) == 9 * T

    # the nonce moved on, so the old signature recovers to some other address
    recovered = req.recovered_with(nonce=req.nonce + 1)
    assert recovered != w.farm.address
    refused(sb, req, "ERC2771ForwarderInvalidSigner", watch=[(w.farm.address, parent)],
            signer=recovered, **{"from": w.farm.address})


def test_execute_expired_request_refused(world):
    sb, w = world.sb, world
    deadline = sb.now() - 1
    req = Request(sb, w.farm.account, sb.c.ledger.functions.createOrigin(origin_params(sb, w, label="late")),
                  deadline=deadline)
    refused(sb, req, "ERC2771ForwarderExpiredRequest", deadline=deadline)


def test_execute_request_expires_with_chain_time(world):
    sb, w = world.sb, world
    req = Request(sb, w.farm.account, sb.c.ledger.functions.createOrigin(origin_params(sb, w, label="aged")),
                  deadline=sb.now() + 600)
    sb.advance(601)
    refused(sb, req, "ERC2771ForwarderExpiredRequest", deadline=req.deadline)


def test_execute_tampered_data_refused(world):
    sb, w = world.sb, world
    parent = sb.create_origin(w.farm, w.raw_cotton, 10 * T, characteristic=w.organic, model=SEGREGATED)
    req = Request(sb, w.farm.account, sb.c.ledger.functions.split(parent, [T]))
    # the relayer swaps in a consume of the whole batch
    swapped = bytes.fromhex(sb.c.ledger.functions.consume(parent, 10 * T, SOLD, h("x"))._encode_transaction_data()[2:])
    recovered = req.recovered_with(data=swapped)
    before = (ledger_state(sb, (w.farm.address, parent)), fwd_nonce(sb, w.farm.address))
    expect_revert(req.execute(swapped), sb.relayer, "ERC2771ForwarderInvalidSigner",
                  signer=recovered, **{"from": w.farm.address})
    assert (ledger_state(sb, (w.farm.address, parent)), fwd_nonce(sb, w.farm.address)) == before


def test_execute_request_signed_for_another_chain_refused(world):
    sb, w = world.sb, world
    req = Request(sb, w.farm.account, sb.c.ledger.functions.createOrigin(origin_params(sb, w, label="chain")),
                  chain_id=sb.chain_id + 1)
    recovered = req.recovered_with()
    assert recovered != w.farm.address
    refused(sb, req, "ERC2771ForwarderInvalidSigner", signer=recovered, **{"from": w.farm.address})


def test_execute_untrusted_target_refused(world, accounts):
    sb, w = world.sb, world
    target = accounts[11].address  # not a contract that trusts this forwarder
    req = Request(sb, w.farm.account, sb.c.ledger.functions.createOrigin(origin_params(sb, w, label="eoa")),
                  to=target)
    refused(sb, req, "ERC2771UntrustfulTarget", target=target, forwarder=sb.c.forwarder.address)


def test_relayer_cannot_impersonate_by_appending_an_address(world):
    # ERC-2771 reads the appended sender only from the trusted forwarder; from anyone else the
    # caller is msg.sender, here the unregistered relayer
    sb, w = world.sb, world
    data = sb.c.ledger.functions.createOrigin(origin_params(sb, w, label="spoof"))._encode_transaction_data()
    spoofed = data + w.farm.address[2:].lower()
    before = ledger_state(sb)
    try:
        sb.w3.eth.call({"from": sb.relayer.address, "to": sb.c.ledger.address, "data": spoofed})
    except ContractLogicError as exc:
        name, args = decode_revert(revert_data_from_exception(exc))
    else:  # pragma: no cover - the assertion below reports it
        name, args = "<succeeded>", {}
    assert (name, args) == ("RegistryUnknownWallet", {"wallet": sb.relayer.address})
    assert ledger_state(sb) == before
