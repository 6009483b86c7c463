"""Restart: the node is killed (SIGKILL) in the middle of a load and started again. Every action
it acknowledged is on chain, retries with the same idempotency keys execute nothing twice, and the
relayer carries on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time

import httpx
import pytest

from node_api import signing
from node_api.core.anvil import free_port
from nodehelp import actor, create_uncertified, sign
from testkit.node_process import node_env, start_node, stop_node

ANVIL_KEY_8 = "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"
SENDERS = ["farm", "ginner", "cracker", "polymer"]
PER_SENDER = 15


def test_kill_mid_load_then_restart_loses_and_doubles_nothing(api, demo, chain, server, node_anvil, node_data, tmp_path):
    node = server.node
    data = tmp_path / "restart-node"
    (data / "deployments").mkdir(parents=True)
    for f in (node_data / "deployments").glob("*.json"):
        shutil.copy(f, data / "deployments" / f.name)  # same contracts, its own database and relayer key
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = node_env(node_anvil.url, data, port, ANVIL_KEY_8, COC_NONCE_WAIT_SECONDS="30")
    actors = {n: actor(demo, n) for n in SENDERS}
    batches = {n: create_uncertified(api, actors[n], demo.materials["yarn"], 1_000, f"restart:{n}") for n in SENDERS}
    now = chain.w3.eth.get_block("latest")["timestamp"]
    start_nonce = {n: chain.ledger.functions.nonces(actors[n].address).call() for n in SENDERS}
    jobs = []
    for k in range(PER_SENDER):
        for i, s in enumerate(SENDERS):
            r = SENDERS[(i + 1) % len(SENDERS)]
            t = signing.CustodyTransfer(batches[s], actors[s].address, actors[r].address, 1 + k, 0, start_nonce[s] + k,
                                        now + 3600)
            jobs.append((f"restart-{demo.seed}-{s}-{k}", {
                "transfer": t.message(),
                "senderSignature": sign(actors[s], signing.transfer_typed_data(node.chain_id, node.ledger, t)),
                "acceptDeadline": now + 3600,
                "receiverSignature": sign(actors[r], signing.accept_typed_data(node.chain_id, node.ledger, t, now + 3600)),
            }))

    # At most 20 requests in flight: the node's pipeline answers a whole burst at once, so with all 60 sent
    # together they could all be acknowledged before the kill; paced, the kill always finds some in flight
    # and some not yet sent.
    async def post(c, key, body, in_flight=None):
        async with in_flight or contextlib.nullcontext():
            return await c.post("/batches/transfer-with-acceptance/submit", params={"wait": "false"}, json=body,
                                headers={"Idempotency-Key": key})

    proc = start_node(env, url, timeout=90)
    acked: dict[str, str] = {}
    try:
        async def load_and_kill():
            limits = httpx.Limits(max_connections=100)
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
                in_flight = asyncio.Semaphore(20)
                tasks = {asyncio.ensure_future(post(c, k, b, in_flight)): k for k, b in jobs}
                pending = set(tasks)
                while len(acked) < 12 and pending:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for d in done:
                        if not d.exception() and d.result().status_code == 202:
                            acked[tasks[d]] = d.result().json()["txHash"]
                os.kill(proc.pid, signal.SIGKILL)  # mid-load: requests in flight, some held, some queued
                for d in await asyncio.gather(*pending, return_exceptions=True):
                    pass
                for t, k in tasks.items():
                    if t.done() and not t.exception() and t.result().status_code == 202:
                        acked[k] = t.result().json()["txHash"]

        asyncio.run(load_and_kill())
        proc.wait(10)
        assert 12 <= len(acked) < len(jobs)
        before_restart = dict(acked)

        proc = start_node(env, url, timeout=90)  # same data dir: write-ahead log, idempotency keys

        async def retry_all():
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=100)) as c:
                return await asyncio.gather(*(post(c, k, b) for k, b in jobs))

        answers = asyncio.run(retry_all())
        assert all(r.status_code in (200, 202) for r in answers), [r.text for r in answers if r.status_code >= 300][:3]
        final = {k: r.json()["txHash"] for (k, _), r in zip(jobs, answers)}
        for k, h in before_restart.items():
            assert final[k] == h, "an acknowledged action was executed again under a new transaction"
        deadline = time.monotonic() + 60
        receipts = {}
        while len(receipts) < len(final) and time.monotonic() < deadline:
            for h in set(final.values()) - set(receipts):
                try:
                    receipts[h] = chain.w3.eth.get_transaction_receipt(h)
                except Exception:  # noqa: BLE001 - not mined yet
                    pass
            time.sleep(0.2)
        assert len(receipts) == len(set(final.values())) == len(jobs)
        assert all(rc["status"] == 1 for rc in receipts.values())
        for i, s in enumerate(SENDERS):  # each signed transfer executed exactly once
            assert chain.ledger.functions.nonces(actors[s].address).call() == start_nonce[s] + PER_SENDER
            sent = sum(range(1, PER_SENDER + 1))
            assert chain.ledger.functions.balanceOf(actors[s].address, batches[s]).call() == 1_000 - sent
            receiver = actors[SENDERS[(i + 1) % len(SENDERS)]]
            assert chain.ledger.functions.balanceOf(receiver.address, batches[s]).call() == sent
        # the relayer carries on: a new action through the restarted node
        with httpx.Client(base_url=url, timeout=60) as c:
            prep = c.post("/batches/split/prepare", json={"signer": actors["farm"].address, "batchId": batches["farm"],
                                                          "quantities": [10, 10]}).json()
            r = c.post("/batches/split/submit", json={"typedData": prep["typedData"],
                                                      "signature": sign(actors["farm"], prep["typedData"])})
            assert r.status_code == 200 and len(r.json()["result"]["batchIds"]) == 2, r.text
    finally:
        stop_node(proc)
