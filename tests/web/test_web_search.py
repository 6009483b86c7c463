"""The brand's product search over a real index database (the index's own schema, rows as the follower
writes them; no chain needed): by batch number, material, maker, due-diligence reference, and GS1 lot,
serial or GTIN (ProductIdentifierBound events, issue 14); a query's % and _ are text, not wildcards."""

from __future__ import annotations

import json

from sqlalchemy import insert

from node_api.index import schema as t
from node_api.index.read.reference import reference
from node_api.web import data

FACT = {"log_index": 0, "tx_hash": "0x" + "ab" * 32, "block_time": 1_780_000_000}


def _index(tmp_path):
    engine = t.make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    t.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(t.participants), [
            {"participant_id": 1, "name": "Organic Cotton Farm", "roles": 4, "status": 1, "block_number": 1, **FACT},
            {"participant_id": 2, "name": "Weaver Ltd", "roles": 4, "status": 1, "block_number": 2, **FACT}])
        conn.execute(insert(t.materials), [
            {"material": 1, "name": "seed cotton", "unit": "g", "material_group": 1, "waste": False, "block_number": 3, **FACT},
            {"material": 2, "name": "greige fabric", "unit": "g", "material_group": 2, "waste": False, "block_number": 3, **FACT}])
        conn.execute(insert(t.batches), [
            {"batch_id": i, "kind": 0 if i == 1 else 3, "material": 1 if i == 1 else 2, "characteristic": 0, "model": 3,
             "share": 1_000_000, "origin": 1, "creator": 1 if i == 1 else 2, "holder": "0x" + "11" * 20,
             "quantity": 1_000_000, "block_number": 10 + i, **FACT} for i in (1, 2, 3)])
        conn.execute(insert(t.origins), [{"batch_id": 1, "site_id": 1, "certification_id": 0, "geolocation_hash": "0x",
                                          "dds_reference": "EUDR-DDS-2026-00042", "evidence_hash": "0x", "production_date": 0,
                                          "block_number": 11, **FACT}])
        conn.execute(insert(t.events), [{"block_number": 20, "log_index": 0, "tx_hash": FACT["tx_hash"],
                                         "block_time": FACT["block_time"], "contract": "identifiers",
                                         "name": "ProductIdentifierBound",
                                         "args": json.dumps({"batchId": 3, "gtin": 9506000134352, "kind": 0,
                                                             "value": "LOT_2026-A%7", "by": "0x" + "11" * 20})}])
        t.write_meta(conn, {t.REFERENCE_VERSION: 1})
    return engine


def _found(engine, q):
    with engine.connect() as conn:
        return [b["batch_id"] for b in data.search(conn, reference(conn), q)]


def test_search_by_number_name_maker_dds_and_gs1(tmp_path):
    engine = _index(tmp_path)
    assert _found(engine, "#2") == [2]
    assert _found(engine, "2") == [2, 3, 1]  # batch 2 first, then lots, GTINs, references containing 2
    assert _found(engine, "GREIGE") == [3, 2]  # newest first
    assert _found(engine, "organic cotton") == [1]  # the maker
    assert _found(engine, "dds-2026-000") == [1]  # an origin's due-diligence reference
    assert _found(engine, "lot_2026-a%7") == [3]  # a GS1 lot, case-insensitive
    assert _found(engine, "09506000134352") == [3]  # its GTIN, 14 digits
    assert _found(engine, "") == []
    # % and _ are matched as text: "LOT%" matches no lot (there is "LOT_"), "_" alone no DDS reference
    assert _found(engine, "LOT%") == []
    assert _found(engine, "EUDR_DDS") == []
    engine.dispose()
