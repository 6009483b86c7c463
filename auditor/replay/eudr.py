"""EUDR traceability, replayed (one part of `Replay`): each batch's status derived from the batches and origins
the ledger's events describe (rules.eudr_origin / eudr_derive), compared with the EudrTraceabilityEnded events
the ledger emitted: an end the rules call for must be announced, with its reason, and nothing else may be."""

from __future__ import annotations

from .. import rules
from .events import Ev

REASONS = {rules.EUDR_NOT_SEGREGATED: "model not segregated", rules.EUDR_MIXED: "mixed with non-EUDR material"}


class EudrReplay:
    def _init_eudr(self) -> None:
        #: batch -> replayed status (0 none, 1 traceable, 2 ended) and the reason of the end the rules call for,
        #: derived in batch order up to the batch asked (eudr_of): a batch's status never changes once created
        self.eudr_status: dict[int, int] = {}
        self._eudr_expected: dict[int, int | None] = {}
        #: batch -> (reason, event ref) of its EudrTraceabilityEnded
        self.eudr_ended: dict[int, tuple[int, dict]] = {}

    def on_ledger_EudrTraceabilityEnded(self, e: Ev) -> None:
        bid = e.a["batchId"]
        if bid in self.eudr_ended:
            self.f.add("eudr.traceability", f"EUDR traceability of batch {bid} ended twice", [e.ref()])
        self.eudr_ended[bid] = (e.a["reason"], e.ref())

    def eudr_reason(self, bid: int) -> str | None:
        """Why batch ``bid``'s traceability ended (at it or upstream), from the replay."""
        stack, seen = [bid], set()
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            if x in self.eudr_ended:
                return REASONS.get(self.eudr_ended[x][0], "unknown")
            stack += [p for p, _ in self.batches[x]["parents"]] if x in self.batches else []
        return None

    def eudr_of(self, bid: int) -> int:
        """The replayed EUDR status of batch ``bid`` (0 for an unknown batch); batches are numbered in creation
        order and a parent is always older than its child, so the statuses are derived in id order."""
        for x in range(len(self.eudr_status) + 1, bid + 1):
            b = self.batches.get(x)
            if b is None:
                break
            if not b["parents"]:
                info = b["originInfo"] or {}
                status, reason = rules.eudr_origin(b["model"], info.get("geolocationHash", rules.ZERO_HASH))
            else:
                status, reason = rules.eudr_derive(b["model"], [self.eudr_status.get(p, 0) for p, _ in b["parents"]])
            self.eudr_status[x] = status
            self._eudr_expected[x] = reason
        return self.eudr_status.get(bid, 0)

    def _check_eudr(self) -> None:
        self.eudr_of(max(self.batches, default=0))
        for bid in sorted(self.batches):
            status, reason = self.eudr_status.get(bid, 0), self._eudr_expected.get(bid)
            seen = self.eudr_ended.get(bid)
            if reason is None and seen is not None:
                self.f.add("eudr.traceability", f"batch {bid}: EudrTraceabilityEnded emitted, but the rules give "
                           f"status {status} without an end here", [seen[1]])
            elif reason is not None and seen is None:
                self.f.add("eudr.traceability", f"batch {bid}: EUDR traceability ended ({REASONS[reason]}) without "
                           "EudrTraceabilityEnded", [self.batches[bid]["ref"]])
            elif reason is not None and seen[0] != reason:
                self.f.add("eudr.traceability", f"batch {bid}: EudrTraceabilityEnded says reason {seen[0]}, the rules "
                           f"give {reason} ({REASONS[reason]})", [seen[1]])
            else:
                self.f.ok("eudr.traceability")
        for bid, (_, ref) in self.eudr_ended.items():
            if bid not in self.batches:
                self.f.add("eudr.traceability", f"EudrTraceabilityEnded for unknown batch {bid}", [ref])
