"""Lineage (node_api.index.lineage_ingest stores each batch once; read.lineage attributes its ancestry
at query time) against a walk of the chain's own records.

A DAG on the consortium's chain with every shape the attribution has to get right: a batch reached
by three paths (directly, through a split part, through a split part merged again), a transform
with loss, split parts of a transform, a controlled-blending merge with an uncertified input, split
parts of that, and a two-input transform whose inputs hang below different anchors. For every batch
of it, the answer from the index is compared with exact fractions computed here from the chain's
BatchCreated events (parents, quantities, models); the index is built in one block range and block by
block, and on PostgreSQL when available, with equal answers. Storage is one row per batch (issue 10,
K): a chain of split+merge rounds stores nothing per ancestor and is answered like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from helpers_index import contracts_of, fresh_engine
from node_api.api.routes import provenance
from node_api.errors import ApiError
from node_api.domain import Model
from node_api.index import ancestry, lineage_fragments, schema
from node_api.index.read import batches, lineage
from node_api.index.read.reference import reference as reference_data
from node_api.index.follower import Follower
from node_api.core.rpc import SyncRpc
from node_api.index.service import IndexService
from testkit.sandbox import CONTROLLED_BLENDING, SEGREGATED, UNCERTIFIED

MODELS = Model.labels()


@dataclass
class Dag:
    first_block: int
    o1: int
    o2: int
    o3: int
    s1: int
    s2: int
    m1: int
    m2: int
    lint: int
    p1: int
    p2: int
    lint_u: int
    blend: int
    f1: int
    f2: int
    yarn: int

    def ids(self) -> list[int]:
        return [getattr(self, k) for k in self.__dataclass_fields__ if k != "first_block"]


@pytest.fixture(scope="module")
def dag(w3, world_session):
    w, sb = world_session, world_session.sb
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        first = w3.eth.block_number + 1
        o1 = sb.create_origin(w.farm, w.raw_cotton, 12_000_000, characteristic=w.organic, model=SEGREGATED)
        o2 = sb.create_origin(w.farm, w.raw_cotton, 6_000_000, characteristic=w.organic, model=SEGREGATED)
        o3 = sb.create_origin(w.farm, w.raw_cotton, 3_000_000, model=UNCERTIFIED)
        s1, s2 = sb.split(w.farm, o1, [4_000_000, 6_000_000])  # 2 t of o1 stay whole
        m1 = sb.merge(w.farm, [s1, o2], [4_000_000, 6_000_000], SEGREGATED)
        m2 = sb.merge(w.farm, [m1, s2, o1], [5_000_000, 6_000_000, 2_000_000], SEGREGATED)  # o1 by three paths
        lint = sb.transform(w.farm, w.ginning, [m2], [13_000_000], 4_550_000, SEGREGATED)
        p1, p2 = sb.split(w.farm, lint, [1_000_000, 3_550_000])
        lint_u = sb.transform(w.farm, w.ginning, [o3], [3_000_000], 1_000_000, UNCERTIFIED)
        blend = sb.merge(w.farm, [p1, lint_u], [1_000_000, 1_000_000], CONTROLLED_BLENDING)
        f1, f2 = sb.split(w.farm, blend, [700_000, 1_300_000])
        yarn = sb.transform(w.farm, w.spinning, [f2, p2], [1_300_000, 3_000_000], 3_600_000, CONTROLLED_BLENDING)
        yield Dag(first, o1, o2, o3, s1, s2, m1, m2, lint, p1, p2, lint_u, blend, f1, f2, yarn)
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"], "evm_revert failed"


@pytest.fixture(scope="module")
def chain_facts(dag, world_session):
    """{batch id: (quantity, model, [(parent, edge quantity), ...])} from the chain's BatchCreated logs."""
    ledger = world_session.sb.c.ledger
    out = {}
    for ev in ledger.events.BatchCreated.get_logs(from_block=0):
        a = ev["args"]
        out[a["batchId"]] = (a["quantity"], a["model"], [(p["batchId"], p["quantity"]) for p in a["parents"]])
    return out


def _index(engine, anvil, world_session, **kw) -> Follower:
    f = Follower(engine, SyncRpc(anvil.url), contracts_of(world_session), 0, **kw)
    f.sync_once()
    return f


@pytest.fixture(scope="module")
def one_range(dag, anvil, world_session, tmp_path_factory):
    engine = schema.make_engine(schema.sqlite_url(str(tmp_path_factory.mktemp("lin") / "one.db")))
    _index(engine, anvil, world_session, max_range=100_000)
    yield engine
    engine.dispose()


def reference(root: int, facts: dict) -> tuple[dict[int, Fraction], dict[int, Fraction], dict[int, int]]:
    """Exact attribution by walking the parents from ``root``, children before parents."""
    seen, stack = {root}, [root]
    while stack:
        for p, _q in facts[stack.pop()][2]:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    qty = {b: facts[b][0] for b in seen}
    taken = {root: Fraction(qty[root])}
    contrib = {root: Fraction(qty[root])}
    weakest = {root: facts[root][1]}
    for b in sorted(seen, reverse=True):  # ids grow along the lineage
        ps = facts[b][2]
        total = sum(q for _, q in ps)
        for p, q in ps:
            taken[p] = taken.get(p, Fraction(0)) + q * taken[b] / qty[b]
            contrib[p] = contrib.get(p, Fraction(0)) + q * contrib[b] / total
            weakest[p] = min(weakest.get(p, 99), facts[p][1], weakest[b])
    return taken, contrib, weakest


def _answer(engine, batch_id: int) -> dict:
    with engine.connect() as conn:
        body = lineage.lineage_json(conn, batch_id)
    assert body is not None
    return json.loads(body)


def _close(a: float, b: Fraction) -> bool:
    return abs(a - float(b)) <= 1e-13 * max(1.0, abs(float(b)))


def test_lineage_of_every_batch_matches_exact_walk_of_chain(one_range, dag, chain_facts):
    col = {c: i for i, c in enumerate(lineage_fragments.NODE_COLUMNS)}
    for root in dag.ids():
        taken, contrib, weakest = reference(root, chain_facts)
        ans = _answer(one_range, root)
        rows = {r[0]: r for r in ans["nodes"]}
        assert [r[0] for r in ans["nodes"]] == sorted(taken), root  # every ancestor and the batch, by id
        assert ans["ancestor_count"] == len(taken) - 1
        assert ans["origin_count"] == sum(1 for b in taken if not chain_facts[b][2])
        for b, r in rows.items():
            assert _close(r[col["quantity_taken"]], taken[b]), (root, b, r[col["quantity_taken"]], taken[b])
            assert _close(r[col["contribution"]], contrib[b]), (root, b, r[col["contribution"]], contrib[b])
            assert r[col["weakest_model_id"]] == weakest[b], (root, b)
            assert r[col["quantity"]] == chain_facts[b][0] and r[col["model_id"]] == chain_facts[b][1]
            # toward: a parent -> child edge on chain, and following it reaches the batch
            cur, steps = b, 0
            while cur != root:
                nxt = rows[cur][col["toward"]]
                assert cur in {p for p, _ in chain_facts[nxt][2]}, (root, cur, nxt)
                cur, steps = nxt, steps + 1
                assert steps <= len(rows)
        assert rows[root][col["toward"]] is None
        expected_edges = sorted((c, p, q) for c in taken for p, q in chain_facts[c][2])
        assert sorted(map(tuple, ans["edges"])) == expected_edges
        assert ans["edges"] == [list(e) for c in sorted(taken) for e in ((c, p, q) for p, q in chain_facts[c][2])]


def test_lineage_counts_a_batch_reached_by_three_paths_once_with_all_it_gave(one_range, dag, chain_facts):
    ans = _answer(one_range, dag.m2)
    col = {c: i for i, c in enumerate(lineage_fragments.NODE_COLUMNS)}
    o1 = next(r for r in ans["nodes"] if r[0] == dag.o1)
    # 2 t directly + all 6 t of s2 + 4 t of s1 of which m1 passed on 5/10: 10 t of o1's 12 t
    assert o1[col["quantity_taken"]] == 10_000_000
    assert o1[col["contribution"]] == 10_000_000  # of m2's 13 t
    assert [r[0] for r in ans["nodes"]].count(dag.o1) == 1


def test_lineage_objects_carry_paths_percent_and_certification(one_range, dag, world_session):
    with one_range.connect() as conn:
        lin = lineage.lineage(conn, dag.yarn)
    by_id = {o["batch_id"]: o for o in lin["origins"]}
    assert set(by_id) == {dag.o1, dag.o2, dag.o3}
    o3 = by_id[dag.o3]
    assert o3["certification_at_creation"] is None and o3["weakest_model_on_paths"] == "uncertified"
    assert o3["path"] == [dag.o3, dag.lint_u, dag.blend, dag.f2, dag.yarn]
    assert o3["path_models"] == ["uncertified", "uncertified", "controlled blending", "controlled blending",
                                 "controlled blending"]
    o2 = by_id[dag.o2]
    assert o2["weakest_model_on_paths"] == "controlled blending"  # every path of o2 ends in the blend or the yarn
    assert o2["certification_at_creation"]["status_at_time"] == "active"
    assert o2["certification_at_creation"]["certification_id"] == world_session.certifications[world_session.farm.name]
    assert lin["certifications"][o2["certification_id"]]["holder"] == "Organic Farm Co"
    nodes = {n["batch_id"]: n for n in lin["nodes"]}
    for o in lin["origins"]:
        assert o["path"][0] == o["batch_id"] and o["path"][-1] == dag.yarn
        assert o["path_models"] == [nodes[b]["model"] for b in o["path"]]
    assert sum(o["contribution"] for o in lin["origins"]) == pytest.approx(3_600_000, abs=1e-6)  # all of the yarn
    for o in lin["origins"]:
        assert float(o["contribution_percent"].lstrip("~")) == pytest.approx(o["contribution"] / 36_000, abs=0.005)


def test_lineage_node_facts_equal_the_batch_query(one_range, dag):
    with one_range.connect() as conn:
        ans = _answer(one_range, dag.yarn)
        for r in ans["nodes"]:
            node = lineage.node_dict(r)
            b = batches.batch(conn, r[0], reference_data(conn))
            assert {k: b[k] for k in node} == node


def test_lineage_ingest_block_by_block_stores_identical_rows(one_range, dag, anvil, world_session, tmp_path):
    engine = schema.make_engine(schema.sqlite_url(str(tmp_path / "blocks.db")))
    first = Follower(engine, SyncRpc(anvil.url), contracts_of(world_session), 0)
    first.sync_once(until=dag.first_block - 1)
    by_block = Follower(engine, SyncRpc(anvil.url), contracts_of(world_session), 0, max_range=1)
    by_block.sync_once()  # every DAG batch in its own range: parents always read back from the database
    for table in (schema.lineage_nodes, schema.edges):
        rows = [select(table).order_by(*table.primary_key.columns)]
        with engine.connect() as a, one_range.connect() as b:
            assert a.execute(rows[0]).all() == b.execute(rows[0]).all()
    for root in dag.ids():
        with engine.connect() as a, one_range.connect() as b:
            assert lineage.lineage_json(a, root) == lineage.lineage_json(b, root)
    engine.dispose()


def test_lineage_storage_is_one_row_per_batch_and_nothing_per_ancestor(one_range, dag):
    with one_range.connect() as conn:
        nodes = conn.execute(select(func.count()).select_from(schema.lineage_nodes)).scalar_one()
        batches_ = conn.execute(select(func.count()).select_from(schema.batches)).scalar_one()
        tables = set(conn.dialect.get_table_names(conn))
    assert nodes == batches_ and "idx_lineage" not in tables
    assert _answer(one_range, dag.yarn)["ancestor_count"] == 13  # all but f1, answered all the same


def test_lineage_reads_primary_keys_not_a_scan(one_range, dag):
    with one_range.connect() as conn:
        plan = " | ".join(r.detail for r in conn.execute(text("EXPLAIN QUERY PLAN " + lineage.ANCESTRY_SQL["sqlite"]),
                                                             {"root": dag.yarn}))
    assert "SCAN idx_lineage_nodes" not in plan and "SCAN n" not in plan and "SCAN e" not in plan, plan
    assert "SEARCH e USING PRIMARY KEY (child_id=?)" in plan and "SEARCH n USING INTEGER PRIMARY KEY" in plan, plan


def test_lineage_numbers_rendered_by_the_database_in_order(backend, tmp_path):
    # SQLite rounds the 15th digit of ties and near-ties its own way (616902648224911.5, 33219071.65749605)
    values = [1.0, 10_000_000.0, 1e15, 1 / 3, 66666.66, 616902648224911.5, 33219071.65749605, 2.5e-7, 1.0, 1 / 3]
    engine = fresh_engine(backend, tmp_path)
    schema.create_all(engine)
    with engine.connect() as conn:
        out = lineage.render_numbers(conn, values)
        for v in values:
            assert out[v] == conn.execute(text("SELECT CAST(CAST(:v AS DOUBLE PRECISION) AS TEXT)"), {"v": v}).scalar_one()
        many = [i / 7 for i in range(1, 40_001)]  # more than one statement's worth of bound values
        rendered = lineage.render_numbers(conn, many)
        assert len(rendered) == 40_000
        for v in many[::997] + many[-3:]:  # in order across the statements
            assert rendered[v] == conn.execute(text("SELECT CAST(CAST(:v AS DOUBLE PRECISION) AS TEXT)"),
                                               {"v": v}).scalar_one()
    assert len(out) == 8
    engine.dispose()


def test_lineage_equal_on_postgresql_bit_for_bit(backend, dag, anvil, world_session, one_range, tmp_path):
    engine = fresh_engine(backend, tmp_path)
    _index(engine, anvil, world_session)
    q = select(schema.lineage_nodes).order_by(schema.lineage_nodes.c.batch_id)
    with engine.connect() as a, one_range.connect() as b:
        assert a.execute(q).all() == b.execute(q).all()
        for root in dag.ids():
            # the attribution is the same doubles (one order of computation); only their text may differ
            x, y = lineage.lineage(a, root), lineage.lineage(b, root)
            assert x == y, root
    engine.dispose()


def test_index_from_older_schema_is_rebuilt_from_chain(dag, anvil, world_session, one_range, tmp_path):
    engine = schema.make_engine(schema.sqlite_url(str(tmp_path / "old.db")))
    f = _index(engine, anvil, world_session)
    with engine.begin() as conn:  # as an index of schema 2, which stored every merge's ancestry
        conn.execute(schema.meta.update().where(schema.meta.c.key == "schema_version").values(value="2"))
        conn.execute(schema.lineage_nodes.delete())
        conn.execute(text("CREATE TABLE idx_lineage (batch_id BIGINT, ancestor_id BIGINT)"))
    again = Follower(engine, SyncRpc(anvil.url), contracts_of(world_session), 0)
    again.sync_once()
    assert again.status.rebuilds == 1 and f.status.rebuilds == 0
    with engine.connect() as conn:
        assert "idx_lineage" not in set(conn.dialect.get_table_names(conn))  # the retired table is dropped
    for root in (dag.yarn, dag.f1):
        with engine.connect() as a, one_range.connect() as b:
            assert lineage.lineage_json(a, root) == lineage.lineage_json(b, root)
    engine.dispose()


def test_lineage_route_compact_by_default_objects_on_request(one_range, dag):
    app = FastAPI()
    app.add_exception_handler(ApiError, lambda _r, e: JSONResponse(e.body(), status_code=e.status))
    app.include_router(provenance.router)
    app.state.index = IndexService(one_range, None)
    with TestClient(app) as client, one_range.connect() as conn:
        r = client.get(f"/provenance/batches/{dag.f1}/lineage")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.content == lineage.lineage_json(conn, dag.f1)
        assert r.json()["shape"] == "rows" and r.json()["columns"] == list(lineage_fragments.NODE_COLUMNS)
        objects = client.get(f"/provenance/batches/{dag.f1}/lineage?shape=objects").json()
        assert objects == json.loads(json.dumps(lineage.lineage(conn, dag.f1)))
        assert lineage.expand_lineage(r.json()) == lineage.lineage(conn, dag.f1)
        assert client.get(f"/provenance/batches/{dag.f1}/lineage?shape=graph").status_code == 422
        assert client.get("/provenance/batches/999999/lineage").status_code == 404


def test_attribute_composes_paths_exactly_and_toward_follows_the_first_path():
    # 5 <- (4, 3) in that order; 4 <- 2; 3 <- 2 and 1; models 3, 1, 4, 2, 4 for ids 1..5
    g = ancestry.Graph(root=5, ids=[1, 2, 3, 4, 5], model={1: 4, 2: 4, 3: 1, 4: 4, 5: 3},
                       quantity={1: 60, 2: 100, 3: 90, 4: 40, 5: 50},
                       parents={5: [(4, 20), (3, 30)], 4: [(2, 40)], 3: [(2, 30), (1, 60)]})
    at = ancestry.attribute(g)
    # 5 takes 20 of 4 (which took 40 of 2: 20 of 2) and 30 of 3 (a third of it: 10 of 2, 20 of 1)
    assert at.taken == {5: 50, 4: 20, 3: 30, 2: 30, 1: 20}
    # contribution in 5's unit: 4 accounts for 20, 3 for 30, of which 2 gave 30/90 and 1 gave 60/90
    assert at.contribution == {5: 50, 4: 20, 3: 30, 2: 30, 1: 20}
    assert at.weakest == {5: 3, 4: 3, 3: 1, 2: 1, 1: 1}
    assert at.toward == {5: None, 4: 5, 2: 4, 3: 5, 1: 3}  # 2 by its first path (through 4), not through 3


@pytest.fixture(scope="module")
def rounds(w3, world_session, anvil, tmp_path_factory):
    """30 split+merge rounds on one batch (issue 10, K: schema 2 stored 3k ancestry rows at round k)."""
    w, sb = world_session, world_session.sb
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        cur = first = sb.create_origin(w.farm, w.raw_cotton, 3_000_000, characteristic=w.organic, model=SEGREGATED)
        for _ in range(30):
            a, b = sb.split(w.farm, cur, [1_000_000, 2_000_000])
            cur = sb.merge(w.farm, [a, b], [1_000_000, 2_000_000], SEGREGATED)
        engine = schema.make_engine(schema.sqlite_url(str(tmp_path_factory.mktemp("rounds") / "r.db")))
        _index(engine, anvil, world_session)
        yield engine, first, cur
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"], "evm_revert failed"
    engine.dispose()


def test_lineage_of_split_merge_rounds_stores_linear_rows_and_matches_the_walk(rounds, world_session):
    engine, first, last = rounds
    facts = {}
    for ev in world_session.sb.c.ledger.events.BatchCreated.get_logs(from_block=0):
        a = ev["args"]
        facts[a["batchId"]] = (a["quantity"], a["model"], [(p["batchId"], p["quantity"]) for p in a["parents"]])
    with engine.connect() as conn:
        nodes = conn.execute(select(func.count()).select_from(schema.lineage_nodes)).scalar_one()
        edges = conn.execute(select(func.count()).select_from(schema.edges)).scalar_one()
    assert nodes == len(facts) and edges == sum(len(f[2]) for f in facts.values())  # one row per batch and edge
    ans = _answer(engine, last)
    assert ans["ancestor_count"] == 90 and last - first == 90
    col = {c: i for i, c in enumerate(lineage_fragments.NODE_COLUMNS)}
    taken, contrib, weakest = reference(last, facts)
    for r in ans["nodes"]:
        assert _close(r[col["quantity_taken"]], taken[r[0]]) and _close(r[col["contribution"]], contrib[r[0]])
        assert r[col["weakest_model_id"]] == weakest[r[0]]
    origin = next(r for r in ans["nodes"] if r[0] == first)
    assert origin[col["quantity_taken"]] == 3_000_000 and origin[col["toward"]] == first + 1
