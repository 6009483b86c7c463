"""``coc`` without blind signing, with names, units and dates: every signature is preceded by the action in
words (checked against the typed data), the accept screen names the sender and the declared certified
quantity, ``coc sign`` refuses empty or malformed files with a message, ``coc wallet import`` takes a key
or an existing keystore, and the tables read as names, units and dates."""

from __future__ import annotations

import copy
import io
import json

import pytest
from eth_account import Account

from node_api import signing
from node_api.cli import clear, main as cli, views
from nodehelp import actor, create_uncertified

T = 1_000_000


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    """Wide consoles, so table cells are not folded across lines in the captured output."""
    for con in (cli.console, cli.err_console, views.console):
        monkeypatch.setattr(con, "_width", 300)
    monkeypatch.setenv("COC_WALLET_PASSWORD", "pw")


def _keystore(tmp_path, account, name):
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(Account.encrypt(account.key, "pw")))
    return str(p)


def run(capsys, *argv):
    code = cli.main(list(argv))
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err
    return code, cap.out, cap.err


def test_do_shows_the_action_in_words_not_calldata(server, demo, tmp_path, capsys):
    admin = _keystore(tmp_path, server.node.accounts.admin(), "admin")
    code, out, err = run(capsys, "--node", server.url, "--keystore", admin, "do", "participants/register",
                         "name=Weaver Ltd", "roles=4", "--yes")
    assert code == 0, err
    assert "Register participant Weaver Ltd as supplier" in err
    assert "signed by Consortium administration" in err
    assert "declaration: Consortium administration admits Weaver Ltd to the consortium with the roles supplier" in err
    prep_data = "0x" + server.node.abis["ParticipantRegistry"].fn("registerParticipant").selector.hex()
    assert prep_data not in err  # no calldata shown as the thing to sign


def test_accept_shows_sender_and_declared_certified_quantity(server, api, demo, tmp_path, capsys):
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    lot = create_uncertified(api, spinner, demo.materials["yarn"], 3 * T, "cli-clear")
    ks_s, ks_w = _keystore(tmp_path, spinner, "spinner"), _keystore(tmp_path, weaver, "weaver")
    base = ["--node", server.url]
    code, out, err = run(capsys, *base, "--keystore", ks_s, "--json", "transfer", str(lot), weaver.address, str(3 * T),
                         "--yes")
    assert code == 0, err
    assert f"Transfer 3,000,000 g (3 t) of batch {lot} from Tiruppur Spinning Mill to Coimbatore Weaving" in err
    tid = json.loads(out)["result"]["transferId"]
    # the receiver's inbox: sender by name, material, quantity with unit, declaration, deadline as a date
    code, out, err = run(capsys, *base, "--keystore", ks_w, "pending")
    assert code == 0
    line = next(x for x in out.splitlines() if tid[:10] in x)
    assert "Tiruppur Spinning Mill" in line and "cotton yarn" in line and "3,000,000 g (3 t)" in line and "0 g" in line
    assert " 20" in line  # the offer's deadline as a date (20xx-..), not a unix time
    code, out, err = run(capsys, *base, "--keystore", ks_w, "accept", tid, "--yes")
    assert code == 0, err
    assert f"Accept 3,000,000 g (3 t) of batch {lot} from Tiruppur Spinning Mill" in err
    assert "From (from the chain)" in err and "Tiruppur Spinning Mill" in err
    assert "Declared certified quantity (from the chain)" in err
    assert "of which Tiruppur Spinning Mill declared 0 g certified" in err


def test_tables_have_names_units_and_dates_and_empty_ones_say_what_to_do(server, demo, tmp_path, capsys):
    brand = _keystore(tmp_path, actor(demo, "brand"), "brand")
    code, out, _ = run(capsys, "--node", server.url, "--keystore", brand, "batches")
    assert code == 0
    assert "Fashion Brand Ltd at Brand DC Rotterdam" in out
    assert "greige fabric" in out and "1,500,000 g (1.5 t)" in out and "organic (GOTS)" in out and "segregated" in out
    conv = _keystore(tmp_path, actor(demo, "converter"), "converter")
    code, out, _ = run(capsys, "--node", server.url, "--keystore", conv, "credits")
    assert "PE film" in out and "bio-circular (ISCC PLUS)" in out and "19,000,000 g (19 t)" in out
    code, out, _ = run(capsys, "--node", server.url, "--keystore", conv, "certificates")
    assert "polyethylene" in out and "1 t" in out
    newcomer = Account.create()
    code, out, _ = run(capsys, "--node", server.url, "--keystore", conv, "batches", "--address", newcomer.address)
    assert code == 0 and "is not registered with any participant" in out and "consortium administrator" in out
    code, out, _ = run(capsys, "--node", server.url, "--keystore", conv, "pending")
    assert "nothing waiting for acceptance" in out


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("   \n", "is empty"),
    ("{not json", "is not JSON"),
    ("[1, 2]", "is not EIP-712 typed data"),
    ('{"typedData": {"domain": {}}}', "missing types, primaryType, message"),
])
def test_sign_refuses_empty_or_malformed_files_with_a_message(server, tmp_path, capsys, content, message):
    ks = _keystore(tmp_path, Account.create(), "w")
    f = tmp_path / "typed.json"
    f.write_text(content)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--node", server.url, "--keystore", ks, "sign", str(f), "--yes"])
    assert message in str(exc.value.code)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--node", server.url, "--keystore", ks, "sign", str(tmp_path / "missing.json")])
    assert "no such file" in str(exc.value.code)


def test_sign_refuses_what_the_node_cannot_describe(server, demo, tmp_path, capsys):
    farm = actor(demo, "farm")
    ks = _keystore(tmp_path, farm, "farm")
    node = server.node
    data = node.abis["BatchLedger"].fn("link").encode()
    typed = signing.forward_request_typed_data(node.chain_id, node.forwarder, sender=farm.address,
                                               to=node.addresses["BatchLedger"], data=data, nonce=0, deadline=2**40,
                                               gas=100_000)
    f = tmp_path / "typed.json"
    f.write_text(json.dumps(typed))
    with pytest.raises(SystemExit) as exc:
        cli.main(["--node", server.url, "--keystore", ks, "sign", str(f), "--yes"])
    assert "refusing to sign" in str(exc.value.code) and "UnknownFunction" in str(exc.value.code)
    assert "0x" not in capsys.readouterr().out  # no signature printed
    # a describable one is signed, after the words
    prep = node.abis["BatchLedger"].fn("split").encode(demo.batches["seed_cotton"], [1, 2])
    typed["message"]["data"] = "0x" + prep.hex()
    f.write_text(json.dumps({"typedData": typed}))
    code, out, err = run(capsys, "--node", server.url, "--keystore", ks, "sign", str(f), "--yes")
    assert code == 0 and "Split batch" in err and out.strip().startswith("0x") and len(out.strip()) == 132


def test_a_description_that_does_not_match_the_typed_data_is_refused(api, demo):
    """A node could name one thing and have another signed: coc checks ids, quantities and addresses."""
    spinner, weaver = actor(demo, "spinner"), actor(demo, "weaver")
    info = api.get("/info").json()
    from node_api.core.abi import load_abis
    from node_api.core.artifacts import load_artifacts

    abis = load_abis(load_artifacts())
    data = abis["BatchLedger"].fn("split").encode(demo.batches["yarn_lot_b"], [5, 6])
    typed = signing.forward_request_typed_data(info["chainId"], info["contracts"]["CocForwarder"], sender=spinner.address,
                                               to=info["contracts"]["BatchLedger"], data=data, nonce=0, deadline=2**40,
                                               gas=100_000)
    desc = api.post("/typed-data/describe", json={"typedData": typed}).json()
    clear.verify(typed, desc)  # the true description passes
    for tamper in ("quantity", "batch", "signer", "function", "drop", "chain"):
        bad = copy.deepcopy(desc)
        if tamper == "quantity":
            bad["fields"][1]["raw"] = [5, 7]
        elif tamper == "batch":
            bad["fields"][0]["raw"] = demo.batches["yarn_lot_a"]
        elif tamper == "signer":
            bad["signer"] = weaver.address
        elif tamper == "function":
            bad["function"] = "merge"
        elif tamper == "drop":
            bad["fields"] = bad["fields"][:1]
        else:
            bad["chainId"] = 1
        with pytest.raises(clear.Undescribed, match="does not match"):
            clear.verify(typed, bad)
    t = signing.CustodyTransfer(demo.batches["yarn_lot_b"], spinner.address, weaver.address, 10, 0, 0, 2**40)
    ct = signing.transfer_typed_data(info["chainId"], info["contracts"]["BatchLedger"], t)
    desc = api.post("/typed-data/describe", json={"typedData": ct}).json()
    clear.verify(ct, desc)
    bad = copy.deepcopy(desc)
    next(f for f in bad["fields"] if f["path"] == "to")["raw"] = spinner.address
    with pytest.raises(clear.Undescribed):
        clear.verify(ct, bad)


def test_wallet_import_from_a_key_or_a_keystore(tmp_path, capsys, monkeypatch):
    acct = Account.create()
    target = tmp_path / "imported.json"
    monkeypatch.setattr("sys.stdin", io.StringIO("0x" + acct.key.hex() + "\n"))
    code, out, _ = run(capsys, "--keystore", str(target), "--json", "wallet", "import")
    assert code == 0 and json.loads(out)["address"] == acct.address
    assert Account.from_key(Account.decrypt(json.loads(target.read_text()), "pw")).address == acct.address
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    # an existing keystore (its own password), saved under the wallet password
    other = Account.create()
    src = tmp_path / "geth-keystore.json"
    src.write_text(json.dumps(Account.encrypt(other.key, "old-password")))
    monkeypatch.setenv("COC_IMPORT_PASSWORD", "old-password")
    dest = tmp_path / "second.json"
    code, out, _ = run(capsys, "--keystore", str(dest), "--json", "wallet", "import", "--from-keystore", str(src))
    assert code == 0 and json.loads(out)["address"] == other.address
    code, out, _ = run(capsys, "--keystore", str(dest), "--json", "wallet", "address")
    assert json.loads(out)["address"].lower() == other.address.lower()
    # refusals: an existing target, a wrong password, a non-key, a non-keystore
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["--keystore", str(dest), "wallet", "import", "--from-keystore", str(src)])
    monkeypatch.setenv("COC_IMPORT_PASSWORD", "wrong")
    with pytest.raises(SystemExit, match="cannot decrypt"):
        cli.main(["--keystore", str(tmp_path / "x.json"), "wallet", "import", "--from-keystore", str(src)])
    for bad in ("0x1234", "zz" * 32, "", "0x" + "00" * 32):
        monkeypatch.setattr("sys.stdin", io.StringIO(bad + "\n"))
        with pytest.raises(SystemExit, match="private key"):
            cli.main(["--keystore", str(tmp_path / "y.json"), "wallet", "import"])
    (tmp_path / "notks.json").write_text("hello")
    with pytest.raises(SystemExit, match="not a keystore"):
        cli.main(["--keystore", str(tmp_path / "z.json"), "wallet", "import", "--from-keystore",
                  str(tmp_path / "notks.json")])
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "y.json").exists()
