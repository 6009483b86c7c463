"""The supplier's command line against a running node: wallet, lists, transfer and acceptance signed
locally (the key never leaves the CLI)."""

from __future__ import annotations

import json

from eth_account import Account

from node_api.cli.main import main
from nodehelp import actor, create_uncertified


def _keystore(tmp_path, account, name):
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(Account.encrypt(account.key, "pw")))
    return str(p)


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, out


def test_cli_wallet_lists_transfer_and_accept(server, api, demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COC_WALLET_PASSWORD", "pw")
    base = ["--node", server.url, "--json"]
    new = str(tmp_path / "new.json")
    code, out = run(capsys, *base, "--keystore", new, "wallet", "create")
    assert code == 0
    created = json.loads(out)["address"]
    assert json.loads(run(capsys, *base, "--keystore", new, "wallet", "address")[1])["address"] == created

    conv = _keystore(tmp_path, actor(demo, "converter"), "converter")
    certs = json.loads(run(capsys, *base, "--keystore", conv, "certificates")[1])["certificates"]
    assert {c["certificateId"]: c["amount"] for c in certs}[demo.certificates["pe_credits"]] == 2
    credits = json.loads(run(capsys, *base, "--keystore", conv, "credits")[1])["accounts"]
    assert {a["material"]: a["balance"] for a in credits}[demo.materials["film"]] == 19_000_000

    spinner = _keystore(tmp_path, actor(demo, "spinner"), "spinner")
    weaver = _keystore(tmp_path, actor(demo, "weaver"), "weaver")
    lot_b = create_uncertified(api, actor(demo, "spinner"), demo.materials["yarn"], 1_000, "cli")
    code, out = run(capsys, *base, "--keystore", spinner, "transfer", str(lot_b), demo.addresses["weaver"], "100", "--yes")
    assert code == 0, out
    tid = json.loads(out)["result"]["transferId"]
    pending = json.loads(run(capsys, *base, "--keystore", weaver, "pending")[1])["incoming"]
    assert [p["transferId"] for p in pending if p["transferId"] == tid] == [tid]
    code, out = run(capsys, *base, "--keystore", weaver, "accept", tid, "--yes")
    assert code == 0 and json.loads(out)["status"] == "mined"
    held = json.loads(run(capsys, *base, "--keystore", weaver, "batches")[1])["batches"]
    assert any(b["batchId"] == lot_b for b in held)
    # a refusal is reported with its status and the rule, exit code 2
    code, out = run(capsys, *base, "--keystore", weaver, "accept", tid, "--yes")
    assert code == 2 and json.loads(out)["error"] == "BatchTransferNotPending"
