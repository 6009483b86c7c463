"""Probes: which endpoint to ask about which ids, and the expected answer for each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..replay import Replay
from .facts import Facts
from .certificates import certificate_expected
from .batches import batch_expected
from .participants import participant_expected
from .documents import epcis_expected, passport_expected, tx_expected


# ---------------------------------------------------------------------------------------------- probes
@dataclass
class Probe:
    name: str
    path: Callable[[int], str]
    ids: Callable[[Replay], Iterable[int]]
    expected: Callable[..., dict[str, Any]]
    #: the expected answer needs the node's answer (which chain events its document names): expected(fx, id, answer)
    uses_answer: bool = False


DEFAULT_PROBES = [
    Probe("batch", lambda i: f"/provenance/batches/{i}", lambda r: sorted(r.batches), batch_expected),
    Probe("certificate", lambda i: f"/provenance/certificates/{i}", lambda r: sorted(r.issuances), certificate_expected),
    Probe("participant", lambda i: f"/provenance/participants/{i}", lambda r: sorted(r.participants),
          participant_expected),
    Probe("transaction", lambda tx: f"/provenance/tx/{tx}", lambda r: list(r.tx_events), tx_expected),
    Probe("epcis", lambda i: f"/provenance/batches/{i}/epcis", lambda r: sorted(r.batches), epcis_expected,
          uses_answer=True),
    Probe("passport", lambda i: f"/provenance/batches/{i}/passport", lambda r: sorted(r.batches), passport_expected),
]


def expected_answers(r: Replay, probes: list[Probe] | None = None) -> dict[str, Any]:
    """{endpoint path: expected answer} for every id of every probe (what a test's fake node serves
    after :func:`node_document`)."""
    fx = Facts(r)
    return {p.path(i): p.expected(fx, i, None) if p.uses_answer else p.expected(fx, i)
            for p in (probes or DEFAULT_PROBES) for i in p.ids(r)}
