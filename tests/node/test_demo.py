"""The whole demo scenario through the HTTP API, and what it left on chain."""

from __future__ import annotations


def test_demo_loads_both_chains(demo, api, chain):
    b = demo.batches
    # textile, segregated: fabric woven from yarn lot A, traced back to the farm's origin batch
    fabric = api.get(f"/batches/{b['fabric']}").json()
    assert fabric["modelName"] == "segregated" and fabric["origin"] is None
    assert fabric["parents"] == [{"batchId": b["yarn_lot_a"], "quantity": 2_000_000}]
    assert chain.ledger.functions.batch(b["fabric"]).call()[5] == b["seed_cotton"]  # origin id carried down
    brand = demo.addresses["brand"]
    held = {x["batchId"]: x["quantity"] for x in api.get(f"/participants/{brand}/batches").json()["batches"]}
    assert held[b["fabric"]] == 1_500_000  # 1.9 t received, 0.4 t sold
    assert api.get(f"/batches/transfers/{demo.transfers['spinner_weaver_b_cancelled']}").json()["status"] == "cancelled"
    assert api.get(f"/batches/transfers/{demo.transfers['farm_ginner']}").json()["status"] == "accepted"
    # chemicals, mass balance: credits converted with the process factors and delivered with declarations
    credits = {(a["material"]): a["balance"] for a in
               api.get(f"/participants/{demo.addresses['converter']}/credits").json()["accounts"]}
    assert credits[demo.materials["film"]] == 19_000_000 and credits[demo.materials["pe"]] == 0
    # book & claim: 9 t pledged -> 9 certificates; 5 to the converter, 3 retired; the verified issuance revoked
    certs = {c["certificateId"]: c for c in
             api.get(f"/participants/{demo.addresses['converter']}/certificates").json()["certificates"]}
    assert certs[demo.certificates["pe_credits"]]["amount"] == 2
    ret = api.get(f"/certificates/retirements/{demo.retirements['converter_claim']}").json()
    assert ret["amount"] == 3 and ret["retiredBy"] == demo.participants["converter"]
    assert api.get(f"/certificates/{demo.certificates['verified_revoked']}").json()["revoked"] is True
