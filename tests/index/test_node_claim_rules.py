"""The node's claims never overstate (issue 10, A, C, D, C8a), on a real chain built with the testkit.

Rule numbers are those of docs/claims.md (written once; the auditor implements them separately):
C1 the batch's own characteristic by id, C8a a mass-balance claim covers the delivered part only,
C9 released attributes reduce every physical claim of the batch and of the batches it came from,
C10 book & claim never labels a batch, C12 a revoked issuance supports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest

from helpers_index import contracts_of
from node_api.core.rpc import SyncRpc
from node_api.index import schema
from node_api.index.follower import Follower
from node_api.index.read import provenance
from testkit.sandbox import CONTROLLED_BLENDING, MASS_BALANCE, SEGREGATED, UNCERTIFIED, h

T = 1_000_000  # grams in a tonne


@dataclass
class Ledger:
    revoked_pledged: int
    revoked_released: int
    revoked_certificate: int
    y: int
    y1: int
    y2: int
    z: int
    m: int
    organic2: int
    gots2_name: str
    o_first: int
    o_second: int
    blend: int
    mb: int
    full: int


@pytest.fixture(scope="module")
def ledger(w3, world_session, anvil, tmp_path_factory):
    w, sb = world_session, world_session.sb
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        # A, C12: a batch whose only issuance (3 units) is revoked after 2 units were retired
        x = sb.create_origin(w.farm, w.raw_cotton, 5 * T, characteristic=w.organic, model=SEGREGATED)
        pledge = sb.pledge_batch(w.farm, x, 3 * T)
        released = sb.c.ledger.functions.batchCount().call()
        cert = sb.issue(w.issuer, w.farm, w.brand, 3, material=w.raw_cotton, characteristic=w.organic, pledge_id=pledge)
        sb.retire(w.brand, cert, 1, beneficiary="Brand Ltd autumn collection")
        sb.retire(w.brand, cert, 1, beneficiary="Brand Ltd winter collection")
        sb.tx(sb.c.certificates.functions.revoke(cert, h("audit found double counting")), w.issuer)

        # C9: y (10 t) split into y1 (4 t) and y2 (6 t); 1 t of y1 released; y2 merged with z (4 t) into m,
        # of which 2 t are released: y2 loses 2/10 of 6 t = 1.2 t, y loses 1 t + 1.2 t
        y = sb.create_origin(w.farm, w.raw_cotton, 10 * T, characteristic=w.organic, model=SEGREGATED)
        y1, y2 = sb.split(w.farm, y, [4 * T, 6 * T])
        p1 = sb.pledge_batch(w.farm, y1, 1 * T)
        c1 = sb.issue(w.issuer, w.farm, w.farm, 1, material=w.raw_cotton, characteristic=w.organic, pledge_id=p1)
        sb.retire(w.farm, c1, 1, beneficiary="Another Brand SA")
        z = sb.create_origin(w.farm, w.raw_cotton, 4 * T, characteristic=w.organic, model=SEGREGATED)
        m = sb.merge(w.farm, [y2, z], [6 * T, 4 * T], SEGREGATED)
        sb.pledge_batch(w.farm, m, 2 * T)

        # C1 (D): a second scheme registers a characteristic with the same name
        gots2 = "GOTS second edition"
        organic2 = sb.characteristic("organic", sb.scheme(gots2))
        sb.certify(w.certifier, w.farm2, [w.raw_cotton], [organic2], scheme=gots2)
        sb.certify(w.certifier, w.ginner, [w.raw_cotton], [organic2], scheme=gots2)
        o_first = sb.create_origin(w.farm, w.raw_cotton, 3 * T, characteristic=w.organic, model=SEGREGATED)
        o_second = sb.create_origin(w.farm2, w.raw_cotton, 1 * T, characteristic=organic2, model=SEGREGATED)
        conventional = sb.create_origin(w.farm, w.raw_cotton, 3 * T, model=UNCERTIFIED)
        sb.transfer(w.farm, w.ginner, conventional, 3 * T)
        sb.transfer(w.farm2, w.ginner, o_second, 1 * T)
        blend = sb.merge(w.ginner, [o_second, conventional], [1 * T, 3 * T], CONTROLLED_BLENDING)

        # C8a: a mass-balance batch of 10 t: 4 t delivered with 4 t declared (accepted), 2 t with a declaration
        # rejected, 1 t pending
        mb = sb.create_origin(w.farm, w.raw_cotton, 10 * T, characteristic=w.organic, model=MASS_BALANCE)
        sb.transfer(w.farm, w.ginner, mb, 4 * T, certified=4 * T)
        rejected = sb.propose(w.farm, w.spinner, mb, 2 * T, certified=2 * T)
        sb.reject(w.spinner, rejected)
        sb.propose(w.farm, w.brand, mb, 1 * T, certified=1 * T)

        # C9: a batch released in full supports no physical claim
        full = sb.create_origin(w.farm, w.raw_cotton, 2 * T, characteristic=w.organic, model=SEGREGATED)
        sb.pledge_batch(w.farm, full, 2 * T)

        engine = schema.make_engine(schema.sqlite_url(str(tmp_path_factory.mktemp("claims") / "claims.db")))
        Follower(engine, SyncRpc(anvil.url), contracts_of(world_session), 0).sync_once()
        yield engine, Ledger(x, released, cert, y, y1, y2, z, m, organic2, gots2, o_first, o_second, blend, mb, full)
        engine.dispose()
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"], "evm_revert failed"


def _claim(engine, batch_id: int) -> dict:
    with engine.connect() as conn:
        return provenance.provenance(conn, batch_id)["claim"]


def test_c12_revoked_issuance_supports_nothing_not_even_units_retired_before(ledger):
    engine, lg = ledger
    for batch_id in (lg.revoked_released, lg.revoked_pledged):
        c = _claim(engine, batch_id)
        (bc,) = c["book_and_claim"]
        assert bc["certificate_id"] == lg.revoked_certificate and bc["revoked"]
        assert bc["units_retired"] == 2 and bc["units_supporting"] == 0
        assert "support 2 units" not in c["text"] and "support nothing" in c["text"] and "(C12)" in c["text"]


def test_c10_released_batch_is_not_labelled_book_and_claim(ledger):
    engine, lg = ledger
    c = _claim(engine, lg.revoked_released)
    assert c["model"] == "uncertified" and c["kind"] == "none"
    c = _claim(engine, lg.y1)  # its released part's certificate was retired: still not a label of the batch
    assert c["kind"] == "content" and c["book_and_claim"][0]["units_supporting"] == 1
    assert "a claim of the beneficiaries, not of this batch (C10)" in c["text"]


def test_c9_partly_released_batch_claims_only_what_kept_its_attributes(ledger):
    engine, lg = ledger
    expected = {  # (released, claimable), grams
        lg.revoked_pledged: (3 * T, 2 * T),
        lg.y1: (1 * T, 3 * T),
        lg.m: (2 * T, 8 * T),
        lg.y2: (int(Fraction(2, 10) * 6 * T), 6 * T - int(Fraction(2, 10) * 6 * T)),
        lg.z: (int(Fraction(2, 10) * 4 * T), 4 * T - int(Fraction(2, 10) * 4 * T)),
        lg.y: (1 * T + int(Fraction(2, 10) * 6 * T), 10 * T - 1 * T - int(Fraction(2, 10) * 6 * T)),
    }
    for batch_id, (released, claimable) in expected.items():
        c = _claim(engine, batch_id)
        assert (c["released_quantity"], c["claimable_quantity"]) == (released, claimable), batch_id
        assert c["kind"] == "content" and c["percent"] == "100"
        assert "(C9)" in c["text"] and "at most" in c["text"]
    # the whole created quantity of y is not claimable: 7.8 t of its 10 t
    assert "at most 7.8 t of organic material may be claimed physically" in _claim(engine, lg.y)["text"]


def test_c9_batch_released_in_full_supports_no_physical_claim(ledger):
    engine, lg = ledger
    c = _claim(engine, lg.full)
    assert c["kind"] == "none" and c["percent"] is None and c["origins"] == []
    assert (c["released_quantity"], c["claimable_quantity"]) == (2 * T, 0)
    assert "released into book & claim certificates in full (2 t): it supports no physical organic claim (C9)" in c["text"]
    assert "contains" not in c["text"]


def test_c1_shared_name_resolves_to_the_batch_own_characteristic(ledger, world_session):
    engine, lg = ledger
    c = _claim(engine, lg.blend)
    assert c["characteristic"] == "organic" and c["characteristic_id"] == lg.organic2 != world_session.organic
    assert c["scheme"] == lg.gots2_name
    assert [o["batch_id"] for o in c["origins"]] == [lg.o_second]  # the conventional input is not cited
    assert "organic material" in c["text"] and f"({lg.gots2_name})" in c["text"]
    assert c["kind"] == "content_share" and c["percent"] == "25"
    c = _claim(engine, lg.o_first)
    assert c["characteristic_id"] == world_session.organic and c["scheme"] == "GOTS"


def test_c8a_mass_balance_claim_attributed_to_the_delivered_part_only(ledger):
    engine, lg = ledger
    c = _claim(engine, lg.mb)
    assert c["kind"] == "supply_chain" and c["certified_quantity"] == 4 * T and c["delivered_quantity"] == 4 * T
    assert [d["certified_quantity"] for d in c["declarations"]] == [4 * T]  # rejected and pending do not count
    assert "the 4 t of this batch delivered with 1 accepted sustainability declaration(s)" in c["text"]
    assert "The other 6 t of the batch were not delivered with a declaration and carry no claim." in c["text"]
    assert "contains" not in c["text"].split("may contain")[0] and "%" not in c["text"]
