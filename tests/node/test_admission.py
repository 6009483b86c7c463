"""The relayer serves members only, at a bounded rate per signer (issue 9, finding 6).

An unregistered wallet without ETH gets 403 naming the rule (not 50 relayed `roll` calls), alone or
in a /bulk; a wallet whose participant is suspended is refused from the block that suspends it; a
signer over its token bucket gets 429 with Retry-After, each /bulk item counting."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account

from node_api.services.admission import Admission, RateLimited, TokenBucket
from node_api.services.contracts import Contracts
from nodehelp import actor, forward_body, sign
from nodeserver import ADMIN_KEY

ADMIN = {"X-Admin-Key": ADMIN_KEY}


def _account_key(demo, chain, name="converter"):
    who = actor(demo, name)
    site = chain.registry.functions.wallet(who.address).call()[1]
    return chain.mass_balance.functions.accountKey(demo.participants[name], site, demo.materials["pe"],
                                                   demo.characteristics["bio_circular"]).call()


def test_stranger_roll_is_refused_alone_and_in_bulk(api, demo, chain, server):
    stranger = Account.create()
    assert chain.w3.eth.get_balance(stranger.address) == 0
    key = _account_key(demo, chain)
    before = chain.w3.eth.get_transaction_count(chain.relayer)
    body = forward_body(server.node, stranger, "MassBalance", "roll", key, gas=300_000)
    r = api.post("/mass-balance/roll/submit", json=body)
    assert r.status_code == 403, r.text
    # the node's rule, or (once `roll` checks its actor on chain) the contract's: either way not relayed
    assert r.json()["error"] in ("RelayMembersOnly", "RegistryUnknownWallet"), r.text
    if r.json()["error"] == "RelayMembersOnly":
        assert "registered participants" in r.json()["message"] and stranger.address in r.json()["message"]
    items = [{"action": "mass-balance.roll",
              "body": forward_body(server.node, stranger, "MassBalance", "roll", key, gas=300_000, nonce=n)}
             for n in range(50)]
    r = api.post("/bulk", json={"items": items})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == 0 and out["refused"] == 50
    assert all(i["httpStatus"] in (403, 409) for i in out["items"]), out["items"][:3]  # nonce 1..49: ahead/used
    assert out["items"][0]["httpStatus"] == 403
    assert chain.w3.eth.get_transaction_count(chain.relayer) == before


def _admission(server, **kw) -> Admission:
    """A fresh Admission over the node's deployment, with its own RPC client (this test's event loop)."""
    from node_api.core.rpc import Rpc

    c = server.node.contracts
    contracts = Contracts(Rpc(server.node.settings.effective_rpc_url), c.chain_id, dict(c.addresses), c.abis,
                          c.deploy_block)
    return Admission(contracts, members_only=True, rate=kw.get("rate", 10.0), burst=kw.get("burst", 10))


def test_suspended_or_removed_wallet_refused_from_the_next_block(api, demo, chain, server):
    newcomer = Account.create()
    pid = api.post("/participants/register", json={"name": "Short-lived Co", "roles": 1}, headers=ADMIN)
    assert pid.status_code == 200, pid.text
    pid = pid.json()["result"]["participantId"]
    r = api.post("/participants/add-wallet", json={"wallet": newcomer.address, "participantId": pid, "siteId": 0},
                 headers=ADMIN)
    assert r.status_code == 200, r.text

    async def check() -> list:
        adm = _admission(server)
        try:
            return [await adm.membership(newcomer.address)]
        finally:
            await adm.contracts.rpc.aclose()

    async def admitted_then(action_path, payload):
        adm = _admission(server)
        try:
            first = await adm.membership(newcomer.address)  # cached at this head
            r = await asyncio.to_thread(api.post, action_path, json=payload, headers=ADMIN)
            assert r.status_code == 200, r.text
            return first, await adm.membership(newcomer.address)  # a new block: read again
        finally:
            await adm.contracts.rpc.aclose()

    assert asyncio.run(check()) == [None]
    first, after = asyncio.run(admitted_then("/participants/set-status", {"participantId": pid, "status": 2}))
    assert first is None
    assert after is not None and after.status == 403 and after.error == "RelayMembersOnly" and "suspended" in after.message
    # the node itself refuses a suspended signer before relaying (simulation refuses first here)
    r = api.post("/participants/set-status", json={"participantId": pid, "status": 1}, headers=ADMIN)
    assert r.status_code == 200, r.text
    first, after = asyncio.run(admitted_then("/participants/remove-wallet", {"wallet": newcomer.address}))
    assert first is None
    assert after is not None and after.error == "RelayMembersOnly" and "not registered" in after.message


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    b = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [b.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("a") == pytest.approx(0.5)
    assert b.take("b") == 0.0  # per key
    now[0] = 0.5
    assert b.take("a") == 0.0
    assert b.take("a") == pytest.approx(0.5)
    now[0] = 100.0
    assert [b.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # never above the burst
    assert b.take("a") > 0
    e = RateLimited("0xabc", 0.2, 2.0, 3)
    assert e.status == 429 and e.headers == {"Retry-After": "1"}


def test_rate_limit_per_signer_429_with_retry_after_and_bulk_items_count(api, demo, chain, server):
    node = server.node
    assert node.forwarding.admission is node.custody.admission
    s = node.settings
    assert (node.forwarding.admission.bucket.rate, node.forwarding.admission.bucket.burst) == (
        s.relay_rate_per_signer, s.relay_burst_per_signer)
    admission = node.forwarding.admission
    saved = admission.bucket
    admission.bucket = TokenBucket(rate=0.05, burst=3)
    try:
        farm, ginner = actor(demo, "farm"), actor(demo, "ginner")

        def create(account, tag):  # noqa: ANN202
            prep = api.post("/batches/create/prepare", json={
                "signer": account.address, "material": demo.materials["lint"], "quantity": 5, "geolocationHash": tag,
                "evidenceHash": tag, "productionDate": 1}).json()
            return {"typedData": prep["typedData"], "signature": sign(account, prep["typedData"])}

        for i in range(3):
            r = api.post("/batches/create/submit", json=create(farm, f"rate:{i}"))
            assert r.status_code == 200, r.text
        before = chain.w3.eth.get_transaction_count(chain.relayer)
        r = api.post("/batches/create/submit", json=create(farm, "rate:over"))
        assert r.status_code == 429, r.text
        assert r.json()["error"] == "RelayRateLimited" and farm.address in r.json()["message"]
        assert int(r.headers["Retry-After"]) >= 1
        assert chain.w3.eth.get_transaction_count(chain.relayer) == before
        # another signer has its own bucket; in a bulk each item counts
        n0 = chain.forwarder.functions.nonces(ginner.address).call()
        items = []
        for k in range(4):  # the 4th waits for the 3rd's nonce, then finds the bucket empty
            prep = api.post("/batches/create/prepare", json={
                "signer": ginner.address, "material": demo.materials["lint"], "quantity": 5, "nonce": n0 + k,
                "geolocationHash": f"rate-bulk:{k}", "evidenceHash": f"rate-bulk:{k}", "productionDate": 1}).json()
            items.append({"action": "batches.create",
                          "body": {"typedData": prep["typedData"], "signature": sign(ginner, prep["typedData"])}})
        r = api.post("/bulk", json={"items": items, "wait": True})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["accepted"] == 3 and out["items"][3]["httpStatus"] == 429, out
        assert out["items"][3]["error"]["error"] == "RelayRateLimited"
        assert chain.forwarder.functions.nonces(ginner.address).call() == n0 + 3
    finally:
        admission.bucket = saved
