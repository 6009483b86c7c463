"""Idempotency keys are scoped to the caller and the endpoint, and race-safe (issue 9, findings 5, 10).

Real concurrent HTTP requests, real signatures: two participants using the same key string each get
their own action executed; the same caller racing two identical requests gets one execution and one
answer; racing two different requests gets one execution and a 409; `wait` is not part of the request.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from nodehelp import actor, sign


def _signed_create(api, account, material, tag, quantity=1_000, nonce=None):
    body = {"signer": account.address, "material": material, "quantity": quantity, "geolocationHash": f"geo:{tag}",
            "evidenceHash": f"evidence:{tag}", "productionDate": 1}
    if nonce is not None:
        body["nonce"] = nonce
    prep = api.post("/batches/create/prepare", json=body)
    assert prep.status_code == 200, prep.text
    typed = prep.json()["typedData"]
    return {"typedData": typed, "signature": sign(account, typed)}


def _race(api, calls):
    """Sends every (path, body, headers) at the same moment from its own thread."""
    barrier = threading.Barrier(len(calls))

    def go(call):
        path, body, headers = call
        # a client (connection) of its own per request, as separate clients would
        with httpx.Client(base_url=str(api.base_url), timeout=60) as client:
            barrier.wait()
            return client.post(path, json=body, headers=headers)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def test_two_participants_same_key_same_moment_both_execute(api, demo, chain):
    farm, ginner = actor(demo, "farm"), actor(demo, "ginner")
    material = demo.materials["lint"]
    a = _signed_create(api, farm, material, "idem-scope:farm")
    b = _signed_create(api, ginner, material, "idem-scope:ginner")
    key = {"Idempotency-Key": "order-42"}  # a predictable key both picked
    ra, rb = _race(api, [("/batches/create/submit", a, key), ("/batches/create/submit", b, key)])
    assert ra.status_code == 200, ra.text
    assert rb.status_code == 200, rb.text
    assert ra.json()["txHash"] != rb.json()["txHash"]
    ida, idb = ra.json()["result"]["batchIds"][0], rb.json()["result"]["batchIds"][0]
    assert chain.ledger.functions.balanceOf(farm.address, ida).call() == 1_000
    assert chain.ledger.functions.balanceOf(ginner.address, idb).call() == 1_000
    # each retry gets its own first answer
    assert api.post("/batches/create/submit", json=a, headers=key).json()["txHash"] == ra.json()["txHash"]
    assert api.post("/batches/create/submit", json=b, headers=key).json()["txHash"] == rb.json()["txHash"]


def test_same_request_raced_executes_once(api, demo, chain):
    farm = actor(demo, "farm")
    body = _signed_create(api, farm, demo.materials["lint"], "idem-scope:race-same")
    nonce = chain.forwarder.functions.nonces(farm.address).call()
    key = {"Idempotency-Key": "race-same"}
    answers = _race(api, [("/batches/create/submit", body, key)] * 4)
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert len({r.json()["txHash"] for r in answers}) == 1
    assert sum(1 for r in answers if r.json().get("replayed")) == 3
    assert chain.forwarder.functions.nonces(farm.address).call() == nonce + 1


def test_different_requests_raced_with_one_key_one_runs_other_409(api, demo, chain):
    farm = actor(demo, "farm")
    nonce = chain.forwarder.functions.nonces(farm.address).call()
    a = _signed_create(api, farm, demo.materials["lint"], "idem-scope:race-a", nonce=nonce)
    b = _signed_create(api, farm, demo.materials["lint"], "idem-scope:race-b", nonce=nonce)  # either may win
    key = {"Idempotency-Key": "race-different"}
    answers = _race(api, [("/batches/create/submit", a, key), ("/batches/create/submit", b, key)])
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 409], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 409).json()
    assert refused["error"] == "IdempotencyKeyReused"
    assert refused["details"]["caller"] == f"signer:{farm.address}"
    assert chain.forwarder.functions.nonces(farm.address).call() == nonce + 1


def test_same_key_at_another_endpoint_is_another_operation(api, demo, chain):
    farm = actor(demo, "farm")
    create = _signed_create(api, farm, demo.materials["lint"], "idem-scope:endpoint")
    key = {"Idempotency-Key": "per-endpoint"}
    r1 = api.post("/batches/create/submit", json=create, headers=key)
    assert r1.status_code == 200, r1.text
    batch_id = r1.json()["result"]["batchIds"][0]
    prep = api.post("/batches/split/prepare", json={"signer": farm.address, "batchId": batch_id, "quantities": [400, 600]})
    assert prep.status_code == 200, prep.text
    split = {"typedData": prep.json()["typedData"], "signature": sign(farm, prep.json()["typedData"])}
    r2 = api.post("/batches/split/submit", json=split, headers=key)
    assert r2.status_code == 200, r2.text
    assert r2.json()["txHash"] != r1.json()["txHash"]
    assert chain.ledger.functions.balanceOf(farm.address, batch_id).call() == 0


def test_wait_is_not_part_of_the_request(api, demo):
    farm = actor(demo, "farm")
    body = _signed_create(api, farm, demo.materials["lint"], "idem-scope:wait")
    key = {"Idempotency-Key": "wait-differs"}
    r1 = api.post("/batches/create/submit?wait=true", json=body, headers=key)
    assert r1.status_code == 200, r1.text
    r2 = api.post("/batches/create/submit?wait=false", json=body, headers=key)
    assert r2.status_code == 200 and r2.json()["replayed"] is True, r2.text
    assert r2.json()["txHash"] == r1.json()["txHash"]
    # /bulk: `wait` in the body
    item = {"action": "batches.create", "body": _signed_create(api, farm, demo.materials["lint"], "idem-scope:bulk-wait")}
    key = {"Idempotency-Key": "bulk-wait-differs"}
    b1 = api.post("/bulk", json={"items": [item], "wait": True}, headers=key)
    assert b1.status_code == 200 and b1.json()["accepted"] == 1, b1.text
    b2 = api.post("/bulk", json={"items": [item], "wait": False}, headers=key)
    assert b2.status_code == 200 and b2.json()["replayed"] is True, b2.text
    assert b2.json()["items"][0]["txHash"] == b1.json()["items"][0]["txHash"]


def test_outsider_cannot_squat_a_key(api, demo):
    """A stranger's refused request with someone's key stores nothing: the owner's request runs."""
    from eth_account import Account

    farm, stranger = actor(demo, "farm"), Account.create()
    body = _signed_create(api, farm, demo.materials["lint"], "idem-scope:squat")
    forged = {"typedData": body["typedData"], "signature": sign(stranger, body["typedData"])}
    key = {"Idempotency-Key": "predictable-7"}
    r = api.post("/batches/create/submit", json=forged, headers=key)
    assert r.status_code == 403 and r.json()["error"] == "SignatureMismatch", r.text
    r = api.post("/batches/create/submit", json=body, headers=key)
    assert r.status_code == 200 and not r.json().get("replayed"), r.text


def test_bad_key_is_422(api, demo):
    farm = actor(demo, "farm")
    body = _signed_create(api, farm, demo.materials["lint"], "idem-scope:badkey")
    r = api.post("/batches/create/submit", json=body, headers={"Idempotency-Key": "x" * 201})
    assert r.status_code == 422 and r.json()["details"]["field"] == "Idempotency-Key", r.text


# ---------------------------------------------------------------- an old data folder
OLD_OPERATIONS = """CREATE TABLE operations (key VARCHAR(200) NOT NULL, request_hash VARCHAR(64) NOT NULL,
    status_code INTEGER NOT NULL, response TEXT NOT NULL, created_at FLOAT NOT NULL, PRIMARY KEY (key))"""


def test_database_of_an_older_node_is_migrated(tmp_path):
    """A node.db written before keys were scoped (operations without scope columns) opens, gains the
    columns, and its global keys never answer a scoped request."""
    import asyncio

    from node_api.db import Database
    from node_api.services.idempotency import Idempotency, Scope, scoped_key

    path = tmp_path / "node.db"
    con = sqlite3.connect(path)
    con.execute(OLD_OPERATIONS)
    con.execute("INSERT INTO operations VALUES ('order-42', 'h', 200, '{\"txHash\": \"0xold\"}', 0)")
    con.commit()
    con.close()
    db = Database(f"sqlite:///{path}")
    cols = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(operations)")}
    assert {"scope", "client_key"} <= cols

    class NoOutcomes:
        def refresh(self, body, replayed):
            return {**body, "replayed": replayed}

    idem = Idempotency(db, NoOutcomes())  # type: ignore[arg-type]
    scope = Scope("signer:0xabc", "batches.create.submit")
    ran = []

    async def run(op_key):
        ran.append(op_key)
        return 200, {"txHash": "0xnew"}

    assert asyncio.run(idem.run("order-42", {"r": 1}, run, scope=scope)) == (200, {"txHash": "0xnew"})
    assert ran == [scoped_key(scope, "order-42")]
    status, body = asyncio.run(idem.run("order-42", {"r": 1}, run, scope=scope))
    assert body["txHash"] == "0xnew" and body["replayed"] and len(ran) == 1
    row = db.operation(scoped_key(scope, "order-42"))
    assert row["scope"] == str(scope) and row["client_key"] == "order-42"
    Database(f"sqlite:///{path}").close()  # a second start on the migrated file is a no-op
    db.close()


def test_a_key_needs_a_scope():
    import asyncio

    from node_api.services.idempotency import Idempotency

    with pytest.raises(ValueError):
        asyncio.run(Idempotency(None, None).run("k", {}, None, scope=None))  # type: ignore[arg-type]


def test_admin_and_a_signer_with_one_key_string_are_separate(api, demo, chain):
    """Node-held-key calls are scoped to who the key signs for (here the admin), not to the key string."""
    from nodeserver import ADMIN_KEY

    farm = actor(demo, "farm")
    key = "shared-by-admin-and-farm"
    admin = {"X-Admin-Key": ADMIN_KEY, "Idempotency-Key": key}
    count = chain.registry.functions.counts().call()[0]
    r1 = api.post("/participants/register", json={"name": "Scope Test Co", "roles": 1}, headers=admin)
    assert r1.status_code == 200, r1.text
    r2 = api.post("/batches/create/submit", json=_signed_create(api, farm, demo.materials["lint"], "idem-scope:admin"),
                  headers={"Idempotency-Key": key})
    assert r2.status_code == 200 and not r2.json().get("replayed"), r2.text
    assert r2.json()["txHash"] != r1.json()["txHash"]
    # the admin's retry is answered from its own record; another admin request with the key is 409
    again = api.post("/participants/register", json={"name": "Scope Test Co", "roles": 1}, headers=admin)
    assert again.json()["txHash"] == r1.json()["txHash"] and again.json()["replayed"] is True
    other = api.post("/participants/register", json={"name": "Another Co", "roles": 1}, headers=admin)
    assert other.status_code == 409 and other.json()["details"]["caller"] == "admin", other.text
    assert chain.registry.functions.counts().call()[0] == count + 1


def test_request_under_way_at_a_crash_keeps_its_key(tmp_path):
    """The operation is recorded (status 0) before it runs: after a crash that left a relayed
    transaction, another request with the key is 409 and the same one gets the transaction; a
    crash before anything was relayed leaves the key free; a refusal frees it too."""
    import asyncio
    import time as _time

    from node_api.db import Database
    from node_api.errors import ApiError
    from node_api.services.idempotency import UNDER_WAY, Idempotency, Scope, request_hash, scoped_key

    db = Database(f"sqlite:///{tmp_path / 'node.db'}")

    class Rows:
        def refresh(self, body, replayed):
            return {**body, "replayed": replayed}

        def row_body(self, row):
            return {"txHash": row["hash"], "status": row["status"]}

    idem = Idempotency(db, Rows())  # type: ignore[arg-type]
    scope = Scope("signer:0xabc", "batches.create.submit")
    op = scoped_key(scope, "k")
    db.save_operation(op, request_hash({"r": 1}), UNDER_WAY, None)
    db.insert_txs([{"hash": "0x" + "aa" * 32, "nonce": 1, "raw": "0x", "status": "sent", "action": "batches.create",
                    "op_key": op, "created_at": _time.time(), "updated_at": _time.time()}])

    async def never(op_key):
        raise AssertionError("must not run again")

    with pytest.raises(ApiError) as refused:
        asyncio.run(idem.run("k", {"r": 2}, never, scope=scope))
    assert refused.value.status == 409
    status, body = asyncio.run(idem.run("k", {"r": 1}, never, scope=scope))
    assert body["txHash"] == "0x" + "aa" * 32 and body["replayed"] is True

    other = scoped_key(scope, "k2")  # under way at the crash, nothing relayed: runs
    db.save_operation(other, request_hash({"r": 1}), UNDER_WAY, None)

    async def ok(op_key):
        return 200, {"txHash": "0xnew"}

    async def refuse(op_key):
        raise ApiError(409, "Rule", "refused")

    assert asyncio.run(idem.run("k2", {"r": 9}, ok, scope=scope)) == (200, {"txHash": "0xnew"})
    with pytest.raises(ApiError):
        asyncio.run(idem.run("k3", {"r": 1}, refuse, scope=scope))
    assert db.operation(scoped_key(scope, "k3")) is None
    assert asyncio.run(idem.run("k3", {"r": 2}, ok, scope=scope))[0] == 200
    db.close()
