"""Benchmark: index ingest (events per second) next to a raw eth_getLogs read of the same range.

    .venv/bin/python scripts/bench_ingest.py [--origins 10000] [--fan-in 200] [--database-url URL]

Builds a ledger on a throwaway Anvil (the same fast builder as bench_lineage.py: origin batches in
JSON-RPC arrays of signed raw transactions, merged many at a time, plus custody transfers), then in
the same run: (1) reads every log of the five contracts with raw eth_getLogs in the follower's
block ranges (transport + JSON only), (2) indexes the same range from scratch with the follower
(read + decode + write, one database transaction per range). Prints both rates.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_lineage import LedgerBuilder, RawSender, fn_abi, log, start_chain  # noqa: E402

from node_api.index import schema  # noqa: E402
from node_api.index.follower import Follower, contract_abis  # noqa: E402
from node_api.core.rpc import SyncRpc  # noqa: E402
from node_api.signing import CustodyTransfer, accept_typed_data, sign_typed, transfer_typed_data  # noqa: E402


def transfers(builder: LedgerBuilder, batch_ids: list[int], quantity: int) -> None:
    """Farm -> ginner custody transfers (both signatures, one transaction each), relayed."""
    w, sb = builder.w, builder.w.sb
    ledger = sb.c.ledger
    f = fn_abi(ledger, "transferWithAcceptance")
    nonce = ledger.functions.nonces(w.farm.address).call()
    deadline = sb.now() + 86_400
    calls = []
    for i, bid in enumerate(batch_ids):
        t = CustodyTransfer(bid, w.farm.address, w.ginner.address, quantity, 0, nonce + i, deadline)
        s1 = sign_typed(w.farm.account.key, transfer_typed_data(sb.chain_id, ledger.address, t))
        s2 = sign_typed(w.ginner.account.key, accept_typed_data(sb.chain_id, ledger.address, t, deadline))
        calls.append(builder.sender.calldata(f, [t.as_tuple(), s1, deadline, s2]))
    builder.sender.send_all(sb.relayer, ledger.address, calls, 400_000, "transfers")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--origins", type=int, default=10_000)
    ap.add_argument("--fan-in", type=int, default=200)
    ap.add_argument("--transfers", type=int, default=2_000)
    ap.add_argument("--range", type=int, default=2_000, help="blocks per eth_getLogs (the follower's default)")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args(argv)

    anvil, w3, world, contracts, start_block = start_chain()
    try:
        builder = LedgerBuilder(world, RawSender(w3, anvil.url))
        log(f"building a ledger: {args.origins:,} origins, merges of {args.fan_in}, {args.transfers:,} transfers")
        t0 = time.perf_counter()
        origins = builder.origins(args.origins, 1_000, "origins")
        moved, kept = origins[: args.transfers], origins[args.transfers:]
        transfers(builder, moved, 1_000)
        groups = [kept[i:i + args.fan_in] for i in range(0, len(kept) - len(kept) % args.fan_in, args.fan_in)]
        if groups:
            builder.merges(groups, 1_000, "merges")
        head = w3.eth.block_number
        log(f"built in {time.perf_counter() - t0:.1f} s: blocks {start_block}..{head}")

        rpc = SyncRpc(anvil.url)
        addresses = [a.lower() for a in contracts.values()]
        t0 = time.perf_counter()
        raw = 0
        for frm in range(start_block, head + 1, args.range):
            raw += len(rpc.get_logs(frm, min(frm + args.range - 1, head), addresses))
        raw_s = time.perf_counter() - t0

        url = args.database_url or schema.sqlite_url(str(Path(tempfile.mkdtemp(prefix="coc-ingest-")) / "index.db"))
        engine = schema.make_engine(url)
        schema.drop_all(engine)
        follower = Follower(engine, SyncRpc(anvil.url), contracts, start_block, abis=contract_abis(), max_range=args.range)
        t0 = time.perf_counter()
        indexed = follower.sync_once()
        idx_s = time.perf_counter() - t0
        assert indexed == raw, (indexed, raw)
        backend = url.split(":", 1)[0]
        log("\nresults")
        log(f"  raw eth_getLogs read:  {raw:,} logs in {raw_s:.2f} s = {raw / raw_s:,.0f} logs/s")
        log(f"  index ingest ({backend}): {indexed:,} events in {idx_s:.2f} s = {indexed / idx_s:,.0f} events/s "
            f"(target >= 5,000: {'met' if indexed / idx_s >= 5000 else 'NOT met'}); "
            f"{idx_s / raw_s:.1f}x the raw read time")
        engine.dispose()
    finally:
        anvil.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
