"""Figures of the consortium network (issue 12): node versus raw throughput on 4 Clique validators,
and how long a death costs.

1. Throughput, in the same run on the same network (issue 11's loads, short by default):
   (b) ``--senders`` wallets x ``--rounds`` signed custody transfers each, and (c) 1 wallet x
   ``--single`` transfers. Both paths carry identical work (``BatchLedger.transferWithAcceptance``
   with the holder's and the receiver's EIP-712 signatures, pre-signed before timing):
   raw = this script signs one transaction per transfer and posts JSON-RPC arrays to validator 0;
   node = ``POST /bulk`` to member A (its relayer, its validator). Timed until the last is mined.
2. A validator's death (SIGKILL, ``--kills`` times, each validator in turn, restarted after): time
   until the next block on another validator.
3. Member A's endpoint's death (SIGKILL of the validator it uses, during a stream of sequential
   writes): time until the next write it acknowledges as mined.

Usage: python scripts/bench_consortium.py [--senders 10] [--rounds 10] [--single 20] [--many 0] [--kills 3]
       [--period 2] [--json]. Prints ratios and seconds; a benchmark, not a test (timing on a
       shared 2-core machine varies).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import httpx
from eth_account import Account
from eth_utils import keccak

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "consortium"))

from bench_throughput import call, send_raw_batch, wait_nonce  # noqa: E402
from consortium_help import write_material  # noqa: E402
from node_api import signing  # noqa: E402
from node_api.core.abi import load_abis  # noqa: E402
from node_api.core.artifacts import load_artifacts  # noqa: E402
from node_api.core.txsign import TxSigner  # noqa: E402
from testkit.consortium import Consortium, block_number, key  # noqa: E402

GAS = 600_000
GAS_PRICE = 10 * 10**9  # legacy price, above the London base fee of this network


def setup_world(net: Consortium, url: str, n: int, abis) -> SimpleNamespace:  # noqa: ANN001
    """``n`` wallets of one registered supplier, funded by the bench account, one batch each (not timed)."""
    dep = net.deploy()
    reg, ledger = dep["contracts"]["ParticipantRegistry"], dep["contracts"]["BatchLedger"]
    chain_id = int(call(url, "eth_chainId", []), 16)
    admin = TxSigner(net.admin_key, chain_id)
    funder = TxSigner(key("relayer-bench"), chain_id)
    nonces = {a: int(call(url, "eth_getTransactionCount", [a, "pending"]), 16) for a in (admin.address, funder.address)}

    def tx(s: TxSigner, to: str, data: bytes = b"", value: int = 0, gas: int = 1_000_000) -> bytes:
        raw, _ = s.sign(nonce=nonces[s.address], gas_price=GAS_PRICE, gas=gas, to=to, data=data, value=value)
        nonces[s.address] += 1
        return raw

    def counts() -> list[int]:
        fn = abis["ParticipantRegistry"].fn("counts")
        return list(fn.decode_output(call(url, "eth_call", [{"to": reg, "data": "0x" + fn.selector.hex()}, "latest"])).values())

    print(f"setup: {n} wallets, one uncertified batch each...", flush=True)
    wallets = [Account.from_key(keccak(text=f"bench-wallet-{i}-{time.time_ns()}")) for i in range(n)]
    send_raw_batch(url, [tx(admin, reg, abis["ParticipantRegistry"].fn("registerParticipant").encode("Bench Mill", 4))]
                   + [tx(funder, w.address, value=10**20, gas=21_000) for w in wallets], 200)
    wait_nonce(url, admin.address, nonces[admin.address], automine=False)
    wait_nonce(url, funder.address, nonces[funder.address], automine=False)
    pid = counts()[0]
    send_raw_batch(url, [tx(admin, reg, abis["ParticipantRegistry"].fn("addSite").encode(pid, "Bench site", b"\x01" * 32)),
                         tx(admin, reg, abis["ParticipantRegistry"].fn("registerMaterial").encode("bench yarn", "g", 0, False))], 10)
    wait_nonce(url, admin.address, nonces[admin.address], automine=False)
    c = counts()
    site, material = c[1], c[3]
    send_raw_batch(url, [tx(admin, reg, abis["ParticipantRegistry"].fn("addWallet").encode(wallets[0].address, pid, site))], 1)
    wait_nonce(url, admin.address, nonces[admin.address], automine=False)
    first = TxSigner(wallets[0].key, chain_id)
    binds = [first.sign(nonce=i, gas_price=GAS_PRICE, gas=1_000_000, to=reg,
                        data=abis["ParticipantRegistry"].fn("addWallet").encode(w.address, pid, site))[0]
             for i, w in enumerate(wallets[1:])]
    send_raw_batch(url, binds, 200)
    wait_nonce(url, wallets[0].address, len(binds), automine=False)
    raws = []
    for i, w in enumerate(wallets):
        params = (material, 0, 0, 0, 10**9, b"\x02" * 32, "", keccak(text=f"ev-{i}-{time.time_ns()}"), 1)
        raws.append(TxSigner(w.key, chain_id).sign(nonce=len(binds) if i == 0 else 0, gas_price=GAS_PRICE,
                                                   gas=3_000_000, to=ledger,
                                                   data=abis["BatchLedger"].fn("createOrigin").encode(params))[0])
    send_raw_batch(url, raws, 200)
    for i, w in enumerate(wallets):
        wait_nonce(url, w.address, len(binds) + 1 if i == 0 else 1, automine=False)
    for raw in raws + binds:
        h = "0x" + keccak(raw).hex()
        rc = call(url, "eth_getTransactionReceipt", [h])
        if rc is None or rc["status"] != "0x1":
            tx = call(url, "eth_getTransactionByHash", [h])
            why = ""
            try:
                call(url, "eth_call", [{k: tx[k] for k in ("from", "to", "input")}, hex(int(tx["blockNumber"], 16) - 1)])
            except RuntimeError as exc:
                why = str(exc)
            raise RuntimeError(f"setup transaction {h} to {tx['to']} failed: {why}")
    ev = abis["BatchLedger"].events_by_name["BatchCreated"]
    logs = call(url, "eth_getLogs", [{"address": ledger, "fromBlock": "0x0", "toBlock": "latest",
                                      "topics": ["0x" + ev.topic.hex()]}])
    batch_of = {}
    for lg in logs:
        a = ev.decode([bytes.fromhex(t[2:]) for t in lg["topics"]], bytes.fromhex(lg["data"][2:]))
        batch_of[a["holder"]] = a["batchId"]
    now = int(call(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    deadline = now + 24 * 3600

    def signed(s, rcv, nonce: int) -> dict:  # noqa: ANN001
        t = signing.CustodyTransfer(batch_of[s.address], s.address, rcv.address, 1, 0, nonce, deadline)
        return {"transfer": t.message(),
                "senderSignature": "0x" + signing.sign_typed(s.key, signing.transfer_typed_data(chain_id, ledger, t)).hex(),
                "acceptDeadline": deadline,
                "receiverSignature": "0x" + signing.sign_typed(rcv.key, signing.accept_typed_data(chain_id, ledger, t, deadline)).hex()}

    return SimpleNamespace(chain_id=chain_id, ledger=ledger, wallets=wallets, signed=signed)


def raw_path(url: str, w: SimpleNamespace, items: list[dict], abis) -> float:  # noqa: ANN001
    twa = abis["BatchLedger"].fn("transferWithAcceptance")
    signer = TxSigner(key("relayer-bench"), w.chain_id)
    start = int(call(url, "eth_getTransactionCount", [signer.address, "pending"]), 16)
    t0 = time.perf_counter()
    raws = []
    for i, b in enumerate(items):
        m = b["transfer"]
        data = twa.encode((m["batchId"], m["from"], m["to"], m["quantity"], m["certifiedQuantity"], m["nonce"],
                           m["deadline"]), b["senderSignature"], b["acceptDeadline"], b["receiverSignature"])
        raws.append(signer.sign(nonce=start + i, gas_price=GAS_PRICE, gas=GAS, to=w.ledger, data=data)[0])
    send_raw_batch(url, raws, 200)
    wait_nonce(url, signer.address, start + len(items), timeout=900, automine=False)
    return len(items) / (time.perf_counter() - t0)


def node_path(url: str, node: str, relayer: str, rounds: list[list[dict]], clients: int = 4) -> tuple[float, int]:
    start = int(call(url, "eth_getTransactionCount", [relayer, "pending"]), 16)
    refused = 0

    async def load() -> None:
        nonlocal refused
        async with httpx.AsyncClient(base_url=node, timeout=900) as c:
            queue: asyncio.Queue = asyncio.Queue()
            for rnd in rounds:
                queue.put_nowait(rnd)

            async def client() -> None:
                nonlocal refused
                while not queue.empty():
                    rnd = queue.get_nowait()
                    r = await c.post("/bulk", json={"items": [{"action": "batches.transfer-with-acceptance", "body": b}
                                                              for b in rnd]})
                    r.raise_for_status()
                    refused += r.json()["refused"]

            await asyncio.gather(*(client() for _ in range(clients)))

    total = sum(len(r) for r in rounds)
    t0 = time.perf_counter()
    asyncio.run(load())
    # the relayer carries many items per transaction (RelayBatch): its nonce counts transactions,
    # not items, so wait for its queue to drain and every transaction it sent to be mined
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        h = httpx.get(f"{node}/health", timeout=30).json()
        if h["relayerQueue"] == 0 and h["pendingTransactions"] == 0 and int(
                call(url, "eth_getTransactionCount", [relayer, "latest"]), 16) > start:
            break
        time.sleep(0.2)
    else:
        raise TimeoutError("the node's relayer did not drain its queue within 1800 s")
    return (total - refused) / (time.perf_counter() - t0), refused


def throughput(net: Consortium, args: argparse.Namespace) -> dict:
    abis = load_abis(load_artifacts("paris"))
    url = net.validators[0].url
    node = net.members["a"].url
    relayer = httpx.get(f"{node}/info").json()["relayer"]
    out = {}
    loads = {"b": (args.senders, args.rounds), "c": (1, args.single)}
    if args.many:  # issue 11's load (a): many senders, 2 rounds each
        loads = {**loads, "a": (args.many, 2)}  # last: the longest setup
    for name, (senders, rounds) in loads.items():
        w = setup_world(net, url, max(senders, 2), abis)
        senders_ = w.wallets[:senders]
        nonce = {s.address: 0 for s in senders_}

        def round_of() -> list[dict]:
            items = []
            for i, s in enumerate(senders_):
                items.append(w.signed(s, w.wallets[(i + 1) % len(w.wallets)], nonce[s.address]))
                nonce[s.address] += 1
            return items

        print(f"load ({name}): {senders} sender(s) x {rounds}: pre-signing...", flush=True)
        raw_items = [x for _ in range(rounds) for x in round_of()]
        node_rounds = [round_of() for _ in range(rounds)]
        if senders == 1:  # one sender's upload is one request of all its items
            node_rounds = [[x for r in node_rounds for x in r]]
        raw = raw_path(url, w, raw_items, abis)
        via_node, refused = node_path(url, node, relayer, node_rounds)
        out[name] = {"senders": senders, "rounds": rounds, "raw_tps": round(raw, 1), "node_tps": round(via_node, 1),
                     "ratio": round(via_node / raw, 3), "refused": refused}
        print(f"  raw {raw:.1f} tx/s, node {via_node:.1f} tx/s, ratio {via_node / raw:.1%} ({refused} refused), "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
    return out


def validator_deaths(net: Consortium, kills: int) -> list[float]:
    out = []
    for k in range(kills):
        victim = 3 - (k % 2)  # validators 3 and 2: member A keeps its endpoint
        watch = net.validators[0].url
        net.wait_healthy(every_signer=True)
        h0, t0 = net.kill_quiet_validator(victim, signal.SIGKILL)  # outside Clique's stalemate window
        while block_number(watch) <= h0:
            time.sleep(0.02)
        out.append(time.monotonic() - t0)
        net.restart_validator(victim)
    return out


def endpoint_deaths(net: Consortium, kills: int) -> list[float]:
    node = net.members["a"].url
    out = []
    for _ in range(kills):
        current = httpx.get(f"{node}/info").json()["rpcUrl"]
        victim = next(v.index for v in net.validators if v.url == current)
        acked: list[float] = []
        stop = threading.Event()

        def writer() -> None:
            while not stop.is_set():
                k = str(uuid.uuid4())
                for _ in range(20):
                    try:
                        if write_material(node, net.admin_key, f"bench-{k[:8]}", key=k)["status"] == "mined":
                            acked.append(time.monotonic())
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)

        th = threading.Thread(target=writer, daemon=True)
        th.start()
        while len(acked) < 2:
            time.sleep(0.05)
        _, t0 = net.kill_quiet_validator(victim, signal.SIGKILL)
        while not [t for t in acked if t > t0]:
            time.sleep(0.02)
        out.append(min(t for t in acked if t > t0) - t0)
        stop.set()
        th.join(120)
        net.restart_validator(victim)
        net.wait_healthy(every_signer=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--senders", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--single", type=int, default=20, help="transfers of the one-sender load")
    ap.add_argument("--many", type=int, default=0, help="also load (a): this many senders x 2 (e.g. 1000)")
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--period", type=int, default=2)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="coc-consortium-bench-"))
    net = Consortium(root, period=args.period)
    result: dict = {"period_s": args.period, "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        t0 = time.monotonic()
        net.start()
        result["network_start_s"] = round(time.monotonic() - t0, 1)
        if not args.skip_throughput:
            result["throughput"] = throughput(net, args)
        deaths = validator_deaths(net, args.kills)
        result["validator_death_to_next_block_s"] = {"each": [round(x, 2) for x in deaths],
                                                     "median": round(statistics.median(deaths), 2)}
        print(f"validator death -> next block: {result['validator_death_to_next_block_s']}", flush=True)
        ends = endpoint_deaths(net, args.kills)
        result["endpoint_death_to_next_ack_s"] = {"each": [round(x, 2) for x in ends],
                                                  "median": round(statistics.median(ends), 2)}
        print(f"endpoint death -> next acknowledged write: {result['endpoint_death_to_next_ack_s']}", flush=True)
    finally:
        net.stop()
        shutil.rmtree(root, ignore_errors=True)
    result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2) if args.json else json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
