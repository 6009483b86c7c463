"""Ordering lanes without a chain: typed lanes (not strings parsed back), in-flight counts, progress."""

from __future__ import annotations

import asyncio
import time

from node_api.relayer import Lane, LaneKind
from node_api.relayer.lanes import LaneTracker

A = "0x" + "aa" * 20


def test_lanes_of_one_signer_are_distinct_per_nonce_sequence():
    assert Lane.forwarder(A) == Lane(LaneKind.FORWARDER, A)
    assert Lane.forwarder(A) != Lane.ledger(A)
    assert len({Lane.forwarder(A), Lane.ledger(A), Lane.settlement("0x01"), Lane.ledger(A)}) == 3
    assert Lane.ledger(A).key == A and str(Lane.ledger(A)) == f"ledger:{A}"


def test_tracker_counts_in_flight_and_wakes_a_waiter_when_one_settles():
    async def scenario() -> tuple[int, int, float, int]:
        t = LaneTracker()
        lane = Lane.ledger(A)
        t.add(lane)
        t.add(lane)
        t.add(None)  # a request without a lane is not counted
        two = t.inflight(lane)
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, t.settle, lane)
        start = time.monotonic()
        await t.wait_progress(lane, 5.0)  # returns when one settles, long before the timeout
        waited = time.monotonic() - start
        one = t.inflight(lane)
        t.settle(lane)
        return two, one, waited, t.inflight(lane)

    two, one, waited, none = asyncio.run(scenario())
    assert (two, one, none) == (2, 1, 0)
    assert waited < 2.0


def test_wait_progress_times_out_without_progress():
    async def scenario() -> float:
        start = time.monotonic()
        await LaneTracker().wait_progress(Lane.forwarder(A), 0.05)
        return time.monotonic() - start

    assert 0.04 <= asyncio.run(scenario()) < 2.0
