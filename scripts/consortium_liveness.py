"""Liveness loop for the consortium network: the validator faults of tests 2-4, repeated, with a
liveness check after each and the evidence (heads, hashes, peers, Clique snapshots, recent signers)
printed when a check fails.

    .venv/bin/python scripts/consortium_liveness.py --rounds 5 --period 1 [--dir D] [--verbosity 4]

Each round: SIGKILL validator 3 and restart it; SIGKILL validator 0 and restart it; stop validator
1's sealing and require two blocks from the other three; isolate validator 1, let it seal a side
block, reconnect it. After each step: every validator alive, peered, on the same head hash, and
blocks coming (the test module's precondition).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "consortium"))

from testkit.consortium import Consortium, block_number, rpc  # noqa: E402
from consortium_help import isolate, reconnect, wait_for  # noqa: E402


def worst_moment(net: Consortium, i: int) -> bool:
    """Validator ``i`` just sealed the head H and the block after it has no eligible in-turn
    signer (in turn: the signer of H-1 or ``i`` itself): with ``i`` stopped now, the two eligible
    signers both seal out of turn, with the same difficulty."""
    url = net.validators[i].url
    h = block_number(url)
    signers = sorted((v.signer.lower() for v in net.validators))
    me = net.validators[i].signer.lower()
    last = str(rpc(url, "clique_getSigner", [hex(h)])).lower()
    prev = str(rpc(url, "clique_getSigner", [hex(h - 1)])).lower()
    return last == me and signers[(h + 1) % len(signers)] in (prev, me)


def wait_worst(net: Consortium, i: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worst_moment(net, i):
            return True
        time.sleep(0.02)
    return False


def check(net: Consortium, what: str, blocks: int = 4) -> float:
    t0 = time.monotonic()
    try:
        net.wait_healthy(blocks=blocks, every_signer=True)
    except Exception as exc:
        print(f"FAIL after {what}: {exc}", flush=True)
        raise
    dt = time.monotonic() - t0
    print(f"  ok after {what}: healthy in {dt:.1f}s, head {block_number(net.validators[0].url)} load {os.getloadavg()[0]:.2f}", flush=True)
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--period", type=int, default=1)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--restart", action="store_true", help="also stop and start everything each round")
    ap.add_argument("--stops", type=int, default=0,
                    help="instead of the rounds: stop validator 1's sealing this many times, right after "
                         "it sealed (--unsafe) or with Consortium.stop_sealing, and count the stalls")
    ap.add_argument("--unsafe", action="store_true")
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="coc-liveness-"))
    net = Consortium(root, period=args.period)
    failures = 0
    try:
        net.start(members=False)
        check(net, "start")
        if args.stops:
            stalls = 0
            for k in range(args.stops):
                s = net.validators[1]
                if args.unsafe:  # tests 3 and 4 before the fix: validator 0 killed, started again,
                    # then validator 1 stopped at once, whatever its last block
                    net.kill_validator(0)
                    net.wait_blocks(3, i=1)
                    net.start_validator(0)
                    net.wait_peers()
                    rpc(s.url, "miner_stop")
                else:  # the same after the fix: a safe kill, the operator's restart, a healthy network, a safe stop
                    net.kill_quiet_validator(0)
                    net.wait_blocks(3, i=1)
                    net.restart_validator(0)
                    net.wait_healthy(every_signer=True)
                    net.stop_sealing(1)
                h = block_number(net.validators[0].url)
                try:
                    wait_for(lambda: block_number(net.validators[0].url) >= h + 2, 8 * args.period,
                             "two blocks from the three others")
                    print(f"  stop {k + 1}: ok, head {h}, load {os.getloadavg()[0]:.2f}", flush=True)
                except TimeoutError:
                    stalls += 1
                    print(f"  stop {k + 1}: STALLED at {h}, load {os.getloadavg()[0]:.2f}\n"
                          f"{json.dumps(net.status(), indent=1)}", flush=True)
                rpc(s.url, "miner_start")
                net.wait_healthy(every_signer=True)
            print(f"{args.stops} stops ({'unsafe' if args.unsafe else 'stop_sealing'}), {stalls} stalled")
            return 1 if stalls else 0
        for r in range(args.rounds):
            print(f"round {r + 1}", flush=True)
            try:
                net.kill_validator(3)
                h = block_number(net.validators[0].url)
                wait_for(lambda: block_number(net.validators[0].url) >= h + 3, 8 * args.period + 2, "3 blocks with 3 signers")
                net.restart_validator(3)
                check(net, "validator 3 killed and restarted")
                net.kill_validator(0)
                h = block_number(net.validators[1].url)
                wait_for(lambda: block_number(net.validators[1].url) >= h + 3, 8 * args.period + 2, "3 blocks with 3 signers")
                net.restart_validator(0)
                check(net, "validator 0 killed and restarted")
                s = net.validators[1]
                net.stop_sealing(1)
                n0 = block_number(net.validators[0].url)
                wait_for(lambda: block_number(s.url) >= n0 + 2, 8 * args.period, "two blocks signed by the others")
                wait_for(lambda: net.quiet_signer(1), 8 * args.period, "validator 1 out of the recent signers")
                isolate(net, 1)
                n = block_number(s.url)
                rpc(s.url, "miner_start")
                wait_for(lambda: block_number(s.url) > n, 6 * args.period + 2, "the cut-off validator seals")
                wait_for(lambda: block_number(net.validators[0].url) >= n + 3, 8 * args.period, "majority past the fork")
                reconnect(net, 1)
                check(net, "validator 1 isolated and reconnected")
                if args.restart:
                    net.stop()
                    net.start(members=False)
                    check(net, "all stopped and started from disk")
            except Exception as exc:  # noqa: BLE001
                failures += 1
                print(f"round {r + 1} FAILED: {exc}\n{json.dumps(net.status(), indent=1)}", flush=True)
                break
    finally:
        net.stop()
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{args.rounds} rounds, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
