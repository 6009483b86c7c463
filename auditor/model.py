"""Vocabulary shared by the auditor's modules: enums as the contracts declare them, findings, rules."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

PPM = 1_000_000
ZERO = "0x0000000000000000000000000000000000000000"

MODELS = ["uncertified", "mass balance", "controlled blending", "segregated", "identity preserved"]
UNCERTIFIED, MASS_BALANCE, CONTROLLED_BLENDING, SEGREGATED, IDENTITY_PRESERVED = range(5)
KINDS = ["Origin", "Split", "Merge", "Transform", "AttributesReleased"]
ORIGIN, SPLIT, MERGE, TRANSFORM, RELEASED = range(5)
TRANSFER_STATUS = ["None", "Pending", "Accepted", "Rejected", "Cancelled"]
PARTICIPANT_STATUS = ["None", "Active", "Suspended"]
CERT_STATUS = ["None", "Active", "Suspended", "Withdrawn"]
ENTRIES = ["In", "Out", "ConvertedIn", "ConvertedOut", "Lapsed"]
REASONS = ["OriginCreated", "Delivery", "DeliveryReturned", "Downgrade", "Conversion", "Moved", "Pledged", "Lapse"]
SOURCES = ["Verified", "Credits", "Batch"]
CONSUME_REASONS = ["Sold", "Destroyed"]

ROLE_ADMIN, ROLE_CERTIFIER, ROLE_SUPPLIER, ROLE_ISSUER, ROLE_AUDITOR, ROLE_BRAND = 1, 2, 4, 8, 16, 32
ALL_ROLES = 63
ROLE_NAMES = {1: "admin", 2: "certifier", 4: "supplier", 8: "issuer", 16: "auditor", 32: "brand"}

#: Every rule the auditor checks, with what it means. Findings name one of these.
RULES: dict[str, str] = {
    "physical.conservation": "every mint, burn and move of a batch token is explained by a ledger event: children sum to "
    "the parents' burn at every split, merge, transform and attribute release; consumption burns what it records",
    "physical.yield": "a transform's output lies within input x factor and the process tolerance, its loss is recorded",
    "physical.models": "the chain-of-custody model, characteristic, share and origin of every new batch follow from its "
    "inputs (no upgrade, segregated only from one characteristic, identity preserved from one origin, blended share)",
    "physical.totals": "created - consumed - lost == supply, and every batch's supply equals the sum of its holdings",
    "custody.signatures": "every custody message's EIP-712 signature, recomputed from the event data, recovers to "
    "the party that had to sign it; transfer ids equal the struct hash; deadlines were not passed",
    "custody.nonces": "each sender's transfer nonces are used once, in order",
    "custody.eligibility": "both parties of a transfer held the role and, for a claim-carrying model, a valid "
    "certification for material, characteristic and model at the block of the proposal and of the acceptance",
    "custody.settlement": "acceptance, rejection and cancellation settle a pending transfer once",
    "actors.eligibility": "who created, split, merged, transformed, consumed or pledged held the role and "
    "certification at that block",
    "origin.capacity": "certified origin creation stays within the certified capacity and window",
    "credits.non_negative": "no credit account is ever negative",
    "credits.bookings": "every credit booking is explained by its cause (origin, declaration on a delivery, "
    "return, downgrade, conversion with the registered factor, move within a group, pledge) and vice versa; "
    "the balance each booking reports equals the replayed balance",
    "credits.periods": "every period statement (PeriodClosed) equals the replayed sums, lapse included",
    "certificates.supply": "per issuance: issued == held + retired + revoked",
    "certificates.evidence": "no evidence hash backs two issuances, nor two origin batches",
    "certificates.single_claim": "retired units are burned once, retirement ids are sequential, nothing of a revoked "
    "issuance moves, certificates move only between registered active participants",
    "certificates.double_attribute": "no attribute is claimed both physically and as a certificate: pledged credits "
    "were debited, a pledged batch quantity continued uncertified, pledges back one issuance of the same quantity",
    "eudr.traceability": "a batch is EUDR-traceable only if its origins all have a plot and every step was segregated "
    "or identity preserved; where mass balance, a weaker model or material without a plot ends it, the ledger says "
    "so with EudrTraceabilityEnded (and nowhere else), and its eudrStatus view agrees",
    "eudr.statements": "every due-diligence statement recorded in DueDiligenceRegistry is for a batch the replay finds "
    "EUDR-traceable, by an existing participant, once per reference, in sequence; amendments and retractions come "
    "from the participant that recorded the statement and never after its retraction",
    "registry.consistency": "registry events are internally consistent (linked contracts, capacity counters, "
    "certification status changes)",
    "views.match": "the replayed state equals what the contracts' own view functions return",
    "node.match": "the node's provenance answers equal the replay",
    "claims": "a brand's claim is supported by the chain",
}

FAIL, WARN, INFO = "fail", "warn", "info"


@dataclass
class Finding:
    rule: str
    severity: str
    message: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "evidence": self.evidence,
            "details": _jsonable(self.details),
        }


REF_KEYS = ("tx", "block", "logIndex")


def is_ref(e: Any) -> bool:
    """An event reference a reader can look up: transaction, block and log index."""
    return isinstance(e, dict) and all(e.get(k) is not None for k in REF_KEYS)


class Findings:
    """Every finding carries at least one event reference (transaction, block, log index): the events that
    prove it, or, for a finding about the whole ledger (a total, the node's status), the last event replayed,
    the position at which the replay saw it (`position`, kept by the replay)."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self.checks: Counter[str] = Counter()
        self.position: dict[str, Any] | None = None

    def ok(self, rule: str, n: int = 1) -> None:
        self.checks[rule] += n

    def add(self, rule: str, message: str, evidence: list | None = None, severity: str = FAIL, **details: Any) -> None:
        self.checks[rule] += 1
        refs = [e for e in (evidence or []) if e]
        if not any(is_ref(e) for e in refs) and self.position is not None:
            refs.append(dict(self.position, event=f"(replayed up to) {self.position.get('event')}"))
        self.items.append(Finding(rule, severity, message, refs, details))

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.items if f.severity == FAIL]

    def by_rule(self) -> dict[str, dict[str, int]]:
        out = {}
        for rule in RULES:
            out[rule] = {
                "checks": self.checks.get(rule, 0),
                "failures": sum(1 for f in self.items if f.rule == rule and f.severity == FAIL),
                "warnings": sum(1 for f in self.items if f.rule == rule and f.severity == WARN),
            }
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    return v


jsonable = _jsonable
