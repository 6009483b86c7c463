"""The chain guard: the node's chain is the instance its data folder belongs to, and never goes back
unnoticed.

At start (``check_identity``, before anything is deployed or sent): the data folder's ``node.db``
records the chain instance it belongs to (chain id, hash of block 0, deployment block and its hash).
A chain whose deployment block (or, before a deployment, genesis) differs (a reset chain, another
network on the same URL)
is refused with a message saying how to proceed (a new data folder, or ``COC_ACCEPT_NEW_CHAIN=1``,
which marks every transaction of the old instance ``lost`` and deploys again). A data folder with no
record yet is bound to the chain it starts on.

While running (``ChainGuard``, a task every ``chain_guard_interval`` seconds): the head and the hash
of the highest block seen. A head lower than one already seen, or a different block at that height
(the embedded chain restarted from an older state file, a reorganisation), is a regression: the
relayer gives the chain every logged transaction it lost (``Relayer.reconcile``) before sending
anything new. A different block at the identity anchor (the deployment block; the chain was replaced under a
running node) halts the relayer:
nothing is sent or rebroadcast to another chain instance.

``status()`` is what ``/health`` reads: ``ok`` and the reasons it is not; ``behind(head)`` says
whether the chain is behind what this node has seen or sent (``/health``'s ``chain_regression``): a
head below the highest block seen (before the next check has run), a reconcile running or failed,
or transactions it re-sent after a regression not mined again yet.

``vouch(body)``: a status answer that says ``mined`` (or ``reverted``) is checked against the chain
before it leaves: the receipt's block must still be the canonical block at its height. If it is not,
the guard checks now (and reconciles: the transaction is sent again and answers ``pending``); a
status read right after a regression never says ``mined`` for a block the chain no longer has.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..core.config import Settings
from .background import cancel
from ..core.deploy import Deployment, block_hash
from ..core.rpc import ChainUnavailable, Rpc, RpcError, SyncRpc
from ..db import Database
from ..relayer import Relayer

log = logging.getLogger(__name__)

#: every this many checks (and after the chain was unreachable), the guard also compares the anchor block
_ANCHOR_EVERY = 10
#: regressions kept in the status
_KEEP_EVENTS = 10


class ForeignChain(RuntimeError):
    """The chain is not the instance the data folder belongs to."""


def _foreign_message(settings: Settings, what: str) -> str:
    return (f"the chain at {settings.effective_rpc_url} is not the chain the data folder {settings.data_dir} "
            f"belongs to: {what}. Its transactions, idempotency answers and deployment are for the other "
            "chain instance. To proceed: start with a new data folder (COC_DATA_DIR), or set "
            "COC_ACCEPT_NEW_CHAIN=1 to keep this folder, mark every transaction of the old chain 'lost' "
            "and deploy the contracts again.")


@dataclass(frozen=True)
class Identity:
    """The chain instance: its id and one block of it (the deployment block once there is one,
    else block 0) that any other instance has with another hash."""

    chain_id: int
    anchor_block: int
    anchor_hash: str


def check_identity(settings: Settings, db: Database) -> Identity:
    """Refuses (``ForeignChain``) a chain whose genesis, or whose block at the recorded deployment
    block, differs from the data folder's record; with ``accept_new_chain`` forgets the old instance
    instead (transactions ``lost``, deployment records removed). Blocking."""
    meta = db.meta()
    with SyncRpc(settings.effective_rpc_urls, retries=0) as rpc:
        chain_id = rpc.chain_id()
        genesis = block_hash(rpc, 0)
        problem = None
        if meta.get("chain_id") and int(meta["chain_id"]) != chain_id:
            problem = f"its chain id is {chain_id}, the folder's is {meta['chain_id']}"
        elif meta.get("deployment_block_hash"):
            # the deployment block decides: Anvil restarted from its state file may answer another
            # block 0 (each start adds a genesis block to the state it dumps) but keeps every other block
            at = int(meta["deployment_block"])
            found = block_hash(rpc, at)
            if found != meta["deployment_block_hash"]:
                problem = (f"its block {at} (where the contracts were deployed) is "
                           f"{found or 'missing'}, the folder's is {meta['deployment_block_hash']}")
        elif meta.get("genesis_hash") and meta["genesis_hash"] != genesis:
            problem = f"its genesis block is {genesis}, the folder's is {meta['genesis_hash']}"
        anchor = (int(meta["deployment_block"]), meta["deployment_block_hash"]) \
            if meta.get("deployment_block_hash") and problem is None else (0, genesis)
    if problem is not None:
        if not settings.accept_new_chain:
            raise ForeignChain(_foreign_message(settings, problem))
        reason = f"the chain was reset ({problem}); this transaction belongs to the old chain instance"
        n = db.mark_all_lost(reason)
        for f in settings.deployments_dir.glob("*.json"):
            f.rename(f.with_suffix(".json.old"))
        db.set_meta({"chain_id": str(chain_id), "genesis_hash": genesis, "deployment_block": "0",
                     "deployment_block_hash": "", "reset_at": str(time.time()), "reset_reason": problem})
        log.warning("accepting a new chain instance (%s): %d transactions of the old one marked lost", problem, n)
    elif not meta.get("genesis_hash"):
        db.set_meta({"chain_id": str(chain_id), "genesis_hash": genesis})
    return Identity(chain_id, *anchor)


def bind_deployment(settings: Settings, db: Database, deployment: Deployment, identity: Identity) -> Identity:
    """Records the deployment block and its hash in ``node.db``; returns the identity anchored
    there (blocking)."""
    with SyncRpc(settings.effective_rpc_urls, retries=0) as rpc:
        h = deployment.block_hash or block_hash(rpc, deployment.block_number)
    db.set_meta({"deployment_block": str(deployment.block_number), "deployment_block_hash": h,
                 "ledger": deployment.contracts.get("BatchLedger", "")})
    return Identity(identity.chain_id, deployment.block_number, h)


class ChainGuard:
    """Watches the head for regressions and the anchor block for a replaced chain (see the module doc)."""

    def __init__(self, rpc: Rpc, relayer: Relayer, identity: Identity, *, interval: float = 0.5,
                 mine_stuck_after: float | None = None):
        self.rpc = rpc
        #: dev chain only: seconds a relayed transaction may sit in a pool of ready transactions with no
        #: block before the guard mines one (``unstick``); None/0: never
        self.mine_stuck_after = mine_stuck_after or None
        self.unstuck = 0
        self._dev_chain: bool | None = None
        self._last_unstick = 0.0
        self.relayer = relayer
        self.identity = identity
        self.interval = interval
        self.head: int | None = None
        self.highest: tuple[int, str] | None = None  # (number, hash) of the highest block seen
        self.unreachable: str | None = None
        self.foreign: str | None = None
        self.recovering: str | None = None
        self.events: list[dict[str, Any]] = []
        self.checks = 0
        #: transactions the last reconcile sent again (their hashes), until each is mined again
        self.resent: set[str] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    # ------------------------------------------------------------------ what /health reads
    def status(self) -> dict[str, Any]:
        """``ok`` (bool), ``reasons`` (list of sentences, empty when ok), and the facts behind them."""
        reasons = [r for r in (self.foreign, self.unreachable, self.recovering) if r]
        return {
            "ok": not reasons,
            "reasons": reasons,
            "head": self.head,
            "highestSeen": self.highest[0] if self.highest else None,
            "anchor": {"block": self.identity.anchor_block, "hash": self.identity.anchor_hash},
            "regressions": list(self.events),
            "relayerHalted": self.relayer.halted,
        }

    async def behind(self, head: int | None) -> str | None:
        """Why the chain is behind what this node has seen or sent, or None (see the module doc)."""
        if self.recovering:
            return self.recovering
        seen = max((x for x in (self.highest, self.relayer.last_receipt) if x is not None), default=None)
        if head is not None and seen is not None:
            try:  # the highest block this node saw (or got a receipt in): still the chain's?
                blk = await self.rpc.call_direct("eth_getBlockByNumber", [hex(seen[0]), False])
            except (ChainUnavailable, RpcError):
                blk = seen = None  # /health says unreachable
            if seen is not None and (not isinstance(blk, dict) or blk.get("hash") != seen[1]):
                return (f"block {seen[0]} that this node saw is no longer on the chain (head {head}): it came "
                        "back behind (a restart from an older state or a reorganisation); recovering")
        if self.resent:
            still = [h for h in self.resent if (self.relayer.db.tx(h) or {}).get("status") in ("signed", "sent")]
            self.resent = set(still)
            if still:
                return (f"{len(still)} transaction(s) sent again after the chain went back are not mined again yet")
        return None

    async def vouch(self, body: dict[str, Any], reread: Any) -> dict[str, Any]:
        """``body`` (a transaction status) if its ``mined``/``reverted`` block is canonical now; else
        the guard checks (and reconciles) now and the status is read again (``reread()``); if the
        block is still not canonical, ``pending``. The chain unreachable: the recorded answer."""
        if body.get("status") not in ("mined", "reverted") or body.get("blockNumber") is None:
            return body
        if await self._canonical(body):
            return body
        await self.check()
        body = reread()
        if body.get("status") not in ("mined", "reverted") or await self._canonical(body):
            return body
        return {k: v for k, v in body.items() if k not in ("result", "events", "error", "gasUsed")} | {
            "status": "pending", "blockNumber": None}

    async def _canonical(self, body: dict[str, Any]) -> bool:
        row = self.relayer.db.tx(body["txHash"]) or {}
        try:
            blk = await self.rpc.call_direct("eth_getBlockByNumber", [hex(int(body["blockNumber"])), False])
        except (ChainUnavailable, RpcError):
            return True  # cannot tell: the recorded receipt stands (/health says unreachable)
        return isinstance(blk, dict) and bool(row.get("block_hash")) and blk.get("hash") == row["block_hash"]

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
                if self.mine_stuck_after:
                    await self.unstick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the guard never dies
                log.exception("chain guard check failed")

    # ------------------------------------------------------------------ a stuck development pool
    async def unstick(self) -> bool:
        """Mines one block (``evm_mine``) when a relayed transaction has waited ``mine_stuck_after``
        seconds while the chain's pool holds ready transactions, on an Anvil that does not mine on a
        timer. Why: Anvil 1.7's instant miner can leave transactions that became ready together (a
        burst of JSON-RPC arrays) in its pool with no block to come, or mine empty blocks past them,
        until some other transaction arrives; ``evm_mine`` takes every ready transaction. Never on
        another chain: a real chain's stuck transaction is the relayer's to re-send, not to mine."""
        ages = self.relayer.pending_ages()
        if not ages or max(a for _, a in ages) < self.mine_stuck_after:
            return False
        if time.monotonic() - self._last_unstick < self.mine_stuck_after:
            return False
        if self._dev_chain is None:
            self._dev_chain = await self._is_dev_anvil()
        if not self._dev_chain:
            return False
        status = await self.rpc.call_direct("txpool_status", [])
        if not isinstance(status, dict) or int(str(status.get("pending", "0x0")), 16) == 0:
            return False  # nothing ready to mine: not this stall
        await self.rpc.call_direct("evm_mine", [])
        self._last_unstick = time.monotonic()
        self.unstuck += 1
        log.warning("development chain: %d ready transaction(s) sat in Anvil's pool with no block for %.1fs "
                    "(relayed %d pending); mined one block", int(str(status["pending"]), 16),
                    self.mine_stuck_after, len(ages))
        return True

    async def _is_dev_anvil(self) -> bool:
        try:
            version = str(await self.rpc.call_direct("web3_clientVersion", []))
            interval = await self.rpc.call_direct("anvil_getIntervalMining", [])
        except (ChainUnavailable, RpcError) as exc:
            log.warning("mine_stuck: the chain is not a development Anvil (%s): never mining", exc)
            return False
        ok = version.lower().startswith("anvil") and not interval
        if not ok:
            log.warning("mine_stuck: the chain (%s, interval mining %s) is not an Anvil without a block time: "
                        "never mining", version, interval)
        return ok

    # ------------------------------------------------------------------ the check
    async def check(self) -> None:
        """One check (serialised: the background task and ``vouch`` may both call it)."""
        async with self._lock:
            await self._check()

    async def _check(self) -> None:
        if self.foreign:
            return
        self.checks += 1
        calls: list[tuple[str, list[Any]]] = [("eth_blockNumber", [])]
        receipt = self.relayer.last_receipt  # a receipt's block above what the guard saw: checked too
        if receipt is not None and (self.highest is None or receipt[0] > self.highest[0]):
            self.highest = receipt
        if self.highest is not None:
            calls.append(("eth_getBlockByNumber", [hex(self.highest[0]), False]))
        with_anchor = self.unreachable is not None or self.checks % _ANCHOR_EVERY == 1
        if with_anchor:
            calls.append(("eth_getBlockByNumber", [hex(self.identity.anchor_block), False]))
        try:
            res = await self.rpc.batch(calls)
        except ChainUnavailable as exc:
            self.unreachable = f"the chain is unreachable at {self.rpc.url}: {exc}"
            return
        if any(isinstance(r, RpcError) for r in res):
            self.unreachable = f"the chain answers errors: {[str(r) for r in res if isinstance(r, RpcError)]}"
            return
        self.unreachable = None
        head = int(res[0], 16)
        self.head = head
        if with_anchor and self._replaced(res[-1]):
            return
        if self.highest is not None:
            seen = res[1]
            now_hash = seen.get("hash") if isinstance(seen, dict) else None
            if now_hash != self.highest[1]:
                # A regression, or a replaced chain: tell them apart before re-sending anything. A new
                # chain with the same chain id would take the relayer's old transactions (seen in CI: a
                # reset Anvil got 3 of them when the anchor was not due in this tick).
                if not with_anchor:
                    try:
                        anchor = await self.rpc.call_direct("eth_getBlockByNumber",
                                                            [hex(self.identity.anchor_block), False])
                    except (ChainUnavailable, RpcError) as exc:
                        self.unreachable = f"the chain is unreachable at {self.rpc.url}: {exc}"
                        return  # looked at again in the next check, before anything is re-sent
                    if self._replaced(anchor):
                        return
                await self._regressed(head, now_hash)
                return
        if self.highest is None or head > self.highest[0]:
            blk = await self.rpc.call_direct("eth_getBlockByNumber", [hex(head), False])
            if isinstance(blk, dict) and blk.get("hash"):
                self.highest = (head, blk["hash"])

    def _replaced(self, blk: Any) -> bool:
        """True (and the relayer halted) when ``blk``, the chain's block at the identity anchor, is not
        this node's: the chain was replaced under the running node."""
        ah = blk.get("hash") if isinstance(blk, dict) else None
        if ah == self.identity.anchor_hash:
            return False
        self.foreign = ("the chain was replaced under the running node: its block "
                        f"{self.identity.anchor_block} is {ah or 'missing'}, this node's chain has "
                        f"{self.identity.anchor_hash}; the relayer is halted (nothing is sent to "
                        "another chain instance). Restart the node: it refuses the new chain unless "
                        "COC_ACCEPT_NEW_CHAIN=1")
        self.relayer.halt(self.foreign)
        return True

    async def _regressed(self, head: int, hash_at_highest: str | None) -> None:
        assert self.highest is not None
        seen = self.highest[0]
        what = (f"the chain went back from block {seen} to {head}" if hash_at_highest is None
                else f"block {seen} was replaced (reorganisation or restart from an older state)")
        self.recovering = f"{what}; re-sending the relayer's lost transactions"
        log.warning("chain regression: %s", what)
        event: dict[str, Any] = {"at": time.time(), "from": seen, "to": head, "what": what}
        try:
            out = await self.relayer.reconcile()
        except (ChainUnavailable, RuntimeError) as exc:
            self.recovering = f"{what}; the relayer could not re-send yet: {exc}"
            return  # retried at the next check (highest unchanged)
        event.update(resent=out.resent, lost=out.lost, fillers=out.fillers)
        self.resent = set(out.pending)
        self.relayer.last_receipt = None
        self.events = (self.events + [event])[-_KEEP_EVENTS:]
        self.recovering = None
        blk = await self.rpc.call_direct("eth_getBlockByNumber", ["latest", False])
        self.highest = (int(blk["number"], 16), blk["hash"]) if isinstance(blk, dict) else None
