"""Operating the consortium's Clique validators: health, evidence, and faults an operator causes safely.

``ConsortiumOps`` is mixed into ``testkit.consortium.Consortium`` (it uses its ``validators``,
``period``, ``n_validators``, ``kill_validator`` and ``start_validator``).

Why these procedures (measured with ``scripts/consortium_liveness.py``; geth 1.13.15 logs):

- **A restarted signer must be on the others' head before it seals.** A validator started again
  after SIGKILL comes back at an old state (geth keeps the head's state in memory: "Head state
  missing, repairing", back to block 5 or 15), syncs once from a peer, then follows through block
  propagation. A block sealed by another signer while that sync ran is dropped (geth's fetcher
  drops a block whose parent it lacks) and, with fewer than 5 peers, geth syncs again only after
  10 s. Sealing meanwhile, it sealed a stale block of its own and followed nothing for ~10 s; with
  one signer stopped, the 3 others take strict turns and the turn was its: no block for 9-10 s
  (reproduced 2 times in 15: "two blocks from the three others" not within 8 s, as in CI).
  ``start_validator`` therefore waits until it is on the others' head (same hash) before
  ``miner_start``, and ``wait_healthy(every_signer=True)`` checks that its blocks land.
- **A signer leaves sealing only outside its own turn window.** With 4 signers a signer may seal
  once per floor(4/2)+1 = 3 blocks, so with one signer out the 3 left take strict turns and exactly
  one may seal each block, unless the missing signer is among the last two: then two may, and when
  both seal out of turn (difficulty 1) the branches weigh the same, geth keeps the one it saw first
  (a tie is not re-decided later), and each branch waits for a signer sitting on the other: the
  network stops until a fourth signer seals again (go-ethereum issues 18402 and 24705; EIP-3436
  proposed a tie-break that geth never adopted; Besu QBFT has no such state). ``stop_sealing`` and
  ``kill_quiet_validator`` act only outside that window.
- **A validator dies only when no block is in flight.** geth sends a new block whole to a few peers
  and only its hash to the others; a node fetches an announced block from one announcer picked at
  random and forgets the other announcements. When that announcer dies, the fetch times out and
  the block is lost to that node; it syncs only when it learns of a heavier peer (a handshake or a
  whole block), which no one sends when the lost block's successor is its own turn. Seen: validator
  3 at block 512, the others at 513 (whose hash validator 0 had announced just before its SIGKILL),
  no block for 13 s until the run was stopped. ``kill_quiet_validator`` kills only when every
  validator is on the same head.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import httpx


def rpc(url: str, method: str, params: list | None = None, timeout: float = 5.0) -> Any:
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout)
    body = r.json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]


def block_number(url: str) -> int:
    return int(rpc(url, "eth_blockNumber"), 16)


class ConsortiumOps:
    """Health checks, evidence and safe faults of a Clique network (mixed into Consortium)."""

    validators: list[Any]
    period: int
    n_validators: int

    def kill_quiet_validator(self, i: int, sig: int = signal.SIGKILL) -> tuple[int, float]:
        """Kills validator ``i`` when its signer is not a recent one (a signer that dies right after
        its own block can leave the 3 others in Clique's stalemate) and every validator is on the
        same head (a block it announced and another had not fetched yet is lost to that one: see the
        module docstring); returns
        the head it died at. If it sealed in the moment between the check and the kill, it is
        started again and the kill retried. Returns (head, ``time.monotonic()`` of the kill)."""
        v = self.validators[i]
        for _ in range(5):
            wait = time.monotonic() + 20 * self.period + 10
            while not (self.quiet_signer(i) and self.all_in_step()) and time.monotonic() < wait:
                time.sleep(0.02)
            top = block_number(v.url)
            killed_at = time.monotonic()
            self.kill_validator(i, sig)
            other = next(o for o in self.validators if o.alive)
            time.sleep(0.2)  # a block it sealed just before dying reaches the others
            last = min(top + 1, block_number(other.url))
            signers = {str(rpc(other.url, "clique_getSigner", [hex(n)])).lower()
                       for n in range(max(1, top - 1), last + 1)}
            if v.signer.lower() not in signers:
                return top, killed_at
            self.restart_validator(i)
            self.wait_healthy(every_signer=True)
        raise RuntimeError(f"{v.label}: could not be killed outside its sealing window")

    def restart_validator(self, i: int) -> Validator:
        """Starts validator ``i`` again the way an operator would: it syncs from its peers before
        it seals (``start_validator``), its peers are added again from both sides (the others'
        static dialer backs off after failed dials), and the network is checked: every validator
        peered, on one head, and this signer's blocks on it."""
        v = self.start_validator(i)
        for o in self.validators:
            if o is not v and o.alive:
                rpc(o.url, "admin_addPeer", [v.enode])
                rpc(v.url, "admin_addPeer", [o.enode])
        self.wait_peers()
        return v

    def wait_healthy(self, blocks: int = 3, timeout: float | None = None, *, every_signer: bool = False) -> int:
        """The precondition of every scenario: each validator alive, sealing (``eth_mining``),
        peered with every other, all on one head (same hash) and ``blocks`` new blocks on it; with
        ``every_signer``, each alive validator has also signed one of the new canonical blocks (a
        signer that is up but sealing on no branch, or on its own, does not count). Returns the
        head; raises TimeoutError with the evidence (``status()``) otherwise."""
        deadline = time.monotonic() + (timeout or (blocks + 8) * self.period * 3)
        alive = [v for v in self.validators if v.alive]
        try:
            self.wait_peers(timeout=max(1.0, deadline - time.monotonic()))
            start = block_number(alive[0].url)
            want = {v.signer.lower() for v in alive} if every_signer else set()
            seen: set[str] = set()
            checked = start
            while time.monotonic() < deadline:
                heads = [rpc(v.url, "eth_getBlockByNumber", ["latest", False]) for v in alive]
                top = int(heads[0]["number"], 16)
                for n in range(checked + 1, top + 1):
                    seen.add(str(rpc(alive[0].url, "clique_getSigner", [hex(n)])).lower())
                checked = max(checked, top)
                if (top >= start + blocks and len({h["hash"] for h in heads}) == 1 and want <= seen
                        and all(rpc(v.url, "eth_mining") for v in alive)):
                    return top
                time.sleep(0.1)
        except (httpx.HTTPError, RuntimeError) as exc:
            raise TimeoutError(f"network not healthy ({exc}): {json.dumps(self.status())}") from exc
        raise TimeoutError(f"network not healthy within {timeout or (blocks + 8) * self.period * 3:.0f}s "
                           f"(from block {start}; signers seen {sorted(seen)}): {json.dumps(self.status())}")

    def status(self) -> dict[str, Any]:
        """The evidence about each validator: head number and hash, total difficulty, peers,
        sealing or not, its signer, the recent signers of its head (Clique's snapshot) and the
        signers of its last blocks."""
        out: dict[str, Any] = {}
        for v in self.validators:
            if not v.alive:
                out[v.label] = "down"
                continue
            try:
                blk = rpc(v.url, "eth_getBlockByNumber", ["latest", False])
                n = int(blk["number"], 16)
                snap = rpc(v.url, "clique_getSnapshot", [hex(n)])
                out[v.label] = {
                    "signer": v.signer[:10].lower(), "head": n, "hash": blk["hash"][:12],
                    "td": int(blk["totalDifficulty"], 16), "peers": self.peers(v.index), "mining": rpc(v.url, "eth_mining"),
                    "recents": {int(k): a[:10] for k, a in snap["recents"].items()},
                    "last_signers": [str(rpc(v.url, "clique_getSigner", [hex(k)]))[:10]
                                     for k in range(max(1, n - 5), n + 1)]}
            except (httpx.HTTPError, RuntimeError) as exc:
                out[v.label] = repr(exc)
        return out

    def all_in_step(self) -> bool:
        """Every running validator on the same head (hash): no block is in flight between them."""
        return len({rpc(v.url, "eth_getBlockByNumber", ["latest", False])["hash"]
                    for v in self.validators if v.alive}) == 1

    def in_step(self, i: int) -> bool:
        """Validator ``i``'s head is the highest head of the other running validators (same hash)."""
        heads = [rpc(v.url, "eth_getBlockByNumber", ["latest", False]) for v in self.validators if v.alive]
        mine = rpc(self.validators[i].url, "eth_getBlockByNumber", ["latest", False])
        top = max(int(h["number"], 16) for h in heads)
        return int(mine["number"], 16) == top and all(
            h["hash"] == mine["hash"] for h in heads if int(h["number"], 16) == top)

    def recent_signers(self, i: int) -> set[str]:
        """The signers that may not seal the block after validator ``i``'s head: those of its last
        floor(n/2) blocks (Clique lets a signer seal once per floor(n/2)+1 blocks)."""
        url = self.validators[i].url
        top = block_number(url)
        return {str(rpc(url, "clique_getSigner", [hex(n)])).lower()
                for n in range(max(1, top - self.n_validators // 2 + 1), top + 1)}

    def quiet_signer(self, i: int) -> bool:
        """Validator ``i``'s signer may seal the block after its head (not a recent signer)."""
        return self.validators[i].signer.lower() not in self.recent_signers(i)

    def stop_sealing(self, i: int, timeout: float | None = None) -> int:
        """Stops validator ``i`` sealing without opening Clique's stalemate (module docstring):
        only right after two blocks that are not its own, then checks that it did not seal one
        more meanwhile (a seal under way finishes); otherwise lets it seal again and retries.
        Returns the head then."""
        v = self.validators[i]
        deadline = time.monotonic() + (timeout or 20 * self.period + 10)
        me = v.signer.lower()
        while time.monotonic() < deadline:
            if not self.quiet_signer(i):
                time.sleep(0.05)
                continue
            top = block_number(v.url)
            rpc(v.url, "miner_stop")
            try:  # a seal under way completes (up to a period and Clique's 1.5 s wiggle): two blocks
                now = self.wait_blocks(2, i=i, timeout=(2 + 4) * self.period + 4)
                if all(str(rpc(v.url, "clique_getSigner", [hex(n)])).lower() != me for n in range(top + 1, now + 1)):
                    return now
            except TimeoutError:
                pass  # the window above was hit after all: sealing again ends the stalemate
            rpc(v.url, "miner_start")
            self.wait_blocks(1, i=i, timeout=10 * self.period + 10)
        raise TimeoutError(f"{v.label}: could not stop sealing safely: {json.dumps(self.status())}")

    def peers(self, i: int) -> int:
        return int(rpc(self.validators[i].url, "net_peerCount"), 16)

    def wait_peers(self, minimum: int | None = None, timeout: float = 60.0, only: list[int] | None = None) -> None:
        """Every running validator (or those in ``only``) has ``minimum`` peers (default: every
        other running validator)."""
        alive = only or [v.index for v in self.validators if v.alive]
        want = sum(v.alive for v in self.validators) - 1 if minimum is None else minimum
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.peers(i) >= want for i in alive):
                return
            time.sleep(0.3)
        raise RuntimeError(f"validators did not connect: {[self.peers(i) for i in alive]} peers of {want}")

    def wait_blocks(self, n: int = 1, i: int | None = None, timeout: float | None = None) -> int:
        """Waits until validator ``i`` (the first alive) has ``n`` more blocks; returns its head."""
        v = self.validators[i] if i is not None else next(v for v in self.validators if v.alive)
        start = block_number(v.url)
        deadline = time.monotonic() + (timeout or (n + 3) * self.period * 2)
        while time.monotonic() < deadline:
            head = block_number(v.url)
            if head >= start + n:
                return head
            time.sleep(0.1)
        raise TimeoutError(f"{v.label}: no {n} new block(s) within the timeout (head {start})")
