"""Every finding carries the transaction, block and log index of the events that prove it (issue 10), at
every site that reports one: rules broken in the replay, claims, retirements, views, the node comparison
(including its status checks, which no single event proves: they cite the position of the replay)."""

from __future__ import annotations

import json

from test_auditor import _FakeNode, _erc1155_balance_slot, _node_answers, cli

from auditor.model import Findings, is_ref
from testkit.sandbox import h


def assert_refs(env, findings: list[dict]) -> None:
    assert findings
    for f in findings:
        refs = [e for e in f["evidence"] if is_ref(e)]
        assert refs, f
        for e in refs:
            assert isinstance(e["block"], int) and isinstance(e["logIndex"], int), f
            receipt = env.w3.eth.get_transaction_receipt(e["tx"])
            assert receipt["blockNumber"] == e["block"], f
            assert any(lg["logIndex"] == e["logIndex"] for lg in receipt["logs"]), f


def test_claim_and_retirement_findings_carry_refs(env, capsys):
    sb, w = env.sb, env.world
    cert = sb.issue(w.issuer, w.farm, w.brand, 4, material=w.raw_cotton, characteristic=w.organic)
    rid = sb.retire(w.brand, cert, 1, "Brand Ltd")
    sb.tx(sb.c.certificates.functions.revoke(cert, h("error")), w.issuer)
    rc, res = cli(env, capsys, "--no-views", "--claim-text", "contains 40 % organic cotton", "--token",
                  str(env.ids["yarn"]))
    assert rc == 1
    assert_refs(env, res["findings"])
    rc, res = cli(env, capsys, "--no-views", "--claim-text", "contains organic cotton", "--token",
                  str(env.ids["mb_lint"]))
    assert rc == 1 and "(C8)" in res["claim"]["reason"]
    assert_refs(env, res["findings"])
    rc, res = cli(env, capsys, "--no-views", "--retirement", str(rid))
    assert rc == 1
    assert_refs(env, res["findings"])
    assert {e["event"] for e in res["findings"][0]["evidence"]} == {"CertificatesRetired", "IssuanceRevoked"}


def test_view_and_node_findings_carry_refs(env, capsys):
    answers = _node_answers(env)
    tampered = json.loads(json.dumps(answers))
    tampered["/provenance/status"]["chain_id"] = 1  # a status finding: no single event proves it
    with _FakeNode(tampered) as node:
        rc, res = cli(env, capsys, "--node", node.url, "--no-views")
    assert rc == 1 and any("chain 1" in f["message"] for f in res["findings"])
    assert_refs(env, res["findings"])
    tampered = json.loads(json.dumps(answers))
    tampered[f"/provenance/batches/{env.ids['yarn']}"]["batch"]["share_ppm"] = 1
    del tampered[f"/provenance/batches/{env.ids['o1']}"]
    with _FakeNode(tampered) as node:
        rc, res = cli(env, capsys, "--node", node.url, "--no-views")
    assert rc == 1 and len(res["findings"]) >= 2
    assert_refs(env, res["findings"])
    w3, yarn, brand = env.w3, env.ids["yarn"], env.world.brand.address
    ledger = env.addresses["BatchLedger"]
    slot = _erc1155_balance_slot(yarn, brand.lower())
    w3.provider.make_request("anvil_setStorageAt", [ledger, hex(slot), "0x" + (7).to_bytes(32, "big").hex()])
    w3.provider.make_request("evm_mine", [])
    rc, res = cli(env, capsys)
    assert rc == 1
    assert_refs(env, res["findings"])


def test_a_finding_without_events_cites_the_replay_position():
    f = Findings()
    f.add("physical.totals", "before any event", [])
    assert f.items[0].evidence == []  # nothing replayed yet: nothing to cite
    f.position = {"event": "BatchCreated", "tx": "0x" + "ab" * 32, "block": 7, "logIndex": 2}
    f.add("physical.totals", "a total", [])
    f.add("node.match", "a partial reference", [{"event": "X", "tx": "0x" + "cd" * 32}])
    for item in f.items[1:]:
        assert any(is_ref(e) and e["block"] == 7 and e["logIndex"] == 2 for e in item.evidence)
