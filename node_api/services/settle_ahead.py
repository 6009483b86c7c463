"""Accept, reject and cancel at chain speed: a settlement of a proposal still on its way to the chain.

A receiver who accepts a proposal the node has accepted (checked and handed to the relayer) but the
chain has not mined yet is not held until it is mined:

- **Checked on the state the proposal leaves.** The settlement is first run against the chain; if
  the chain does not know the transfer yet (``BatchTransferNotPending`` with status none) and the
  proposal is among the pipeline's accepted messages of its sender, it is checked in one
  ``RelayBatch.check`` after that lane's accepted messages up to the proposal's nonce
  (``Pipeline.check_after``). A refusal (a wrong signature of a contract wallet, a transfer that
  does not match, an expired deadline) comes back with the ledger's own error before any gas is
  spent. A proposal still being checked is waited for (it is accepted or refused within moments);
  one the pipeline does not hold while it holds others of the sender is refused at once (the
  transfer does not exist); a lane the pipeline holds nothing of while the relayer has its
  transactions in flight (sent before a restart) is waited for, as before.
- **Relayed without waiting.** The settlement goes to the relayer after its proposal, so its
  transaction has a higher relayer nonce (or a later place in the same RelayBatch carrier): it lands
  in the same block as the proposal, or a later one.
- **Re-checked at inclusion, never lost.** If the settlement is still included before its proposal
  (the proposal's transaction was dropped and signed again with a fresh nonce, or sent again after
  a nonce error), it reverts with ``BatchTransferNotPending`` (none). The node then waits for the
  proposal's own outcome: once the proposal is mined, the same signed settlement is sent again (a
  settlement carries no nonce; the ledger runs it at most once) and the first transaction's status
  leads to the new one (``replaced`` -> ``replacedBy``, as for any action signed again). If the
  proposal never lands (refused at inclusion, lost), the settlement's answer is that revert: the
  truth (the transfer does not exist on chain).
- **Per-item answers.** Each settlement keeps its own handle and outcome; a cancel and an accept of
  the same in-flight proposal both pass their checks (each is valid on the proposal's state) and the
  chain runs exactly one: the other reverts with the transfer's new status.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import Any

from ..actions.batches import Transfer
from ..core.abi import decode_revert
from ..domain import TransferStatus
from ..errors import contract_error
from ..relayer import Lane, RelayRequest, TxHandle
from .contracts import LEDGER, Contracts
from .pipeline import Pipeline
from .relaying import Relaying

log = logging.getLogger(__name__)
#: how often one settlement is sent again after being included before its proposal
MAX_RESENDS = 3
#: pause between looks at a proposal the pipeline is still checking
_WAITING_POLL = 0.02


def _unproposed(name: str, args: dict[str, Any]) -> bool:
    """The ledger's answer for a transfer it does not know (not proposed, or not mined yet)."""
    return name == "BatchTransferNotPending" and int(args.get("status", -1)) == TransferStatus.NONE


class SettleAhead:
    def __init__(self, contracts: Contracts, relaying: Relaying, pipeline: Pipeline, custody_gas: int):
        self.contracts = contracts
        self.relaying = relaying
        self.pipeline = pipeline
        self.custody_gas = custody_gas
        #: follow-ups of settlements relayed ahead of their proposals (kept referenced until done)
        self._following: set[asyncio.Task] = set()
        self.stats = {"ahead": 0, "resent": 0}

    async def check(self, data: bytes, t: Transfer) -> bool:
        """Checks the settlement call ``data`` of transfer ``t``: False when the chain's state passes
        it, True when it passes on the state its accepted, unmined proposal leaves; otherwise raises
        the ledger's error (nothing is relayed)."""
        lane = Lane.ledger(t.from_)
        call = {"from": self.relaying.address, "to": self.contracts.ledger, "data": "0x" + data.hex(),
                "gas": hex(self.custody_gas)}
        give_up = self.relaying.give_up_at()
        looked_again = False
        while True:
            r = await self.contracts.try_call(call)
            if r is None:
                return False
            name, args = r
            if not _unproposed(name, args):
                raise contract_error(name, args)
            res = await self.pipeline.check_after(lane, t.nonce, data)
            if res is not None:
                ok, reason, _ = res
                if ok:
                    return True
                raise contract_error(*decode_revert(bytes(reason)))
            state = self.pipeline.proposal_state(lane, t.nonce)
            if state == "waiting" and self.relaying.before(give_up):
                await asyncio.sleep(_WAITING_POLL)  # its check is under way: accepted or refused shortly
                continue
            if state is None and self.relaying.inflight(lane) and self.relaying.before(give_up):
                # in flight, not through this pipeline (sent before a restart): wait for it as before
                await self.relaying.wait_progress(lane)
                continue
            if not looked_again:  # mined (and forgotten by the pipeline) between the two looks: once more
                looked_again = True
                continue
            raise contract_error(name, args)

    async def relay_ahead(self, req: RelayRequest, t: Transfer, wait: bool) -> dict[str, Any]:
        """Hands the checked settlement ``req`` to the relayer now (after its proposal) and follows it
        until its outcome stands (sent again if it was included before its proposal)."""
        self.stats["ahead"] += 1
        h = self.relaying.relayer.submit(req)
        follow = asyncio.create_task(self._follow(h, t))
        self._following.add(follow)
        follow.add_done_callback(self._following.discard)
        first = await self.relaying.answer(h, req, False)  # a refused send raises here
        if not wait:
            return first
        try:
            final = await asyncio.wait_for(asyncio.shield(follow), self.relaying.wait_timeout)
        except asyncio.TimeoutError:
            return first
        return await self.relaying.answer(final, final.request, True)

    async def _follow(self, h: TxHandle, t: Transfer) -> TxHandle:
        """The handle whose outcome is the settlement's: ``h``, or the one it was sent again as."""
        lane = Lane.ledger(t.from_)
        for _ in range(MAX_RESENDS):
            try:
                outcome = await asyncio.shield(h.done)
            except Exception:  # noqa: BLE001 - the relayer's error is the answer
                return h
            err = outcome.get("error") or {}
            if outcome.get("status") != "reverted" or not _unproposed(err.get("name", ""), err.get("args") or {}):
                return h
            # included before its proposal: wait for the proposal's own outcome
            give_up = self.relaying.give_up_at()
            while self.relaying.before(give_up) and await self.relaying.nonce(lane) <= t.nonce and (
                    self.pipeline.proposal_state(lane, t.nonce) in ("accepted", "waiting") or self.relaying.inflight(lane)):
                await self.relaying.wait_progress(lane)
            req = h.request
            call = {"from": self.relaying.address, "to": req.to, "data": "0x" + req.data.hex(), "gas": hex(req.gas)}
            if await self.contracts.try_call(call) is not None:
                return h  # the proposal did not land (or the transfer was settled otherwise): the revert stands
            again = self.relaying.relayer.submit(replace(req, batchable=False))  # alone, after the proposal
            try:
                new_hash = await asyncio.shield(again.sent)
            except Exception:  # noqa: BLE001 - could not send again: the revert stands
                return h
            self.stats["resent"] += 1
            log.warning("settlement %s was included before its proposal (nonce %d of %s): sent again as %s",
                        h.hash, t.nonce, t.from_, new_hash)
            self.relaying.relayer.db.update_txs([(h.hash, {"status": "replaced", "error": json.dumps({
                "name": "Replaced", "replacedBy": new_hash,
                "message": f"included in block {outcome.get('blockNumber')} before its proposal (the transfer "
                           f"was not on chain yet): sent again as {new_hash}"})})])
            h = again
        return h
