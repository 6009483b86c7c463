"""The gas targets of issue 2, checked on every run: gas is deterministic, unlike time.

scripts/bench_gas.py prints the whole table; this test runs the same measurement on the session's
chain (a fresh deployment, rolled back afterwards) and fails if a target is missed.
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("bench_gas", Path(__file__).parents[2] / "scripts" / "bench_gas.py")
bench_gas = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_gas)


def test_gas_targets_met(anvil, accounts, chain_snapshot):
    rows, checks = bench_gas.measure(anvil.url, accounts)
    missed = [c for c in checks if not c["ok"]]
    assert len(checks) == 5
    assert not missed, f"gas targets missed: {missed}"
    by_name = {r["operation"]: r["gas"] for r in rows}
    # The baseline really is a bare ERC-1155 transfer (about 40k gas), so the ratios mean something.
    assert 30_000 < by_name["bare ERC-1155 safeTransferFrom, warm"] < 50_000
