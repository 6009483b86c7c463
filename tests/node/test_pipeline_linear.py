"""Issue 11: a deep queue of one signer is checked in linear work, and a check that runs short of
gas refuses nothing.

Each check of a signer's new items re-runs its accepted, unmined predecessors first (the state they
leave). A group smaller than 1/RECHECK_RATIO of them waits for more items or for the block that
mines them (at most DEFER_SECONDS), so one signer's thousands of items are not checked over and
over within a block.
"""

from __future__ import annotations

import threading
import time

import pytest

from node_api.services.pipeline import RECHECK_RATIO
from nodehelp import actor, create_uncertified
from test_pipeline_bulk import _twa


@pytest.fixture
def manual_blocks(w3):
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        yield w3
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("evm_mine", [])


def test_a_small_group_behind_a_deep_queue_waits_for_the_block_not_for_a_recheck(server, api, demo, chain,
                                                                                 manual_blocks):
    node, w3 = server.node, manual_blocks
    pipeline = node.custody.pipeline
    sender, receiver = actor(demo, "polymer"), actor(demo, "converter")
    w3.provider.make_request("evm_setAutomine", [True])
    lot = create_uncertified(api, sender, demo.materials["yarn"], 1_000, "linear-a")
    w3.provider.make_request("evm_setAutomine", [False])
    n0 = chain.ledger.functions.nonces(sender.address).call()
    now = w3.eth.get_block("latest")["timestamp"]
    deep = 4 * RECHECK_RATIO + 4
    keep = pipeline.defer_seconds
    pipeline.defer_seconds = 60.0  # no straggler escape here: only a block lets the small group go
    try:
        head = w3.eth.block_number
        r = api.post("/bulk", json={"items": [_twa(node, sender, receiver, lot, 1, n0 + k, now + 3600)
                                              for k in range(deep)]}, timeout=120)
        assert r.status_code == 200 and r.json()["accepted"] == deep, r.text
        assert w3.eth.block_number == head
        rechecked = pipeline.stats["rechecked"]
        answer: dict = {}
        small = [_twa(node, sender, receiver, lot, 1, n0 + deep + k, now + 3600) for k in range(3)]
        t = threading.Thread(target=lambda: answer.update(r=api.post("/bulk", json={"items": small}, timeout=120)))
        t.start()
        t.join(1.5)
        # 3 * RECHECK_RATIO < deep: checking them now would re-run all their predecessors
        assert t.is_alive() and w3.eth.block_number == head, "a small group was checked behind a deep queue"
        assert pipeline.stats["deferred"] > 0
        w3.provider.make_request("evm_mine", [])  # mines the deep queue: the small group has no predecessor left
        t.join(30)
        assert not t.is_alive()
        body = answer["r"].json()
        assert body["accepted"] == 3, body
        assert pipeline.stats["rechecked"] == rechecked  # nothing was run twice
    finally:
        pipeline.defer_seconds = keep
    w3.provider.make_request("evm_mine", [])
    deadline = time.monotonic() + 30
    while chain.ledger.functions.nonces(sender.address).call() < n0 + deep + 3:
        assert time.monotonic() < deadline
        w3.provider.make_request("evm_mine", [])
        time.sleep(0.2)
    assert chain.ledger.functions.balanceOf(receiver.address, lot).call() == deep + 3


def test_a_straggler_waits_at_most_the_defer_time(server, api, demo, chain, manual_blocks):
    node, w3 = server.node, manual_blocks
    pipeline = node.custody.pipeline
    sender, receiver = actor(demo, "cracker"), actor(demo, "feedstock")
    w3.provider.make_request("evm_setAutomine", [True])
    lot = create_uncertified(api, sender, demo.materials["yarn"], 1_000, "linear-b")
    w3.provider.make_request("evm_setAutomine", [False])
    n0 = chain.ledger.functions.nonces(sender.address).call()
    now = w3.eth.get_block("latest")["timestamp"]
    head = w3.eth.block_number
    deep = 4 * RECHECK_RATIO + 4
    r = api.post("/bulk", json={"items": [_twa(node, sender, receiver, lot, 1, n0 + k, now + 3600)
                                          for k in range(deep)]}, timeout=120)
    assert r.json()["accepted"] == deep, r.text
    t0 = time.monotonic()
    r = api.post("/bulk", json={"items": [_twa(node, sender, receiver, lot, 1, n0 + deep, now + 3600)]}, timeout=120)
    assert r.json()["accepted"] == 1, r.text
    # checked after its predecessors without a block, once it had waited pipeline.defer_seconds
    assert w3.eth.block_number == head
    assert time.monotonic() - t0 >= pipeline.defer_seconds - 0.05


def test_a_check_that_runs_short_of_gas_refuses_nothing(server, api, demo, chain):
    """The node's gas estimate is made far too low: the check call runs out inside an item. That
    item and those after it are not refused (an empty revert near the check's gas limit is the
    check's own shortage); they wait for the next round with a grown estimate."""
    node = server.node
    pipeline = node.custody.pipeline
    sender, receiver = actor(demo, "converter"), actor(demo, "polymer")
    lot = create_uncertified(api, sender, demo.materials["yarn"], 1_000, "linear-c")
    n0 = chain.ledger.functions.nonces(sender.address).call()
    now = chain.w3.eth.get_block("latest")["timestamp"]
    keep = pipeline.check_gas, pipeline.item_gas
    short = pipeline.stats["short"]
    pipeline.check_gas, pipeline.item_gas = 2_500_000, 10_000
    try:
        items = [_twa(node, sender, receiver, lot, 1, n0 + k, now + 3600) for k in range(80)]
        r = api.post("/bulk", json={"items": items, "wait": True}, timeout=120)
        body = r.json()
        assert body["refused"] == 0, [it for it in body["items"] if it["status"] == "refused" and it["error"]["error"] != "DependsOnRefused"]
        assert all(it["status"] == "mined" for it in body["items"])
        assert pipeline.stats["short"] > short
    finally:
        pipeline.check_gas, pipeline.item_gas = keep
    assert chain.ledger.functions.nonces(sender.address).call() == n0 + 80
    assert chain.ledger.functions.balanceOf(receiver.address, lot).call() == 80
