"""Issue 11: a signer's queue at chain speed, many actions per transaction, per-item answers.

With automine off, nothing is mined while the node checks and sends: a node that waited for each
predecessor to be mined could not send a signer's second action at all.
"""

from __future__ import annotations

import time

import pytest

from node_api import signing
from nodehelp import actor, create_uncertified, sign


def _twa(node, sender, receiver, batch_id, quantity, nonce, deadline):
    t = signing.CustodyTransfer(batch_id, sender.address, receiver.address, quantity, 0, nonce, deadline)
    return {"action": "batches.transfer-with-acceptance", "body": {
        "transfer": t.message(),
        "senderSignature": sign(sender, signing.transfer_typed_data(node.chain_id, node.ledger, t)),
        "acceptDeadline": deadline,
        "receiverSignature": sign(receiver, signing.accept_typed_data(node.chain_id, node.ledger, t, deadline)),
    }}


@pytest.fixture
def no_automine(w3):
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        yield w3
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("evm_mine", [])


def _mine_until(w3, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "not mined"
        w3.provider.make_request("evm_mine", [])
        time.sleep(0.2)


def test_one_signers_queue_goes_out_before_any_block_and_lands_in_one(server, api, demo, chain, no_automine):
    node = server.node
    spinner, weaver, brand = actor(demo, "spinner"), actor(demo, "weaver"), actor(demo, "brand")
    w3 = no_automine
    w3.provider.make_request("evm_setAutomine", [True])
    lot = create_uncertified(api, spinner, demo.materials["yarn"], 1_000, "pipeline-a")
    lot_w = create_uncertified(api, weaver, demo.materials["yarn"], 1_000, "pipeline-b")
    w3.provider.make_request("evm_setAutomine", [False])
    n0 = chain.ledger.functions.nonces(spinner.address).call()
    nw = chain.ledger.functions.nonces(weaver.address).call()
    now = w3.eth.get_block("latest")["timestamp"]
    head = w3.eth.block_number
    relayer_nonce = w3.eth.get_transaction_count(chain.relayer)
    items = [_twa(node, spinner, weaver, lot, 10, n0 + k, now + 3600) for k in range(30)]
    # nonce n0 + 5 asks for more than the holding left after its predecessors: refused before any gas;
    # the spinner's later items need its nonce: refused as depending on it; the weaver's stand
    items[5] = _twa(node, spinner, weaver, lot, 951, n0 + 5, now + 3600)
    items += [_twa(node, weaver, brand, lot_w, 1, nw + k, now + 3600) for k in range(10)]
    r = api.post("/bulk", json={"items": items}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert w3.eth.block_number == head  # every answer came before any block
    st = [it["status"] for it in body["items"]]
    assert st[:5] == ["pending"] * 5 and st[30:] == ["pending"] * 10
    refused = body["items"][5]
    assert refused["httpStatus"] == 409 and refused["error"]["error"] == "ERC1155InsufficientBalance", refused
    assert refused["error"]["details"]["args"]["balance"] == 950  # the state its 5 predecessors leave
    for it in body["items"][6:30]:
        assert it["status"] == "refused" and it["error"]["error"] == "DependsOnRefused", it
        assert it["error"]["details"]["dependsOn"] == n0 + 5
    hashes = {it["txHash"] for it in body["items"] if it["status"] == "pending"}
    assert len(hashes) < 15  # 15 actions, fewer transactions (RelayBatch carriers)
    assert all(isinstance(it.get("batchIndex"), int) for it in body["items"] if it["status"] == "pending")
    _mine_until(w3, lambda: chain.ledger.functions.nonces(weaver.address).call() == nw + 10
                and chain.ledger.functions.nonces(spinner.address).call() == n0 + 5)
    assert w3.eth.get_transaction_count(chain.relayer) - relayer_nonce == len(hashes)
    assert chain.ledger.functions.balanceOf(weaver.address, lot).call() == 50
    assert chain.ledger.functions.balanceOf(brand.address, lot_w).call() == 10


def test_bulk_waits_for_each_items_own_outcome(server, api, demo, chain):
    node = server.node
    farm, ginner = actor(demo, "spinner"), actor(demo, "weaver")
    lot = create_uncertified(api, farm, demo.materials["yarn"], 100, "pipeline-c")
    n0 = chain.ledger.functions.nonces(farm.address).call()
    now = chain.w3.eth.get_block("latest")["timestamp"]
    items = [_twa(node, farm, ginner, lot, 7, n0 + k, now + 3600) for k in range(4)]
    r = api.post("/bulk", json={"items": items, "wait": True}, timeout=120)
    body = r.json()
    assert body["accepted"] == 4, body
    for k, it in enumerate(body["items"]):
        assert it["status"] == "mined" and it["result"]["transferId"], it
        assert isinstance(it["batchIndex"], int)
    # each item's events are its own
    ids = {it["result"]["transferId"] for it in body["items"]}
    assert len(ids) == 4


def test_bulk_streams_one_line_per_item(server, api, demo, chain):
    import json

    node = server.node
    farm, ginner = actor(demo, "spinner"), actor(demo, "weaver")
    lot = create_uncertified(api, farm, demo.materials["yarn"], 100, "pipeline-d")
    n0 = chain.ledger.functions.nonces(farm.address).call()
    now = chain.w3.eth.get_block("latest")["timestamp"]
    items = [_twa(node, farm, ginner, lot, 1, n0 + k, now + 3600) for k in range(3)]
    items.append({"action": "batches.nope", "body": {}})
    with api.stream("POST", "/bulk", params={"stream": "true"}, json={"items": items, "wait": True},
                    headers={"Idempotency-Key": f"stream-{n0}"}) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(x) for x in r.iter_lines() if x.strip()]
    per_item = {x["index"]: x for x in lines if "index" in x}
    assert sorted(per_item) == [0, 1, 2, 3]
    assert [per_item[k]["status"] for k in range(3)] == ["mined"] * 3
    assert per_item[3]["status"] == "refused" and per_item[3]["error"]["details"]["field"] == "items.3.action"
    assert lines[-1]["summary"] == {"accepted": 3, "refused": 1, "replayed": False, "httpStatus": 200}


def test_a_full_node_answers_429_with_retry_after(server, api, demo):
    relayer = server.node.relayer
    keep = relayer.max_queue
    relayer.max_queue = 1
    try:
        r = api.post("/bulk", json={"items": [{"action": "batches.nope", "body": {}}] * 2})
        assert r.status_code == 429 and r.headers["Retry-After"] == "2", r.text
        assert r.json()["error"] == "NodeBusy" and r.json()["details"]["limit"] == 1
    finally:
        relayer.max_queue = keep
