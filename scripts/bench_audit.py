"""Benchmark of the independent auditor: build a ledger of at least 50,000 operations, then replay it
with full signature recovery and print operations, seconds and rate (target: >= 2,000 ops/s).

    .venv/bin/python scripts/bench_audit.py [--rounds 10000] [--views] [--rpc URL --registry ADDR]

Building: a throwaway Anvil, the sandbox consortium, then five phases of `rounds` transactions each,
signed locally (transactions as raw EIP-155 legacy transactions, custody messages as EIP-712 digests,
both with libsecp256k1 through coincurve) and posted as JSON-RPC arrays of eth_sendRawTransaction:
  1. the farm creates segregated organic origin batches
  2. farm -> ginner custody transfers in one transaction (sender's and receiver's signatures)
  3. the ginner splits every batch in two
  4. the ginner consumes (sells) one child of every split
  5. ginner -> spinner two-step transfers: half the children proposed, then accepted
The replay is what `coc-audit` runs: raw eth_getLogs in bounded ranges, every event decoded and applied,
every rule checked, every custody signature recomputed and recovered.
With --rpc/--registry it only replays an existing ledger.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import coincurve  # noqa: E402
import rlp  # noqa: E402
from eth_utils import keccak  # noqa: E402

from auditor import eip712  # noqa: E402
from auditor.abi import function  # noqa: E402
from auditor.audit import Stats, discover, replay  # noqa: E402
from auditor.rpc import Rpc  # noqa: E402
from auditor.views import ViewCheck  # noqa: E402

SEGREGATED = 3


class Sender:
    """Local nonce and raw EIP-155 signing for one account."""

    def __init__(self, key: bytes, address: str, rpc: Rpc, chain_id: int, gas_price: int):
        self.key = coincurve.PrivateKey(key)
        self.address = address
        self.nonce = int(rpc.call("eth_getTransactionCount", [address, "pending"]), 16)
        self.chain_id = chain_id
        self.gas_price = gas_price

    def raw(self, to: str, data: str, gas: int) -> str:
        fields = [self.nonce, self.gas_price, gas, bytes.fromhex(to[2:]), 0, bytes.fromhex(data[2:])]
        self.nonce += 1
        h = keccak(rlp.encode(fields + [self.chain_id, 0, 0]))
        sig = self.key.sign_recoverable(h, hasher=None)
        v = sig[64] + 35 + 2 * self.chain_id
        return "0x" + rlp.encode(fields + [v, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")]).hex()


def sign_digest(key: bytes, digest: bytes) -> bytes:
    sig = coincurve.PrivateKey(key).sign_recoverable(digest, hasher=None)
    return sig[:64] + bytes([sig[64] + 27])


def send_all(rpc: Rpc, raws: list[str], label: str, chunk: int = 200, window: int = 3000) -> None:
    """Posts JSON-RPC arrays of `chunk` raw transactions, keeping at most about `window` unmined."""
    t0 = time.perf_counter()
    for start in range(0, len(raws), chunk):
        part = raws[start:start + chunk]
        res = rpc.batch([("eth_sendRawTransaction", [r]) for r in part], chunk=chunk)
        errors = [x for x in res if isinstance(x, Exception)]
        if errors:
            raise SystemExit(f"{label}: {len(errors)} transactions refused, e.g. {errors[0]}")
        if start >= window:
            _wait_mined(rpc, raws[start - window], label)
        done = start + len(part)
        if done % 2000 < chunk or done == len(raws):
            print(f"  {label}: {done:,}/{len(raws):,} sent ({done / (time.perf_counter() - t0):,.0f} tx/s)", flush=True)
    _wait_mined(rpc, raws[-1], label)
    print(f"  {label}: all {len(raws):,} mined ({len(raws) / (time.perf_counter() - t0):,.0f} tx/s)", flush=True)


def _wait_mined(rpc: Rpc, raw: str, label: str) -> None:
    """Waits for `raw` to be mined: the sender's lower nonces are then mined too."""
    tx_hash = "0x" + keccak(bytes.fromhex(raw[2:])).hex()
    t1 = time.perf_counter()
    while True:
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
        if receipt:
            if receipt["status"] != "0x1":
                raise SystemExit(f"{label}: transaction {tx_hash} reverted")
            return
        if time.perf_counter() - t1 > 300:
            raise SystemExit(f"{label}: {tx_hash} not mined after 5 minutes")
        time.sleep(0.2)


def call(rpc: Rpc, to: str, contract: str, name: str, *args):
    fn = function(contract, name, len(args))
    return fn.decode(rpc.call("eth_call", [{"to": to, "data": fn.encode(*args)}, "latest"]))


def estimate(rpc: Rpc, frm: str, to: str, data: str) -> int:
    return int(int(rpc.call("eth_estimateGas", [{"from": frm, "to": to, "data": data}]), 16) * 3 // 2)


def build(rounds: int) -> tuple[object, str, str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import dev_accounts  # tests/conftest.py: the Anvil dev accounts
    from node_api.core.anvil import EmbeddedAnvil
    from node_api.core.chain import connect
    from node_api.core.artifacts import load_artifacts
    from node_api.core.config import Settings
    from node_api.core.deploy import deploy_all
    from testkit.sandbox import Contracts, Sandbox, build_world

    # interval mining: one block per second takes every posted transaction (automine of a large pool is slow)
    node = EmbeddedAnvil.throwaway(accounts=20, extra_args=["--block-time", "1", "--gas-limit", "400000000"])
    node.start()
    print(f"anvil at {node.url}", flush=True)
    w3 = connect(Settings(), rpc_url=node.url)
    acc = dev_accounts()
    arts = load_artifacts()  # the built contracts the node ships with (make artifacts)
    addrs = deploy_all(w3, acc[0], arts)
    c = Contracts(*(w3.eth.contract(address=addrs[n], abi=arts[n]["abi"]) for n in
                    ("ParticipantRegistry", "CocForwarder", "MassBalance", "BatchLedger", "CertificateRegistry")))
    world = build_world(Sandbox(w3, c, acc[0], acc[19]), acc)
    rpc = Rpc(node.url)
    chain_id = int(rpc.call("eth_chainId"), 16)
    gas_price = int(rpc.call("eth_gasPrice"), 16) * 2
    ledger = addrs["BatchLedger"].lower()
    sep = eip712.domain_separator(chain_id, ledger)
    farm, ginner, spinner = world.farm, world.ginner, world.spinner
    relayer = Sender(acc[19].key, acc[19].address, rpc, chain_id, gas_price)
    farm_tx = Sender(farm.account.key, farm.address, rpc, chain_id, gas_price)
    ginner_tx = Sender(ginner.account.key, ginner.address, rpc, chain_id, gas_price)
    f_addr, g_addr, s_addr = farm.address.lower(), ginner.address.lower(), spinner.address.lower()
    t_build = time.perf_counter()
    now = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    deadline = now + 30 * 86400

    # 1. origins
    first = call(rpc, ledger, "BatchLedger", "batchCount") + 1
    create = function("BatchLedger", "createOrigin", 1)
    params = lambda i: (world.raw_cotton, world.organic, SEGREGATED, 1_000_000, 1000, keccak(text="plot"),  # noqa: E731
                        f"DDS-{i}", keccak(text=f"harvest-{i}"), now - 86400)
    gas = estimate(rpc, f_addr, ledger, create.encode(params(0)))
    send_all(rpc, [farm_tx.raw(ledger, create.encode(params(i)), gas) for i in range(rounds)], "1/5 origins")
    origins = list(range(first, first + rounds))

    # 2. farm -> ginner, one transaction, both signatures
    twa = function("BatchLedger", "transferWithAcceptance", 4)
    f_nonce = call(rpc, ledger, "BatchLedger", "nonces", f_addr)
    raws = []
    gas = None
    for k, bid in enumerate(origins):
        t = (bid, f_addr, g_addr, 1000, 0, f_nonce + k, deadline)
        struct = eip712.transfer_struct_hash(*t)
        s1 = sign_digest(farm.account.key, eip712.digest(sep, struct))
        s2 = sign_digest(ginner.account.key, eip712.digest(sep, eip712.accept_struct_hash(struct, bid, 1000, deadline)))
        data = twa.encode(t, s1, deadline, s2)
        gas = gas or estimate(rpc, relayer.address, ledger, data)
        raws.append(relayer.raw(ledger, data, gas))
    send_all(rpc, raws, "2/5 transfers")

    # 3. splits
    first = call(rpc, ledger, "BatchLedger", "batchCount") + 1
    split = function("BatchLedger", "split", 2)
    gas = estimate(rpc, g_addr, ledger, split.encode(origins[0], [600, 400]))
    send_all(rpc, [ginner_tx.raw(ledger, split.encode(b, [600, 400]), gas) for b in origins], "3/5 splits")
    big = list(range(first, first + 2 * rounds, 2))
    small = [b + 1 for b in big]

    # 4. consumption
    consume = function("BatchLedger", "consume", 4)
    gas = estimate(rpc, g_addr, ledger, consume.encode(small[0], 400, 0, keccak(text="sale")))
    send_all(rpc, [ginner_tx.raw(ledger, consume.encode(b, 400, 0, keccak(text=f"sale-{b}")), gas) for b in small],
             "4/5 consumption")

    # 5. two-step transfers ginner -> spinner: proposals, then acceptances
    half = big[: rounds // 2]
    propose = function("BatchLedger", "proposeTransfer", 2)
    accept = function("BatchLedger", "acceptTransfer", 3)
    g_nonce = call(rpc, ledger, "BatchLedger", "nonces", g_addr)
    offers = [(bid, g_addr, s_addr, 600, 0, g_nonce + k, deadline) for k, bid in enumerate(half)]
    raws, gas = [], None
    for t in offers:
        data = propose.encode(t, sign_digest(ginner.account.key, eip712.digest(sep, eip712.transfer_struct_hash(*t))))
        gas = gas or estimate(rpc, relayer.address, ledger, data)
        raws.append(relayer.raw(ledger, data, gas))
    send_all(rpc, raws, "5/5 proposals")
    raws, gas = [], None
    for t in offers:
        struct = eip712.transfer_struct_hash(*t)
        sig = sign_digest(spinner.account.key, eip712.digest(sep, eip712.accept_struct_hash(struct, t[0], 600, deadline)))
        data = accept.encode(t, deadline, sig)
        gas = gas or estimate(rpc, relayer.address, ledger, data)
        raws.append(relayer.raw(ledger, data, gas))
    send_all(rpc, raws, "5/5 acceptances")
    seconds = time.perf_counter() - t_build
    print(f"built {5 * rounds:,} operations in {seconds:.1f} s ({5 * rounds / seconds:,.0f} ops/s)", flush=True)
    return node, node.url, addrs["ParticipantRegistry"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10_000, help="transactions per phase (5 phases)")
    ap.add_argument("--views", action="store_true", help="also compare every view function (timed separately)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the replay")
    ap.add_argument("--rpc")
    ap.add_argument("--registry")
    args = ap.parse_args(argv)
    node = None
    if args.rpc and args.registry:
        url, registry = args.rpc, args.registry
    else:
        node, url, registry = build(args.rounds)
    try:
        rpc = Rpc(url)
        d = discover(rpc, registry)
        stats = Stats()
        last = [0.0]

        def progress(done: int, total: int, logs: int) -> None:
            if time.perf_counter() - last[0] > 2 or done == total:
                last[0] = time.perf_counter()
                print(f"  replay: block {done:,}/{total:,}, {logs:,} logs", flush=True)

        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
        t0 = time.perf_counter()
        r = replay(rpc, d, progress=progress, stats=stats)
        seconds = time.perf_counter() - t0
        if args.profile:
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        failures = r.f.failures
        result = {
            "operations": r.operations, "events": r.events, "signatures_recovered": r.signatures_checked,
            "seconds": round(seconds, 2), "ops_per_second": round(r.operations / seconds),
            "seconds_eth_getLogs": round(stats.seconds_fetch, 2), "getLogs_calls": stats.get_logs_calls,
            "findings_failed": len(failures),
        }
        if args.views:
            t1 = time.perf_counter()
            n = ViewCheck(rpc, r, d.addresses(), d.head, d.head_ts).run(r.f)
            result.update(views=n, seconds_views=round(time.perf_counter() - t1, 2),
                          findings_failed=len(r.f.failures))
        print(json.dumps(result, indent=2))
        print(f"operations {r.operations:,}  seconds {seconds:.2f}  rate {r.operations / seconds:,.0f} ops/s "
              f"(signatures recovered: {r.signatures_checked:,}; target >= 2,000 ops/s)")
        for f in r.f.failures[:5]:
            print("FINDING", f.rule, f.message)
        return 0 if not r.f.failures and r.operations / seconds >= 2000 else 1
    finally:
        if node is not None:
            node.stop()


if __name__ == "__main__":
    raise SystemExit(main())
