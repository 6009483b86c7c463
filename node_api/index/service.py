"""The index as a node component: settings -> database + follower thread, for the app's lifespan.

Wiring (one line each in the app's lifespan)::

    app.state.index = start_index(settings, node.deployment)   # at startup (None if it cannot start)
    app.state.index and app.state.index.stop()                 # at shutdown

Settings read (fields of ``node_api.core.config.Settings``, env ``COC_<NAME>``):
  index_database_url  SQLAlchemy URL of the index; else ``database_url`` (tables are prefixed
                      ``idx_``, so they can share the node's PostgreSQL database); else the SQLite
                      file ``<data_dir>/index.db``
  index_confirmations blocks to wait behind the head (default: ``confirmations``, 0 on instant finality)
  index_max_range     most blocks per eth_getLogs (default 2000; halved automatically on "too large")
  index_poll_interval seconds between polls of the head (default 1.0)
  explorer_tx_url     link template for a transaction on the explorer page, e.g.
                      ``https://explorer.example/tx/{tx}`` (default: this node's /provenance/tx/{tx})
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy.engine import Engine

from node_api.core.artifacts import load_artifacts
from node_api.core.config import Settings
from node_api.core.rpc import SyncRpc
from node_api.domain import CONTRACTS

from . import schema
from .follower import Follower, contract_abis, contracts_from_deployment

log = logging.getLogger(__name__)


def index_database_url(settings: Settings) -> str:
    url = settings.index_database_url or settings.database_url
    if not url:
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        url = schema.sqlite_url(str(data_dir / "index.db"))
    return url


class IndexService:
    """Database engine + follower; queries open their own connections on ``engine``."""

    def __init__(self, engine: Engine, follower: Follower | None, *, tx_url: str | None = None):
        self.engine = engine
        self.follower = follower
        self.tx_url = tx_url

    @classmethod
    def create(
        cls,
        database_url: str,
        rpc_url: "str | list[str]",
        contracts: Mapping[str, str],
        start_block: int,
        *,
        confirmations: int = 0,
        max_range: int = 2000,
        poll_interval: float = 1.0,
        artifacts: Mapping[str, Any] | None = None,
        tx_url: str | None = None,
    ) -> "IndexService":
        engine = schema.make_engine(database_url)
        follower = Follower(engine, SyncRpc(rpc_url), contracts, start_block, abis=contract_abis(artifacts),
                            confirmations=confirmations, max_range=max_range, poll_interval=poll_interval)
        return cls(engine, follower, tx_url=tx_url)

    @classmethod
    def from_settings(cls, settings: Settings, deployment: Any | None = None) -> "IndexService":
        """From the node's settings and its deployment (a ``node_api.core.deploy.Deployment``, or
        None: the record ``<data_dir>/deployments/<chainId>.json``)."""
        rpc_url = settings.effective_rpc_urls  # several: the follower fails over too (core/rpc.py)
        if deployment is not None:
            contracts = {CONTRACTS[k]: v for k, v in deployment.contracts.items() if k in CONTRACTS}
            start = int(deployment.block_number)
        else:
            with SyncRpc(rpc_url) as rpc:
                chain_id = rpc.chain_id()
            contracts, start = contracts_from_deployment(Path(settings.deployments_dir) / f"{chain_id}.json")
        return cls.create(
            index_database_url(settings),
            rpc_url,
            contracts,
            start,
            confirmations=settings.index_confirmations if settings.index_confirmations is not None
            else settings.confirmations,
            max_range=settings.index_max_range,
            poll_interval=settings.index_poll_interval,
            artifacts=load_artifacts(settings.evm_version),
            tx_url=settings.explorer_tx_url,
        )

    def start(self) -> "IndexService":
        if self.follower is not None:
            self.follower.start()
        return self

    def stop(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        self.engine.dispose()

    def status(self) -> dict[str, Any]:
        if self.follower is None:
            return {"following": False}
        return {"following": True, **self.follower.lag()}


def start_index(settings: Settings, deployment: Any | None = None) -> IndexService | None:
    """Create the index for the node's settings and start following the chain in a thread.

    Never stops the node from starting: on failure it logs why and returns None (the provenance
    routes then answer 503 "the provenance index is not running on this node")."""
    try:
        return IndexService.from_settings(settings, deployment).start()
    except Exception as exc:  # noqa: BLE001
        log.error("provenance index not started: %s: %s", type(exc).__name__, exc)
        return None
