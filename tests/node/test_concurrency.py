"""Many clients at once: no nonce clash, no lost or doubled action; idempotent retries."""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from web3.logs import DISCARD

from node_api import signing
from nodehelp import actor, create_uncertified, sign

SENDERS = ["farm", "ginner", "spinner", "weaver", "feedstock", "cracker", "polymer", "converter"]


def _twa_body(chain_id, ledger, sender, receiver, batch_id, quantity, nonce, deadline):
    t = signing.CustodyTransfer(batch_id, sender.address, receiver.address, quantity, 0, nonce, deadline)
    return {
        "transfer": t.message(),
        "senderSignature": sign(sender, signing.transfer_typed_data(chain_id, ledger, t)),
        "acceptDeadline": deadline,
        "receiverSignature": sign(receiver, signing.accept_typed_data(chain_id, ledger, t, deadline)),
    }


def _wait_mined(api, hashes, timeout=60.0):
    deadline = time.monotonic() + timeout
    pending = set(hashes)
    while pending and time.monotonic() < deadline:
        for h in list(pending):
            st = api.get(f"/transactions/{h}").json()["status"]
            assert st in ("pending", "mined"), st
            if st == "mined":
                pending.discard(h)
        time.sleep(0.1)
    assert not pending, f"{len(pending)} transactions not mined"


def test_100_signed_transfers_from_many_clients_all_succeed(api, demo, chain, server):
    node = server.node
    actors = {n: actor(demo, n) for n in SENDERS + ["brand"]}
    material = demo.materials["lint"]
    with ThreadPoolExecutor(8) as pool:
        batches = dict(zip(SENDERS, pool.map(
            lambda n: create_uncertified(api, actors[n], material, 10_000, f"concurrency:{n}"), SENDERS)))
    now = chain.w3.eth.get_block("latest")["timestamp"]
    ledger = chain.ledger
    start_nonces = {n: ledger.functions.nonces(actors[n].address).call() for n in SENDERS}
    relayer_nonce = chain.w3.eth.get_transaction_count(chain.relayer)
    receivers = SENDERS[1:] + ["brand"]
    jobs, sent = [], {n: 0 for n in SENDERS}
    expected_in: dict[tuple[str, int], int] = {}
    for i in range(100):
        s = SENDERS[i % len(SENDERS)]
        r = receivers[(i // len(SENDERS) + SENDERS.index(s)) % len(receivers)]
        if r == s:
            r = "brand"
        q = 1 + i
        jobs.append(_twa_body(node.chain_id, node.ledger, actors[s], actors[r], batches[s], q,
                              start_nonces[s] + sent[s], now + 3600))
        sent[s] += 1
        expected_in[(r, batches[s])] = expected_in.get((r, batches[s]), 0) + q
    random.Random(7).shuffle(jobs)  # arrival order differs from nonce order: the node holds early arrivals

    async def all_at_once():
        # 100 concurrent connections: to the node, 100 clients (one shared pool avoids paying the
        # client-side TLS context setup 100 times in this process, which shares the GIL with the node)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as c:
            return await asyncio.gather(*(
                c.post("/batches/transfer-with-acceptance/submit", params={"wait": "false"}, json=b) for b in jobs))

    responses = asyncio.run(all_at_once())
    assert [r.status_code for r in responses] == [202] * 100, [r.text for r in responses if r.status_code != 202][:3]
    hashes = [r.json()["txHash"] for r in responses]
    assert len(set(hashes)) == 100
    _wait_mined(api, hashes)

    assert chain.w3.eth.get_transaction_count(chain.relayer) == relayer_nonce + 100  # no clash, no extra tx
    for n in SENDERS:
        assert ledger.functions.nonces(actors[n].address).call() == start_nonces[n] + sent[n]
        out = sum(q for (r, b), q in expected_in.items() if b == batches[n])
        assert ledger.functions.balanceOf(actors[n].address, batches[n]).call() == 10_000 - out
    for (r, b), q in expected_in.items():
        assert ledger.functions.balanceOf(actors[r].address, b).call() == q
    receipts = [chain.w3.eth.get_transaction_receipt(h) for h in hashes]
    accepted = [e for rc in receipts for e in ledger.events.CustodyAccepted().process_receipt(rc, errors=DISCARD)]
    assert len(accepted) == 100 and all(rc["status"] == 1 for rc in receipts)


def test_retried_request_with_same_idempotency_key_executes_once(api, demo, chain):
    farm = actor(demo, "farm")
    count = chain.ledger.functions.batchCount().call()
    prep = api.post("/batches/create/prepare", json={
        "signer": farm.address, "material": demo.materials["lint"], "quantity": 77, "geolocationHash": "g-idem",
        "evidenceHash": "e-idem", "productionDate": 1}).json()
    body = {"typedData": prep["typedData"], "signature": sign(farm, prep["typedData"])}
    key = {"Idempotency-Key": f"idem-{demo.seed}-1"}

    def post(_):
        with httpx.Client(base_url=str(api.base_url), timeout=60) as c:
            return c.post("/batches/create/submit", json=body, headers=key)

    with ThreadPoolExecutor(3) as pool:  # the same request three times at once (a client retrying eagerly)
        first = list(pool.map(post, range(3)))
    later = api.post("/batches/create/submit", json=body, headers=key)  # and again after the answer
    answers = first + [later]
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert len({r.json()["txHash"] for r in answers}) == 1
    assert later.json()["replayed"] is True and later.json()["status"] == "mined"
    assert later.json()["result"]["batchIds"] == [count + 1]
    assert chain.ledger.functions.batchCount().call() == count + 1

    # another request of the same signer with this key: refused, nothing done
    prep2 = api.post("/batches/create/prepare", json={
        "signer": farm.address, "material": demo.materials["lint"], "quantity": 78, "geolocationHash": "g-idem",
        "evidenceHash": "e-idem-2", "productionDate": 1}).json()
    other = {"typedData": prep2["typedData"], "signature": sign(farm, prep2["typedData"])}
    r = api.post("/batches/create/submit", json=other, headers=key)
    assert r.status_code == 409 and r.json()["error"] == "IdempotencyKeyReused"
    # a signature that recovers to nobody's wallet cannot use anybody's key (keys are the signer's)
    r = api.post("/batches/create/submit", json=dict(body, signature="0x" + "11" * 65), headers=key)
    assert r.status_code == 403 and r.json()["error"] == "InvalidSignature", r.text
    assert chain.ledger.functions.batchCount().call() == count + 1


def test_bulk_with_idempotency_key_executes_once(api, demo, chain, server):
    node = server.node
    farm, ginner = actor(demo, "farm"), actor(demo, "ginner")
    batch = create_uncertified(api, farm, demo.materials["lint"], 1_000, "bulk")
    now = chain.w3.eth.get_block("latest")["timestamp"]
    n0 = chain.ledger.functions.nonces(farm.address).call()
    items = [{"action": "batches.transfer-with-acceptance",
              "body": _twa_body(node.chain_id, node.ledger, farm, ginner, batch, 10, n0 + k, now + 3600)}
             for k in range(20)]
    items.append({"action": "batches.transfer-with-acceptance",
                  "body": _twa_body(node.chain_id, node.ledger, farm, ginner, batch, 5_000, n0 + 20, now + 3600)})
    items.append({"action": "batches.nonsense", "body": {}})
    headers = {"Idempotency-Key": f"bulk-{demo.seed}"}
    r1 = api.post("/bulk", json={"items": items, "wait": True}, headers=headers)
    assert r1.status_code == 200, r1.text
    res = r1.json()
    assert res["accepted"] == 20 and res["refused"] == 2
    assert res["items"][20]["error"]["error"] == "ERC1155InsufficientBalance"
    assert res["items"][21]["httpStatus"] == 422
    r2 = api.post("/bulk", json={"items": items, "wait": True}, headers=headers)
    assert [i.get("txHash") for i in r2.json()["items"]] == [i.get("txHash") for i in res["items"]]
    assert chain.ledger.functions.balanceOf(ginner.address, batch).call() == 200
    assert chain.ledger.functions.nonces(farm.address).call() == n0 + 20
