"""No blind signing in ``coc bulk``: every line it signs is described in words and checked (through
``clear.describe``, as for ``coc do``) before any signature; one confirmation for the file, refused
without a terminal unless ``--yes``; a line whose description does not match is refused and recorded,
the others go through."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from node_api import signing
from node_api.cli import bulk, clear, main as cli
from node_api.cli.client import NodeClient
from nodehelp import actor, create_uncertified


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setattr(cli.err_console, "_width", 300)
    monkeypatch.setenv("COC_WALLET_PASSWORD", "pw")


@pytest.fixture
def setup(server, api, demo, tmp_path):
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    ks = tmp_path / "spinner.json"
    ks.write_text(json.dumps(Account.encrypt(spinner.key, "pw")))
    lot = create_uncertified(api, spinner, demo.materials["yarn"], 100, f"bulk-clear-{tmp_path.name}")

    def upload(quantities):
        src = tmp_path / "upload.jsonl"
        src.write_text("".join(json.dumps({"action": "batches/transfer", "ref": f"DN-{q}", "params": {
            "batchId": lot, "to": weaver.address, "quantity": q}}) + "\n" for q in quantities))
        return src

    return spinner, lot, upload, ["--node", server.url, "--keystore", str(ks)]


@pytest.fixture
def events(monkeypatch):
    """The order of what is shown and what is signed."""
    log: list[str] = []
    real_show, real_sign = clear.show, bulk.signing.sign_typed
    monkeypatch.setattr(clear, "show", lambda desc, con: (log.append("show:" + desc["summary"]), real_show(desc, con)))
    monkeypatch.setattr(bulk.signing, "sign_typed", lambda key, typed: (log.append("sign"), real_sign(key, typed))[1])
    return log


def test_each_action_in_words_before_anything_is_signed(setup, api, demo, chain, events, capsys):
    spinner, lot, upload, base = setup
    n0 = chain.ledger.functions.nonces(spinner.address).call()
    src = upload([1, 2, 3])
    # a fourth line signed elsewhere (nonce after coc's three): sent as it is, neither described nor signed by coc
    prep = api.post("/batches/transfer/prepare", json={"from": spinner.address, "batchId": lot,
                                                       "to": actor(demo, "weaver").address, "quantity": 4,
                                                       "nonce": n0 + 3}).json()
    body = {"typedData": prep["typedData"], "signature": "0x" + signing.sign_typed(spinner.key, prep["typedData"]).hex()}
    with src.open("a") as f:
        f.write(json.dumps({"action": "batches/transfer", "body": body, "ref": "DN-4"}) + "\n")
    events.clear()
    assert cli.main([*base, "bulk", str(src), "--yes"]) == 0
    err = capsys.readouterr().err
    for q in (1, 2, 3):
        assert f"Transfer {q} g of batch {lot} from Tiruppur Spinning Mill to Coimbatore Weaving" in err
    assert "1 line(s) already signed elsewhere" in err and f"Transfer 4 g of batch {lot}" not in err
    assert [e.split(":")[0] for e in events] == ["show"] * 3 + ["sign"] * 3
    assert chain.ledger.functions.nonces(spinner.address).call() == n0 + 4


def test_confirm_asks_once_at_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(bulk.sys.stdin, "isatty", lambda: True, raising=False)
    asked = []
    monkeypatch.setattr("builtins.input", lambda q: (asked.append(q), "n")[1])
    assert bulk.confirm(7, False, cli.err_console) is False and asked == ["sign 7 actions? [y/N] "]
    monkeypatch.setattr("builtins.input", lambda q: "y")
    assert bulk.confirm(7, False, cli.err_console) is True
    assert bulk.confirm(0, False, cli.err_console) is True  # nothing to sign here: nothing to ask


def test_many_lines_summarised_and_no_terminal_without_yes_signs_nothing(setup, chain, events, capsys, monkeypatch):
    spinner, lot, upload, base = setup
    monkeypatch.setattr(bulk, "SHOW_EACH", 3)
    monkeypatch.setattr(bulk, "SHOW_FIRST", 2)
    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("asked on stdin in a non-interactive run"))
    n0 = chain.ledger.functions.nonces(spinner.address).call()
    src = upload([1, 2, 3, 4, 5])
    assert cli.main([*base, "bulk", str(src)]) == 2
    err = capsys.readouterr().err
    assert "5 actions to sign" in err and "batches.transfer" in err
    assert f"line 1: Transfer 1 g of batch {lot}" in err and f"line 2: Transfer 2 g of batch {lot}" in err
    assert "line 3:" not in err and "3 more" in err
    assert "not signing 5 actions" in err and "--yes" in err
    assert "sign" not in events
    assert not (src.parent / "upload.jsonl.result.jsonl").exists()
    assert not (src.parent / "upload.jsonl.result.jsonl.signed.jsonl").exists()
    assert chain.ledger.functions.nonces(spinner.address).call() == n0


def test_a_line_described_otherwise_is_refused_and_the_rest_go_through(setup, chain, events, capsys, monkeypatch):
    spinner, lot, upload, base = setup
    real_post = NodeClient.post

    def tampered(self, path, body=None, **kw):
        desc = real_post(self, path, body, **kw)
        if path == "typed-data/describe":
            for f in desc["fields"]:
                if f["path"] == "quantity" and int(f["raw"]) == 2:
                    f["raw"], f["value"] = 1, "1 g"  # the node says 1 g while 2 g would be signed
        return desc

    monkeypatch.setattr(NodeClient, "post", tampered)
    n0 = chain.ledger.functions.nonces(spinner.address).call()
    src = upload([1, 2, 3])
    assert cli.main([*base, "--json", "bulk", str(src), "--yes"]) == 1
    cap = capsys.readouterr()
    assert json.loads(cap.out)["mined"] == 2
    assert "line 2 refused, nothing signed for it" in cap.err and "does not match" in cap.err
    out = [json.loads(x) for x in (src.parent / "upload.jsonl.result.jsonl").read_text().splitlines()]
    assert [r["status"] for r in out] == ["mined", "refused", "mined"]
    assert out[1]["error"]["error"] == "Undescribed" and "value of quantity" in out[1]["error"]["message"]
    assert out[1]["txHash"] is None and out[1]["idempotencyKey"] is None
    assert events.count("sign") == 2
    assert chain.ledger.functions.nonces(spinner.address).call() == n0 + 2  # no nonce spent on the refused line
