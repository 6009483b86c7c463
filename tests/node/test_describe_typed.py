"""POST /typed-data/describe: what a participant is about to sign, in words, from the typed data the
node's prepare endpoints return (ForwardRequest calldata decoded with the ABIs, custody messages field
by field); anything that is not this ledger's own message refused with a 422 naming the rule."""

from __future__ import annotations

import copy

from eth_account import Account

from node_api import signing
from nodehelp import actor, assert_refused, create_uncertified

T = 1_000_000


def _describe(api, typed, **extra):
    r = api.post("/typed-data/describe", json={"typedData": typed, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def _field(d, path):
    (f,) = [f for f in d["fields"] if f["path"] == path]
    return f["value"]


def test_register_participant_in_words(api, demo, server):
    admin = server.node.accounts.admin()
    prep = api.post("/participants/register/prepare", json={"signer": admin.address, "name": "Weaver Ltd", "roles": 4})
    assert prep.status_code == 200, prep.text
    d = _describe(api, prep.json()["typedData"])
    assert d["summary"] == "Register participant Weaver Ltd as supplier"
    assert d["action"] == "participants.register" and d["signature"] == "registerParticipant(string,uint8)"
    assert _field(d, "roles") == "supplier" and _field(d, "name") == "Weaver Ltd"
    assert d["signerName"] == "Consortium administration"
    assert "Weaver Ltd" in d["declaration"] and "0x" not in d["summary"]
    env = {f["path"]: f["value"] for f in d["envelope"]}
    assert env["data"] == "registerParticipant(string,uint8)" and env["deadline"][:2] == "20"
    # the whole prepare answer is taken too
    assert api.post("/typed-data/describe", json=prep.json()).json()["summary"] == d["summary"]


def test_transform_quantities_in_the_materials_unit_and_names(api, demo):
    cracker = actor(demo, "cracker")
    # a prepared action the chain would refuse cannot be prepared: build the typed data the way /prepare does
    data = api.get("/info").json()
    typed = _forward(api, data, cracker, "BatchLedger", "consume", demo.batches["naphtha_blend"], 5 * T, 1,
                     "0x" + "ab" * 32)
    d = _describe(api, typed)
    assert _field(d, "quantity") == "5,000,000 g (5 t)"
    assert _field(d, "reason") == "destroyed"
    assert d["summary"] == f"Take 5,000,000 g (5 t) of batch {demo.batches['naphtha_blend']} out of the chain (destroyed)"
    assert d["signerName"] == "Steam Cracker Antwerp"
    assert {"role": "signer", "participantId": demo.participants["cracker"], "name": "Steam Cracker Antwerp",
            "wallet": cracker.address, "site": "Cracker Antwerp"} in d["organisations"]


def test_record_certification_names_materials_characteristics_and_dates(api, demo):
    cu = actor(demo, "control_union")
    prep = api.post("/participants/record-certification/prepare", json={
        "signer": cu.address, "holder": demo.participants["weaver"], "scheme": "GOTS", "certificateNumber": "CU-1",
        "materials": [demo.materials["yarn"], demo.materials["fabric"]], "characteristics": [demo.characteristics["organic"]],
        "models": 8, "validFrom": 1767225600, "validTo": 1798761600})
    assert prep.status_code == 200, prep.text
    d = _describe(api, prep.json()["typedData"])
    assert d["summary"] == "Record GOTS certificate CU-1 of Coimbatore Weaving"
    assert _field(d, "p.materials.[]").startswith("cotton yarn (material")
    assert "greige fabric" in _field(d, "p.materials.[]")
    assert _field(d, "p.characteristics.[]").startswith("organic (GOTS")
    assert _field(d, "p.models") == "segregated"
    assert _field(d, "p.validFrom") == "2026-01-01" and _field(d, "p.validTo") == "2027-01-01"
    assert {"certified", "signer"} <= {o["role"] for o in d["organisations"]}


def test_transfer_and_accept_show_sender_and_declared_certified_quantity(api, demo):
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    lot = create_uncertified(api, spinner, demo.materials["yarn"], 2 * T, "describe")
    prep = api.post("/batches/transfer/prepare", json={"batchId": lot, "from": spinner.address, "to": weaver.address,
                                                       "quantity": 2 * T, "certifiedQuantity": 0}).json()
    d = _describe(api, prep["typedData"])
    assert d["summary"] == f"Transfer 2,000,000 g (2 t) of batch {lot} from Tiruppur Spinning Mill to Coimbatore Weaving"
    assert _field(d, "certifiedQuantity") == "0 g"
    assert "declares 0 g of the 2,000,000 g (2 t) transferred as certified" in d["declaration"]
    sig = "0x" + signing.sign_typed(spinner.key, prep["typedData"]).hex()
    assert api.post("/batches/transfer/submit", json={"typedData": prep["typedData"], "signature": sig}).status_code == 200
    acc = api.post("/batches/accept/prepare", json={"transferId": prep["transferId"]}).json()
    d = _describe(api, acc["typedData"])
    assert d["summary"] == f"Accept 2,000,000 g (2 t) of batch {lot} from Tiruppur Spinning Mill"
    assert d["signer"] == weaver.address and d["signerName"] == "Coimbatore Weaving"
    looked_up = {f["path"]: f for f in d["fields"] if not f["signed"]}
    assert looked_up["transfer.from"]["value"].startswith(spinner.address + " (Tiruppur Spinning Mill")
    assert looked_up["transfer.certifiedQuantity"]["value"] == "0 g"
    assert {o["role"] for o in d["organisations"]} == {"sender", "receiver"}


def test_acceptance_of_a_transfer_not_on_chain_needs_the_transfer(api, demo):
    feed, cracker = actor(demo, "feedstock"), actor(demo, "cracker")
    prep = api.post("/batches/transfer-with-acceptance/prepare", json={
        "batchId": demo.batches["bio_naphtha"], "from": feed.address, "to": cracker.address, "quantity": 1,
        "certifiedQuantity": 1})
    if prep.status_code != 200:  # the demo moved it on: describe a hand-made acceptance instead
        t = signing.CustodyTransfer(demo.batches["bio_naphtha"], feed.address, cracker.address, 7 * T, 3 * T, 99, 2**40)
        node_info = api.get("/info").json()
        transfer, acceptance = t.message(), signing.accept_typed_data(node_info["chainId"],
                                                                      node_info["contracts"]["BatchLedger"], t, 2**40)
    else:
        transfer, acceptance = prep.json()["typedData"]["message"], prep.json()["acceptance"]["typedData"]
    blind = _describe(api, acceptance)
    assert blind["warnings"] and "unknown" in blind["summary"] + blind["declaration"]
    d = _describe(api, acceptance, transfer=transfer)
    assert "Bio-Feedstock Refinery" in d["summary"] and "declared" in d["declaration"]
    other = dict(transfer, quantity=int(transfer["quantity"]) + 1)
    assert_refused(api.post("/typed-data/describe", json={"typedData": acceptance, "transfer": other}),
                   422, "TransferMismatch")


def _forward(api, info, account, contract, fn, *args):
    abi = _abis(api)
    data = abi[contract].fn(fn).encode(*args)
    return signing.forward_request_typed_data(info["chainId"], info["contracts"]["CocForwarder"], sender=account.address,
                                              to=info["contracts"][contract], data=data, nonce=0, deadline=2**40 - 1,
                                              gas=500_000)


def _abis(api):
    from node_api.core.abi import load_abis
    from node_api.core.artifacts import load_artifacts

    return load_abis(load_artifacts())


def test_refuses_what_is_not_this_ledgers_message(api, demo, server):
    info = api.get("/info").json()
    farm = actor(demo, "farm")
    good = _forward(api, info, farm, "BatchLedger", "split", demo.batches["seed_cotton"], [1, 2])
    assert _describe(api, good)["action"] == "batches.split"

    def refused(typed, error, field, status=422):
        body = assert_refused(api.post("/typed-data/describe", json={"typedData": typed}), status, error)
        assert body["details"]["field"] == field, body
        return body

    # a function of a ledger contract no participant signs (the registry's linkContracts, the ledger's link)
    bad = _forward(api, info, farm, "BatchLedger", "link")
    assert "not a function a participant signs" in refused(bad, "UnknownFunction", "message.data")["message"]
    bad = copy.deepcopy(good)
    bad["message"]["data"] = "0xdeadbeef" + good["message"]["data"][10:]
    refused(bad, "UnknownFunction", "message.data")
    bad["message"]["data"] = good["message"]["data"][:20]  # right selector, truncated arguments
    refused(bad, "MalformedCalldata", "message.data")
    bad = copy.deepcopy(good)
    bad["message"]["to"] = Account.create().address  # a contract of no ledger
    refused(bad, "UnknownContract", "message.to")
    bad["message"]["to"] = info["contracts"]["CocForwarder"]  # the forwarder calling itself
    refused(bad, "UnknownContract", "message.to")
    bad = copy.deepcopy(good)
    bad["domain"]["verifyingContract"] = info["contracts"]["BatchLedger"]
    refused(bad, "UnknownContract", "domain.verifyingContract")
    bad = copy.deepcopy(good)
    bad["domain"]["chainId"] = 1
    refused(bad, "UnknownContract", "domain.chainId")
    bad = copy.deepcopy(good)
    bad["types"]["ForwardRequest"] = bad["types"]["ForwardRequest"][:-1]  # a wallet would sign something else
    refused(bad, "TypesMismatch", "types.ForwardRequest")
    bad = copy.deepcopy(good)
    bad["primaryType"] = "Permit"
    refused(bad, "UnknownMessage", "primaryType")
    bad = copy.deepcopy(good)
    bad["message"]["deadline"] = "tomorrow"
    refused(bad, "InvalidRequest", "message.deadline")
    bad = copy.deepcopy(good)
    del bad["message"]["from"]
    refused(bad, "InvalidRequest", "message.from")
    # a custody message verified by the forwarder, or with a nonsense address
    t = signing.CustodyTransfer(1, farm.address, farm.address, 1, 0, 0, 2**40)
    ct = signing.transfer_typed_data(info["chainId"], info["contracts"]["CocForwarder"], t)
    refused(ct, "UnknownContract", "domain.verifyingContract")
    ct = signing.transfer_typed_data(info["chainId"], info["contracts"]["BatchLedger"], t)
    ct["message"]["to"] = "0x1234"
    refused(ct, "InvalidRequest", "message.to")
    assert_refused(api.post("/typed-data/describe", json={"hello": 1}), 422, "InvalidRequest")
    assert_refused(api.post("/typed-data/describe", json={"typedData": "x"}), 422, "InvalidRequest")


def _sample(param):
    t = param["type"]
    if t.endswith("]"):
        return [_sample({**param, "type": t[: t.rindex("[")]})] * 2
    if t == "tuple":
        return tuple(_sample(c) for c in param["components"])
    if t == "address":
        return "0x" + "11" * 20
    if t == "string":
        return "sample text"
    if t == "bool":
        return True
    if t.startswith("bytes"):
        return b"\x01" * (int(t[5:]) if t != "bytes" else 3)
    return 1


def test_every_signed_function_and_message_is_described_completely(api, server):
    """Each entry of the meaning table against the real ABI: every field named, no placeholder left unfilled."""
    from node_api.clear_signing.spec import FUNCTIONS

    node = server.node
    info = api.get("/info").json()
    signer = node.accounts.admin()
    for (contract, fn), spec in FUNCTIONS.items():
        f = node.abis[contract].fn(fn)
        data = f.encode(*[_sample(p) for p in f.inputs])
        typed = signing.forward_request_typed_data(info["chainId"], info["contracts"]["CocForwarder"],
                                                  sender=signer.address, to=info["contracts"][contract], data=data,
                                                  nonce=0, deadline=2**40 - 1, gas=500_000)
        d = _describe(api, typed)
        assert d["action"] == spec.action and d["intent"] == spec.intent
        assert [x["path"] for x in d["fields"]] == [x.path for x in spec.fields]
        for text in (d["summary"], d["declaration"]):
            assert "{" not in text and "}" not in text, f"{fn}: unfilled placeholder in {text!r}"
        assert all(x["value"] for x in d["fields"]), fn


def test_certificate_actions_name_the_issuance(api, demo):
    conv = actor(demo, "converter")
    info = api.get("/info").json()
    cid = demo.certificates["pe_credits"]
    typed = _forward(api, info, conv, "CertificateRegistry", "retire", cid, 1, "Brand Ltd", 1764547200, 1767225600,
                     "0x" + "cd" * 32)
    d = _describe(api, typed)
    assert _field(d, "certificateId") == f"certificate {cid}: units of 1,000,000 g (1 t) of polyethylene"
    assert d["summary"] == f"Retire 1 units of certificate {cid} for Brand Ltd"
    assert _field(d, "periodStart") == "2025-12-01"
