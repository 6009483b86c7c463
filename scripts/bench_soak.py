"""Soak: many signed actions through one node, on automine and with timed blocks; what a long run
does to throughput, to the relayer's spend and gas price, and to the node's memory.

The actions are signed custody transfers (``transferWithAcceptance``, both EIP-712 signatures made
here, as wallets would) posted to ``POST /bulk`` by ``--clients`` concurrent clients, ``--chunk``
items per request; the node (``python -m node_api``, its own process) checks, simulates, relays and
awaits receipts. Each round (every wallet once) is signed before it is timed. After each round: the
round's rate, the chain's ``eth_gasPrice`` and base fee, the gas price the relayer paid (one of its
transactions), the relayer's spend per action so far and the node's resident memory (RSS); at the end
the gas price paid in every round, how many stuck automine pools the node mined itself (the script
never nudges the chain) and the machine's load average.

Usage: python scripts/bench_soak.py [--actions 20000] [--wallets 1000] [--clients 4] [--chunk 250]
                                    [--modes automine,2] [--minutes M --rate R]
``--modes``: comma-separated; ``automine`` or a block time in seconds. Not a test: it prints figures.

A long run of steady use: ``--minutes 60 --rate 10 --wallets 100 --modes 2`` keeps going for an hour
instead of stopping after ``--actions``, paces the rounds so the node gets at most ``--rate`` actions a
second (a busy member's day, not a flood), and reads while it writes (``/health``, a batch's lineage
and passport from the index, every round). It prints the node's RSS each round and, at the end, the
RSS trend over the first and the second half of the run (MB per 10,000 actions): memory that levels
off has a second-half slope near zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import call, setup_world, wait_ledger  # noqa: E402
from node_api.core.abi import load_abis  # noqa: E402
from node_api.core.anvil import ANVIL_MNEMONIC, EmbeddedAnvil, free_port  # noqa: E402
from node_api.core.artifacts import load_artifacts  # noqa: E402
from testkit.node_process import node_env, start_node, stop_node  # noqa: E402

Account.enable_unaudited_hdwallet_features()
GWEI = 10**9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_mode(mode: str, args: argparse.Namespace, abis) -> dict:  # noqa: ANN001
    block_time = None if mode == "automine" else float(mode)
    extra = ["--block-time", f"{block_time:g}"] if block_time else []
    anvil = EmbeddedAnvil.throwaway(accounts=10, extra_args=extra + ["--gas-limit", "300000000"])
    anvil.start()
    tmp = Path(tempfile.mkdtemp(prefix="coc-soak-"))
    node = None
    try:
        url, port = anvil.url, free_port()
        relayer = Account.from_mnemonic(ANVIL_MNEMONIC, account_path="m/44'/60'/0'/0/9").address
        print(f"\n== {mode}: starting the node...", flush=True)
        # The node copes with Anvil's automine stalls itself (ChainGuard.unstick; on by default only for
        # the chain it embeds, so switched on here for this throwaway Anvil): this script never nudges.
        # The relay rate limits stay at their defaults: each wallet sends one action per round.
        node = start_node(node_env(url, tmp, port, "0x" + Account.from_mnemonic(
            ANVIL_MNEMONIC, account_path="m/44'/60'/0'/0/9").key.hex(), COC_NONCE_WAIT_SECONDS="120",
            COC_WAIT_TIMEOUT="120", COC_DEV_MINE_STUCK_SECONDS="1" if block_time is None else "0"),
            f"http://127.0.0.1:{port}", log=tmp / "node.log")
        world = setup_world(url, port, args.wallets, abis)
        load_start = os.getloadavg()
        rounds = max(1, args.actions // args.wallets) if not args.minutes else 10**9
        until = time.monotonic() + args.minutes * 60 if args.minutes else None
        rss_start = rss_mb(node.pid)
        balance_start = int(call(url, "eth_getBalance", [relayer, "latest"]), 16)
        print(f"{rounds} rounds x {args.wallets} wallets; node RSS at start {rss_start:.0f} MB", flush=True)
        t_run = time.perf_counter()
        print(f"{'round':>5} {'actions':>8} {'tx/s':>7} {'gasPrice':>10} {'baseFee':>9} {'paid':>9} "
              f"{'spend/action':>14} {'RSS MB':>7}   (gwei; spend in gwei)")
        done, busy, refused, samples = 0, 0.0, 0, []
        reads = 0
        for r in range(rounds):
            if until is not None and time.monotonic() >= until:
                break
            items = world.sign_round(r)  # signed by the wallets, not timed
            t0 = time.perf_counter()
            answers = asyncio.run(_post(port, items, args.clients, args.chunk))
            refused += sum(a["refused"] for a in answers)
            # every action sent is mined once its signer's ledger nonce moved past it (the node carries
            # many actions in one RelayBatch transaction, so the relayer's own nonce does not count them)
            gone = {a["senders"][k] for a in answers for k, it in enumerate(a["items"]) if it.get("status") == "refused"}
            senders = [w.address for w in world.wallets[:args.wallets] if w.address not in gone]
            wait_ledger(url, world.ledger, abis, senders, [r + 1] * len(senders), timeout=600)
            dt = time.perf_counter() - t0
            busy += dt
            if args.minutes:
                reads += _read_some(port, world, r)
                pause = len(items) / args.rate - (time.perf_counter() - t0) if args.rate else 0
                if pause > 0:
                    time.sleep(pause)
            done += len(items)
            tx_hash = next((i["txHash"] for a in answers for i in a["items"] if i.get("txHash")), None)
            paid = int(call(url, "eth_getTransactionByHash", [tx_hash])["gasPrice"], 16) if tx_hash else 0
            price = int(call(url, "eth_gasPrice", []), 16)
            base = int(call(url, "eth_getBlockByNumber", ["latest", False]).get("baseFeePerGas", "0x0"), 16)
            spent = balance_start - int(call(url, "eth_getBalance", [relayer, "latest"]), 16)
            sample = {"round": r, "actions": done, "tps": len(items) / dt, "gas_price_gwei": price / GWEI,
                      "base_fee_gwei": base / GWEI, "paid_gwei": paid / GWEI,
                      "spend_per_action_gwei": spent / max(done - refused, 1) / GWEI, "rss_mb": rss_mb(node.pid)}
            samples.append(sample)
            print(f"{r:>5} {done:>8} {sample['tps']:>7.1f} {sample['gas_price_gwei']:>10.3f} "
                  f"{sample['base_fee_gwei']:>9.3f} {sample['paid_gwei']:>9.3f} "
                  f"{sample['spend_per_action_gwei']:>14.0f} {sample['rss_mb']:>7.0f}", flush=True)
        out = {
            "mode": mode, "actions": done, "refused": refused, "seconds": round(busy, 1),
            "throughput_tps": round((done - refused) / busy, 1),
            "spend_per_action_eth": (balance_start - int(call(url, "eth_getBalance", [relayer, "latest"]), 16))
            / max(done - refused, 1) / 10**18,
            "gas_price_gwei_first_last_max": [samples[0]["paid_gwei"], samples[-1]["paid_gwei"],
                                              max(s["paid_gwei"] for s in samples)],
            "node_rss_mb_start_end": [round(rss_start), round(rss_mb(node.pid))],
            "gas_price_paid_gwei_per_round": [round(x["paid_gwei"], 4) for x in samples],
            "chain_gas_price_gwei_per_round": [round(x["gas_price_gwei"], 4) for x in samples],
            "stuck_pools_mined_by_the_node": httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).json()
            .get("chainGuard", {}).get("stuckPoolsMined"),
            "load_average_start_end": [round(load_start[0], 1), round(os.getloadavg()[0], 1)],
            "minutes": round((time.perf_counter() - t_run) / 60, 1), "reads": reads,
            "rss_mb_per_10k_actions_first_second_half": _rss_trend(samples),
        }
        print(json.dumps(out, indent=2), flush=True)
        return out
    finally:
        if node is not None:
            stop_node(node)
        anvil.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # throwaway node databases (hundreds of MB after a long run)


def _read_some(port: int, world, r: int) -> int:  # noqa: ANN001
    """What brands and auditors do meanwhile: health, and one batch's lineage and passport (index)."""
    batch = list(world.batch_of.values())[r % len(world.batch_of)]
    n = 0
    for path in ("/health", f"/provenance/batches/{batch}/lineage", f"/provenance/batches/{batch}/passport"):
        httpx.get(f"http://127.0.0.1:{port}{path}", timeout=60).raise_for_status()
        n += 1
    return n


def _rss_trend(samples: list[dict]) -> list[float]:
    """Least-squares slope of RSS against actions, in MB per 10,000 actions, for each half of the run."""
    def slope(part: list[dict]) -> float:
        if len(part) < 2:
            return float("nan")
        xs, ys = [s["actions"] for s in part], [s["rss_mb"] for s in part]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 10_000, 2) if den else float("nan")
    half = len(samples) // 2
    return [slope(samples[:half]), slope(samples[half:])]


async def _post(port: int, items: list[dict], clients: int, chunk: int) -> list[dict]:
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    queue: asyncio.Queue = asyncio.Queue()
    for c in chunks:
        queue.put_nowait(c)
    answers: list[dict] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600,
                                 limits=httpx.Limits(max_connections=clients)) as http:
        async def client() -> None:
            while not queue.empty():
                part = queue.get_nowait()
                r = await http.post("/bulk", json={"items": [
                    {"action": "batches.transfer-with-acceptance", "body": b} for b in part]})
                r.raise_for_status()
                answers.append({**r.json(), "senders": [b["transfer"]["from"] for b in part]})

        await asyncio.gather(*(client() for _ in range(clients)))
    return answers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actions", type=int, default=20_000, help="signed actions per mode")
    ap.add_argument("--wallets", type=int, default=1000, help="distinct holders (each sends once per round)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    ap.add_argument("--chunk", type=int, default=250, help="items per POST /bulk")
    ap.add_argument("--modes", default="automine,2", help="comma-separated: automine or a block time in s")
    ap.add_argument("--minutes", type=float, default=0, help="run this long instead of stopping after --actions")
    ap.add_argument("--rate", type=float, default=0, help="with --minutes: at most this many actions a second")
    args = ap.parse_args(argv)
    abis = load_abis(load_artifacts())
    results = [run_mode(m.strip(), args, abis) for m in args.modes.split(",") if m.strip()]
    print("\nsummary:")
    for r in results:
        print(f"  {r['mode']:>8}: {r['actions']} actions, {r['throughput_tps']} tx/s, spend/action "
              f"{r['spend_per_action_eth']:.3e} ETH, gas price paid first/last/max "
              f"{r['gas_price_gwei_first_last_max']} gwei, node RSS {r['node_rss_mb_start_end']} MB, "
              f"{r['refused']} refused, {r['stuck_pools_mined_by_the_node']} stuck pools mined by the node, "
              f"load average {r['load_average_start_end']}, {r['minutes']} min, {r['reads']} reads, RSS slope "
              f"first/second half {r['rss_mb_per_10k_actions_first_second_half']} MB per 10k actions")
        print(f"    gas price paid per round (gwei): {r['gas_price_paid_gwei_per_round']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
