"""The auditor's replay does not depend on the order of the logs within a transaction (finding G): work done
in the ERC-1155 receiver hooks of a contract wallet emits events out of order (a child's BatchCreated before
its parent's, CertificatesRetired before CertificatesIssued), and a replay that followed the logs' order would
report false failures forever. Real transactions of a real Anvil ledger (the demo built with the testkit),
each one's logs permuted: the replayed state and the findings are identical."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, is_dataclass
from typing import Any

from auditor.audit import LogFeed, discover, fetch_logs, Stats
from auditor.replay import Ev, Replay
from auditor.rpc import Rpc


def _norm(v: Any) -> Any:
    if is_dataclass(v):
        return _norm(asdict(v))
    if isinstance(v, dict):
        return sorted(([_norm(k), _norm(x)] for k, x in v.items()), key=repr)
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, set):
        return sorted(_norm(x) for x in v)
    if isinstance(v, bytes):
        return v.hex()
    return v


def state_of(r: Replay) -> tuple[str, list]:
    state = {k: v for k, v in vars(r).items() if k not in ("f", "has_code") and not k.startswith("_tx_")}
    findings = sorted(json.dumps(f.to_json(), sort_keys=True, default=repr) for f in r.f.items)
    return json.dumps(_norm(state), default=repr), findings + [json.dumps(sorted(r.f.checks.items()))]


def transactions(env) -> tuple[Any, list[list[Ev]]]:
    """The ledger's decoded events, grouped by transaction in chain order."""
    rpc = Rpc(env.rpc)
    d = discover(rpc, env.registry)
    collect = Replay(d.chain_id, d.addresses())
    feed = LogFeed(collect, d.addresses())
    txs: list[list[Ev]] = []
    collect.apply_tx = txs.append  # the feed hands over one whole transaction at a time
    for logs in fetch_logs(rpc, list(feed.by_addr), d.deploy_block, d.head, Stats()):
        feed.add(logs)
    feed.flush()
    return (rpc, d), txs


def replay_txs(rpc: Rpc, d, txs: list[list[Ev]]) -> Replay:
    r = Replay(d.chain_id, d.addresses())
    r.has_code = lambda a: rpc.call("eth_getCode", [a, "latest"]) not in ("0x", "")
    for evs in txs:
        r.apply_tx(evs)
    r.finish()
    return r


def test_replay_is_independent_of_log_order_within_a_transaction(env):
    (rpc, d), txs = transactions(env)
    multi = [evs for evs in txs if len(evs) >= 3]
    assert len(multi) >= 20  # merges, transforms, declared deliveries, issuances from pledges, rolls ...
    names = {e.name for evs in txs if len(evs) >= 2 for e in evs}
    assert {"BatchCreated", "CreditsBooked", "CertificatesIssued", "CertificatesRetired", "PeriodClosed",
            "CustodyProposed", "CustodyAccepted", "TransferSingle"} <= names
    base = replay_txs(rpc, d, txs)
    assert not base.f.failures, [f.message for f in base.f.failures]
    expected = state_of(base)
    rng = random.Random(10)
    orders = {"reversed": [list(reversed(evs)) for evs in txs]}
    for k in range(3):
        orders[f"shuffled {k}"] = [rng.sample(evs, len(evs)) for evs in txs]
    for label, permuted in orders.items():
        assert any([e.li for e in p] != [e.li for e in evs] for p, evs in zip(permuted, multi)) or label
        r = replay_txs(rpc, d, permuted)
        assert not r.f.failures, (label, [f.message for f in r.f.failures][:5])
        got = state_of(r)
        assert got[1] == expected[1], label
        assert got[0] == expected[0], label


def test_hook_like_orders_are_replayed_as_the_contract_executed_them(env):
    """The order of finding G, built from real transactions: the transactions from the first issuance to the
    first retirement after it put into one transaction with their logs reversed (CertificatesRetired before
    CertificatesIssued, a later BatchCreated before an earlier one), as hooks in one transaction would emit
    them. No false finding, and the certificates, holdings and batches come out as from the chain's order."""
    (rpc, d), txs = transactions(env)
    base = replay_txs(rpc, d, txs)
    issue = next(i for i, evs in enumerate(txs) if any(e.name == "CertificatesIssued" for e in evs))
    retire = next(i for i in range(issue + 1, len(txs)) if any(e.name == "CertificatesRetired" for e in txs[i]))
    last = txs[retire][-1]
    span = [Ev(e.name, e.c, e.a, last.block, last.ts, last.tx, e.li) for evs in txs[issue:retire + 1] for e in evs]
    hooked = txs[:issue] + [list(reversed(span))] + txs[retire + 1:]
    assert hooked[issue][0].name != "CertificatesIssued"
    assert any(e.name == "BatchCreated" for e in span) or any(e.name == "CertificatesRetired" for e in span)
    r = replay_txs(rpc, d, hooked)
    assert not r.f.failures, [f.message for f in r.f.failures][:5]

    def summary(x: Replay) -> Any:
        return _norm({"issued": {c: (i["amount"], i["retired"], i["revoked"]) for c, i in x.issuances.items()},
                      "holdings": {k: v for k, v in x.holdings.items() if v},
                      "balances": {k: v for k, v in x.balances.items() if v},
                      "batches": {b: (v["quantity"], v["parents"], v["model"], v["share"]) for b, v in x.batches.items()},
                      "accounts": {k: a.balance for k, a in x.accounts.items()}})

    assert summary(r) == summary(base)


def _with(e: Ev, tx: Ev, **args: Any) -> Ev:
    return Ev(e.name, e.c, dict(e.a, **args), tx.block, tx.ts, tx.tx, e.li)


def test_reentrant_origin_and_issuance_on_one_evidence_fail_the_audit(env):
    """Finding F, as the auditor sees it: a receiver hook re-entering createOrigin leaves two origin batches on
    one evidence hash, or a certificate issued (inside the hook, so in the same transaction, logged before the
    origin's own events) on the batch's own evidence. The contracts refuse both outside such a hook; on chain
    either is the same production claimed twice, and the audit fails (it exited 0: the reuse was a warning, and
    an issuance logged before the origin's evidence was recorded went unseen). Built from the demo's real
    logs: two origin transactions, and an origin and a verified-production issuance, each pair put into one
    transaction with the evidence of the second rewritten to the first's."""
    (rpc, d), txs = transactions(env)
    origins = [i for i, evs in enumerate(txs) if any(e.name == "OriginRecorded" for e in evs)
               and any(e.name == "BatchCreated" and e.a["model"] for e in evs)]
    first, second = origins[0], origins[1]
    evidence = next(e for e in txs[first] if e.name == "OriginRecorded").a["evidenceHash"]
    last = txs[second][-1]
    merged = [_with(e, last) for e in txs[first]] + [
        _with(e, last, evidenceHash=evidence) if e.name == "OriginRecorded" else _with(e, last) for e in txs[second]]
    r = replay_txs(rpc, d, txs[:first] + txs[first + 1:second] + [list(reversed(merged))] + txs[second + 1:])
    assert [f.rule for f in r.f.failures if "reuses the evidence" in f.message] == ["certificates.evidence"]
    # a verified-production issuance on the evidence of a certified origin, inside the origin's transaction
    verified = next(i for i, evs in enumerate(txs) if i > first and any(
        e.name == "CertificatesIssued" and not e.a["pledgeId"] for e in evs))
    last = txs[first][-1]
    hooked = [_with(e, last, evidenceHash=evidence) if e.name == "CertificatesIssued" else _with(e, last)
              for e in txs[verified]] + list(txs[first])  # the hook's events are logged first
    r = replay_txs(rpc, d, txs[:first] + [hooked] + [t for i, t in enumerate(txs[first + 1:], first + 1) if i != verified])
    assert any(f.rule == "certificates.double_attribute" and "evidence of certified origin" in f.message
               for f in r.f.failures), [f.message for f in r.f.failures]
