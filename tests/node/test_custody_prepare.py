"""Custody prepare runs the call against the chain before anything is signed (issue 9, finding 9):
a quantity above the holding, an unregistered receiver, a certified quantity above the quantity or
above the sender's credits are refused at prepare with the decoded contract error, for the proposal,
the transfer with acceptance, and accept / reject / cancel."""

from __future__ import annotations

import time

import pytest
from eth_account import Account

from node_api import signing
from nodehelp import actor, assert_refused, create_uncertified, sign


@pytest.fixture
def unchanged(chain):
    before = (chain.w3.eth.get_transaction_count(chain.relayer), chain.w3.eth.block_number)
    yield
    assert (chain.w3.eth.get_transaction_count(chain.relayer), chain.w3.eth.block_number) == before


def _act(api, account, path, **params):
    prep = api.post(f"/{path}/prepare", json={"signer": account.address, **params})
    assert prep.status_code == 200, prep.text
    typed = prep.json()["typedData"]
    r = api.post(f"/{path}/submit", json={"typedData": typed, "signature": sign(account, typed)})
    assert r.status_code == 200, r.text
    return r.json()["result"]


def _prepare(api, kind, **body):
    return api.post(f"/batches/{kind}/prepare", json=body)


@pytest.mark.parametrize("kind", ["transfer", "transfer-with-acceptance"])
def test_quantity_above_holding_refused_at_prepare(api, demo, chain, kind, unchanged):
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    lot_b = demo.batches["yarn_lot_b"]
    held = chain.ledger.functions.balanceOf(spinner.address, lot_b).call()
    r = _prepare(api, kind, batchId=lot_b, **{"from": spinner.address}, to=weaver.address, quantity=held + 1)
    body = assert_refused(r, 409, "ERC1155InsufficientBalance", f"holds {held}", f"{held + 1} needed")
    assert body["details"]["args"]["needed"] == held + 1


@pytest.mark.parametrize("kind", ["transfer", "transfer-with-acceptance"])
def test_unregistered_receiver_refused_at_prepare(api, demo, kind, unchanged):
    spinner, stranger = actor(demo, "spinner"), Account.create()
    r = _prepare(api, kind, batchId=demo.batches["yarn_lot_b"], **{"from": spinner.address}, to=stranger.address,
                 quantity=1000)
    assert_refused(r, 403, "RegistryUnknownWallet", stranger.address)


def test_certified_above_quantity_refused_at_prepare(api, demo, unchanged):
    feedstock, cracker = actor(demo, "feedstock"), actor(demo, "cracker")
    r = _prepare(api, "transfer", batchId=demo.batches["bio_naphtha"], **{"from": feedstock.address},
                 to=cracker.address, quantity=10, certifiedQuantity=11)
    assert_refused(r, 409, "BatchDeclarationExceedsQuantity", "11 exceeds the delivered quantity 10")


def test_certified_above_credits_refused_at_prepare(api, demo, chain):
    """A mass-balance blend holds more than its credits: declaring all of it certified is refused."""
    feedstock, cracker = actor(demo, "feedstock"), actor(demo, "cracker")
    naphtha, biocirc = demo.materials["naphtha"], demo.characteristics["bio_circular"]
    bio = _act(api, feedstock, "batches/create", material=naphtha, characteristic=biocirc, model="mass balance",
               share=0, quantity=1_000, geolocationHash="geo:prep-credits", evidenceHash=f"prep-credits:{time.time()}",
               productionDate=1)["batchIds"][0]
    site = chain.registry.functions.wallet(feedstock.address).call()[1]
    key = chain.mass_balance.functions.accountKey(demo.participants["feedstock"], site, naphtha, biocirc).call()
    credits = chain.mass_balance.functions.balanceOf(key).call()
    fossil = create_uncertified(api, feedstock, naphtha, credits + 5_000, "prep-credits-fossil")
    blend = _act(api, feedstock, "batches/merge", batchIds=[bio, fossil], quantities=[1_000, credits + 5_000],
                 model="mass balance")["batchIds"][0]
    total = credits + 6_000
    relayer_nonce = chain.w3.eth.get_transaction_count(chain.relayer)
    for kind in ("transfer", "transfer-with-acceptance"):
        r = _prepare(api, kind, batchId=blend, **{"from": feedstock.address}, to=cracker.address, quantity=total,
                     certifiedQuantity=total)
        assert_refused(r, 409, "MassBalanceInsufficientCredits", f"balance {credits}", f"requested {total}")
    # within the credits it prepares
    ok = _prepare(api, "transfer", batchId=blend, **{"from": feedstock.address}, to=cracker.address, quantity=total,
                  certifiedQuantity=credits)
    assert ok.status_code == 200, ok.text
    assert chain.w3.eth.get_transaction_count(chain.relayer) == relayer_nonce


def test_settlements_are_simulated_at_prepare(api, demo, chain, server):
    """accept / reject / cancel prepare run the call: a settled transfer is refused, a pending one prepares,
    and a receiver whose certification no longer counts could not accept (checked again at prepare)."""
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    for kind in ("accept", "reject", "cancel"):  # accepted in the demo
        r = _prepare(api, kind, transferId=demo.transfers["spinner_weaver_a"])
        assert_refused(r, 409, "BatchTransferNotPending", "accepted")
    # a pending proposal: all three prepare
    node = server.node
    nonce = chain.ledger.functions.nonces(spinner.address).call()
    now = chain.w3.eth.get_block("latest")["timestamp"]
    t = signing.CustodyTransfer(demo.batches["yarn_lot_b"], spinner.address, weaver.address, 500, 0, nonce, now + 3600)
    typed = signing.transfer_typed_data(node.chain_id, node.ledger, t)
    r = api.post("/batches/transfer/submit", json={"typedData": typed, "signature": sign(spinner, typed)})
    assert r.status_code == 200, r.text
    tid = r.json()["result"]["transferId"]
    for kind in ("accept", "reject", "cancel"):
        assert _prepare(api, kind, transferId=tid).status_code == 200
    # an expired settlement deadline is refused at prepare, before a signature
    assert_refused(_prepare(api, "accept", transferId=tid, deadline=1000), 409, "BatchSignatureExpired")
    # settle it (cancel) so that the demo's state is back
    prep = _prepare(api, "cancel", transferId=tid).json()
    r = api.post("/batches/cancel/submit", json={"typedData": prep["typedData"], "signature": sign(spinner, prep["typedData"])})
    assert r.status_code == 200, r.text


def test_prepare_of_a_valid_transfer_still_answers_typed_data(api, demo, chain, unchanged):
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    r = _prepare(api, "transfer", batchId=demo.batches["yarn_lot_b"], **{"from": spinner.address}, to=weaver.address,
                 quantity=1000)
    assert r.status_code == 200, r.text
    assert r.json()["typedData"]["primaryType"] == "CustodyTransfer"
