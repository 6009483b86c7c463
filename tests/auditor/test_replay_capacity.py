"""The auditor's replay of certified capacity follows ParticipantRegistry.setCapacity exactly (finding H):
a change within an overlapping window keeps what was used, only a window starting after the previous one
ended starts from zero. Real chain, real contract; the audit with its view comparison must find nothing."""

from __future__ import annotations

from auditor.cli import run_audit
from auditor.rules import capacity_available, capacity_used_after_set
from testkit.sandbox import DAY, SEGREGATED


def test_capacity_raise_within_an_overlapping_window_keeps_used(env):
    sb, w = env.sb, env.world
    reg = sb.c.registry
    pid, mat = w.farm.participant_id, w.raw_cotton
    now = sb.now()
    used0 = reg.functions.capacity(pid, mat).call()[3]  # what the demo's origins used in the world's window
    sb.tx(reg.functions.setCapacity(pid, mat, now - DAY, now + 30 * DAY, used0 + 20_000_000), w.certifier)
    sb.create_origin(w.farm, mat, 12_000_000, characteristic=w.organic, model=SEGREGATED)
    assert reg.functions.capacity(pid, mat).call()[3] == used0 + 12_000_000
    # raise the amount, window overlapping the previous one: the contract keeps used
    sb.tx(reg.functions.setCapacity(pid, mat, now, now + 60 * DAY, used0 + 25_000_000), w.certifier)
    assert reg.functions.capacity(pid, mat).call()[3] == used0 + 12_000_000
    sb.create_origin(w.farm, mat, 13_000_000, characteristic=w.organic, model=SEGREGATED)  # exactly what is left
    res = run_audit(env.rpc, env.registry)
    assert res["summary"]["ok"], [f["message"] for f in res["findings"]]
    assert res["rules"]["origin.capacity"]["failures"] == 0 and res["rules"]["views.match"]["failures"] == 0
    r = res["_replay"]
    assert r.capacity[(pid, mat)]["used"] == used0 + 25_000_000 == reg.functions.capacity(pid, mat).call()[3]
    # a window starting after the previous one ended starts from zero, in the contract and in the replay
    later = now + 61 * DAY
    sb.tx(reg.functions.setCapacity(pid, mat, later, later + 30 * DAY, 5_000_000), w.certifier)
    assert reg.functions.capacity(pid, mat).call()[3] == 0
    res = run_audit(env.rpc, env.registry)
    assert res["summary"]["ok"], [f["message"] for f in res["findings"]]
    assert res["_replay"].capacity[(pid, mat)]["used"] == 0


def test_capacity_rules_as_the_contract_computes_them():
    prev = {"validFrom": 100, "validTo": 200, "amount": 10, "used": 7}
    assert capacity_used_after_set(None, 50) == 0
    assert capacity_used_after_set(prev, 150) == 7  # overlapping
    assert capacity_used_after_set(prev, 200) == 7  # starts the second the old one ends: still overlapping
    assert capacity_used_after_set(prev, 201) == 0  # a new window
    # an amount lowered below what was used leaves nothing (the contract checks amount > used)
    assert capacity_available({"validFrom": 0, "validTo": 10, "amount": 5, "used": 7}, 5) == 0
