"""Probes: which endpoint to ask about which ids, and the expected answer for each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..replay import Replay
from .facts import Facts
from .certificates import certificate_expected
from .batches import batch_expected
from .participants import participant_expected


# ---------------------------------------------------------------------------------------------- probes
@dataclass
class Probe:
    name: str
    path: Callable[[int], str]
    ids: Callable[[Replay], Iterable[int]]
    expected: Callable[[Facts, int], dict[str, Any]]


DEFAULT_PROBES = [
    Probe("batch", lambda i: f"/provenance/batches/{i}", lambda r: sorted(r.batches), batch_expected),
    Probe("certificate", lambda i: f"/provenance/certificates/{i}", lambda r: sorted(r.issuances), certificate_expected),
    Probe("participant", lambda i: f"/provenance/participants/{i}", lambda r: sorted(r.participants),
          participant_expected),
]


def expected_answers(r: Replay, probes: list[Probe] | None = None) -> dict[str, Any]:
    """{endpoint path: expected answer} for every id of every probe (what a test's fake node serves
    after :func:`node_document`)."""
    fx = Facts(r)
    return {p.path(i): p.expected(fx, i) for p in (probes or DEFAULT_PROBES) for i in p.ids(r)}
