"""The auditor's independent EUDR check (auditor/rules.py eudr_*, auditor/replay/eudr.py): the rules table, and
each way the ledger's events could disagree with it (an end not announced, a wrong reason, an end announced
where none happened, an end announced twice) found and reported. No chain: the replay part is fed directly."""

from __future__ import annotations

import pytest

from auditor import rules
from auditor.model import Findings
from auditor.replay.eudr import EudrReplay

SEG, MB, IP, UNC = 3, 1, 4, 0
PLOT = b"\x01" * 32
NO_PLOT = b"\x00" * 32
N, TR, EN = rules.EUDR_NONE, rules.EUDR_TRACEABLE, rules.EUDR_ENDED


@pytest.mark.parametrize("model,geo,want", [
    (SEG, PLOT, (TR, None)), (IP, PLOT, (TR, None)), (MB, PLOT, (EN, rules.EUDR_NOT_SEGREGATED)),
    (UNC, PLOT, (EN, rules.EUDR_NOT_SEGREGATED)), (SEG, NO_PLOT, (N, None)), (SEG, "0x" + "01" * 32, (TR, None)),
])
def test_eudr_audit_origin_rule(model, geo, want):
    assert rules.eudr_origin(model, geo) == want


@pytest.mark.parametrize("model,parents,want", [
    (SEG, [TR], (TR, None)), (IP, [TR, TR], (TR, None)),
    (MB, [TR], (EN, rules.EUDR_NOT_SEGREGATED)), (UNC, [TR, N], (EN, rules.EUDR_NOT_SEGREGATED)),
    (SEG, [TR, N], (EN, rules.EUDR_MIXED)), (SEG, [EN, TR], (EN, rules.EUDR_MIXED)),
    (SEG, [EN], (EN, None)), (SEG, [N, EN], (EN, None)), (SEG, [N], (N, None)), (MB, [N], (N, None)),
])
def test_eudr_audit_derive_rule(model, parents, want):
    assert rules.eudr_derive(model, parents) == want


class _Part(EudrReplay):
    def __init__(self, batches: dict[int, dict]):
        self.f = Findings()
        self.batches = batches
        self._init_eudr()


def _ev(bid: int, reason: int):
    class E:
        a = {"batchId": bid, "reason": reason}

        @staticmethod
        def ref():
            return {"tx": "0x" + "ab" * 32, "block": 1, "logIndex": bid, "event": "EudrTraceabilityEnded"}
    return E()


def _world() -> dict[int, dict]:
    def b(bid, model, parents=(), geo=PLOT):
        return {"model": model, "parents": [(p, 1) for p in parents], "ref": {"block": bid},
                "originInfo": None if parents else {"geolocationHash": geo}}
    # 1 origin with plot (traceable), 2 origin without plot, 3 = 1 into mass balance (ends), 4 = 1+2 segregated (mixed)
    return {1: b(1, SEG), 2: b(2, SEG, geo=NO_PLOT), 3: b(3, MB, [1]), 4: b(4, SEG, [1, 2]), 5: b(5, SEG, [3])}


def failures(part: _Part) -> list[str]:
    return [f.message for f in part.f.failures if f.rule == "eudr.traceability"]


def test_eudr_audit_consistent_ledger_passes():
    part = _Part(_world())
    part.on_ledger_EudrTraceabilityEnded(_ev(3, rules.EUDR_NOT_SEGREGATED))
    part.on_ledger_EudrTraceabilityEnded(_ev(4, rules.EUDR_MIXED))
    part._check_eudr()
    assert failures(part) == [] and part.f.checks["eudr.traceability"] == 5
    assert part.eudr_status == {1: TR, 2: N, 3: EN, 4: EN, 5: EN}
    assert part.eudr_reason(5) == "model not segregated"


def test_eudr_audit_missing_end_event_found():
    part = _Part(_world())
    part.on_ledger_EudrTraceabilityEnded(_ev(4, rules.EUDR_MIXED))
    part._check_eudr()
    assert failures(part) == ["batch 3: EUDR traceability ended (model not segregated) without EudrTraceabilityEnded"]


def test_eudr_audit_wrong_reason_found():
    part = _Part(_world())
    part.on_ledger_EudrTraceabilityEnded(_ev(3, rules.EUDR_NOT_SEGREGATED))
    part.on_ledger_EudrTraceabilityEnded(_ev(4, rules.EUDR_NOT_SEGREGATED))
    part._check_eudr()
    assert len(failures(part)) == 1 and "batch 4" in failures(part)[0] and "reason 1" in failures(part)[0]


def test_eudr_audit_spurious_and_double_end_found():
    part = _Part(_world())
    for ev in (_ev(3, 1), _ev(4, 2), _ev(1, 1), _ev(3, 1), _ev(99, 1)):
        part.on_ledger_EudrTraceabilityEnded(ev)
    part._check_eudr()
    msgs = failures(part)
    assert any("ended twice" in m for m in msgs)
    assert any(m.startswith("batch 1: EudrTraceabilityEnded emitted") for m in msgs)
    assert any("unknown batch 99" in m for m in msgs)


# ---------------------------------------------------------------------------------------------- statements
from auditor.eudr_statements import check as check_statements  # noqa: E402


def _st(event, bid, idx, pid, **kw):
    return {"event": event, "batchId": bid, "index": idx, "participantId": pid,
            "ref": {"tx": "0x" + "cd" * 32, "block": 1, "logIndex": idx, "event": event}, **kw}


def _rec(bid, idx, pid, ref="25REF", ver="VERIFNUM"):
    return _st("DdsRecorded", bid, idx, pid, referenceNumber=ref, verificationNumber=ver, documentHash="0x01")


def test_eudr_audit_statements_consistent():
    f = Findings()
    out = check_statements([_rec(1, 0, 7), _st("DdsAmended", 1, 0, 7, verificationNumber="NEWVERIF", documentHash="0x02"),
                            _rec(1, 1, 7, ref="25OTHER"), _st("DdsRetracted", 1, 1, 7)], {1: TR}, {7: {}}, f)
    assert [m.message for m in f.failures] == []
    assert [(s["referenceNumber"], s["verificationNumber"], s["amendments"], s["retracted"]) for s in out] == [
        ("25REF", "NEWVERIF", 1, False), ("25OTHER", "VERIFNUM", 0, True)]


@pytest.mark.parametrize("events,status,why", [
    ([_rec(2, 0, 7)], {2: EN}, "not EUDR-traceable"),
    ([_rec(2, 0, 7)], {2: N}, "not EUDR-traceable"),
    ([_rec(1, 0, 8)], {1: TR}, "participant 8 does not exist"),
    ([_rec(1, 1, 7)], {1: TR}, "out of sequence"),
    ([_rec(1, 0, 7), _rec(1, 1, 7)], {1: TR}, "recorded twice"),
    ([_st("DdsRetracted", 1, 0, 7)], {1: TR}, "never recorded"),
    ([_rec(1, 0, 7), _st("DdsAmended", 1, 0, 9, verificationNumber="X", documentHash="0x")], {1: TR}, "recorded by 7"),
    ([_rec(1, 0, 7), _st("DdsRetracted", 1, 0, 7), _st("DdsRetracted", 1, 0, 7)], {1: TR}, "already retracted"),
], ids=["ended", "no-plot", "no-participant", "index", "duplicate", "unknown", "other-operator", "retracted"])
def test_eudr_audit_statement_disagreements_found(events, status, why):
    f = Findings()
    check_statements(events, status, {7: {}, 9: {}}, f)
    assert len(f.failures) == 1 and why in f.failures[0].message and f.failures[0].rule == "eudr.statements"
