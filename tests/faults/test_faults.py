"""Faults with real processes and real signals. After each: every acknowledged action is on chain
exactly once with the id it was answered, no id stands for two things, the node says what is true
(transaction status, idempotent answers, ``/health`` during and after the fault, the chain guard's
findings in its log) and its index equals a rebuild from the chain. Kill points come from a seeded
generator (the seed is printed; rerun with ``COC_FAULT_SEED``)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from faulthelp import (Chain, HealthLog, Keys, Load, best_block, check_acknowledged, check_index, health,
                       node_settings_env, rng, setup_world, wait_healthy, wait_until)
from node_api.core.anvil import free_port
from testkit.node_process import start_node, stop_node

pytestmark = [pytest.mark.chain, pytest.mark.timeout(300)]


def _node(chain: Chain, data: Path, keys: Keys, **extra: str):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = node_settings_env(chain, data, port, keys)
    env.update(extra)
    return start_node(env, url, timeout=120, log=data.parent / f"{data.name}-node-{time.time_ns()}.log"), url


def _node_logs(data: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(data.parent.glob(f"{data.name}-node-*.log")))


def _health_while_held(proc, url: str, start) -> dict:  # noqa: ANN001
    """``/health`` asked while the node process is stopped (SIGSTOP) and ``start()`` runs, answered as
    it resumes: the node's first word on what ``start()`` did, before its chain guard acts on it."""
    out: dict = {}
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        start()
        asker = threading.Thread(target=lambda: out.update(health(url)), daemon=True)
        asker.start()
        time.sleep(0.1)  # the request is in the node's socket
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    asker.join(30)
    return out


def test_sigkill_of_the_chain_under_load_loses_no_acknowledged_write(chain, keys, tmp_path):
    r = rng("chain-sigkill")
    data = tmp_path / "node"
    proc, url = _node(chain, data, keys)
    try:
        material = setup_world(url, keys)
        load = Load(url, keys, material).start()
        regressions = seen_regression = 0
        try:
            with HealthLog(url) as hl:
                for rnd in range(3):
                    load.wait_acked(len(load.acked) + 5, timeout=60)
                    chain.wait_dump()
                    time.sleep(r.uniform(0.1, 0.9))  # the kill point: between two dumps (every 1 s)
                    head_before, acked_before = chain.head(), len(load.acked)
                    handled = health(url)["chainGuard"]["regressions"]
                    chain.kill()
                    # while the chain is down, /health says so
                    hl.wait_for("chain_unreachable", 15)
                    time.sleep(r.uniform(0.0, 1.5))
                    first = _health_while_held(proc, url, chain.start)
                    loaded = best_block(chain.anvil.loaded if chain.anvil else None)
                    acked_top = max(a.block for a in load.acked[:acked_before])
                    behind = loaded < acked_top
                    regressions += behind
                    print(f"round {rnd}: killed at head {head_before} ({acked_before} acknowledged, the last in "
                          f"block {acked_top}), came back at {loaded}; /health then: {sorted(first['codes'])}",
                          flush=True)
                    if behind:
                        # the chain lost acknowledged blocks: /health's first answer says so, unless the
                        # guard had already re-sent them and they were mined again (it counts the regression)
                        said = first["status"] == "degraded" and "chain_regression" in first["codes"]
                        assert said or first["chainGuard"]["regressions"] > handled, first
                        seen_regression += said
                    load.wait_acked(acked_before + 5, timeout=90)
        finally:
            load.stop()
        assert load.acked, "nothing was acknowledged"
        check_acknowledged(chain, url, data, load.acked)
        check_index(chain, data, tmp_path)
        # recovered: /health is ok again, and counts the regressions the guard handled
        ok = wait_healthy(url, 60)
        assert ok["chainGuard"]["regressions"] >= min(regressions, 1), ok
        print(f"{regressions} rounds came back behind; /health's first answer said chain_regression in "
              f"{seen_regression} (the others: already recovered)", flush=True)
        logs = _node_logs(data)
        if regressions:
            assert "chain regression" in logs or "behind the log" in logs, "the node did not see the chain go back"
    finally:
        stop_node(proc)


def test_sigkill_of_the_node_under_load_then_restart(chain, keys, tmp_path):
    r = rng("node-sigkill")
    data = tmp_path / "node"
    proc, url = _node(chain, data, keys)
    try:
        material = setup_world(url, keys)
        for rnd in range(2):
            load = Load(url, keys, material).start()
            try:
                load.wait_acked(5, timeout=60)
                time.sleep(r.uniform(0.0, 1.0))
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
            finally:
                load.stop()
            acked = load.acked
            proc, url = _node(chain, data, keys)
            # the restarted node answers every acknowledged action (status, idempotent retry) with the truth
            check_acknowledged(chain, url, data, acked)
            wait_healthy(url, 60)
            print(f"round {rnd}: {len(acked)} acknowledged before SIGKILL of the node", flush=True)
        check_index(chain, data, tmp_path)
    finally:
        stop_node(proc)


def test_sigstop_of_the_chain_then_sigcont(chain, keys, tmp_path):
    r = rng("chain-sigstop")
    data = tmp_path / "node"
    proc, url = _node(chain, data, keys)
    try:
        material = setup_world(url, keys)
        load = Load(url, keys, material).start()
        try:
            with HealthLog(url) as hl:
                load.wait_acked(5, timeout=60)
                chain.pause()
                paused = time.monotonic()
                # a stopped Anvil accepts connections and never answers: /health says unreachable
                hl.wait_for("chain_unreachable", 20, since=paused)
                time.sleep(max(0.0, r.uniform(1.0, 4.0) - (time.monotonic() - paused)))
                acked_paused = len(load.acked)
                chain.resume()
                load.wait_acked(acked_paused + 10, timeout=90)
        finally:
            load.stop()
        check_acknowledged(chain, url, data, load.acked)
        check_index(chain, data, tmp_path)
        wait_healthy(url, 60)
    finally:
        stop_node(proc)


def test_restart_on_a_reset_chain_is_refused_then_accepted_explicitly(chain, keys, tmp_path):
    data = tmp_path / "node"
    proc, url = _node(chain, data, keys)
    try:
        material = setup_world(url, keys)
        load = Load(url, keys, material).start()
        try:
            load.wait_acked(6, timeout=60)
        finally:
            load.stop()
        old = list(load.acked)
    finally:
        stop_node(proc)
    chain.reset()  # a fresh chain on the same URL, the old data folder
    chain.fund(keys.deployer.address, keys.relayer.address)
    with pytest.raises(RuntimeError, match="exited"):
        _node(chain, data, keys)
    logs = _node_logs(data)
    assert "is not the chain the data folder" in logs and "COC_ACCEPT_NEW_CHAIN=1" in logs, logs[-2000:]
    assert chain.head() == 0, "a refused start sent something to the new chain"

    proc, url = _node(chain, data, keys, COC_ACCEPT_NEW_CHAIN="1")
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            for a in old:  # the old chain's actions: lost, never a stale "mined", never rebroadcast
                st = c.get(f"/transactions/{a.tx_hash}").json()
                assert st["status"] == "lost" and "reset" in st["error"]["message"], st
                again = c.post("/batches/create/submit", json=a.body, headers={"Idempotency-Key": a.key}).json()
                assert again.get("status") != "mined", again
        for a in old:
            rcpt = httpx.post(chain.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt",
                                               "params": [a.tx_hash]}).json()
            assert rcpt["result"] is None, f"{a.tx_hash} of the old chain executed on the new one"
        # the node works on the new chain: new ids, nothing of the old chain replayed
        keys2 = Keys(deployer=keys.deployer, relayer=keys.relayer)
        material = setup_world(url, keys2)
        load = Load(url, keys2, material).start()
        try:
            load.wait_acked(5, timeout=60)
        finally:
            load.stop()
        check_acknowledged(chain, url, data, load.acked)
        check_index(chain, data, tmp_path)
        wait_healthy(url, 60)  # the new chain instance was accepted explicitly: nothing to report
    finally:
        stop_node(proc)


def test_chain_replaced_under_a_running_node_halts_the_relayer(chain, keys, tmp_path):
    data = tmp_path / "node"
    proc, url = _node(chain, data, keys)
    try:
        material = setup_world(url, keys)
        load = Load(url, keys, material).start()
        try:
            load.wait_acked(3, timeout=60)
        finally:
            load.stop()
        chain.reset()
        chain.fund(keys.deployer.address, keys.relayer.address)
        wait_until(lambda: "chain was replaced under the running node" in _node_logs(data), 30,
                   "the guard to see the replaced chain")
        time.sleep(1.0)
        head = chain.head()
        with httpx.Client(base_url=url, timeout=30) as c:
            c.post("/batches/create/submit", json=load.acked[0].body)
        time.sleep(1.0)
        assert chain.head() == head == 0, "the node sent a transaction to another chain instance"
        h = health(url)
        assert h["status"] == "degraded" and "chain_identity" in h["codes"], h
        assert h["chainGuard"]["relayerHalted"], h
    finally:
        stop_node(proc)
