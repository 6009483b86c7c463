"""Issue 11: 100,000 actions pushed at a node hold bounded memory: the relayer takes at most
``relay_queue_max`` and refuses the rest at once (the API answers 429 NodeBusy with Retry-After)."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

from eth_account import Account

from node_api.core.rpc import Rpc
from node_api.core.txsign import TxSigner
from node_api.db import Database
from node_api.relayer import Lane, Relayer, RelayRequest


def test_100k_actions_keep_the_relayer_queue_and_memory_bounded(tmp_path):
    async def push() -> tuple[int, int, int, int]:
        db = Database(f"sqlite:///{tmp_path / 'node.db'}")
        relayer = Relayer(Rpc("http://127.0.0.1:9"), db, TxSigner(Account.create().key, 31337), max_queue=2_000)
        gc.collect()
        tracemalloc.start()
        busy = queued = 0
        for k in range(100_000):
            if k % 500 == 0:
                await asyncio.sleep(0)  # as between requests: the refused handles' callbacks run, then they are gone
            h = relayer.submit(RelayRequest(to="0x" + "11" * 20, data=b"\x01" * 400, gas=100_000, action="t",
                                            signer="0x" + "22" * 20, item=k, lane=Lane.ledger("0x" + "22" * 20)))
            if h.sent.done() and getattr(h.sent.exception(), "busy", False):
                busy += 1
            else:
                queued += 1
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        depth = relayer.queue_depth
        db.close()
        return busy, queued, depth, peak

    busy, queued, depth, peak = asyncio.run(push())
    assert (queued, busy, depth) == (2_000, 98_000, 2_000)
    # what stays is the queue; the refused are gone at once (2,000 requests of 400 bytes and their futures)
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
