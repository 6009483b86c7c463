"""The whole demo scenario through the HTTP API, and what it left on chain."""

from __future__ import annotations


def test_demo_loads_both_chains(demo, api):
    assert len(demo.batches) >= 12
    fabric = api.get(f"/batches/{demo.batches['fabric']}").json()
    assert fabric["modelName"] == "segregated"
    brand = demo.addresses["brand"]
    held = api.get(f"/participants/{brand}/batches").json()["batches"]
    assert [(x["batchId"], x["quantity"]) for x in held] == [(demo.batches["fabric"], 1_500_000)]
