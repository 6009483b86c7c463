"""The independent auditor on a real Anvil chain: a clean demo ledger passes; each fault is caught and
reported with its evidence (an overstated claim, a claim against a revoked issuance, a node answering
differently from the chain, contract state that its own events do not explain)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from eth_utils import keccak

from auditor.abi import CONTRACTS, HERE as ABI_DIR
from auditor.abi.refresh import extract
from auditor.cli import main, run_audit
from auditor.nodecompare import expected_answers, node_document
from testkit.sandbox import h

ROOT = Path(__file__).resolve().parents[2]


def audit(env, **kw):
    return run_audit(env.rpc, env.registry, **kw)


def cli(env, capsys, *args: str) -> tuple[int, dict]:
    rc = main(["--rpc", env.rpc, "--registry", env.registry, "--json", *args])
    return rc, json.loads(capsys.readouterr().out)


def fails(res: dict, rule: str) -> list[dict]:
    return [f for f in res["findings"] if f["rule"] == rule and f["severity"] == "fail"]


# ------------------------------------------------------------------------------------------------ clean ledger
def test_audit_clean_demo_passes_with_zero_findings(env, capsys, tmp_path):
    html_file = tmp_path / "report.html"
    rc, res = cli(env, capsys, "--report-html", str(html_file))
    assert rc == 0, [f["message"] for f in res["findings"]]
    assert res["summary"]["ok"] and res["findings"] == []
    rules = res["rules"]
    # every rule that the demo exercises was actually checked, not skipped
    for rule in ("physical.conservation", "physical.yield", "physical.models", "physical.totals", "custody.signatures",
                 "custody.nonces", "custody.eligibility", "custody.settlement", "actors.eligibility", "origin.capacity",
                 "credits.non_negative", "credits.bookings", "credits.periods", "certificates.supply",
                 "certificates.evidence", "certificates.single_claim", "certificates.double_attribute", "views.match"):
        assert rules[rule]["checks"] > 0 and rules[rule]["failures"] == 0, rule
    # 4 one-transaction transfers x2 signatures + 5 two-step proposals x2 + 2 one-tx mb/palm ... all recovered
    assert res["summary"]["signatures"] == rules["custody.signatures"]["checks"] >= 20
    assert res["summary"]["views"] > 300
    # the lapse scheme's account: 450,000 of the first vintage lapsed at the end of period 1; the 50,000 of a
    # delivery cancelled in period 2 came back with their expired vintage and lapsed at once
    palm = [a for a in res["massBalance"] if a["characteristicName"] == "sustainable palm" and a["participant"] ==
            env.world.farm.participant_id][0]
    lapsed = [s for s in palm["statements"] if s["lapsed"]]
    assert [(s["period"], s["lapsed"]) for s in lapsed] == [(1, 450_000), (2, 50_000)]
    assert palm["statements"][0]["certifiedInputs"] == 700_000 and palm["statements"][0]["carriedOver"] == 650_000
    page = html_file.read_text()
    assert "<svg" in page and "All rules hold" in page and "<script" not in page


def test_audit_discovers_contracts_from_the_registry_alone(env):
    res = audit(env, views=False)
    got = res["summary"]["contracts"]
    a = {k: v.lower() for k, v in env.addresses.items()}
    assert got == {"registry": a["ParticipantRegistry"], "forwarder": a["CocForwarder"], "ledger": a["BatchLedger"],
                   "mass": a["MassBalance"], "certs": a["CertificateRegistry"]}
    # the deployment block is the registry's: nothing of the other deployment on this chain is replayed
    first = env.w3.eth.get_transaction_receipt(
        env.w3.eth.get_block(res["summary"]["fromBlock"], full_transactions=True)["transactions"][0]["hash"])
    assert first["contractAddress"].lower() == a["ParticipantRegistry"]


# ------------------------------------------------------------------------------------------------ claims
def test_claim_overstated_share_is_not_supported(env, capsys, tmp_path):
    yarn = env.ids["yarn"]
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"tokenId": yarn, "model": "controlled blending", "characteristic": "organic",
                                 "share": 40}))
    rc, res = cli(env, capsys, "--claim", str(claim), "--no-views")
    assert rc == 1
    c = res["claim"]
    assert c["verdict"] == "not supported"
    assert c["supported"]["sharePpm"] == 250_000 and c["supported"]["sharePercent"] == 25.0
    # the evidence chain names the transactions that created the yarn and its ancestors back to the origins
    created = {e["batchId"]: e["created"] for e in c["evidence"]}
    assert set(created) >= {yarn, env.ids["blend"], env.ids["o1"], env.ids["o2"], env.ids["conventional"]}
    receipt = env.w3.eth.get_transaction_receipt(created[yarn])
    assert receipt["status"] == 1 and created[yarn] in c["evidenceTxs"]
    [finding] = fails(res, "claims")
    assert "25 %" in finding["message"] and "40 %" in finding["message"]
    # the honest claim passes
    claim.write_text(json.dumps({"tokenId": yarn, "model": "controlled blending", "characteristic": 1, "share": 25}))
    rc, res = cli(env, capsys, "--claim", str(claim), "--no-views")
    assert rc == 0 and res["claim"]["verdict"] == "supported"


def test_claim_text_segregated_and_mass_balance(env, capsys):
    rc, res = cli(env, capsys, "--claim-text", "contains 100 % organic cotton", "--token", str(env.ids["seg_yarn"]),
                  "--no-views")
    assert rc == 0 and res["claim"]["supported"]["sharePercent"] == 100.0
    assert sorted(res["claim"]["supported"]["origins"]) == [env.ids["o1"], env.ids["o2"]]
    # mass balance never supports a content share ...
    rc, res = cli(env, capsys, "--claim-text", "contains 40 % organic cotton", "--token", str(env.ids["mb_lint"]),
                  "--no-views")
    assert rc == 1 and res["claim"]["verdict"] == "not supported"
    assert res["claim"]["supported"]["declaredCertifiedQuantity"] == 600_000
    # ... but the certified quantity declared on its accepted delivery (rejected and cancelled ones do not count)
    rc, res = cli(env, capsys, "--claim-text", "supports 0.6 t organic cotton", "--token", str(env.ids["mb_lint"]),
                  "--no-views")
    assert rc == 0 and res["claim"]["verdict"] == "supported"
    rc, res = cli(env, capsys, "--claim-text", "supports 0.7 t organic cotton", "--token", str(env.ids["mb_lint"]),
                  "--no-views")
    assert rc == 1 and res["claim"]["supported"]["declaredCertifiedQuantity"] == 600_000


def test_claim_against_revoked_issuance_is_reported(env, capsys, tmp_path):
    sb, w = env.sb, env.world
    cert = sb.issue(w.issuer, w.farm, w.brand, 8, material=w.raw_cotton, characteristic=w.organic)
    rid = sb.retire(w.brand, cert, 3, "Brand Ltd SS26")
    receipt = sb.tx(sb.c.certificates.functions.revoke(cert, h("double counted harvest")), w.issuer)
    rc, res = cli(env, capsys, "--retirement", str(rid), "--no-views")
    assert rc == 1
    x = res["retirement"]
    assert x["revoked"] is True and x["units"] == 3 and x["beneficiary"] == "Brand Ltd SS26"
    assert x["retiredByName"] == "Brand Ltd" and x["issuance"]["producerName"] == "Organic Farm Co"
    assert x["issuance"]["revocation"]["tx"] == "0x" + receipt["transactionHash"].hex().removeprefix("0x")
    assert x["issuance"]["revocation"]["outstanding"] == 5 and x["revokedAfterRetirement"] is True
    [finding] = fails(res, "claims")
    assert {e["event"] for e in finding["evidence"]} == {"CertificatesRetired", "IssuanceRevoked"}
    # a book & claim claim file on the same certificate is not supported either
    claim = tmp_path / "bc.json"
    claim.write_text(json.dumps({"tokenId": cert, "model": "book and claim", "characteristic": "organic", "units": 3}))
    rc, res = cli(env, capsys, "--claim", str(claim), "--no-views")
    assert rc == 1 and res["claim"]["verdict"] == "not supported" and "revoked" in res["claim"]["reason"]
    # while the valid retirement of the demo passes, with its pledge from a segregated batch
    rc, res = cli(env, capsys, "--retirement", str(env.ids["ret_batch"]), "--no-views")
    assert rc == 0 and res["retirement"]["verdict"] == "valid"
    assert res["retirement"]["issuance"]["pledge"]["source"] == "Batch"
    assert res["retirement"]["issuance"]["pledge"]["batchId"] == env.ids["seg_rest"]


# ------------------------------------------------------------------------------------------------ node comparison
class _FakeNode:
    """A real HTTP server on localhost answering the provenance endpoints with prepared JSON."""

    def __init__(self, answers: dict[str, object]):
        answers_ = answers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = answers_.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _node_answers(env) -> dict[str, object]:
    """What an honest node would answer, in the node's own JSON shape, as far as the replay can tell
    (the real node is compared in test_node_compare_real.py)."""
    r = audit(env, views=False)["_replay"]
    answers: dict[str, object] = {path: json.loads(json.dumps(node_document(doc)))
                                  for path, doc in expected_answers(r).items()}
    answers["/provenance/status"] = {"chain_id": env.w3.eth.chain_id, "last_indexed_block": env.w3.eth.block_number}
    return answers


def test_node_tampered_answer_is_reported(env, capsys):
    answers = _node_answers(env)
    with _FakeNode(answers) as node:
        rc, res = cli(env, capsys, "--node", node.url, "--no-views")
    assert rc == 0 and res["node"]["differences"] == [] and res["rules"]["node.match"]["checks"] > 1000
    assert [f for f in res["findings"] if f["rule"] == "node.match"] == []
    # the node's database is tampered with: the yarn claims 40 % and the brand holds more than it does
    yarn, brand = env.ids["yarn"], env.world.brand.address
    tampered = json.loads(json.dumps(answers))
    b = tampered[f"/provenance/batches/{yarn}"]["batch"]
    b["share_ppm"] = 400_000
    [holding] = [h for h in b["holders"] if h["address"] == brand.lower()]
    holding["address"] = brand  # checksummed, as the node writes it: not a difference
    holding["quantity"] += 1_000_000
    tampered[f"/provenance/certificates/{env.ids['cert_revoked']}"]["revoked"] = None
    with _FakeNode(tampered) as node:
        rc, res = cli(env, capsys, "--node", node.url, "--no-views")
    assert rc == 1
    diffs = {(d["endpoint"], d["field"]) for d in res["node"]["differences"]}
    assert diffs == {(f"/provenance/batches/{yarn}", "batch.share_ppm"),
                     (f"/provenance/batches/{yarn}", f"batch.holders[address={brand.lower()}].quantity"),
                     (f"/provenance/certificates/{env.ids['cert_revoked']}", "revoked")}
    share = [f for f in fails(res, "node.match") if f["details"]["field"] == "batch.share_ppm"][0]
    assert share["details"]["node"] == 400_000 and share["details"]["chain"] == 250_000
    assert share["evidence"][0]["event"] == "BatchCreated"
    assert env.w3.eth.get_transaction_receipt(share["evidence"][0]["tx"])["status"] == 1
    revoked = [f for f in fails(res, "node.match") if f["details"]["field"] == "revoked"][0]
    assert revoked["details"]["node"] is None and revoked["details"]["chain"]["outstanding"] > 0
    assert [e["event"] for e in revoked["evidence"]] == ["IssuanceRevoked"]


def test_node_missing_batch_is_reported(env, capsys):
    answers = _node_answers(env)
    del answers[f"/provenance/batches/{env.ids['o1']}"]
    with _FakeNode(answers) as node:
        rc, res = cli(env, capsys, "--node", node.url, "--no-views")
    assert rc == 1
    assert [d["node"] for d in res["node"]["differences"]] == ["HTTP 404"]


# ------------------------------------------------------------------------------------------------ views vs replay
def _erc1155_balance_slot(batch_id: int, holder: str) -> int:
    """OpenZeppelin 5 ERC1155: mapping(uint256 id => mapping(address => uint256)) _balances at slot 0."""
    inner = keccak(batch_id.to_bytes(32, "big") + (0).to_bytes(32, "big"))
    return int.from_bytes(keccak(bytes(12) + bytes.fromhex(holder[2:]) + inner), "big")


def test_view_disagreement_from_state_without_events_is_reported(env, capsys):
    """A real fault of the chain state: a balance written straight into storage (what a compromised
    validator or a corrupted state database would do) is not explained by any event."""
    w3, yarn, brand = env.w3, env.ids["yarn"], env.world.brand.address
    ledger = env.addresses["BatchLedger"]
    slot = _erc1155_balance_slot(yarn, brand.lower())
    assert int(w3.eth.get_storage_at(ledger, slot).hex(), 16) == 4_000_000  # the slot really is the balance
    w3.provider.make_request("anvil_setStorageAt", [ledger, hex(slot), "0x" + (9_000_000).to_bytes(32, "big").hex()])
    w3.provider.make_request("evm_mine", [])
    assert env.sb.balance(env.world.brand, yarn) == 9_000_000
    rc, res = cli(env, capsys)
    assert rc == 1
    [finding] = fails(res, "views.match")
    assert finding["details"]["view"].startswith("BatchLedger.balanceOf(")
    assert finding["details"]["contract_value"] == 9_000_000 and finding["details"]["replay_value"] == 4_000_000
    assert finding["evidence"][0]["event"] == "BatchCreated"
    assert [f["rule"] for f in res["findings"]] == ["views.match"]  # the events themselves are consistent


# ------------------------------------------------------------------------------------------------ independence
def test_abi_copy_matches_compiled_artifacts(artifacts):
    for name in CONTRACTS:
        shipped = json.loads((ABI_DIR / f"{name}.json").read_text())
        assert shipped == json.loads(json.dumps(extract(artifacts[name]))), f"run python -m auditor.abi.refresh ({name})"


def test_auditor_imports_nothing_from_the_node():
    code = ("import sys, auditor.cli, auditor.claims, auditor.report, auditor.nodecompare; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('node_api', 'sqlalchemy', 'fastapi', 'ape')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("args", [["--claim-text", "contains 10 % organic"]])
def test_cli_usage_error(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--rpc", "http://127.0.0.1:1", "--registry", "0x" + "11" * 20, *args])
    assert exc.value.code == 2
