"""Every kind of refusal arrives as the right HTTP status and a message naming the rule and the
values, and a refused request changes nothing on chain (no transaction is even sent)."""

from __future__ import annotations

import time

import pytest
from eth_account import Account

from node_api import signing
from nodehelp import actor, assert_refused, forward_body, sign, transfer_typed


@pytest.fixture
def unchanged(chain):
    """Snapshot of the relayer's nonce and the block number: a refusal sends no transaction."""
    before = (chain.w3.eth.get_transaction_count(chain.relayer), chain.w3.eth.block_number)
    yield
    assert (chain.w3.eth.get_transaction_count(chain.relayer), chain.w3.eth.block_number) == before


def test_prepare_missing_role_is_403(api, demo, chain, unchanged):
    farm = actor(demo, "farm")
    count = chain.registry.functions.counts().call()[0]
    r = api.post("/participants/register/prepare", json={"signer": farm.address, "name": "Rogue", "roles": 4})
    body = assert_refused(r, 403, "RegistryMissingRole", farm.address, "admin role")
    assert body["details"]["args"]["participantId"] == demo.participants["farm"]
    assert chain.registry.functions.counts().call()[0] == count


def test_submit_transform_beyond_factor_is_409_and_changes_nothing(api, demo, chain, server, unchanged):
    spinner = actor(demo, "spinner")
    lot_b = demo.batches["yarn_lot_b"]  # 975,000 g of organic yarn held by the spinner
    held = chain.ledger.functions.balanceOf(spinner.address, lot_b).call()
    maximum = held * 950_000 // 1_000_000  # weaving: factor 0.95
    nonce = chain.forwarder.functions.nonces(spinner.address).call()
    body = forward_body(server.node, spinner, "BatchLedger", "transform", demo.processes["weaving"], [lot_b],
                        [held], held, 3, 0)
    r = api.post("/batches/transform/submit", json=body)
    res = assert_refused(r, 409, "BatchTransformExceedsFactor", f"output {held}", f"at most {maximum}")
    assert res["details"]["args"] == {"output": held, "maximum": maximum}
    assert chain.ledger.functions.balanceOf(spinner.address, lot_b).call() == held
    assert chain.forwarder.functions.nonces(spinner.address).call() == nonce


def test_unknown_batch_is_404(api, demo, unchanged):
    farm = actor(demo, "farm")
    r = api.post("/batches/split/prepare", json={"signer": farm.address, "batchId": 999_999, "quantities": [1]})
    assert_refused(r, 404, "BatchUnknown", "999999")
    assert_refused(api.get("/batches/999999"), 404, "BatchUnknown")


def test_transfer_to_unregistered_wallet_is_403(api, demo, chain, server, unchanged):
    spinner = actor(demo, "spinner")
    stranger = Account.create()
    lot_b = demo.batches["yarn_lot_b"]
    nonce = chain.ledger.functions.nonces(spinner.address).call()
    held = chain.ledger.functions.balanceOf(spinner.address, lot_b).call()
    prep = api.post("/batches/transfer/prepare", json={"batchId": lot_b, "from": spinner.address,
                                                       "to": stranger.address, "quantity": 1000})
    assert_refused(prep, 403, "RegistryUnknownWallet", stranger.address)  # refused before anything is signed
    typed = transfer_typed(server.node, spinner, lot_b, stranger.address, 1000)  # signed anyway: refused at submit
    r = api.post("/batches/transfer/submit", json={"typedData": typed, "signature": sign(spinner, typed)})
    assert_refused(r, 403, "RegistryUnknownWallet", stranger.address)
    assert chain.ledger.functions.nonces(spinner.address).call() == nonce
    assert chain.ledger.functions.balanceOf(spinner.address, lot_b).call() == held


def test_transfer_to_uncertified_participant_is_403(api, demo, chain, server, unchanged):
    """Segregated organic yarn to the registry (not a supplier) / a participant without certification."""
    spinner = actor(demo, "spinner")
    feedstock = actor(demo, "feedstock")  # a supplier certified for ISCC chemicals, not for GOTS textiles
    lot_b = demo.batches["yarn_lot_b"]
    prep = api.post("/batches/transfer/prepare", json={"batchId": lot_b, "from": spinner.address,
                                                       "to": feedstock.address, "quantity": 1000})
    assert_refused(prep, 403, "RegistryNotCertified", "segregated", f"participant {demo.participants['feedstock']}")
    typed = transfer_typed(server.node, spinner, lot_b, feedstock.address, 1000)
    r = api.post("/batches/transfer/submit", json={"typedData": typed, "signature": sign(spinner, typed)})
    body = assert_refused(r, 403, "RegistryNotCertified", "segregated", f"participant {demo.participants['feedstock']}")
    assert body["details"]["args"]["material"] == demo.materials["yarn"]
    assert chain.ledger.functions.balanceOf(feedstock.address, lot_b).call() == 0


def test_transfer_signed_by_wrong_key_is_403(api, demo, unchanged):
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    prep = api.post("/batches/transfer/prepare", json={"batchId": demo.batches["yarn_lot_b"], "from": spinner.address,
                                                       "to": weaver.address, "quantity": 1000}).json()
    r = api.post("/batches/transfer/submit", json={"typedData": prep["typedData"], "signature": sign(weaver, prep["typedData"])})
    assert_refused(r, 403, "SignatureMismatch", weaver.address, spinner.address)


def test_signature_for_another_chain_is_403(api, demo, server, unchanged):
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    prep = api.post("/batches/transfer/prepare", json={"batchId": demo.batches["yarn_lot_b"], "from": spinner.address,
                                                       "to": weaver.address, "quantity": 1000}).json()
    typed = prep["typedData"]
    typed["domain"]["chainId"] = 1
    r = api.post("/batches/transfer/submit", json={"typedData": typed, "signature": sign(spinner, typed)})
    assert_refused(r, 403, "WrongDomain", f"chain {server.node.chain_id}")
    # the bare message signed over the wrong domain does not recover to the holder either
    r = api.post("/batches/transfer/submit", json={"message": typed["message"], "signature": sign(spinner, typed)})
    assert_refused(r, 403, "SignatureMismatch", spinner.address)


def test_expired_transfer_is_409(api, demo, server, unchanged):
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    prep = api.post("/batches/transfer/prepare", json={"batchId": demo.batches["yarn_lot_b"], "from": spinner.address,
                                                       "to": weaver.address, "quantity": 1000, "deadline": 1000})
    assert_refused(prep, 409, "BatchSignatureExpired", "expired at 1000")
    typed = transfer_typed(server.node, spinner, demo.batches["yarn_lot_b"], weaver.address, 1000, deadline=1000)
    r = api.post("/batches/transfer/submit", json={"typedData": typed, "signature": sign(spinner, typed)})
    body = assert_refused(r, 409, "BatchSignatureExpired", "expired at 1000")
    assert body["details"]["args"]["deadline"] == 1000


def test_replayed_custody_transfer_is_409(api, demo, chain):
    """The same signed proposal twice: the first moves custody, the second is refused before the chain."""
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    lot_b = demo.batches["yarn_lot_b"]
    prep = api.post("/batches/transfer/prepare", json={"batchId": lot_b, "from": spinner.address,
                                                       "to": weaver.address, "quantity": 5_000}).json()
    body = {"typedData": prep["typedData"], "signature": sign(spinner, prep["typedData"])}
    first = api.post("/batches/transfer/submit", json=body)
    assert first.status_code == 200 and first.json()["result"]["transferId"] == prep["transferId"]
    nonce = chain.ledger.functions.nonces(spinner.address).call()
    held = chain.ledger.functions.balanceOf(spinner.address, lot_b).call()
    r = api.post("/batches/transfer/submit", json=body)
    assert_refused(r, 409, "InvalidAccountNonce", spinner.address, f"next nonce is {nonce}")
    assert chain.ledger.functions.balanceOf(spinner.address, lot_b).call() == held
    # accepting must be signed by the receiver: the sender's signature is refused
    acc = api.post("/batches/accept/prepare", json={"transferId": prep["transferId"]}).json()
    r = api.post("/batches/accept/submit", json={"typedData": acc["typedData"], "signature": sign(spinner, acc["typedData"])})
    assert_refused(r, 403, "SignatureMismatch", weaver.address)
    # the sender cancels; cancelling again is a state conflict
    can = api.post("/batches/cancel/prepare", json={"transferId": prep["transferId"]}).json()
    ok = api.post("/batches/cancel/submit", json={"typedData": can["typedData"], "signature": sign(spinner, can["typedData"])})
    assert ok.status_code == 200, ok.text
    again = api.post("/batches/cancel/submit", json={"typedData": can["typedData"], "signature": sign(spinner, can["typedData"])})
    assert_refused(again, 409, "BatchTransferNotPending", "cancelled")
    assert chain.ledger.functions.balanceOf(spinner.address, lot_b).call() == held + 5_000


def test_insufficient_credits_is_409(api, demo, chain, unchanged):
    converter = actor(demo, "converter")
    key = chain.mass_balance.functions.accountKey(demo.participants["converter"], _site(chain, converter.address),
                                                  demo.materials["pe"], demo.characteristics["bio_circular"]).call()
    balance = chain.mass_balance.functions.balanceOf(key).call()
    r = api.post("/certificates/pledge-credits/prepare", json={
        "signer": converter.address, "material": demo.materials["pe"],
        "characteristic": demo.characteristics["bio_circular"], "quantity": balance + 1})
    body = assert_refused(r, 409, "MassBalanceInsufficientCredits", f"balance {balance}", f"requested {balance + 1}")
    assert body["details"]["args"]["account"] == "0x" + key.hex()
    assert chain.mass_balance.functions.balanceOf(key).call() == balance


def test_revoked_certificate_cannot_be_retired(api, demo, chain, unchanged):
    feedstock = actor(demo, "feedstock")
    cid = demo.certificates["verified_revoked"]
    r = api.post("/certificates/retire/prepare", json={
        "signer": feedstock.address, "certificateId": cid, "amount": 1, "beneficiary": "X",
        "periodStart": 0, "periodEnd": 1, "purposeHash": "greenwashing"})
    assert_refused(r, 409, "CertificateRevoked", f"certificate {cid} is revoked")
    assert chain.certificates.functions.balanceOf(feedstock.address, cid).call() == 50


def test_invalid_input_is_422_naming_the_field(api, demo, unchanged):
    farm = actor(demo, "farm")
    r = api.post("/batches/split/prepare", json={"signer": farm.address, "batchId": -1, "quantities": [1]})
    body = assert_refused(r, 422, "InvalidRequest", "batchId")
    assert body["details"]["errors"][0]["field"] == "batchId"
    r = api.post("/batches/transfer/prepare", json={"batchId": 1, "from": farm.address, "to": "0x1234", "quantity": 1})
    assert_refused(r, 422, "InvalidRequest", "to")
    r = api.post("/batches/create/prepare", json={"signer": farm.address, "material": 1, "model": "organic",
                                                  "quantity": 1, "geolocationHash": "g", "evidenceHash": "e",
                                                  "productionDate": 1})
    assert_refused(r, 422, "InvalidRequest", "model", "unknown chain-of-custody model")


def test_forward_request_nonce_reused_is_409(api, demo, server, chain, unchanged):
    brand = actor(demo, "brand")
    used = chain.forwarder.functions.nonces(brand.address).call() - 1
    body = forward_body(server.node, brand, "BatchLedger", "consume", demo.batches["fabric"], 1, 0, b"\x00" * 32,
                        nonce=used)
    r = api.post("/batches/consume/submit", json=body)
    assert_refused(r, 409, "NonceUsed", f"nonce {used} was already used")


@pytest.mark.chain
def test_chain_unreachable_is_503_and_nothing_is_done(tmp_path):
    """The chain goes away after the node started: a submit is refused with 503, and once the chain
    is back nothing of it was executed."""
    import httpx

    from nodeserver import ServerThread, node_settings
    from node_api.core.anvil import EmbeddedAnvil

    anvil = EmbeddedAnvil.throwaway(accounts=10)
    anvil.start()
    srv = ServerThread(node_settings(tmp_path, anvil.url)).start()
    try:
        admin = Account.from_key(srv.settings.deployer_key)
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            prep = c.post("/participants/register/prepare", json={"signer": admin.address, "name": "X", "roles": 4}).json()
            body = {"typedData": prep["typedData"], "signature": sign(admin, prep["typedData"])}
            anvil.stop()
            r = c.post("/participants/register/submit", json=body)
            assert_refused(r, 503, "ChainUnavailable", "nothing was done")
            assert_refused(c.get("/participants/1"), 503, "ChainUnavailable")
    finally:
        srv.stop()


def _site(chain, address: str) -> int:
    return chain.registry.functions.wallet(address).call()[1]


def test_eth_account_sign_typed_data_is_accepted(api, demo, chain):
    """A signature made with eth_account's Account.sign_typed_data(domain, types, message) API (not
    the node's encode_typed_data path), for a custody transfer and for a forwarded action."""
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    lot_b = demo.batches["yarn_lot_b"]
    weaver_held = chain.ledger.functions.balanceOf(weaver.address, lot_b).call()
    prep = api.post("/batches/transfer/prepare", json={"batchId": lot_b, "from": spinner.address,
                                                       "to": weaver.address, "quantity": 2_000}).json()
    td = prep["typedData"]
    types = {k: v for k, v in td["types"].items() if k != "EIP712Domain"}
    sig = Account.sign_typed_data(spinner.key, td["domain"], types, td["message"]).signature
    r = api.post("/batches/transfer/submit", json={"message": td["message"], "signature": "0x" + bytes(sig).hex()})
    assert r.status_code == 200, r.text
    assert chain.ledger.functions.transferStatus(prep["transferId"]).call() == 1  # pending

    acc = api.post("/batches/accept/prepare", json={"transferId": prep["transferId"]}).json()["typedData"]
    types = {k: v for k, v in acc["types"].items() if k != "EIP712Domain"}
    sig = Account.sign_typed_data(weaver.key, acc["domain"], types, acc["message"]).signature
    r = api.post("/batches/accept/submit", json={"message": acc["message"], "signature": "0x" + bytes(sig).hex()})
    assert r.status_code == 200, r.text
    assert chain.ledger.functions.transferStatus(prep["transferId"]).call() == 2  # accepted

    fwd = api.post("/batches/split/prepare", json={"signer": weaver.address, "batchId": lot_b, "quantities": [500, 500]}).json()
    td = fwd["typedData"]
    types = {k: v for k, v in td["types"].items() if k != "EIP712Domain"}
    sig = Account.sign_typed_data(weaver.key, td["domain"], types, td["message"]).signature
    r = api.post("/batches/split/submit", json={"typedData": td, "signature": "0x" + bytes(sig).hex()})
    assert r.status_code == 200, r.text
    assert len(r.json()["result"]["batchIds"]) == 2
    assert chain.ledger.functions.balanceOf(weaver.address, lot_b).call() == weaver_held + 2_000 - 1_000
