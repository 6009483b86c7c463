"""Provenance answers from the index for the demo scenario: lineage, custody, claims per model,
participants, certificates, passports; every fact traceable to a transaction on chain."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import text

from node_api.index.read import batches, certificates, common, custody, lineage, participants, provenance, transactions
from node_api.index.read.reference import reference
from testkit.sandbox import h


@pytest.fixture(scope="module")
def conn(indexed):
    with indexed.engine.connect() as c:
        yield c


def test_lineage_product_reaches_both_origins_with_exact_quantities(conn, scenario, world_session):
    w = world_session
    lin = lineage.lineage(conn, scenario.product)
    assert lin["ancestor_count"] == 5  # yarn, lint, merged and the two origins
    assert {n["batch_id"] for n in lin["nodes"]} == {scenario.origin_a, scenario.origin_b, scenario.merged,
                                                       scenario.lint, scenario.yarn, scenario.product}
    by_id = {o["batch_id"]: o for o in lin["origins"]}
    assert set(by_id) == {scenario.origin_a, scenario.origin_b}
    # 3 t of 4.165 t of yarn; the yarn came from all the lint, the lint from all the merged 14 t
    share = Fraction(3_000_000, 4_165_000)
    assert by_id[scenario.origin_a]["quantity_taken"] == pytest.approx(float(8_000_000 * share), abs=1e-6)
    assert by_id[scenario.origin_b]["quantity_taken"] == pytest.approx(float(6_000_000 * share), abs=1e-6)
    assert by_id[scenario.origin_a]["contribution"] + by_id[scenario.origin_b]["contribution"] == pytest.approx(3_000_000)
    assert by_id[scenario.origin_a]["contribution_percent"] == "~57.14"
    a = by_id[scenario.origin_a]
    assert a["producer"] == "Organic Farm Co" and a["site"] == "Farm Gujarat"
    assert a["geolocation_hash"] == "0x" + h(f"geojson:{w.farm.name}:{w.raw_cotton}").hex()
    assert a["path"] == [scenario.origin_a, scenario.merged, scenario.lint, scenario.yarn, scenario.product]
    assert set(a["path_models"]) == {"segregated"} and a["weakest_model_on_paths"] == "segregated"
    edges = {(e["parent_id"], e["child_id"]): e["quantity"] for e in lin["edges"]}
    assert edges[(scenario.origin_a, scenario.merged)] == 8_000_000
    assert edges[(scenario.merged, scenario.lint)] == 14_000_000
    assert edges[(scenario.yarn, scenario.product)] == 3_000_000


def test_lineage_origin_carries_producer_certification_at_creation(conn, scenario, world_session):
    w = world_session
    lin = lineage.lineage(conn, scenario.product)
    o = next(o for o in lin["origins"] if o["batch_id"] == scenario.origin_b)
    at = o["certification_at_creation"]
    assert at["certification_id"] == w.certifications[w.farm2.name] == o["certification_id"]
    assert at["status_at_time"] == "active" and at["valid_at_time"] is True and at["scheme"] == "GOTS"
    c = lin["certifications"][at["certification_id"]]
    assert c["holder"] == "Second Farm Ltd" and c["certifier"] == "Control Union" and c["scheme"] == "GOTS"
    assert "segregated" in c["models"] and c["status_now"] == "active"


def test_descendants_of_origin_reach_the_product(conn, scenario):
    d = batches.descendants(conn, scenario.origin_a, reference(conn))
    ids = {n["batch_id"] for n in d["nodes"]}
    assert {scenario.merged, scenario.lint, scenario.yarn, scenario.product, scenario.rest} <= ids
    assert scenario.origin_b not in ids and scenario.blend not in ids


def test_custody_chain_has_signer_receiver_and_time_of_each_transfer(conn, scenario, world_session, w3):
    w = world_session
    chain = custody.custody(conn, scenario.product, reference(conn))
    moves = [(t["batch_id"], t["signer"]["participant"], t["receiver"]["participant"], t["status"]) for t in chain]
    assert moves == [
        (scenario.origin_a, "Organic Farm Co", "Ginning Mill", "accepted"),
        (scenario.origin_b, "Second Farm Ltd", "Ginning Mill", "accepted"),
        (scenario.origin_a, "Organic Farm Co", "Ginning Mill", "rejected"),
        (scenario.lint, "Ginning Mill", "Spinning Mill", "accepted"),
        (scenario.product, "Spinning Mill", "Brand Ltd", "accepted"),
    ]
    last = chain[-1]
    assert last["signer"]["address"] == w.spinner.address and last["receiver"]["address"] == w.brand.address
    block = w3.eth.get_block(last["settled"]["block_number"])
    assert last["settled"]["time"] == block["timestamp"]
    assert w3.eth.get_transaction_receipt(last["settled"]["tx_hash"])["blockNumber"] == last["settled"]["block_number"]
    two_step = chain[1]
    assert two_step["proposed"]["tx_hash"] != two_step["settled"]["tx_hash"]  # propose, then a separate accept


def test_claim_segregated_states_exact_percent_from_origins(conn, scenario):
    c = provenance.provenance(conn, scenario.product)["claim"]
    assert c["kind"] == "content" and c["percent"] == "100" and c["model"] == "segregated"
    assert c["text"].startswith("Segregated: this cotton yarn contains 100 % organic material from Organic Farm Co, "
                                f"Farm Gujarat (origin batch #{scenario.origin_a}, ~57.14 % of this batch)")
    assert "Second Farm Ltd, Farm Izmir" in c["text"] and "(GOTS)" in c["text"]
    assert [o["batch_id"] for o in c["origins"]] == [scenario.origin_a, scenario.origin_b]


def test_claim_controlled_blending_states_recorded_share(conn, scenario):
    p = provenance.provenance(conn, scenario.blend)
    assert p["batch"]["share_ppm"] == 400_000
    c = p["claim"]
    assert c["kind"] == "content_share" and c["percent"] == "40"
    assert "contains 40 % organic material, the share recorded on chain" in c["text"]
    assert [o["batch_id"] for o in c["origins"]] == [scenario.seg_c]  # the uncertified origin is not cited as organic


def test_claim_mass_balance_is_supply_chain_claim_not_content(conn, scenario):
    c = provenance.provenance(conn, scenario.mb_origin)["claim"]
    assert c["kind"] == "supply_chain" and c["percent"] is None
    assert c["certified_quantity"] == 5_000_000  # 3 t declared to the ginner + 2 t declared to the brand
    assert [d["certified_quantity"] for d in c["declarations"]] == [3_000_000, 2_000_000]
    assert "not a statement of content" in c["text"] and "contains" not in c["text"].split("may contain")[0]
    assert "%" not in c["text"]


def test_claim_book_and_claim_supports_retired_units_with_retirement_ids(conn, scenario):
    c = provenance.provenance(conn, scenario.released)["claim"]
    # issue 10, A: the released batch is uncertified; the retired units support a claim of their
    # beneficiary, never a label of the batch (docs/claims.md C10)
    assert c["model"] == "uncertified" and c["kind"] == "none"
    (bc,) = c["book_and_claim"]
    assert bc["certificate_id"] == scenario.certificate_id and bc["units_retired"] == 1 and bc["units_supporting"] == 1
    assert bc["retirement_ids"] == [str(scenario.retirement_id)]
    assert f"support 1 units (1 t each) of organic production" in c["text"]
    assert "continues as uncertified batch #%d" % scenario.released in c["text"]


def test_claim_uncertified_origin_claims_nothing(conn, scenario):
    c = provenance.provenance(conn, scenario.unc_d)["claim"]
    assert c["kind"] == "none" and c["percent"] is None and c["text"].startswith("Uncertified")


def test_participant_shows_batches_held_in_transit_and_credit_statements(conn, scenario, world_session):
    w = world_session
    spinner = participants.participant(conn, w.spinner.participant_id, reference(conn))
    held = {b["batch_id"]: b["quantity"] for b in spinner["batches_held"]}
    assert held == {scenario.rest: 165_000}  # 1.165 t minus the 1 t in transit to the brand
    (out,) = spinner["in_transit"]["outgoing"]
    assert out["transfer_id"] == scenario.pending_transfer and out["quantity"] == 1_000_000
    brand = participants.participant(conn, w.brand.participant_id, reference(conn))
    assert brand["in_transit"]["incoming"][0]["transfer_id"] == scenario.pending_transfer
    assert {b["batch_id"]: b["quantity"] for b in brand["batches_held"]} == {scenario.product: 2_000_000,
                                                                            scenario.mb_origin: 5_000_000}
    farm = participants.participant(conn, w.farm.participant_id, reference(conn))
    (acct,) = farm["credit_accounts"]
    assert acct["balance"] == 3_000_000 and acct["characteristic"] == "organic" and acct["scheme"] == "GOTS"
    assert [(s["period"], s["opening"], s["inflow"], s["outflow"], s["closing"]) for s in acct["statements"]] == [
        (0, 0, 5_000_000, 3_000_000, 2_000_000), (1, 2_000_000, 1_000_000, 0, 3_000_000)]
    assert acct["closed_periods"][0]["period"] == 0 and acct["closed_periods"][0]["closing"] == 2_000_000
    ginner = participants.participant(conn, w.ginner.participant_id, reference(conn))
    assert ginner["credit_accounts"][0]["balance"] == 1_000_000  # 3 t in, 2 t declared onwards


def test_certificate_shows_issuance_holders_over_time_and_retirements(conn, scenario, world_session):
    c = certificates.certificate(conn, scenario.certificate_id, reference(conn))
    assert c["issuer"] == "Textile Registry" and c["producer"] == "Organic Farm Co" and c["amount"] == 1
    assert c["pledge"]["batch_id"] == scenario.pledged and c["pledge"]["released_batch_id"] == scenario.released
    assert [x["kind"] for x in c["holders_over_time"]] == ["issued", "retired"]
    assert c["holders_over_time"][0]["holders_after"] == {world_session.brand.address: 1}
    assert c["holders"] == [] and c["retired"] == 1
    (r,) = c["retirements"]
    assert r["retirement_id"] == str(scenario.retirement_id) and r["beneficiary"] == "Brand Ltd spring collection"


def test_every_fact_names_a_transaction_in_its_block(conn, scenario, w3):
    facts = provenance.provenance(conn, scenario.product)["facts"]
    assert len(facts) >= 8
    for f in facts:
        assert w3.eth.get_transaction_receipt(f["tx_hash"])["blockNumber"] == f["block_number"]
    tx = transactions.tx_facts(conn, facts[0]["tx_hash"])
    assert tx["block_number"] == facts[0]["block_number"] and tx["events"]


def test_passport_lists_identity_origins_claims_and_evidence(conn, scenario):
    p = provenance.passport(conn, scenario.product)
    assert p["type"] == "DigitalProductPassport" and p["product"]["token_id"] == scenario.product
    assert [o["batch_id"] for o in p["origins"]] == [scenario.origin_a, scenario.origin_b]
    assert p["claims"][0]["percent"] == "100"
    kinds = {e["type"] for e in p["evidence"]}
    assert {"geolocation", "production_record", "eudr_due_diligence_statement"} <= kinds
    assert {c["holder"] for c in p["certifications"]} == {"Organic Farm Co", "Second Farm Ltd"}


def test_unknown_token_answers_none(conn):
    assert provenance.provenance(conn, 10**9) is None and lineage.lineage(conn, 10**9) is None


def test_lineage_sql_walks_edges_by_index_not_by_scan(conn, scenario):
    plan = " | ".join(r.detail for r in conn.execute(text(
        "EXPLAIN QUERY PLAN " + common.ANCESTORS_CTE + " SELECT id FROM anc"), {"root": scenario.product}))
    assert "SEARCH idx_edges" in plan and "SCAN idx_edges" not in plan, plan
    plan = " | ".join(r.detail for r in conn.execute(text(
        "EXPLAIN QUERY PLAN " + common.DESCENDANTS_CTE + " SELECT id FROM des"), {"root": scenario.origin_a}))
    assert "SEARCH idx_edges" in plan and "SCAN idx_edges" not in plan, plan


def test_participant_certifications_valid_as_of_the_index_head(indexed, world_session):
    """A participant's certifications carry their status and validity at the last indexed block:
    the world's certifications are active and within their window there."""
    with indexed.engine.connect() as conn:
        answer = participants.participant(conn, world_session.farm.participant_id, reference(conn))
    assert answer["as_of"]["block_number"] > 0
    certs = answer["certifications"]
    assert certs, "the farm has certifications"
    assert all(c["status_at_time"] == "active" and c["valid_at_time"] for c in certs), certs
