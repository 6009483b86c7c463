"""Issue 11: ``coc bulk`` uploads a file of actions and writes a result line per input line that an
ERP can reconcile; a rerun of the same file executes nothing twice."""

from __future__ import annotations

import json

from eth_account import Account

from node_api.cli.main import main
from nodehelp import actor, create_uncertified


def test_coc_bulk_result_file_reconciles_line_by_line(server, api, demo, chain, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COC_WALLET_PASSWORD", "pw")
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    ks = tmp_path / "spinner.json"
    ks.write_text(json.dumps(Account.encrypt(spinner.key, "pw")))
    lot = create_uncertified(api, spinner, demo.materials["yarn"], 100, "coc-bulk")
    n0 = chain.ledger.functions.nonces(spinner.address).call()
    lines = [{"action": "batches/transfer", "params": {"batchId": lot, "to": weaver.address, "quantity": q},
              "ref": f"DN-{q}"} for q in (1, 2, 3, 4, 5)]
    lines.insert(2, {"action": "batches/transfer", "params": {"batchId": lot, "to": weaver.address, "quantity": 10**6},
                     "ref": "DN-too-much"})
    src = tmp_path / "upload.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    argv = ["--node", server.url, "--keystore", str(ks), "--json", "bulk", str(src), "--chunk", "2", "--yes"]
    assert main(argv) == 1  # one line was refused
    summary = json.loads(capsys.readouterr().out)
    assert summary["lines"] == 6 and summary["mined"] == 5
    out = [json.loads(x) for x in (tmp_path / "upload.jsonl.result.jsonl").read_text().splitlines()]
    assert [r["line"] for r in out] == [1, 2, 3, 4, 5, 6] and [r["ref"] for r in out] == [x["ref"] for x in lines]
    assert [r["status"] for r in out] == ["mined", "mined", "refused", "mined", "mined", "mined"]
    assert out[2]["error"]["error"] and out[2]["txHash"] is None and out[2]["idempotencyKey"] is None
    for r in out:
        if r["status"] == "mined":
            assert r["txHash"] and r["idempotencyKey"].startswith("coc-bulk-") and r["ids"]["transferId"]
    assert len({r["ids"]["transferId"] for r in out if r["status"] == "mined"}) == 5
    assert chain.ledger.functions.nonces(spinner.address).call() == n0 + 5
    # the same file again: the same signed items under the same keys, answered, nothing executed twice
    assert main(argv) == 1
    capsys.readouterr()
    again = [json.loads(x) for x in (tmp_path / "upload.jsonl.result.jsonl").read_text().splitlines()]
    assert [r["txHash"] for r in again] == [r["txHash"] for r in out]
    assert chain.ledger.functions.nonces(spinner.address).call() == n0 + 5
