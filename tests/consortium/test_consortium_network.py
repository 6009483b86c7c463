"""The ledger on a real multi-node proof-of-authority network (issue 12): 4 geth Clique validators
(2 s blocks in ``make consortium``), 2 member nodes with their own relayer keys, index databases and endpoint lists, the
auditor against a third validator. Real processes, real signals, real peer-to-peer links.

One network for the whole module (started once, about 40 s), tests in order, destructive last:
1. the demo through member A; member B's index gives the same provenance answers; the auditor
   against validator 2 passes;
2. a validator killed: blocks keep coming, writes through both members keep working;
3. member A's validator killed: A moves to its next endpoint within two block periods, and every
   write it acknowledged is on chain exactly once;
4. a reorganisation (a signer cut off, sealing its own block with an acknowledged action, then
   reconnected): member B's index never serves the orphaned block's fact, and the action is sent
   again and lands once on the canonical chain;
5. everything stopped and started from disk: the same chain, the same answers.

Each scenario starts from a healthy network (the ``healthy`` fixture: every validator alive,
peered, sealing, on one head, each signer's blocks landing). Faults are caused the way an operator
would cause them on Clique (testkit/consortium_ops.py says why, with the measurements): a restarted
validator seals only once on the others' head, and a signer is killed or stopped only outside the
two blocks after its own (otherwise the 3 left can end in Clique's equal-difficulty stalemate).

Skipped, with the reason, where geth cannot be found or built (no Go). ``COC_CONSORTIUM_PERIOD``
sets the block period: 2 s by default, the network of ``make consortium`` (1 s for a quicker look).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit.consortium import Consortium, block_number, rpc
from testkit.demo import run_demo
from testkit.geth import find_geth

from consortium_help import (head, index_status, isolate, materials_on_chain, provenance_answers, reconnect,
                             wait_for, wait_indexed, write_material)

pytestmark = pytest.mark.chain

#: 2 s, the period of `make consortium` and of the issue's network. The module took 6 min 52 s at 2 s
#: (14 passed, load 2-5), no longer than at 1 s: the demo (~95 acknowledged actions, 194 s) is bound
#: by the node's pipeline and the machine, not by the block period. `make test` runs this folder beside
#: the rest of the suite. COC_CONSORTIUM_PERIOD=1 runs the same tests at 1 s.
PERIOD = int(os.environ.get("COC_CONSORTIUM_PERIOD", "2"))
STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory):
    geth, why = find_geth()
    if geth is None:
        pytest.skip(f"consortium network not tested: {why}")
    c = Consortium(Path(tmp_path_factory.mktemp("consortium")), period=PERIOD, geth=geth)
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture(autouse=True)
def healthy(net: Consortium) -> None:
    """Each scenario starts from a healthy network: every validator alive, peered with every other,
    sealing, on one head, blocks coming and each signer among their signers (the faults of one
    scenario must not leak into the next: a restarted signer that does not seal leaves too few
    signers for the next fault)."""
    net.wait_healthy(every_signer=True)


def _member(net: Consortium, name: str) -> str:
    return net.members[name].url


def test_demo_through_member_a_member_b_converges_and_auditor_passes(net: Consortium) -> None:
    a, b = _member(net, "a"), _member(net, "b")
    ids = run_demo(a, admin_wallet_key=net.admin_key, log=lambda *_: None)
    STATE["ids"] = ids
    top = head(net, 0)
    wait_indexed(a, top)
    wait_indexed(b, top)
    answers_a, answers_b = provenance_answers(a, ids), provenance_answers(b, ids)
    assert all(v["status"] == 200 for v in answers_a.values()), [k for k, v in answers_a.items() if v["status"] != 200]
    diff = [k for k in answers_a if answers_a[k] != answers_b.get(k)]
    assert not diff, f"member B answers differently about: {diff[:10]}"
    STATE["answers"] = answers_a
    audit = net.audit(2, "--node", b)
    assert audit.returncode == 0, audit.stdout[-4000:] + audit.stderr[-2000:]


def test_a_validator_killed_blocks_and_writes_continue(net: Consortium) -> None:
    before = len(materials_on_chain(net))
    net.kill_quiet_validator(3)
    try:
        h0 = head(net, 0)
        wait_for(lambda: head(net, 0) > h0, 3 * PERIOD + 2, "a block after the validator died")
        for name in ("a", "b"):
            out = write_material(_member(net, name), net.admin_key, f"after-death-{name}-{uuid.uuid4().hex[:6]}")
            assert out["status"] == "mined", out
        h1 = head(net, 0)
        wait_for(lambda: head(net, 0) >= h1 + 3, 8 * PERIOD, "three more blocks with 3 signers")
        assert len(materials_on_chain(net)) == before + 2
    finally:
        net.restart_validator(3)


def test_member_endpoint_killed_fails_over_nothing_lost_or_doubled(net: Consortium) -> None:
    a = _member(net, "a")
    dead = net.validators[0].url
    assert httpx.get(f"{a}/info").json()["rpcUrl"] == dead
    before = materials_on_chain(net, 1)
    acked: list[tuple[str, float]] = []
    errors: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        k = 0
        while not stop.is_set():
            name, key = f"failover-{k}-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
            for _ in range(10):  # a failed request is retried with the same Idempotency-Key
                try:
                    out = write_material(a, net.admin_key, name, key=key)
                    if out["status"] == "mined":
                        acked.append((name, time.monotonic()))
                        break
                    errors.append(str(out))
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                time.sleep(0.2)
            k += 1

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    try:
        wait_for(lambda: len(acked) >= 2, 10 * PERIOD, "two writes before the kill")
        _, killed_at = net.kill_quiet_validator(0)
        wait_for(lambda: httpx.get(f"{a}/info", timeout=5).json()["rpcUrl"] != dead, 2 * PERIOD,
                 "member A on its next endpoint within two block periods", every=0.05)
        switched = time.monotonic() - killed_at
        n_at_kill = len([t for _, t in acked if t <= killed_at])
        wait_for(lambda: len(acked) >= n_at_kill + 3, 15 * PERIOD, "three writes acknowledged after the kill")
    finally:
        stop.set()
        th.join(60)
    first_after = min(t for _, t in acked if t > killed_at) - killed_at
    STATE["failover"] = {"switched_s": switched, "next_ack_s": first_after}
    names = [n for n, _ in acked]
    time.sleep(PERIOD)
    on_chain = materials_on_chain(net, 1)[len(before):]
    assert sorted(on_chain) == sorted(set(on_chain)), "an action landed twice"
    assert set(names) <= set(on_chain), f"acknowledged but not on chain: {set(names) - set(on_chain)}"
    assert switched <= 2 * PERIOD
    health = httpx.get(f"{a}/health").json()
    assert health["relayerStats"]["mined"] >= len(names)
    net.restart_validator(0)


def test_reorg_index_never_serves_the_orphaned_fact_and_the_action_is_sent_again(net: Consortium) -> None:
    b = _member(net, "b")
    s = net.validators[1]  # member B's own validator
    before = httpx.get(f"{b}/health").json()
    net.stop_sealing(1)  # only where the three others cannot end in Clique's stalemate
    try:
        n0 = head(net, 0)
        wait_for(lambda: head(net, 1) >= n0 + 2, 8 * PERIOD, "two blocks signed by the others")
        # cut off only once its signer may seal again on its own branch (Clique: not one of the
        # last two signers); cut off earlier, the lone signer could never seal its block
        wait_for(lambda: net.quiet_signer(1), 8 * PERIOD, "validator 1 no longer a recent signer")
        isolate(net, 1)
        n = head(net, 1)
        name = f"reorg-{uuid.uuid4().hex[:6]}"
        out = write_material(b, net.admin_key, name, wait=False)
        tx = out["txHash"]
        wait_for(lambda: rpc(s.url, "eth_getTransactionByHash", [tx]), 10, "the action in the cut-off validator's pool")
        rpc(s.url, "miner_start")
        rcpt = wait_for(lambda: rpc(s.url, "eth_getTransactionReceipt", [tx]), 6 * PERIOD,
                        "the cut-off validator seals its own block")
        orphan_block, orphan_hash = int(rcpt["blockNumber"], 16), rcpt["blockHash"]
        assert orphan_block == n + 1
        acked = wait_for(lambda: (r := httpx.get(f"{b}/transactions/{tx}").json()).get("status") == "mined" and r,
                         4 * PERIOD, "member B acknowledges the action as mined")
        assert acked["blockNumber"] == orphan_block
        # the fact is on B's chain, but B's index (2 confirmations) does not serve it
        seen: list[Any] = []
        for _ in range(int(3 * PERIOD / 0.25)):
            r = httpx.get(f"{b}/provenance/tx/{tx}")
            seen.append(r.status_code)
            st = index_status(b)
            assert r.status_code == 404 and st["last_indexed_block"] < orphan_block, (r.text, st)
            time.sleep(0.25)
        wait_for(lambda: head(net, 0) >= orphan_block + 2, 8 * PERIOD, "the majority's chain grows past the fork")
    finally:
        reconnect(net, 1)
        rpc(s.url, "miner_start")  # sealing again even if the scenario failed before it restarted it
    # the majority's chain wins; the action lands on it exactly once, in another block
    final = wait_for(lambda: (r := rpc(net.validators[0].url, "eth_getTransactionReceipt", [tx])) and r,
                     10 * PERIOD, "the action on the canonical chain")
    assert final["blockHash"] != orphan_hash
    wait_for(lambda: rpc(s.url, "eth_getBlockByNumber", [hex(orphan_block), False])["hash"] != orphan_hash,
             5 * PERIOD, "the cut-off validator dropped its block")
    mined = wait_for(lambda: (r := httpx.get(f"{b}/transactions/{tx}").json()).get("blockNumber") == int(
        final["blockNumber"], 16) and r, 10 * PERIOD, "member B records the canonical block")
    assert mined["status"] == "mined"
    names = materials_on_chain(net, 0)
    assert len(names) == len(set(names))
    indexed = wait_for(lambda: (r := httpx.get(f"{b}/provenance/tx/{tx}")).status_code == 200 and r.json(),
                       10 * PERIOD, "member B's index serves the fact from the canonical block")
    assert indexed["block_number"] == int(final["blockNumber"], 16), indexed
    # counted by the node: an acknowledged action whose block left the chain, then either sent again
    # by its relayer or found by it mined in another block (geth re-queues a dropped block's
    # transactions and the other validators may mine it first; both seen here)
    health = wait_for(lambda: (h := httpx.get(f"{b}/health").json())["acknowledgedOrphaned"]
                      > before["acknowledgedOrphaned"] and h, 10 * PERIOD, "member B counts the orphaned action")
    assert materials_on_chain(net, 0).count(name) == 1
    STATE["reorg"] = {"orphan_block": orphan_block, "final_block": int(final["blockNumber"], 16),
                      "stats": health["relayerStats"],
                      "resent": health["acknowledgedResent"] - before["acknowledgedResent"]}


def test_everything_stopped_and_started_from_disk_same_state_same_answers(net: Consortium) -> None:
    ids = STATE.get("ids")
    if ids is None:
        pytest.skip("needs the demo of the first test")
    a, b = _member(net, "a"), _member(net, "b")
    top = head(net, 0)
    wait_indexed(a, top)
    wait_indexed(b, top)
    before = {"a": provenance_answers(a, ids), "b": provenance_answers(b, ids)}
    assert before["a"] == STATE["answers"]
    top_hash = rpc(net.validators[0].url, "eth_getBlockByNumber", [hex(top), False])["hash"]
    materials = materials_on_chain(net)
    net.stop()
    assert not any(v.alive for v in net.validators)
    net.start()
    for v in net.validators:
        assert rpc(v.url, "eth_getBlockByNumber", [hex(top), False])["hash"] == top_hash
    assert materials_on_chain(net, 2)[:len(materials)] == materials
    wait_indexed(a, top)
    wait_indexed(b, top)
    assert provenance_answers(a, ids) == before["a"]
    assert provenance_answers(b, ids) == before["b"]
    out = write_material(a, net.admin_key, f"after-restart-{uuid.uuid4().hex[:6]}")
    assert out["status"] == "mined"
    assert block_number(net.validators[3].url) > top
