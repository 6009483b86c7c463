"""``/health`` tells the truth (issue 9, finding 7): each condition produced for real, then undone.

A node of its own on a throwaway Anvil (the tests stop, drain, revert and finally kill its chain):
- chain unreachable: SIGSTOP of Anvil (it accepts and never answers), then SIGKILL (refused);
- chain stalled / transactions stuck: automine off (``evm_setAutomine false``) with a relayed action;
- relayer balance low: ``anvil_setBalance`` below the floor, then below its last hour's spend x 24;
- index ahead of the chain: ``evm_revert`` under the index (head below its last block, then a
  different block at its height); ``/provenance/status`` says ``in_sync: false`` meanwhile;
- chain behind its block time: the blocks the test mines on time (stamped with the wall clock) stop;
- a reason reported by another part (``node.health.report``), e.g. a changed chain identity.
"""

from __future__ import annotations

import os
import signal
import time
from itertools import count

import httpx
import pytest

from node_api.core.anvil import EmbeddedAnvil, rpc_call
from node_api.relayer.fees import GWEI
from nodeserver import ServerThread, node_settings

pytestmark = pytest.mark.chain

ADMIN = {"X-Admin-Key": "test-admin-key"}
_names = count()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    anvil = EmbeddedAnvil.throwaway(accounts=10).start()
    settings = node_settings(
        tmp_path_factory.mktemp("health-node"), anvil.url,
        health_stuck_seconds=1.5, health_stall_seconds=1.5, health_rpc_timeout=1.0,
        health_min_relayer_balance_gwei=1.0, health_balance_hours=24.0,
        index_poll_interval=30.0,  # the index moves when asked (/health wakes it), so a test sees it ahead
    )
    srv = ServerThread(settings).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as api:
            yield api, srv.node, anvil
    finally:
        srv.stop()
        anvil.stop()


def rpc(anvil, method, *params):
    return rpc_call(anvil.url, method, list(params), timeout=10)


def register(api, *, wait=True) -> httpx.Response:
    """One relayed action (the admin wallet registers a participant; the node signs it)."""
    r = api.post("/participants/register", json={"name": f"health {next(_names)}", "roles": 4}, headers=ADMIN,
                 params={"wait": str(wait).lower()})
    assert r.status_code in (200, 202), r.text
    return r


def health(api) -> dict:
    r = api.get("/health")
    assert r.status_code == 200, r.text
    return r.json()


def codes(h: dict) -> set[str]:
    return {x["code"] for x in h["reasons"]}


def until(api, pred, timeout=20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        h = health(api)
        if pred(h):
            return h
        assert time.monotonic() < deadline, h
        time.sleep(0.2)


def ok(api, timeout=20.0) -> dict:
    h = until(api, lambda h: h["status"] == "ok", timeout)
    assert h["reasons"] == []
    return h


def test_ok_when_everything_is(env):
    api, node, anvil = env
    register(api)
    h = ok(api)
    assert h["blockNumber"] >= 1 and int(h["relayerBalance"]) > 0
    assert h["fees"]["maxFeePerGas"] <= h["fees"]["capPerGas"] and h["fees"]["maxPriorityFeePerGas"] is not None
    assert h["relayerSpend"]["transactions"] >= 1


def test_reported_reason_until_cleared(env):
    api, node, anvil = env
    node.health.report("chain_identity_changed", "genesis hash differs from the data folder's record")
    h = health(api)
    assert h["status"] == "degraded" and h["reasons"] == [
        {"code": "chain_identity_changed", "message": "genesis hash differs from the data folder's record"}]
    node.health.clear("chain_identity_changed")
    ok(api)


def test_relayer_balance_low(env):
    api, node, anvil = env
    relayer = node.relayer.address
    funded = int(rpc(anvil, "eth_getBalance", relayer, "latest"), 16)
    for _ in range(3):
        register(api)
    try:
        rpc(anvil, "anvil_setBalance", relayer, hex(10))
        h = until(api, lambda h: "relayer_balance_low" in codes(h))
        assert h["status"] == "degraded" and "below the floor" in h["reasons"][0]["message"]
        # above the floor (1 gwei), below 24 x what the last hour cost
        spend = int(node.relayer.spend.as_dict()["lastHourWei"])
        assert spend > GWEI
        rpc(anvil, "anvil_setBalance", relayer, hex(spend * 2))
        h = until(api, lambda h: any("last hour's spend" in x["message"] for x in h["reasons"]))
        assert codes(h) == {"relayer_balance_low"}
    finally:
        rpc(anvil, "anvil_setBalance", relayer, hex(funded))
    ok(api)


def test_stuck_transaction_and_stalled_chain(env):
    api, node, anvil = env
    ok(api)
    rpc(anvil, "evm_setAutomine", False)
    try:
        r = register(api, wait=False)
        assert r.status_code == 202
        tx = r.json()["txHash"]
        h = until(api, lambda h: {"transactions_stuck", "chain_stalled"} <= codes(h), timeout=15)
        assert h["status"] == "degraded" and h["pendingTransactions"] >= 1
        stuck = next(x for x in h["reasons"] if x["code"] == "transactions_stuck")["message"]
        assert tx in stuck
    finally:
        rpc(anvil, "evm_setAutomine", True)
        rpc(anvil, "evm_mine")
    ok(api)
    assert api.get(f"/transactions/{tx}").json()["status"] == "mined"


def _index_status(api) -> dict:
    return api.get("/provenance/status").json()


def _index_at_head(api, follower) -> dict:
    follower.wake()
    return until(api, lambda h: follower.position()[0] == h["blockNumber"] and h["status"] == "ok")


def test_index_ahead_of_the_chain_after_a_rollback(env):
    """Blocks mined without the relayer (its nonce is not this test's subject), indexed, then reverted."""
    api, node, anvil = env
    follower = node.index.follower
    snap = rpc(anvil, "evm_snapshot")
    rpc(anvil, "anvil_mine", hex(5))
    _index_at_head(api, follower)
    rebuilds = follower.status.rebuilds
    indexed = follower.position()[0]

    assert rpc(anvil, "evm_revert", snap) is True  # the chain goes back under the index
    h = health(api)  # the follower sleeps 30 s between polls: only /health can have noticed
    # The chain went back under what the node saw, so the chain guard's chain_regression is true as well once
    # it has looked (every 0.5 s): both are the truth; nothing else may be reported.
    assert h["status"] == "degraded" and "index_ahead" in codes(h) <= {"index_ahead", "chain_regression"}, h
    [ahead] = [r for r in h["reasons"] if r["code"] == "index_ahead"]
    assert f"block {indexed}, above the chain head {h['blockNumber']}" in ahead["message"]
    st = _index_status(api)  # never "in sync" while ahead (or already rolled back)
    assert (st["in_sync"] is False and st["ahead_of_chain"] is True) or follower.status.rebuilds > rebuilds, st
    ok(api)  # it rolls back (rebuilds from the chain) and says so
    h = _index_at_head(api, follower)
    assert follower.status.rebuilds > rebuilds and follower.position()[0] == h["blockNumber"] < indexed
    assert _index_status(api)["in_sync"] is True

    # a rollback followed by other blocks at the same height: the index's block is no longer canonical
    snap = rpc(anvil, "evm_snapshot")
    rpc(anvil, "anvil_mine", hex(3))
    _index_at_head(api, follower)
    rebuilds = follower.status.rebuilds
    indexed, indexed_hash = follower.position()
    rpc(anvil, "evm_revert", snap)
    rpc(anvil, "anvil_mine", hex(6))
    assert rpc(anvil, "eth_getBlockByNumber", hex(indexed), False)["hash"] != indexed_hash
    st = _index_status(api)  # the index's own status notices first here
    assert st["in_sync"] is False and st["ahead_of_chain"] is True, st
    h = health(api)
    assert ("index_ahead" in codes(h) <= {"index_ahead", "chain_regression"}  # a reorganisation: both true
            or (h["status"] == "ok" and follower.status.rebuilds > rebuilds)), h
    ok(api)
    assert follower.status.rebuilds > rebuilds
    assert _index_status(api)["in_sync"] is True


def _ok_on_fresh_blocks(api, anvil, timeout=20.0) -> dict:
    """ok, on a chain whose blocks come on time: before each look the test mines a block stamped with
    the wall clock (a validator's clock), so the head is as young as one /health call. Not Anvil's
    interval miner: it stamps each block with its parent's time plus the interval, so on a loaded
    machine, where its ticks come late, its head falls behind the wall clock and ``chain_behind``
    is the truth (the test then raced the machine's load, not the node)."""
    deadline = time.monotonic() + timeout
    while True:
        parent = int(rpc(anvil, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        rpc(anvil, "evm_mine", max(int(time.time()), parent + 1))
        h = health(api)
        if h["status"] == "ok":
            assert h["reasons"] == []
            return h
        assert time.monotonic() < deadline, h
        time.sleep(0.2)


def test_chain_behind_its_block_time(env):
    """A chain with 1 s blocks that stops producing them: its head grows old. (The node here was started
    for an automine chain; its health checks are given the block time, and the test produces the blocks
    itself: ``_ok_on_fresh_blocks``.)"""
    api, node, anvil = env
    settings = node.health.settings
    node.health.settings = settings.model_copy(update={"anvil_block_time": 1.0, "health_block_periods": 3.0})
    try:
        rpc(anvil, "evm_setAutomine", False)
        _ok_on_fresh_blocks(api, anvil)
        # no more blocks: nothing else changes the head, so it only grows older
        h = until(api, lambda h: "chain_behind" in codes(h), timeout=10)
        assert h["status"] == "degraded" and "blocks are due every 1s" in h["reasons"][0]["message"]
        _ok_on_fresh_blocks(api, anvil)
    finally:
        node.health.settings = settings
        rpc(anvil, "evm_setAutomine", True)
    ok(api)


def test_chain_stopped_then_killed(env):
    """Last: SIGSTOP (no answer), SIGCONT (recovers), then SIGKILL (refused) of the node's chain."""
    api, node, anvil = env
    ok(api)
    pid = anvil.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        h = until(api, lambda h: "chain_unreachable" in codes(h), timeout=10)
        assert h["status"] == "degraded" and h["blockNumber"] is None and "no answer within" in h["reasons"][0]["message"]
    finally:
        os.kill(pid, signal.SIGCONT)
    ok(api)
    anvil.proc.kill()
    anvil.proc.wait()
    h = until(api, lambda h: "chain_unreachable" in codes(h), timeout=10)
    assert h["status"] == "degraded" and "unreachable" in h["reasons"][0]["message"]
