"""A re-entering contract wallet inside a RelayBatch batch (issue 11).

A hostile receiver wallet (contracts/test/ReentrantWallet.sol, ERC-1271 signer, re-enters from its
ERC-1155 receiver hook) gets certificate units from a forwarded ``issue`` that is one item of a
``RelayBatch.run`` carrying other signed items: a custody transfer with acceptance and a forwarded
issue to someone else. Everything in a batch is public calldata, so from its hook the wallet replays
the batch's other items: into ``RelayBatch.run`` / ``check`` itself, into the forwarder's ``execute``,
into the ledger. Each test checks that the rules hold:

- every signed message runs at most once (no double credit, no double issue): the item replayed from
  the hook runs there once, and the carrier's own run of it fails on its used nonce;
- quantities are conserved (the receiver is credited once, the sender debited once);
- the other items' outcomes are the truth, and each item's reported outcome (``member_outcomes``:
  the node's split of the receipt at ``ItemRun`` marks) is its own: a re-entry cannot forge another
  item's mark (RelayBatch is non-reentrant: ``run`` and ``check`` refuse to be entered from an item).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from web3.logs import DISCARD

from node_api.core.abi import decode_revert
from node_api.core.chain import deploy_contract
from node_api.relayer.batching import member_outcomes
from node_api.relayer.requests import RelayRequest, TxHandle
from node_api.signing import forward_request_typed_data, sign_typed
from testkit.sandbox import DAY, ROLE_ISSUER, ROLE_SUPPLIER, SEGREGATED, Actor

pytestmark = pytest.mark.chain

GAS = 8_000_000
FWD_GAS = 1_500_000


@pytest.fixture
def hostile(world, artifacts, accounts):
    """A supplier whose second wallet is a ReentrantWallet owned by its first key."""
    sb = world.sb
    owner = accounts[12]
    wallet = deploy_contract(sb.w3, artifacts["ReentrantWallet"], accounts[0], owner.address)
    actor = sb.participant("Hostile Mill", ROLE_SUPPLIER | ROLE_ISSUER, owner, site="Mill Hostile")
    sb.tx(sb.c.registry.functions.addWallet(wallet.address, actor.participant_id, actor.site_id), owner)
    sb.certify(world.certifier, actor, [world.raw_cotton, world.lint, world.yarn], [world.organic])
    as_wallet = Actor("Hostile wallet", owner, actor.participant_id, actor.site_id, actor.roles)
    return SimpleNamespace(owner=owner, wallet=wallet, actor=actor, as_wallet=as_wallet, address=wallet.address)


@pytest.fixture
def batcher(w3, world, artifacts, deployed):
    return deploy_contract(w3, artifacts["RelayBatch"], world.sb.admin, deployed.ledger.address,
                           deployed.forwarder.address)


def _calldata(fn) -> bytes:
    return bytes.fromhex(fn._encode_transaction_data()[2:])


def _forwarded(sb, signer, fn, nonce: int) -> bytes:
    """``forwarder.execute`` of ``fn`` signed by ``signer`` with forwarder nonce ``nonce`` (a batch item)."""
    data = _calldata(fn)
    deadline = sb.now() + 3600
    typed = forward_request_typed_data(sb.chain_id, sb.c.forwarder.address, sender=signer.address, to=fn.address,
                                       data=data, nonce=nonce, deadline=deadline, gas=FWD_GAS)
    sig = sign_typed(signer.account.key, typed)
    return _calldata(sb.c.forwarder.functions.execute((signer.address, fn.address, 0, FWD_GAS, deadline, data, sig)))


def _issue_params(sb, world, participant_id: int, to: str, amount: int, evidence: bytes):
    return (participant_id, to, amount, 1_000_000, "1 t", world.raw_cotton, world.organic, sb.now() - 30 * DAY,
            sb.now(), evidence, 0)


def _twa(sb, sender, receiver, batch: int, qty: int) -> bytes:
    t = sb.offer(sender, receiver, batch, qty)
    deadline = sb.now() + 3600
    return _calldata(sb.c.ledger.functions.transferWithAcceptance(t.as_tuple(), sb.sign_offer(sender, t), deadline,
                                                                  sb.sign_accept(receiver, t, deadline)))


def _arm(sb, hw, target: str, data: bytes) -> None:
    sb.tx(hw.wallet.functions.arm(target, data), hw.owner)


def _reentered(hw, receipt) -> list[tuple[bool, str]]:
    out = []
    for e in hw.wallet.events.Reentered().process_receipt(receipt, errors=DISCARD):
        ok, result = e["args"]["ok"], e["args"]["result"]
        out.append((ok, "" if ok else decode_revert(result)[0]))
    return out


def _outcomes(sb, batcher, receipt, n: int) -> list[dict]:
    """Each item's outcome as the node reports it (relayer/batching.member_outcomes)."""
    carrier = {"txHash": receipt["transactionHash"].hex(), "status": "mined" if receipt["status"] == 1 else "reverted",
               "blockNumber": receipt["blockNumber"],
               "logs": [{"address": lg["address"], "topics": ["0x" + t.hex().removeprefix("0x") for t in lg["topics"]],
                         "data": "0x" + lg["data"].hex().removeprefix("0x")} for lg in receipt["logs"]]}
    members = [TxHandle(RelayRequest(to=batcher.address, data=b"", gas=0, action=f"item{i}"), None, None)  # type: ignore[arg-type]
               for i in range(n)]
    return member_outcomes(batcher.address, carrier, members)


def _events_of(sb, outcome: dict, contract, name: str) -> list[dict]:
    ev = getattr(contract.events, name)()
    out = []
    for lg in outcome["logs"]:
        if lg["address"].lower() != contract.address.lower():
            continue
        try:
            out.append(dict(ev.process_log({"address": lg["address"], "topics": [bytes.fromhex(t[2:]) for t in lg["topics"]],
                                            "data": bytes.fromhex(lg["data"][2:]), "logIndex": 0, "transactionIndex": 0,
                                            "transactionHash": b"\x00" * 32, "blockHash": b"\x00" * 32,
                                            "blockNumber": 0})["args"]))
        except Exception:  # noqa: BLE001 - another event of the contract
            continue
    return out


def _batch(sb, world, hw, batcher):
    """The three items: [0] a forwarded issue of 5 units to the hostile wallet (its hook fires),
    [1] a custody transfer with acceptance farm -> ginner of 100, [2] a forwarded issue of 7 units to the brand."""
    c = sb.c
    issuer = world.issuer
    n = c.forwarder.functions.nonces(issuer.address).call()
    seg = sb.create_origin(world.farm, world.raw_cotton, 1_000, characteristic=world.organic, model=SEGREGATED)
    items = [
        _forwarded(sb, issuer, c.certificates.functions.issue(
            _issue_params(sb, world, hw.actor.participant_id, hw.address, 5, sb.next_evidence())), n),
        _twa(sb, world.farm, world.ginner, seg, 100),
        _forwarded(sb, issuer, c.certificates.functions.issue(
            _issue_params(sb, world, world.brand.participant_id, world.brand.address, 7, sb.next_evidence())), n + 1),
    ]
    cid = c.certificates.functions.certificateCount().call() + 1  # the hostile wallet's certificate
    return SimpleNamespace(items=items, seg=seg, cid=cid, issuer_nonce=n)


def _check_once(sb, world, hw, b, receipt) -> None:
    """Conservation and at-most-once, whoever ran each item."""
    c = sb.c
    assert c.certificates.functions.balanceOf(hw.address, b.cid).call() == 5
    assert c.certificates.functions.certificateCount().call() == b.cid + 1  # two issued, none twice
    assert c.certificates.functions.balanceOf(world.brand.address, b.cid + 1).call() == 7
    assert c.forwarder.functions.nonces(world.issuer.address).call() == b.issuer_nonce + 2
    assert c.ledger.functions.balanceOf(world.ginner.address, b.seg).call() == 100
    assert c.ledger.functions.balanceOf(world.farm.address, b.seg).call() == 900
    assert c.ledger.functions.balanceOf(c.ledger.address, b.seg).call() == 0
    accepted = c.ledger.events.CustodyAccepted().process_receipt(receipt, errors=DISCARD)
    assert len(accepted) == 1


def _item_runs(batcher, receipt) -> list[tuple[int, bool]]:
    return [(e["args"]["index"], e["args"]["ok"]) for e in batcher.events.ItemRun().process_receipt(receipt, errors=DISCARD)]


@pytest.mark.parametrize("into", ["run", "check"])
def test_reentering_relaybatch_itself_is_refused_and_marks_stay_true(world, hostile, batcher, into):
    """The hook calls RelayBatch.run / check with the batch's other items: refused (non-reentrant), so
    the items run once, in the carrier, and no forged ItemRun mark splits item 0's events away."""
    sb, hw = world.sb, hostile
    b = _batch(sb, world, hw, batcher)
    _arm(sb, hw, batcher.address, _calldata(getattr(batcher.functions, into)(b.items[1:])))
    receipt = sb.tx(batcher.functions.run(b.items), sb.relayer, gas=GAS)
    assert _reentered(hw, receipt) == [(False, "ReentrancyGuardReentrantCall")]
    assert _item_runs(batcher, receipt) == [(0, True), (1, True), (2, True)]
    _check_once(sb, world, hw, b, receipt)
    out = _outcomes(sb, batcher, receipt, 3)
    assert [o["status"] for o in out] == ["mined"] * 3
    assert [e["certificateId"] for e in _events_of(sb, out[0], sb.c.certificates, "CertificatesIssued")] == [b.cid]
    assert len(_events_of(sb, out[1], sb.c.ledger, "CustodyAccepted")) == 1
    assert [e["certificateId"] for e in _events_of(sb, out[2], sb.c.certificates, "CertificatesIssued")] == [b.cid + 1]


def test_reentering_the_forwarder_with_a_later_item_runs_it_once(world, hostile, batcher):
    """The hook calls the forwarder's execute with item 2 (the brand's issue) copied from the batch: it
    runs there, once; the carrier's item 2 then fails on its used nonce, and says so."""
    sb, hw = world.sb, hostile
    b = _batch(sb, world, hw, batcher)
    _arm(sb, hw, sb.c.forwarder.address, b.items[2])
    receipt = sb.tx(batcher.functions.run(b.items), sb.relayer, gas=GAS)
    assert _reentered(hw, receipt) == [(True, "")]
    assert _item_runs(batcher, receipt) == [(0, True), (1, True), (2, False)]
    _check_once(sb, world, hw, b, receipt)
    out = _outcomes(sb, batcher, receipt, 3)
    assert [o["status"] for o in out] == ["mined", "mined", "reverted"]
    assert out[2]["error"]["name"] == "ERC2771ForwarderInvalidSigner"  # its nonce is used: no longer its signer's
    # item 0's own events include the brand's issue it carried out from its hook (the chain's truth)
    issued = [e["certificateId"] for e in _events_of(sb, out[0], sb.c.certificates, "CertificatesIssued")]
    assert issued == [b.cid, b.cid + 1]


def test_reentering_the_ledger_with_a_later_custody_item_runs_it_once(world, hostile, batcher):
    """The hook calls the ledger's transferWithAcceptance with item 1 copied from the batch: the
    transfer happens once (there); the carrier's item 1 fails on the used ledger nonce."""
    sb, hw = world.sb, hostile
    b = _batch(sb, world, hw, batcher)
    _arm(sb, hw, sb.c.ledger.address, b.items[1])
    receipt = sb.tx(batcher.functions.run(b.items), sb.relayer, gas=GAS)
    assert _reentered(hw, receipt) == [(True, "")]
    assert _item_runs(batcher, receipt) == [(0, True), (1, False), (2, True)]
    _check_once(sb, world, hw, b, receipt)
    out = _outcomes(sb, batcher, receipt, 3)
    assert out[1]["status"] == "reverted" and out[1]["error"]["name"] == "InvalidAccountNonce"
    assert out[2]["status"] == "mined"


def test_reentering_with_the_running_item_itself_is_refused(world, hostile, batcher):
    """The hook replays item 0 (the very issue that is paying it) through the forwarder: the nonce was
    used before the call, so the replay is refused and the wallet holds 5, not 10."""
    sb, hw = world.sb, hostile
    b = _batch(sb, world, hw, batcher)
    _arm(sb, hw, sb.c.forwarder.address, b.items[0])
    receipt = sb.tx(batcher.functions.run(b.items), sb.relayer, gas=GAS)
    assert _reentered(hw, receipt) == [(False, "ERC2771ForwarderInvalidSigner")]
    assert _item_runs(batcher, receipt) == [(0, True), (1, True), (2, True)]
    _check_once(sb, world, hw, b, receipt)


def test_check_is_a_dry_run_only_through_eth_call_and_refuses_reentry(world, hostile, batcher):
    """``check`` run by eth_call with the hostile item: the hook's re-entry into the batcher is refused
    there too, and nothing is kept."""
    sb, hw = world.sb, hostile
    b = _batch(sb, world, hw, batcher)
    _arm(sb, hw, batcher.address, _calldata(batcher.functions.run(b.items[1:])))
    ok, reasons, gas = batcher.functions.check(b.items).call({"from": sb.relayer.address, "gas": GAS})
    assert ok == [True, True, True]
    assert sb.c.certificates.functions.balanceOf(hw.address, b.cid).call() == 0
    assert sb.c.forwarder.functions.nonces(world.issuer.address).call() == b.issuer_nonce
