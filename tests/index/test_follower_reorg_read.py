"""A reorganisation *while* the follower reads a range (issue 12, Clique): the logs come from the old
branch, the range's last block from the new one. Written as is, the index would serve the orphaned
fact as final and never notice (its position block is canonical). The follower writes a range only
if its last block kept its hash while the logs were read; else it reads the range again."""

from __future__ import annotations

from helpers_index import contracts_of, fresh_engine
from node_api.core.rpc import SyncRpc
from node_api.index.follower import Follower
from node_api.index.read import batches
from node_api.index.read.reference import reference
from testkit.sandbox import SEGREGATED


class ReorgAfterLogs(SyncRpc):
    """Runs ``hook`` (the chain switching branches) right after the first eth_getLogs answered."""

    def __init__(self, url: str, hook) -> None:  # noqa: ANN001
        super().__init__(url)
        self.hook = hook

    def get_logs(self, *args, **kwargs):  # noqa: ANN002, ANN003
        logs = super().get_logs(*args, **kwargs)
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return logs


def test_a_range_whose_last_block_changed_while_read_is_not_written(tmp_path, anvil, w3, world_session, scenario):
    sb, w = world_session.sb, world_session
    engine = fresh_engine("sqlite", tmp_path)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    ghost = sb.create_origin(w.farm, w.raw_cotton, 777, characteristic=w.organic, model=SEGREGATED)
    made = {}

    def switch_branch() -> None:
        assert w3.provider.make_request("evm_revert", [snap])["result"]
        made["real"] = sb.create_origin(w.farm2, w.raw_cotton, 555, characteristic=w.organic, model=SEGREGATED)

    f = Follower(engine, ReorgAfterLogs(anvil.url, switch_branch), contracts_of(world_session), 0)
    try:
        f.sync_once()
        assert made["real"] == ghost  # the new branch gave the same id to another batch
        assert f.status.reorgs_seen == 1
        assert f.last_indexed() is None  # nothing of the mixed read was written
        f.sync_once()
        with engine.connect() as conn:
            b = batches.batch(conn, ghost, reference(conn))
        assert b["quantity"] == 555 and b["creator"] == "Second Farm Ltd"  # never the orphaned 777
        assert f.last_indexed() == w3.eth.block_number
    finally:
        f.stop()
        engine.dispose()
