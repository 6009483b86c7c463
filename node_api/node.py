"""The node's composition root: builds every service fully wired at start, stops them at the end.

Start, in order: the contracts' ABIs (``contract_artifacts``), the node's database and the chain's
identity (``services/chain_guard.check_identity``: a chain that is not the instance the data folder
belongs to is refused, ``ForeignChain``), the deployment
(the record in ``<data_dir>/deployments/<chainId>.json`` if it matches the chain, else deployed now),
the JSON-RPC client, the relayer (recovering its write-ahead log), the chain guard (head regressions,
a replaced chain), the provenance index (never stops the node from starting), then the services on top:

    Contracts --+-- Outcomes --+-- Idempotency
                |              +-- Relaying --+-- Forwarding
                +-- Reads                     +-- Custody
    Accounts (keystores, API keys, admin wallet)

No HTTP here (node_api.api builds the app on a Node) and no rule of the ledger (the contracts decide).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Mapping

from .core.abi import ContractABI, load_abis
from .core.artifacts import Artifact, load_artifacts
from .core.config import Settings
from .core.deploy import Deployment, deployment_for
from .core.rpc import ChainUnavailable, Rpc, SyncRpc
from .core.txsign import TxSigner
from .db import Database
from .index.service import IndexService, start_index
from .keys import Keystores
from .relayer import Relayer
from .relayer.fees import GWEI
from .services.accounts import Accounts, relayer_key
from .services.contracts import Contracts
from .services.admission import Admission
from .services.custody import Custody
from .services.describe import Describer
from .services.forwarding import Forwarding
from .services.health import HealthService
from .services.idempotency import Idempotency
from .services.key_policy import check_keys
from .services.names import Names
from .services.outcomes import Outcomes
from .services.reads import Reads
from .services.pipeline import Pipeline
from .services.relay_batch import ensure_batcher
from .services.chain_guard import ChainGuard, Identity, bind_deployment, check_identity
from .services.relaying import Relaying
from .services.signatures import Digests

log = logging.getLogger(__name__)


def contract_artifacts(settings: Settings) -> Mapping[str, Artifact]:
    """The contracts' ABIs and bytecode, built by ``make artifacts`` and shipped in the package (the
    one place the node obtains them; the node never compiles)."""
    return load_artifacts(settings.evm_version)


def _chain_id(url: str | list[str]) -> int:
    with SyncRpc(url) as rpc:
        return rpc.chain_id()


@dataclass(frozen=True)
class Node:
    """One node: its settings, deployment and running parts, and the services built on them."""

    settings: Settings
    deployment: Deployment
    rpc: Rpc
    db: Database
    relayer: Relayer
    index: IndexService | None
    contracts: Contracts
    outcomes: Outcomes
    relaying: Relaying
    forwarding: Forwarding
    custody: Custody
    idempotency: Idempotency
    accounts: Accounts
    reads: Reads
    #: /health's checks; other parts add reasons with ``node.health.report(code, message)``
    health: HealthService
    #: head regressions and chain identity (``status()`` for /health); None when built by ``wire`` alone
    guard: ChainGuard | None = None
    #: registry names (participants, sites, materials...) read from the registry's events
    names: Names | None = None
    #: typed data in words (POST /typed-data/describe)
    describer: Describer | None = None

    @classmethod
    async def start(cls, settings: Settings) -> "Node":
        s = settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        artifacts = contract_artifacts(s)
        key = relayer_key(s)
        if s.rpc_url is not None:  # published development keys only on the embedded chain (key_policy)
            try:
                external_id = await asyncio.to_thread(_chain_id, s.effective_rpc_urls)
            except ChainUnavailable as exc:
                raise RuntimeError(f"chain unreachable at {s.effective_rpc_url}: {exc}") from None
            check_keys(s, external_id, key)
        db = Database(s.effective_database_url)
        try:
            identity: Identity = await asyncio.to_thread(check_identity, s, db)
        except ChainUnavailable as exc:
            db.close()
            raise RuntimeError(f"chain unreachable at {s.effective_rpc_url}: {exc}") from None
        except BaseException:
            db.close()
            raise
        # the record in <data_dir>/deployments/<chainId>.json if its contracts are on this chain, else deployed now
        try:
            deployment = await asyncio.to_thread(deployment_for, s, artifacts)
        except ChainUnavailable as exc:
            raise RuntimeError(f"chain unreachable at {s.effective_rpc_url}: {exc}") from None
        chain_id = deployment.chain_id
        identity = await asyncio.to_thread(bind_deployment, s, db, deployment, identity)
        rpc = Rpc(s.effective_rpc_urls, max_batch=s.rpc_batch_size)  # several: failover (core/rpc.py)
        relayer = Relayer(
            rpc, db, TxSigner(key, chain_id),
            zero_gas_price=s.zero_gas_price, max_fee_per_gas=int(s.max_fee_per_gas_gwei * GWEI),
            fee_refresh_seconds=s.fee_refresh_seconds, poll_interval=s.poll_interval, batch_size=s.rpc_batch_size,
            rebroadcast_after=s.rebroadcast_after, confirmations=s.confirmations, max_queue=s.relay_queue_max,
        )
        batcher = await asyncio.to_thread(ensure_batcher, s, deployment, artifacts)  # issue 11: batching
        if batcher is not None:
            relayer.use_batcher(batcher, max_items=s.relay_batch_items, max_gas=s.relay_batch_gas)
        await relayer.start()
        mine_stuck = s.dev_mine_stuck_seconds if s.dev_mine_stuck_seconds is not None else (
            2.0 if s.rpc_url is None and s.anvil_block_time is None else None)  # the embedded automine chain
        guard = ChainGuard(rpc, relayer, identity, interval=s.chain_guard_interval, mine_stuck_after=mine_stuck)
        await guard.start()
        index = start_index(s, deployment)  # provenance index (node_api.index)
        return cls.wire(s, deployment, rpc, db, relayer, index, load_abis(artifacts), chain_id, guard=guard)

    @classmethod
    def wire(cls, settings: Settings, deployment: Deployment, rpc: Rpc, db: Database, relayer: Relayer,
             index: IndexService | None, abis: Mapping[str, ContractABI], chain_id: int,
             guard: ChainGuard | None = None) -> "Node":
        """The services on top of the running parts, each given what it uses."""
        s = settings
        contracts = Contracts(rpc, chain_id, dict(deployment.contracts), abis, deployment.block_number)
        digests = Digests(chain_id, contracts.forwarder, contracts.ledger)
        outcomes = Outcomes(contracts, db)
        relaying = Relaying(contracts, relayer, outcomes, wait_timeout=s.wait_timeout,
                            nonce_wait_seconds=s.nonce_wait_seconds)
        admission = Admission(contracts, members_only=s.relay_members_only, rate=s.relay_rate_per_signer,
                              burst=s.relay_burst_per_signer)
        names = Names(contracts)
        # issue 11: a signer's queue checked at chain speed, shared by the forwarded and the custody path
        pipeline = None if relayer.packer is None else Pipeline(
            contracts, relaying, admission, relayer.packer.batcher, max_waiting=s.relay_waiting_max,
            check_gas=s.relay_check_gas)
        return cls(
            settings=s, deployment=deployment, rpc=rpc, db=db, relayer=relayer, index=index,
            contracts=contracts, outcomes=outcomes, relaying=relaying,
            forwarding=Forwarding(contracts, relaying, digests, signature_ttl=s.signature_ttl,
                                  gas_margin_ppm=s.forward_gas_margin_ppm, gas_extra=s.forward_gas_extra,
                                  admission=admission, pipeline=pipeline),
            custody=Custody(contracts, relaying, digests, signature_ttl=s.signature_ttl, custody_gas=s.custody_gas,
                            admission=admission, pipeline=pipeline),
            idempotency=Idempotency(db, outcomes, vouch=guard.vouch if guard is not None else None),
            accounts=Accounts(db, Keystores.from_settings(s), s.admin_wallet_key or s.deployer_key),
            reads=Reads(contracts),
            health=HealthService(s, rpc, relayer, index, guard).start(),
            guard=guard,
            names=names,
            describer=Describer(contracts, names),
        )

    async def stop(self) -> None:
        await self.health.stop()
        if self.index is not None:
            self.index.stop()
        if self.guard is not None:
            await self.guard.stop()
        await self.relayer.stop()
        await self.rpc.aclose()
        self.db.close()

    # ------------------------------------------------------------------ shorthands (tests, scripts)
    @property
    def chain_id(self) -> int:
        return self.contracts.chain_id

    @property
    def addresses(self) -> dict[str, str]:
        return self.contracts.addresses

    @property
    def abis(self) -> Mapping[str, ContractABI]:
        return self.contracts.abis

    @property
    def ledger(self) -> str:
        return self.contracts.ledger

    @property
    def forwarder(self) -> str:
        return self.contracts.forwarder
