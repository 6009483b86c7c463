"""The auditor against the real node: the node's app (uvicorn, its index following a real Anvil) loaded
with the demo scenario through its HTTP API; `coc-audit --node` compares every provenance answer with
its own replay of the chain. An honest node: zero findings. Then the node's index database is tampered
with directly (SQL on its SQLite file) and every tampered fact is reported as a failing node.match
finding with the events that prove the chain's value, and the auditor exits non-zero."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from node_api.core.anvil import EmbeddedAnvil

pytestmark = pytest.mark.chain  # starts its own chain and node in module fixtures

ROOT = Path(__file__).resolve().parents[2]

# the node's test server (tests/node/nodeserver.py: a module of its own, importable by file)
_spec = importlib.util.spec_from_file_location("_coc_nodeserver_audit", ROOT / "tests" / "node" / "nodeserver.py")
_nodeserver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_nodeserver)


def _rpc(url: str, method: str, params: list | None = None):
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
                      timeout=30).json()["result"]


@pytest.fixture(scope="module")
def real_node(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """Anvil + the node app (its provenance index on a SQLite file we know) + the demo scenario,
    with the index caught up with the chain's head."""
    data = tmp_path_factory.mktemp("audited-node")
    index_db = data / "index.db"
    anvil = EmbeddedAnvil.throwaway(accounts=20)
    anvil.start()
    server = None
    try:
        with pytest.MonkeyPatch.context() as mp:  # the index's database is read at startup
            mp.setenv("COC_INDEX_DATABASE_URL", f"sqlite:///{index_db}")
            server = _nodeserver.ServerThread(_nodeserver.node_settings(data, anvil.url)).start()
        from testkit.demo import run_demo

        ids = run_demo(server.url, admin_key=_nodeserver.ADMIN_KEY, seed="audit-real-node", log=lambda *_a: None)
        head = int(_rpc(anvil.url, "eth_blockNumber"), 16)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            deadline = time.monotonic() + 30
            while (client.get("/provenance/status").json().get("last_indexed_block") or -1) < head:
                assert time.monotonic() < deadline, "the node's index did not catch up with the chain"
                time.sleep(0.1)
        assert index_db.exists()
        yield SimpleNamespace(url=server.url, rpc=anvil.url, registry=server.node.addresses["ParticipantRegistry"],
                              index_db=index_db, ids=ids, head=head)
    finally:
        if server is not None:
            server.stop()
        anvil.stop()


def coc_audit(node: SimpleNamespace, tmp_path: Path) -> tuple[int, dict, str]:
    """The coc-audit command line, as an auditor runs it: (exit status, JSON report, text summary)."""
    report = tmp_path / f"report-{time.monotonic_ns()}.json"
    env = {k: v for k, v in os.environ.items() if k != "COC_AUDIT_NODE_API_KEY"}
    out = subprocess.run([sys.executable, "-m", "auditor", "--rpc", node.rpc, "--registry", node.registry,
                          "--node", node.url, "--quiet", "--report-json", str(report)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    return out.returncode, json.loads(report.read_text()), out.stdout


def test_node_compare_honest_node_has_no_findings(real_node, tmp_path):
    rc, res, text = coc_audit(real_node, tmp_path)
    assert rc == 0, [f["message"] for f in res["findings"]]
    assert res["findings"] == [] and res["summary"]["ok"]
    assert res["summary"]["toBlock"] == real_node.head
    ids = real_node.ids
    # asked about every batch (its answer, EPCIS document and passport), every certificate issuance, every
    # participant (the demo's and the admin) and every transaction
    assert res["node"]["asked"] == (3 * len(ids["batches"]) + len(ids["certificates"]) + len(ids["participants"]) + 1
                                    + res["summary"]["operations"])
    assert res["node"]["differences"] == []
    assert res["rules"]["node.match"]["checks"] > 2000 and res["rules"]["node.match"]["failures"] == 0
    assert "RESULT: everything holds" in text


# ------------------------------------------------------------------------------------------------ tampering
def _row(db: sqlite3.Connection, sql: str, *args) -> dict:
    cur = db.execute(sql, args)
    rows = [dict(zip([c[0] for c in cur.description], r)) for r in cur.fetchall()]
    assert len(rows) == 1, (sql, rows)
    return rows[0]


def _insert(db: sqlite3.Connection, table: str, row: dict) -> None:
    db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))


def test_node_compare_tampered_index_is_caught(real_node, tmp_path):
    ids = real_node.ids
    b, tr, certs = ids["batches"], ids["transfers"], ids["certificates"]
    brand = ids["addresses"]["brand"].lower()
    brand_pid = ids["participants"]["brand"]
    declared, cancelled, revoked = tr["cracker_polymer"], tr["spinner_weaver_b_cancelled"], certs["verified_revoked"]
    db = sqlite3.connect(real_node.index_db, timeout=30)
    # what the honest index says, kept to put it back afterwards
    share = _row(db, "SELECT share FROM idx_batches WHERE batch_id = ?", b["yarn"])["share"]
    edge = _row(db, "SELECT quantity FROM idx_edges WHERE child_id = ? AND parent_id = ?", b["naphtha_blend"],
                b["fossil_naphtha"])["quantity"]
    transfer = _row(db, "SELECT * FROM idx_transfers WHERE transfer_id = ?", declared)
    status = _row(db, "SELECT status FROM idx_transfers WHERE transfer_id = ?", cancelled)["status"]
    revocation = _row(db, "SELECT * FROM idx_revocations WHERE certificate_id = ?", revoked)
    move = _row(db, "SELECT block_number, log_index, position, value FROM idx_token_moves WHERE contract = 'ledger' "
                "AND token_id = ? AND to_address = ?", b["fabric"], brand)
    assert (share, edge, status, transfer["certified_quantity"]) == (1_000_000, 300_000_000, "cancelled", 30_000_000)
    try:
        with db:
            # the yarn claims 40 % organic instead of 100 %
            db.execute("UPDATE idx_batches SET share = 400000 WHERE batch_id = ?", (b["yarn"],))
            # the blend took 1 t less fossil naphtha than it did
            db.execute("UPDATE idx_edges SET quantity = quantity - 1000000 WHERE child_id = ? AND parent_id = ?",
                       (b["naphtha_blend"], b["fossil_naphtha"]))
            # the declared delivery cracker -> polymer (30 t of bio-circular credits) is gone
            db.execute("DELETE FROM idx_transfers WHERE transfer_id = ?", (declared,))
            # the cancelled offer of the second yarn lot now reads as accepted
            db.execute("UPDATE idx_transfers SET status = 'accepted' WHERE transfer_id = ?", (cancelled,))
            # the revoked issuance is no longer revoked
            db.execute("DELETE FROM idx_revocations WHERE certificate_id = ?", (revoked,))
            # the brand received 0.1 t more fabric than it did
            db.execute("UPDATE idx_token_moves SET value = value + 100000 WHERE contract = 'ledger' AND "
                       "block_number = ? AND log_index = ? AND position = ?",
                       (move["block_number"], move["log_index"], move["position"]))
        rc, res, text = coc_audit(real_node, tmp_path)
    finally:
        with db:
            db.execute("UPDATE idx_batches SET share = ? WHERE batch_id = ?", (share, b["yarn"]))
            db.execute("UPDATE idx_edges SET quantity = ? WHERE child_id = ? AND parent_id = ?",
                       (edge, b["naphtha_blend"], b["fossil_naphtha"]))
            db.execute("DELETE FROM idx_transfers WHERE transfer_id = ?", (declared,))
            _insert(db, "idx_transfers", transfer)
            db.execute("UPDATE idx_transfers SET status = ? WHERE transfer_id = ?", (status, cancelled))
            db.execute("DELETE FROM idx_revocations WHERE certificate_id = ?", (revoked,))
            _insert(db, "idx_revocations", revocation)
            db.execute("UPDATE idx_token_moves SET value = ? WHERE contract = 'ledger' AND block_number = ? AND "
                       "log_index = ? AND position = ?",
                       (move["value"], move["block_number"], move["log_index"], move["position"]))
        db.close()

    assert rc == 1
    assert {f["rule"] for f in res["findings"]} == {"node.match"}
    assert all(f["severity"] == "fail" for f in res["findings"])
    assert res["summary"]["failures"] == len(res["findings"]) == len(res["node"]["differences"])
    assert "[FAIL] node.match" in text and f"RESULT: {len(res['findings'])} failing finding(s)" in text
    found = {(f["details"]["endpoint"], f["details"]["field"]): f for f in res["findings"]}

    def finding(endpoint: str, field: str, node, chain, events: list[str]) -> None:
        f = found.get((endpoint, field))
        assert f is not None, (endpoint, field, sorted(found))
        assert (f["details"]["node"], f["details"]["chain"]) == (node, chain), f
        assert [e["event"] for e in f["evidence"]][: len(events)] == events, f["evidence"]
        for e in f["evidence"]:  # every piece of evidence is a real log of a successful transaction
            receipt = _rpc(real_node.rpc, "eth_getTransactionReceipt", [e["tx"]])
            assert receipt["status"] == "0x1" and int(receipt["blockNumber"], 16) == e["block"]
            assert any(int(lg["logIndex"], 16) == e["logIndex"] for lg in receipt["logs"])

    batch = "/provenance/batches/{}".format
    finding(batch(b["yarn"]), "batch.share_ppm", 400_000, 1_000_000, ["BatchCreated", "TransformRecorded"])
    finding(batch(b["yarn"]), "claim.percent", "40", "100", ["BatchCreated"])
    finding(batch(b["naphtha_blend"]), "batch.parents[1].quantity", 299_000_000, 300_000_000, ["BatchCreated"])
    finding(batch(b["fossil_naphtha"]), f"batch.children[batch_id={b['naphtha_blend']}].quantity", 299_000_000,
            300_000_000, ["BatchCreated"])
    for bid in (b["ethylene"], b["pe"], b["film"]):  # the transfer and everything made of its batch
        f = found[(batch(bid), f"custody[transfer_id={declared}]")]
        assert f["details"]["node"] is None and f["details"]["chain"]["certified_quantity"] == 30_000_000
        assert f["details"]["chain"]["status"] == "accepted"
        assert [e["event"] for e in f["evidence"]] == ["CustodyProposed", "CustodyAccepted"]
    finding(batch(b["ethylene"]), "claim.certified_quantity", 0, 30_000_000,
            ["BatchCreated", "CustodyProposed", "CustodyAccepted"])
    finding(batch(b["ethylene"]), "claim.kind", "none", "supply_chain", ["BatchCreated", "CustodyProposed"])
    finding(batch(b["yarn_lot_b"]), f"custody[transfer_id={cancelled}].status", "accepted", "cancelled",
            ["CustodyProposed", "CustodyCancelled"])
    f = found[(f"/provenance/certificates/{revoked}", "revoked")]
    assert f["details"]["node"] is None and f["details"]["chain"]["outstanding"] == 50
    assert f["details"]["chain"]["tx_hash"] == revocation["tx_hash"]
    assert [e["event"] for e in f["evidence"]] == ["IssuanceRevoked"]
    finding(batch(b["fabric"]), f"batch.holders[address={brand}].quantity", 1_600_000, 1_500_000, ["BatchCreated"])
    finding(f"/provenance/participants/{brand_pid}", f"batches_held[batch_id={b['fabric']},wallet={brand}].quantity",
            1_600_000, 1_500_000, ["BatchCreated"])

    # nothing else: every other difference is the same tampered fact seen through another answer
    # (the ancestry, descendants and attribution of the batches downstream, the claim's evidence)
    blend, fossil, bio = b["naphtha_blend"], b["fossil_naphtha"], b["bio_naphtha"]
    downstream = {b["naphtha_blend"], b["ethylene"], b["pe"], b["film"]}
    # the documents (EPCIS, passport) show the same tampered facts: the yarn's share, the deleted delivery
    documents = {k: f for k, f in found.items() if k[0].endswith(("/epcis", "/passport")) or "/tx/" in k[0]}
    finding(batch(b["yarn"]) + "/passport", "product.share_ppm", 400_000, 1_000_000, ["BatchCreated"])
    for bid in (b["ethylene"], b["pe"], b["film"]):
        assert found[(batch(bid) + "/passport", f"custody[transfer_id={declared}]")]["details"]["node"] is None
        missing = [f for (endpoint, field), f in documents.items() if endpoint == batch(bid) + "/epcis"]
        assert sorted(f["evidence"][0]["event"] for f in missing) == ["CustodyAccepted", "CustodyProposed"]
        assert all(f["details"]["node"] is None and f["details"]["chain"]["coc:transferId"] == declared
                   for f in missing)
    for endpoint, field in found:
        if (endpoint, field) in documents:
            assert (endpoint.endswith("/passport") and (
                field == "product.share_ppm" and endpoint == batch(b["yarn"]) + "/passport"
                or field == f"custody[transfer_id={declared}]")
                or endpoint.endswith("/epcis") and documents[(endpoint, field)]["details"]["chain"]["coc:transferId"]
                == declared), (endpoint, field)
            continue
        bid = int(endpoint.rsplit("/", 1)[1]) if endpoint.startswith("/provenance/batches/") else None
        assert (
            field.startswith("batch.") and bid in (b["yarn"], blend, fossil, b["fabric"])
            or field in ("claim.percent", "claim.claimable_quantity") and bid == b["yarn"]  # the tampered share
            or field == f"lineage.nodes[batch_id={b['yarn']}].share_ppm"
            or field == f"lineage.edges[child_id={blend},parent_id={fossil}].quantity" and bid in downstream
            or field == f"descendants.edges[child_id={blend},parent_id={fossil}].quantity" and bid in (bio, fossil)
            or field.startswith((f"lineage.origins[batch_id={bio}].", f"lineage.origins[batch_id={fossil}]."))
            and bid in downstream
            or field.startswith("custody[") and bid in (b["ethylene"], b["pe"], b["film"], b["yarn_lot_b"])
            or field.startswith("claim.") and bid == b["ethylene"]
            or endpoint == f"/provenance/certificates/{revoked}" and field == "revoked"
            or endpoint == f"/provenance/participants/{brand_pid}" and field.startswith(f"batches_held[batch_id={b['fabric']},")
        ), (endpoint, field)


def test_node_compare_times_tx_facts_epcis_and_passport(real_node, tmp_path):
    """Issue 10: the comparison covers block times (an origin moved 400 days back), the transaction facts of
    /provenance/tx/{hash}, the EPCIS documents and the passports. Each is tampered with in the index and
    reported on its own endpoint, with the events that prove the chain's value."""
    b = real_node.ids["batches"]
    origin, yarn = b["seed_cotton"], b["yarn"]
    db = sqlite3.connect(real_node.index_db, timeout=30)
    batch_time = _row(db, "SELECT block_time FROM idx_batches WHERE batch_id = ?", origin)["block_time"]
    origin_row = _row(db, "SELECT block_time, dds_reference FROM idx_origins WHERE batch_id = ?", origin)
    yarn_tx = _row(db, "SELECT tx_hash, block_number, log_index FROM idx_batches WHERE batch_id = ?", yarn)
    event = _row(db, "SELECT args FROM idx_events WHERE block_number = ? AND log_index = ?",
                 yarn_tx["block_number"], yarn_tx["log_index"])
    loss = _row(db, "SELECT loss FROM idx_transforms WHERE output_batch_id = ?", yarn)["loss"]
    moved = batch_time - 400 * 86_400
    args = json.loads(event["args"])
    assert args["batchId"] == yarn
    try:
        with db:
            # the origin created 400 days earlier than it was
            db.execute("UPDATE idx_batches SET block_time = ? WHERE batch_id = ?", (moved, origin))
            db.execute("UPDATE idx_origins SET block_time = ? WHERE batch_id = ?", (moved, origin))
            # a transaction fact: the yarn's BatchCreated names 1 t more
            db.execute("UPDATE idx_events SET args = ? WHERE block_number = ? AND log_index = ?",
                       (json.dumps(dict(args, quantity=args["quantity"] + 1_000_000)), yarn_tx["block_number"],
                        yarn_tx["log_index"]))
            # an EPCIS field: the origin's due diligence statement reference
            db.execute("UPDATE idx_origins SET dds_reference = 'EUDR-DDS-FORGED' WHERE batch_id = ?", (origin,))
            # a passport field: the yarn's spinning lost less than it did
            db.execute("UPDATE idx_transforms SET loss = ? WHERE output_batch_id = ?", (loss - 100_000, yarn))
        rc, res, _text = coc_audit(real_node, tmp_path)
    finally:
        with db:
            db.execute("UPDATE idx_batches SET block_time = ? WHERE batch_id = ?", (batch_time, origin))
            db.execute("UPDATE idx_origins SET block_time = ?, dds_reference = ? WHERE batch_id = ?",
                       (origin_row["block_time"], origin_row["dds_reference"], origin))
            db.execute("UPDATE idx_events SET args = ? WHERE block_number = ? AND log_index = ?",
                       (event["args"], yarn_tx["block_number"], yarn_tx["log_index"]))
            db.execute("UPDATE idx_transforms SET loss = ? WHERE output_batch_id = ?", (loss, yarn))
        db.close()
    assert rc == 1
    assert {f["rule"] for f in res["findings"]} == {"node.match"}
    found = {(f["details"]["endpoint"], f["details"]["field"]): f for f in res["findings"]}

    def finding(endpoint: str, field: str, node, chain, event: str) -> dict:
        f = found.get((endpoint, field))
        assert f is not None, (endpoint, field, sorted(k for k in found if k[0] == endpoint))
        assert (f["details"]["node"], f["details"]["chain"]) == (node, chain), f["details"]
        assert f["evidence"][0]["event"] == event
        for e in f["evidence"]:
            receipt = _rpc(real_node.rpc, "eth_getTransactionReceipt", [e["tx"]])
            assert receipt["status"] == "0x1" and int(receipt["blockNumber"], 16) == e["block"]
            assert any(int(lg["logIndex"], 16) == e["logIndex"] for lg in receipt["logs"])
        return f

    # the time of the origin's creation
    finding(f"/provenance/batches/{origin}", "batch.time", moved, batch_time, "BatchCreated")
    # the transaction fact
    finding(f"/provenance/tx/{yarn_tx['tx_hash']}", f"events[log_index={yarn_tx['log_index']}].args.quantity",
            args["quantity"] + 1_000_000, args["quantity"], "BatchCreated")
    # the EPCIS document of the yarn: its origin's commissioning event
    epcis = [f for (endpoint, field), f in found.items() if endpoint == f"/provenance/batches/{yarn}/epcis"
             and field.endswith(".ilmd.coc:ddsReference")]
    assert [(f["details"]["node"], f["details"]["chain"]) for f in epcis] == [("EUDR-DDS-FORGED",
                                                                              origin_row["dds_reference"])]
    assert {e["event"] for e in epcis[0]["evidence"]} == {"BatchCreated", "OriginRecorded"}
    # the passport of the yarn
    finding(f"/provenance/batches/{yarn}/passport", "product.transform.loss", loss - 100_000, loss, "BatchCreated")
    # every finding is one of the four tampered facts seen through some answer
    for f in res["findings"]:
        d = f["details"]
        assert (d["node"], d["chain"]) in {(moved, batch_time), (args["quantity"] + 1_000_000, args["quantity"]),
                                           ("EUDR-DDS-FORGED", origin_row["dds_reference"]),
                                           (loss - 100_000, loss)} or d["field"].endswith("eventTime"), d
