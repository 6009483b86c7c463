"""coc-audit's exit status as its README section says: 2 for usage and connection problems, including a
registry address that holds no contract (finding E: it printed a traceback and exited 1, "a rule fails")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", "--quiet", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("which", ["empty", "wallet", "other contract"])
def test_registry_without_registry_code_exits_2_with_one_line(env, which):
    address = {"empty": "0x" + "12" * 20, "wallet": env.world.farm.address,
               "other contract": env.addresses["BatchLedger"]}[which]
    out = run_cli("--rpc", env.rpc, "--registry", address)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("coc-audit: "), out.stderr
    assert address.lower() in lines[0].lower()
    if which != "other contract":
        assert "no contract at" in lines[0]


def test_unreachable_rpc_exits_2(env):
    out = run_cli("--rpc", "http://127.0.0.1:1", "--registry", env.registry)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
