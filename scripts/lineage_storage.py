"""Helpers of scripts/bench_lineage.py for issue 10 (K): the storage of the lineage tables (rows and
bytes), and the same chain indexed and answered by another source tree (e.g. main's, unpacked with
``git archive``) to check that answers are byte-identical across implementations."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import inspect, text

_OTHER_TREE = """
import hashlib, json, sys
tree, db, url, contracts, start, ids = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), int(sys.argv[5]), json.loads(sys.argv[6])
sys.path.insert(0, tree)
from node_api.core.rpc import SyncRpc
from node_api.index import schema
from node_api.index.follower import Follower, contract_abis
from node_api.index.read import lineage
assert lineage.__file__.startswith(tree), lineage.__file__
engine = schema.make_engine(schema.sqlite_url(db))
schema.drop_all(engine)
Follower(engine, SyncRpc(url), contracts, start, abis=contract_abis(), max_range=5_000).sync_once()
with engine.connect() as conn:
    print(json.dumps({str(i): hashlib.sha256(lineage.lineage_json(conn, i)).hexdigest() for i in ids}))
"""


def answers_of_other_tree(tree: str, db: str, url: str, contracts: dict[str, str], start_block: int,
                          ids: list[int]) -> dict[int, str]:
    """{batch id: sha256 of its lineage answer} as another source tree (e.g. ``git archive main``)
    indexes and answers the same chain, in a child process with this interpreter."""
    out = subprocess.run([sys.executable, "-c", _OTHER_TREE, tree, db, url, json.dumps(contracts), str(start_block),
                          json.dumps(ids)], capture_output=True, text=True, check=True, cwd=tree)
    return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


LINEAGE_TABLES = ("idx_lineage", "idx_lineage_nodes", "idx_edges")


def storage(engine: Any) -> dict[str, tuple[int, int]]:
    """{table: (rows, bytes with its indexes)} of the lineage tables that exist (SQLite: dbstat pages;
    PostgreSQL: pg_total_relation_size)."""
    out = {}
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
        for table in LINEAGE_TABLES:
            if table not in names:
                continue
            rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            if conn.dialect.name == "sqlite":
                size = conn.execute(text(
                    "SELECT coalesce(sum(d.pgsize), 0) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
                    "WHERE m.tbl_name = :t"), {"t": table}).scalar_one()
            else:
                size = conn.execute(text("SELECT pg_total_relation_size(:t)"), {"t": table}).scalar_one()
            out[table] = (int(rows), int(size))
    return out


def storage_line(st: dict[str, tuple[int, int]]) -> str:
    rows, size = sum(r for r, _ in st.values()), sum(b for _, b in st.values())
    parts = "; ".join(f"{t} {r:,} rows {b / 1e6:.2f} MB" for t, (r, b) in st.items())
    return f"{rows:,} rows, {size / 1e6:.2f} MB ({parts})"


def step_rounds(n: int, builder: Any, follower: Any, engine: Any, answer_ms: Any, digests: dict[str, str],
                cpu_ms: dict[str, float], log: Any) -> int:
    """Step 4 of bench_lineage: ``n`` split+merge rounds, their storage and answer time; the last merge."""
    log(f"\n4. {n:,} split+merge rounds on one batch (split in a third and the rest, merge both parts again)")
    before = storage(engine)
    t0 = time.perf_counter()
    last = builder.rounds(n)
    log(f"   built in {time.perf_counter() - t0:.1f} s; indexing...")
    t0 = time.perf_counter()
    events = follower.sync_once()
    log(f"   indexed {events:,} events in {time.perf_counter() - t0:.1f} s")
    after = storage(engine)
    delta = {t: (r - before.get(t, (0, 0))[0], b - before.get(t, (0, 0))[1]) for t, (r, b) in after.items()}
    ms, body = answer_ms(last, "rounds")
    ans = json.loads(body)
    digests["rounds"] = hashlib.sha256(body).hexdigest()
    log(f"   storage added by the rounds: {storage_line(delta)}")
    log(f"   lineage of the last merge: {ans['ancestor_count']:,} ancestors, {len(body) / 1e6:.1f} MB of JSON: "
        f"median {ms:.1f} ms (CPU {cpu_ms['rounds']:.1f} ms)")
    log(f"   whole index, lineage tables: {storage_line(after)}")
    return last
