"""A signer's queue checked and sent at chain speed: many of its actions in one block.

A wallet's signed messages carry nonces its contract consumes in order (the ledger's for custody
proposals, the forwarder's for ERC-2771 requests). Before, a message signed ahead of the chain was
held until its predecessor was *mined*: one action per signer per block. Here it waits only until
its predecessor is *accepted* (checked and handed to the relayer), then is checked against the
state its predecessors leave:

- Per lane (one signer's nonce sequence) the node keeps the messages it accepted and that the chain
  has not consumed yet, in nonce order. New messages whose nonces continue that sequence form a
  group; the group is simulated in one ``eth_call`` of ``RelayBatch.check(preds + group)``
  (contracts/batching/RelayBatch.sol) pinned to one block: each item runs in order on the state
  the items before it leave, each in its own frame, so the answer is per item. This needs no
  ``eth_simulateV1`` or pending-block support from the chain (Anvil and geth 1.13 answer it alike).
- An item that fails is refused with the contract's own error before any gas is spent; the items
  of the same signer after it (which need its nonce) are refused as depending on it, with its
  reason; other signers' items are not affected.
- Accepted items go to the relayer in nonce order; at inclusion RelayBatch runs each on its own
  again (a conflict with another signer's action in the same block fails that item alone, and its
  answer says so).
- Linear work: a check re-runs the lane's accepted, unmined predecessors before its new group, so
  a group goes only once it is at least 1/``RECHECK_RATIO`` of them (a check then runs at most
  1 + RECHECK_RATIO times as many items as it decides), or once its first item has waited
  ``DEFER_SECONDS``, or when there are none (the next block mined them). A signer's 1,000 items
  arriving together are checked in one or a few calls, not re-run in every round. A lane's
  predecessors and new group fit in one call's gas (``check_gas``, estimated per lane from the gas
  its items used): a signer with more unmined than that waits for blocks (per block, one signer
  gets about ``check_gas`` / its item's gas of actions checked).
- A check never refuses what it did not reach: ``RelayBatch.check`` keeps gas to answer and stops
  early (fewer results), and an item that ran out of gas near the end of the call (empty revert
  data) is not refused either; both wait for the next round, with a grown estimate.
- Bounded: at most ``max_waiting`` messages wait for their predecessors (429 ``NodeBusy`` with
  Retry-After beyond), and a message waits at most the node's nonce-wait time for a missing
  predecessor (409 ``NonceAhead``) or for its accepted predecessors to be mined (429 ``NodeBusy``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ..core.rpc import ChainUnavailable, RpcError
from ..errors import ApiError, chain_unavailable
from ..relayer import Lane, RelayRequest, TxHandle
from ..relayer.batching import decode_check, encode_check
from .admission import Admission
from .contracts import Contracts
from .relaying import NONCE_CONTRACT, Relaying

log = logging.getLogger(__name__)

#: (the failed item's revert data) -> the refusal to answer with
Explain = Callable[[bytes], Awaitable[ApiError]]
#: gas a checked item is given on top of what the check used (ppm, plus a constant)
GAS_MARGIN_PPM = 500_000
GAS_EXTRA = 40_000
#: a lane's new group is checked once it is at least 1/RECHECK_RATIO of the accepted, unmined
#: predecessors the check re-runs before it: each check's work is then at most (1 + RECHECK_RATIO)
#: times its new items
RECHECK_RATIO = 4
#: ... or once its first item has waited this long (bounds how long a straggler waits; at most
#: 1/DEFER_SECONDS such small checks per lane and second)
DEFER_SECONDS = 0.25
#: rounds a refusal found while the chain's head moved waits for a check on a settled head
HOLD_ROUNDS = 3


class NodeBusy(ApiError):
    """429 with Retry-After: the node holds as many actions as it may; nothing was relayed."""

    def __init__(self, what: str, retry_after: int = 2):
        super().__init__(429, "NodeBusy", f"{what}: retry in {retry_after} s (nothing of this action was relayed)",
                         {"retryAfter": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


@dataclass
class _Waiter:
    nonce: int
    call: bytes
    req: RelayRequest
    explain: Explain
    used: Callable[[int], Awaitable[ApiError]]
    give_up: float
    fut: asyncio.Future
    #: when it arrived (monotonic)
    since: float = field(default_factory=time.monotonic)
    #: rounds its refusal was held back because the head moved during the check
    held: int = 0


@dataclass
class _Lane:
    #: nonce -> call of messages handed to the relayer and not yet consumed on chain
    accepted: dict[int, tuple[bytes, int]] = field(default_factory=dict)  # nonce -> (call, gas its check used)
    waiting: dict[int, _Waiter] = field(default_factory=dict)
    #: nonce -> why it was refused (its successors are refused with it)
    refused: dict[int, str] = field(default_factory=dict)
    #: the most gas one of this lane's items used in its last check (0: none checked yet)
    gas: int = 0


class Pipeline:
    def __init__(self, contracts: Contracts, relaying: Relaying, admission: Admission, batcher: str, *,
                 max_group: int = 200, max_waiting: int = 20_000, check_gas: int = 30_000_000,
                 item_gas: int = 150_000):
        self.contracts = contracts
        self.relaying = relaying
        self.admission = admission
        self.batcher = batcher
        self.max_group = max_group
        self.max_waiting = max_waiting
        #: gas of one check call (at most the chain's eth_call cap; default: its block gas limit)
        self.check_gas = check_gas
        #: gas assumed for an item not checked yet
        self.item_gas = item_gas
        self._lanes: dict[Lane, _Lane] = {}
        self._waiting = 0
        self._kick = asyncio.Event()
        self.defer_seconds = DEFER_SECONDS
        #: the monotonic time a deferred group is due (see RECHECK_RATIO)
        self._wake = float("inf")
        self._task: asyncio.Task | None = None
        #: checked (new items), rechecked (predecessors run again before them), deferred (small groups
        #: held back, RECHECK_RATIO), short (items a check's gas did not reach: checked again later),
        #: unsettled (items not decided because a predecessor did not pass again in their check),
        #: held (refusals put off because the head moved during their check, HOLD_ROUNDS)
        self.stats = {"groups": 0, "checked": 0, "accepted": 0, "refused": 0, "rechecked": 0, "deferred": 0,
                      "short": 0, "unsettled": 0, "held": 0}

    @property
    def waiting(self) -> int:
        return self._waiting

    async def submit(self, lane: Lane, nonce: int, call: bytes, req: RelayRequest, *, explain: Explain,
                     used: Callable[[int], Awaitable[ApiError]]) -> TxHandle:
        """Checks ``call`` (the signed message of ``lane`` with ``nonce``) after its predecessors and
        hands ``req`` to the relayer: the relayer's handle, or the refusal (ApiError)."""
        st = self._lanes.get(lane)
        if st is None:
            st = self._lanes[lane] = _Lane()
        if nonce in st.waiting:
            raise ApiError(409, "NonceInFlight",
                           f"an action of {lane.key} with nonce {nonce} is already on its way to the chain",
                           {"nonce": nonce, "signer": lane.key})
        if self._waiting >= self.max_waiting:
            raise NodeBusy(f"this node has {self._waiting} signed actions waiting to be checked")
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        st.waiting[nonce] = _Waiter(nonce, call, req, explain, used, self.relaying.give_up_at(), fut)
        self._waiting += 1
        self._kick.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drive())
        return await asyncio.shield(fut)

    # ------------------------------------------------------------------ the driver: one round for every lane
    def _finish(self, st: _Lane, w: _Waiter, result: TxHandle | ApiError) -> None:
        st.waiting.pop(w.nonce, None)
        self._waiting -= 1
        if w.fut.done():
            return
        if isinstance(result, ApiError):
            self.stats["refused"] += 1
            w.fut.set_exception(result)
            w.fut.add_done_callback(lambda f: f.exception())
        else:
            w.fut.set_result(result)

    async def _drive(self) -> None:
        while self._waiting:
            self._kick.clear()
            lanes = [(lane, st) for lane, st in self._lanes.items() if st.waiting]
            try:
                try:
                    progressed = await self._round(lanes)
                except (ChainUnavailable, RpcError) as exc:  # once more before refusing: a lost reply
                    log.warning("pipeline round failed (%s): once more", exc)
                    await asyncio.sleep(0.2)
                    lanes = [(lane, st) for lane, st in self._lanes.items() if st.waiting]
                    progressed = await self._round(lanes)
            except (ChainUnavailable, RpcError) as exc:
                err = chain_unavailable(str(exc))
                for _, st in lanes:
                    for w in list(st.waiting.values()):
                        self._finish(st, w, err)
                continue
            except Exception as exc:  # noqa: BLE001 - never leave a caller waiting
                log.exception("pipeline round failed")
                for _, st in lanes:
                    for w in list(st.waiting.values()):
                        self._finish(st, w, ApiError(500, "InternalError", f"the node's check failed: {exc}"))
                continue
            finally:
                for lane, st in lanes:
                    if not st.waiting and not st.accepted and self._lanes.get(lane) is st:
                        del self._lanes[lane]
            if not progressed and self._waiting:
                nearest = min((w.give_up for st in self._lanes.values() for w in st.waiting.values()),
                              default=time.monotonic() + 0.5)
                nearest = min(nearest, self._wake)
                try:
                    await asyncio.wait_for(self._kick.wait(), max(0.01, min(0.5, nearest - time.monotonic())))
                except asyncio.TimeoutError:
                    pass

    async def _chain_nonces(self, lanes: list[Lane], head: dict[str, str]) -> list[int]:
        calls = []
        for lane in lanes:
            contract = NONCE_CONTRACT[lane.kind]
            data = self.contracts.encode(contract, "nonces", lane.key)
            calls.append(("eth_call", [{"to": self.contracts.addresses[contract], "data": "0x" + data.hex()}, head]))
        out = []
        for lane, res in zip(lanes, await self.contracts.rpc.batch(calls)):
            if isinstance(res, RpcError):
                raise res
            out.append(int(self.contracts.abis[NONCE_CONTRACT[lane.kind]].fn("nonces", 1).decode_output(res)))
        return out

    async def _round(self, lanes: list[tuple[Lane, _Lane]]) -> bool:
        """Every lane with messages waiting: chain nonces read at one block, the groups that continue
        their lanes checked in as few ``RelayBatch.check`` calls as the gas allows (each lane's
        accepted predecessors before its group), admitted, and handed to the relayer in check order."""
        rpc = self.contracts.rpc
        self._wake = float("inf")
        _t0 = time.monotonic()
        # Pinned by hash (EIP-1898), not by number: the nonces read and the checks then see the very
        # same state (Anvil answered a number that had just become historical with the newer state for
        # the nonces and the older one for the check, refusing items as InvalidAccountNonce).
        block = await rpc.call("eth_getBlockByNumber", ["latest", False])
        number, head = int(block["number"], 16), {"blockHash": block["hash"]}
        chains = await self._chain_nonces([lane for lane, _ in lanes], head)
        progressed = False
        now = time.monotonic()
        # (lane, state, preds, group) per lane with something to check
        work: list[tuple[Lane, _Lane, list[bytes], list[_Waiter]]] = []
        for (lane, st), chain in zip(lanes, chains):
            for n in [n for n in st.accepted if n < chain]:  # consumed on chain
                del st.accepted[n]
            for n in [n for n in st.refused if n < chain - 1000]:
                del st.refused[n]
            expected = max([chain] + [n + 1 for n in st.accepted])
            contiguous = expected  # the first nonce from ``expected`` on that nobody has sent
            while contiguous in st.waiting:
                contiguous += 1
            for w in sorted(st.waiting.values(), key=lambda w: w.nonce):
                # a refused predecessor that no new message of the same nonce replaces
                blocking = [r for r in st.refused if expected <= r < w.nonce and r not in st.waiting]
                if w.nonce < chain:
                    self._finish(st, w, await w.used(chain))
                    progressed = True
                elif w.nonce in st.accepted:
                    self._finish(st, w, ApiError(
                        409, "NonceInFlight", f"an action of {lane.key} with nonce {w.nonce} is already on its way "
                        "to the chain", {"nonce": w.nonce, "signer": lane.key}))
                    progressed = True
                elif blocking:
                    r = max(blocking)
                    st.refused[w.nonce] = f"depends on nonce {r}"
                    self._finish(st, w, self._depends(lane, w.nonce, r, st.refused[r]))
                    progressed = True
                elif now >= w.give_up and w.nonce > contiguous:  # a predecessor is missing
                    self._finish(st, w, ApiError(
                        409, "NonceAhead", f"nonce {w.nonce} is ahead of the signer's next nonce {expected}: an "
                        f"earlier action of {lane.key} is missing", {"nonce": w.nonce, "next": expected}))
                    progressed = True
            # Linear, not quadratic: each check re-runs the lane's accepted, unmined predecessors, so a
            # group goes when it is at least 1/RECHECK_RATIO of them (or its first item has waited
            # DEFER_SECONDS); smaller ones wait for more items or for a block, which mines the
            # predecessors. A lane with no gas left in one check waits for a block (see the docstring).
            budget = self.check_gas * 8 // 10 - sum(g for _, g in st.accepted.values())
            est = max(self.item_gas, st.gas * 5 // 4)  # a lane's items are much alike
            group: list[_Waiter] = []
            while expected + len(group) in st.waiting and budget >= est:
                group.append(st.waiting[expected + len(group)])
                budget -= est
            if group and (len(group) * RECHECK_RATIO >= len(st.accepted)
                          or now - st.waiting[expected].since >= self.defer_seconds):
                work.append((lane, st, [st.accepted[n][0] for n in sorted(st.accepted)], group))
            elif group:
                self.stats["deferred"] += 1
                self._wake = min(self._wake, st.waiting[expected].since + self.defer_seconds)
            elif expected in st.waiting:
                first = st.waiting[expected]
                if now >= first.give_up:  # its predecessors were accepted but the chain has not mined them
                    for w in sorted(st.waiting.values(), key=lambda w: w.nonce):
                        self._finish(st, w, NodeBusy(
                            f"{len(st.accepted)} earlier actions of {lane.key} are not mined yet, and this one "
                            f"could not be checked after them within {self.relaying.nonce_wait_seconds:g} s"))
                    progressed = True
        if not work:
            return progressed
        waiting_before = self._waiting
        # lanes packed into check calls within the gas of one call
        calls: list[list[int]] = [[]]
        used_gas = used_items = 0
        for k, (lane, st, preds, group) in enumerate(work):
            need = sum(g for _, g in st.accepted.values()) + len(group) * max(self.item_gas, st.gas * 5 // 4)
            size = len(preds) + len(group)
            if calls[-1] and (used_gas + need > self.check_gas * 8 // 10 or used_items + size > self.max_group):
                calls.append([])
                used_gas = used_items = 0
            calls[-1].append(k)
            used_gas += need
            used_items += size
        _t1 = time.monotonic()
        answers = await asyncio.gather(*(self._check([x for k in ks for x in work[k][2] + [w.call for w in work[k][3]]],
                                                     head) for ks in calls))
        results: dict[int, list[tuple[bool, bytes, int]]] = {}
        unsettled: set[int] = set()
        for ks, res in zip(calls, answers):
            pos = 0
            for k in ks:
                lane, st, preds, group = work[k]
                again = res[pos:pos + len(preds)]
                pos += len(preds)
                results[k] = res[pos:pos + len(group)]
                pos += len(group)
                # the group was checked on the state its predecessors leave only if each of them passed
                # again here (one that ran out of this call's gas, or that another signer's action
                # undid): otherwise nothing of the group is decided in this round
                if len(again) < len(preds) or not all(ok for ok, *_ in again):
                    bad = next((r for r in again if not r[0]), None)
                    log.info("%s: %d of %d accepted predecessors did not pass again (%s); its %d new items wait",
                             lane, sum(1 for r in again if not r[0]) + len(preds) - len(again), len(preds),
                             "not reached" if bad is None else (bytes(bad[1][:4]).hex() or "out of gas"),
                             len(group))
                    self.stats["unsettled"] += len(group)
                    results[k] = []
                    unsettled.add(k)
                for n, (_, _, g) in zip(sorted(st.accepted), again):  # the gas they take now, for the budget
                    st.accepted[n] = (st.accepted[n][0], max(st.accepted[n][1], int(g)))
        self.stats["groups"] += len(work)
        self.stats["checked"] += sum(len(g) for *_, g in work)
        self.stats["rechecked"] += sum(len(p) for _, _, p, _ in work)
        # a check answers fewer results than items when its gas did not reach them (RelayBatch.check
        # keeps a reserve to answer): those were not checked and wait for the next round
        passing = [next((i for i, r in enumerate(results[k]) if not r[0]), len(results[k])) for k in range(len(work))]
        self.stats["short"] += sum(len(work[k][3]) - len(results[k]) for k in range(len(work)) if k not in unsettled)
        # A check that used (nearly) all its gas may have run out inside an item (empty revert data):
        # that item and its successors are not refused but stay waiting for the next round.
        short: set[int] = set()
        for ks, res in zip(calls, answers):
            if sum(g for *_, g in res) >= self.check_gas * 17 // 20:
                # (an item alone on a fresh state that needs more than the check's gas is refused)
                short.update(k for k in ks if passing[k] < len(results[k]) and not results[k][passing[k]][1]
                             and (passing[k] > 0 or work[k][2]))
        for k in range(len(work)):
            st = work[k][1]
            upto = passing[k] + (1 if k in short else 0)  # the estimate grows with an item that ran out
            st.gas = max([st.gas] + [int(g) for *_, g in results[k][:upto]])
        # the relayer's gas is spent only for members, at their rate: membership read once per lane
        admits = await asyncio.gather(*(self.admission.admit_many(work[k][3][0].req.signer or work[k][0].key,
                                                                  passing[k]) for k in range(len(work))))
        explained: dict[tuple[int, int], ApiError] = {}
        for k in range(len(work)):
            if passing[k] < len(results[k]) and k not in short:
                explained[(k, passing[k])] = await work[k][3][passing[k]].explain(bytes(results[k][passing[k]][1]))
        _t2 = time.monotonic()
        log.debug("round at block %d: %d lanes, %d checked after %d predecessors in %d calls; read %.3f s, "
                  "check %.3f s, admit %.3f s; %d waiting", number, len(work), sum(len(w[3]) for w in work),
                  sum(len(w[2]) for w in work), len(calls), _t1 - _t0, _t2 - _t1, time.monotonic() - _t2,
                  self._waiting)
        # A refusal must stand on the state it names. Anvil answered calls pinned to a block that was
        # just superseded with the newer state for some (the nonces) and the older for others (the
        # check): refusals of a round during which the head moved wait for a later round, at most
        # HOLD_ROUNDS times (acceptances stand: every item is checked again at inclusion).
        moved = int(await rpc.call("eth_blockNumber", []), 16) != number
        # no await from here on: the relayer takes every accepted item of the round together, in check order
        for k, (lane, st, _, group) in enumerate(work):
            admitted, over = admits[k]
            failed: tuple[int, str] | None = None
            for i, (w, (ok, _, gas)) in enumerate(zip(group, results[k])):
                if k in short and i >= passing[k]:
                    self.stats["short"] += len(group) - i
                    break  # not checked to the end: the rest waits for the next round
                if failed is not None:
                    st.refused[w.nonce] = f"depends on nonce {failed[0]}"
                    self._finish(st, w, self._depends(lane, w.nonce, *failed))
                    continue
                refusal = explained.get((k, i)) if not ok else (over if i >= admitted else None)
                if refusal is not None and not ok and moved and w.held < HOLD_ROUNDS:
                    w.held += 1  # checked while the head moved: decided in a later round
                    self.stats["held"] += 1
                    break
                if refusal is not None:
                    failed = (w.nonce, f"{refusal.error}: {refusal.message}")
                    st.refused[w.nonce] = failed[1]
                    self._finish(st, w, refusal)
                    continue
                # an item a RelayBatch will carry is given what its check used, with room for cold storage
                # (the check ran after its predecessors); a transaction of its own keeps the full limit, and
                # a forwarded request the gas its signer signed for
                if w.req.to == self.contracts.ledger and w.req.item is not None:
                    w.req.gas = min(w.req.gas, gas + gas * GAS_MARGIN_PPM // 1_000_000 + GAS_EXTRA)
                h = self.relaying.relayer.submit(w.req)
                st.accepted[w.nonce] = (w.call, int(gas))
                st.refused.pop(w.nonce, None)
                h.done.add_done_callback(lambda f, lane=lane, n=w.nonce: self._settled(lane, n, f))
                self.stats["accepted"] += 1
                self._finish(st, w, h)
        # a round that decided nothing (every check short of gas) lets the driver wait before the next
        return progressed or self._waiting < waiting_before

    async def _check(self, items: list[bytes], head: dict[str, str] | str) -> list[tuple[bool, bytes, int]]:
        call = {"from": self.relaying.address, "to": self.batcher, "gas": hex(self.check_gas),
                "data": "0x" + encode_check(items).hex()}
        # a request of its own: coalesced with others into one array, a large check can lose its reply
        return decode_check(await self.contracts.rpc.call_direct("eth_call", [call, head]))

    def _settled(self, lane: Lane, nonce: int, fut: asyncio.Future) -> None:
        """A message that failed on chain did not consume its nonce: forget it (its successors fail
        on their own check)."""
        failed = fut.cancelled() or fut.exception() is not None or fut.result().get("status") != "mined"
        st = self._lanes.get(lane)
        if st is None:
            return
        if failed:
            st.accepted.pop(nonce, None)
            self._kick.set()
        elif self._task is None or self._task.done():  # mined, and no check under way: forget what it consumed
            for n in [n for n in st.accepted if n <= nonce]:
                del st.accepted[n]
            if not st.accepted and not st.waiting:
                del self._lanes[lane]
        elif st.waiting:  # a lane waiting for its predecessors to be mined: check it again now
            self._kick.set()

    @staticmethod
    def _depends(lane: Lane, nonce: int, on: int, why: str) -> ApiError:
        return ApiError(409, "DependsOnRefused",
                        f"nonce {nonce} of {lane.key} follows nonce {on}, which was refused ({why}): sign it again "
                        "after that one", {"nonce": nonce, "dependsOn": on, "signer": lane.key})

    # ------------------------------------------------------------------ settlements after accepted proposals
    def proposal_state(self, lane: Lane, nonce: int) -> str | None:
        """Where the message of ``lane`` with ``nonce`` is in this pipeline: ``accepted`` (handed to
        the relayer, not consumed on chain as far as the pipeline knows), ``waiting`` (being checked),
        ``absent`` (the pipeline holds other messages of the lane, not this one), or None (it holds
        nothing of the lane)."""
        st = self._lanes.get(lane)
        if st is None:
            return None
        if nonce in st.accepted:
            return "accepted"
        return "waiting" if nonce in st.waiting else "absent"

    async def check_after(self, lane: Lane, nonce: int, call: bytes) -> tuple[bool, bytes, int] | None:
        """``call`` (a settlement of the proposal ``lane`` signed with ``nonce``) checked on the state
        that proposal leaves: one ``RelayBatch.check`` of the lane's accepted messages up to ``nonce``,
        in nonce order, then ``call``, at the latest block. The settlement's (ok, revert data, gas);
        None when that proposal is not accepted here. A predecessor the chain already ran fails in its
        own frame (its nonce is used) and changes nothing, so the answer holds either way."""
        st = self._lanes.get(lane)
        if st is None or nonce not in st.accepted:
            return None
        preds = [st.accepted[n][0] for n in sorted(st.accepted) if n <= nonce]
        answers = await self._check(preds + [call], "latest")
        # RelayBatch.check stops where its gas ends (fewer answers), and an item that ran out of gas
        # fails with empty revert data: either way the settlement was not judged, so nothing is refused
        if len(answers) <= len(preds) or (not answers[-1][0] and not answers[-1][1]):
            raise NodeBusy(f"the check of this settlement after {len(preds)} accepted messages of {lane.key} "
                           "did not fit in one check call")
        return answers[-1]
