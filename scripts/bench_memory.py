"""Node memory under 100,000 pushed actions: bounded by backpressure (429 NodeBusy + Retry-After).

A node is started as its own process (``python -m node_api``) on its own Anvil with a block time, and
a second node, idle, on another Anvil as the baseline. ``--senders`` registered wallets (one batch
each) sign ``--actions`` custody proposals (``batches.transfer``, consecutive ledger nonces per
wallet, signed locally through the EIP-712 fast path) before anything is timed. They are pushed
through real HTTP: ``POST /bulk`` requests of ``--bulk-size`` items from ``--clients`` concurrent
clients, each request once (no retry), in nonce order. The node holds at most
``COC_RELAY_QUEUE_MAX`` actions queued or unmined (a whole request beyond it is refused with 429 and
Retry-After) and ``COC_RELAY_WAITING_MAX`` waiting to be checked (each item beyond it: 429);
whatever it accepted drains into blocks.

Printed: the resident set size (VmRSS from /proc) of the loaded node before the push, its peak
during the push and the drain, and after; the idle node's beside it; how many items were accepted,
refused with 429 (and whether every 429 answer had Retry-After), refused otherwise (by error), and
how many proposals the chain holds at the end. The load average is printed with the figures.

Usage: python scripts/bench_memory.py [--actions 100000] [--senders 100] [--block-time 2]
       [--queue-max 50000] [--waiting-max 20000] [--bulk-size 500] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from coincurve import PrivateKey
from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import ledger_nonces, setup_world  # noqa: E402
from node_api import signing  # noqa: E402
from node_api.core.abi import load_abis  # noqa: E402
from node_api.core.anvil import ANVIL_MNEMONIC, EmbeddedAnvil, free_port  # noqa: E402
from node_api.core.artifacts import load_artifacts  # noqa: E402
from testkit.node_process import node_env, start_node, stop_node  # noqa: E402

Account.enable_unaudited_hdwallet_features()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    """VmRSS of some processes every ``every`` seconds; the peak of each."""

    def __init__(self, pids: dict[str, int], every: float = 0.1):
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.peak = {k: 0.0 for k in pids}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every):
            for k, pid in self.pids.items():
                try:
                    self.peak[k] = max(self.peak[k], rss_mb(pid))
                except OSError:
                    pass


def sign_proposals(world, senders: int, per_sender: int, ledger: str) -> list[list[dict]]:  # noqa: ANN001
    """``per_sender`` proposals of each sender, consecutive nonces from 0 (the sender's first custody
    message), as rounds: round r holds every sender's nonce r."""
    sep = signing.ledger_separator(world.chain_id, ledger)
    deadline = int(time.time()) + 24 * 3600
    keys = [PrivateKey(w.key) for w in world.wallets[:senders]]
    rounds: list[list[dict]] = []
    for r in range(per_sender):
        rnd = []
        for i, s in enumerate(world.wallets[:senders]):
            rcv = world.wallets[(i + 1) % len(world.wallets)]
            t = signing.CustodyTransfer(world.batch_of[s.address], s.address, rcv.address, 1, 0, r, deadline)
            sig = keys[i].sign_recoverable(signing.typed_digest(sep, t.transfer_id()), hasher=None)
            rnd.append({"action": "batches.transfer",
                        "body": {"message": t.message(), "signature": "0x" + (sig[:64] + bytes([sig[64] + 27])).hex()}})
        rounds.append(rnd)
    return rounds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=100_000)
    ap.add_argument("--senders", type=int, default=100)
    ap.add_argument("--block-time", type=float, default=2.0)
    ap.add_argument("--queue-max", type=int, default=50_000, help="COC_RELAY_QUEUE_MAX of the loaded node")
    ap.add_argument("--waiting-max", type=int, default=20_000, help="COC_RELAY_WAITING_MAX of the loaded node")
    ap.add_argument("--bulk-size", type=int, default=500)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--drain", type=float, default=60.0, help="seconds to let the accepted actions drain")
    args = ap.parse_args(argv)
    per_sender = -(-args.actions // args.senders)
    chain_args = ["--block-time", str(args.block_time)]
    loaded_chain, idle_chain = EmbeddedAnvil.throwaway(accounts=10, extra_args=chain_args), \
        EmbeddedAnvil.throwaway(accounts=10, extra_args=chain_args)
    loaded_chain.start()
    idle_chain.start()
    tmp = Path(tempfile.mkdtemp(prefix="coc-bench-mem-"))
    relayer = Account.from_mnemonic(ANVIL_MNEMONIC, account_path="m/44'/60'/0'/0/9")
    nodes: dict[str, object] = {}
    try:
        abis = load_abis(load_artifacts())
        ports = {"loaded": free_port(), "idle": free_port()}
        print("starting the loaded node and the idle node (each deploys its contracts)...", flush=True)
        for name, chain, extra in (("loaded", loaded_chain, {"COC_RELAY_QUEUE_MAX": str(args.queue_max),
                                                             "COC_RELAY_WAITING_MAX": str(args.waiting_max)}),
                                   ("idle", idle_chain, {})):
            (tmp / name).mkdir()
            nodes[name] = start_node(node_env(chain.url, tmp / name, ports[name], "0x" + relayer.key.hex(), **extra),
                                     f"http://127.0.0.1:{ports[name]}", log=tmp / f"{name}.log")
        pids = {k: p.pid for k, p in nodes.items()}  # type: ignore[attr-defined]
        world = setup_world(loaded_chain.url, ports["loaded"], args.senders, abis)
        senders = [w.address for w in world.wallets[:args.senders]]
        t0 = time.perf_counter()
        rounds = sign_proposals(world, args.senders, per_sender, world.ledger)
        items = [it for rnd in rounds for it in rnd][:args.actions]
        print(f"signed {len(items)} proposals ({args.senders} senders x {per_sender}) in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        chunks = [items[k:k + args.bulk_size] for k in range(0, len(items), args.bulk_size)]
        before = {k: rss_mb(p) for k, p in pids.items()}
        sampler = Sampler(pids)
        sampler.start()
        counts: collections.Counter = collections.Counter()
        errors: collections.Counter = collections.Counter()
        example: dict[str, str] = {}
        retry_after: collections.Counter = collections.Counter()

        async def push() -> None:
            queue: asyncio.Queue = asyncio.Queue()
            for c in chunks:
                queue.put_nowait(c)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['loaded']}", timeout=600,
                                         limits=httpx.Limits(max_connections=args.clients)) as client:
                async def worker() -> None:
                    while not queue.empty():
                        chunk = queue.get_nowait()
                        r = await client.post("/bulk", json={"items": chunk})
                        if r.status_code == 429:
                            counts["refused 429 (whole request)"] += len(chunk)
                            retry_after["with Retry-After" if r.headers.get("Retry-After") else "WITHOUT"] += 1
                            continue
                        r.raise_for_status()
                        for it in r.json()["items"]:
                            if it["status"] != "refused":
                                counts["accepted"] += 1
                            elif it.get("httpStatus") == 429:
                                counts["refused 429 (item)"] += 1
                                errors[it["error"]["error"]] += 1
                            else:
                                counts[f"refused {it.get('httpStatus')}"] += 1
                                errors[it["error"]["error"]] += 1
                            if it["status"] == "refused":
                                example.setdefault(it["error"]["error"], it["error"]["message"][:300])

                await asyncio.gather(*(worker() for _ in range(args.clients)))

        t0 = time.perf_counter()
        asyncio.run(push())
        pushed_s = time.perf_counter() - t0
        load_push = os.getloadavg()
        during = dict(sampler.peak)
        print(f"pushed {len(items)} actions in {pushed_s:.1f} s; draining for up to {args.drain:.0f} s...", flush=True)
        deadline = time.monotonic() + args.drain
        with httpx.Client(base_url=f"http://127.0.0.1:{ports['loaded']}", timeout=30) as c:
            while time.monotonic() < deadline and c.get("/health").json().get("relayerQueue", 0) > 0:
                time.sleep(1)
            queue_left = c.get("/health").json().get("relayerQueue")
        sampler.halt.set()
        sampler.join(2)
        after = {k: rss_mb(p) for k, p in pids.items()}
        mined = sum(ledger_nonces(loaded_chain.url, world.ledger, abis, senders))
        load = os.getloadavg()
        print(f"\n{len(items)} signed custody proposals pushed through POST /bulk ({args.bulk_size} per request, "
              f"{args.clients} clients), block time {args.block_time:g} s; COC_RELAY_QUEUE_MAX={args.queue_max}, "
              f"COC_RELAY_WAITING_MAX={args.waiting_max}")
        print(f"load average after the push {load_push[0]:.2f}, at the end {load[0]:.2f} ({os.cpu_count()} CPUs)")
        print("\n| node | RSS before | peak during the push | peak incl. drain | after |")
        print("|---|---:|---:|---:|---:|")
        for k in ("loaded", "idle"):
            print(f"| {k} | {before[k]:.0f} MB | {during[k]:.0f} MB | {sampler.peak[k]:.0f} MB | {after[k]:.0f} MB |")
        print("\nitems:", ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        print("refusals by error:", dict(errors))
        for k, v in example.items():
            print(f"  e.g. {k}: {v}")
        print("429 answers to whole requests:", dict(retry_after) or "none")
        print(f"proposals on chain at the end: {mined}; relayer queue left: {queue_left}")
        ok = not retry_after.get("WITHOUT")
        return 0 if ok else 1
    finally:
        for p in nodes.values():
            stop_node(p)  # type: ignore[arg-type]
        loaded_chain.stop()
        idle_chain.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # throwaway node databases (hundreds of MB after a long run)


if __name__ == "__main__":
    sys.exit(main())
