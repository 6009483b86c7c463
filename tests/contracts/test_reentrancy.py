"""Issue 10 (F, G): a hostile contract wallet of a registered participant (ReentrantWallet: ERC-1271
signatures, re-entry from its ERC-1155 receiver hooks) cannot trick the contracts. Every mint and transfer
path is tried with the dangerous follow-up re-entered from the hook: each attempt is refused (decoded custom
error) or harmless, the events come out in causal order, and the auditor passes the resulting chain."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from web3.logs import DISCARD

from auditor.cli import run_audit
from helpers import expect_revert, tx
from node_api.core.abi import decode_revert
from node_api.core.chain import deploy_contract
from node_api.signing import accept_typed_data, sign_typed
from testkit.sandbox import DAY, ROLE_ISSUER, ROLE_SUPPLIER, SEGREGATED, UNCERTIFIED, Actor, h

pytestmark = pytest.mark.chain

LEDGER_EVENTS = ("BatchCreated", "OriginRecorded", "TransformRecorded", "TransferSingle", "CustodyProposed",
                 "CustodyAccepted")
# A fixed gas limit: estimation would find the least gas at which the outer call succeeds, which can be
# one at which the re-entrant call (whose failure the hook swallows) runs out of gas.
GAS = 6_000_000
CERT_EVENTS = ("CertificatesIssued", "CertificatesRetired", "AttributesPledged", "TransferSingle")


@pytest.fixture
def hostile(world, artifacts, accounts):
    """A supplier (and issuer) whose second wallet is a ReentrantWallet owned by its first key."""
    sb = world.sb
    owner = accounts[12]
    wallet = deploy_contract(sb.w3, artifacts["ReentrantWallet"], accounts[0], owner.address)
    actor = sb.participant("Hostile Mill", ROLE_SUPPLIER | ROLE_ISSUER, owner, site="Mill Hostile")
    sb.tx(sb.c.registry.functions.addWallet(wallet.address, actor.participant_id, actor.site_id), owner)
    sb.certify(world.certifier, actor, [world.raw_cotton, world.lint, world.yarn, world.cotton_waste],
               [world.organic, world.recycled])
    sb.capacity(world.certifier, actor, world.raw_cotton, 10**12)
    as_wallet = Actor("Hostile wallet", owner, actor.participant_id, actor.site_id, actor.roles)
    return SimpleNamespace(owner=owner, wallet=wallet, actor=actor, as_wallet=as_wallet, address=wallet.address)


def act(sb, hw, contract, fn: str, *args):
    """`contract.fn(*args)` sent by the hostile wallet itself (its owner calls execute)."""
    return sb.tx(hw.wallet.functions.execute(contract.address, contract.encode_abi(fn, args=list(args))), hw.owner,
                 gas=GAS)


def arm(sb, hw, contract, fn: str, *args) -> None:
    """Queues `contract.fn(*args)` for the wallet's next receiver hook."""
    sb.tx(hw.wallet.functions.arm(contract.address, contract.encode_abi(fn, args=list(args))), hw.owner)


def reentered(sb, hw, receipt) -> list[tuple[bool, str, dict]]:
    """(ok, decoded error name, args) of each re-entrant call made in `receipt`."""
    out = []
    for e in hw.wallet.events.Reentered().process_receipt(receipt, errors=DISCARD):
        ok, result = e["args"]["ok"], e["args"]["result"]
        name, args = ("", {}) if ok else decode_revert(result)
        out.append((ok, name, args))
    return out


def ordered(sb, receipt) -> list[tuple[str, str, dict]]:
    """(contract, event, args) of the receipt's ledger and certificate events in log order."""
    logs = []
    for label, contract, names in (("ledger", sb.c.ledger, LEDGER_EVENTS), ("certs", sb.c.certificates, CERT_EVENTS)):
        for name in names:
            for e in getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD):
                if e["address"] == contract.address:
                    logs.append((e["logIndex"], label, name, dict(e["args"])))
    return [(label, name, args) for _, label, name, args in sorted(logs, key=lambda x: x[0])]


def origin(sb, hw, world, quantity, *, model=SEGREGATED, evidence=None):
    params = sb.origin_params(hw.actor, world.raw_cotton, quantity, characteristic=world.organic if model else 0,
                              model=model, evidence=evidence)
    return params


def issue_params(sb, hw, world, to, amount, evidence):
    return (hw.actor.participant_id, to, amount, 1_000_000, "1 t", world.raw_cotton, world.organic,
            sb.now() - 30 * DAY, sb.now(), evidence, 0)


def created(sb, receipt) -> list[int]:
    return [a["batchId"] for c, n, a in ordered(sb, receipt) if n == "BatchCreated"]


def assert_parents_first(sb, receipt) -> None:
    """G: a batch's BatchCreated comes after every BatchCreated of its parents in the same transaction."""
    seen = set()
    for _, name, a in ordered(sb, receipt):
        if name == "BatchCreated":
            for p in a["parents"]:
                assert p["batchId"] < a["batchId"]
                assert p["batchId"] in seen or p["batchId"] not in created(sb, receipt)
            seen.add(a["batchId"])


# ---------------------------------------------------------------------------------------------- batch ledger


def test_createOrigin_reentered_second_origin_on_same_evidence_refused(world, hostile):
    sb, hw = world.sb, hostile
    params = origin(sb, hw, world, 1_000)
    arm(sb, hw, sb.c.ledger, "createOrigin", params)
    receipt = act(sb, hw, sb.c.ledger, "createOrigin", params)
    (attempt,) = reentered(sb, hw, receipt)
    assert attempt[:2] == (False, "BatchEvidenceAlreadyUsed")
    (batch,) = created(sb, receipt)
    assert attempt[2] == {"evidenceHash": params[7], "batchId": batch, "certificateId": 0}
    assert sb.c.ledger.functions.originByEvidence(params[7]).call() == batch
    names = [n for _, n, _ in ordered(sb, receipt)]
    assert names == ["TransferSingle", "BatchCreated", "OriginRecorded"]


def test_createOrigin_reentered_certificate_on_the_batch_evidence_refused(world, hostile):
    """F: the same tonne claimed physically and as a certificate (hostile holds supplier and issuer roles)."""
    sb, hw = world.sb, hostile
    params = origin(sb, hw, world, 1_000)
    arm(sb, hw, sb.c.certificates, "issue", issue_params(sb, hw, world, hw.address, 1, params[7]))
    receipt = act(sb, hw, sb.c.ledger, "createOrigin", params)
    (batch,) = created(sb, receipt)
    (attempt,) = reentered(sb, hw, receipt)
    assert attempt == (False, "CertificateEvidenceBacksBatch", {"evidenceHash": params[7], "batchId": batch})
    assert sb.c.certificates.functions.certificateCount().call() == 0


def test_split_reentered_spending_the_parent_twice_refused(world, hostile):
    sb, hw = world.sb, hostile
    batch = created(sb, act(sb, hw, sb.c.ledger, "createOrigin", origin(sb, hw, world, 1_000)))[0]
    arm(sb, hw, sb.c.ledger, "split", batch, [1_000])
    arm(sb, hw, sb.c.ledger, "split", batch, [1])
    receipt = act(sb, hw, sb.c.ledger, "split", batch, [400, 600])
    attempts = reentered(sb, hw, receipt)
    assert [a[:2] for a in attempts] == [(False, "ERC1155InsufficientBalance")] * 2  # one per child's hook
    children = created(sb, receipt)
    assert [sb.balance(hw.address, c) for c in children] == [400, 600] and sb.balance(hw.address, batch) == 0
    assert sb.c.ledger.functions.totals().call()[3] == sb.c.ledger.functions.totalSupply().call()
    assert_parents_first(sb, receipt)


def test_split_reentered_split_of_a_child_comes_after_it(world, hostile):
    """G: work done in a hook (a split of the child just created) is logged after the child's creation."""
    sb, hw = world.sb, hostile
    batch = created(sb, act(sb, hw, sb.c.ledger, "createOrigin", origin(sb, hw, world, 1_000)))[0]
    child = sb.c.ledger.functions.batchCount().call() + 1
    arm(sb, hw, sb.c.ledger, "split", child, [100, 300])
    receipt = act(sb, hw, sb.c.ledger, "split", batch, [400, 600])
    assert reentered(sb, hw, receipt) == [(True, "", {})]
    ids = created(sb, receipt)
    assert ids == [child, child + 1, child + 2, child + 3]
    assert_parents_first(sb, receipt)


def test_merge_reentered_merging_the_inputs_again_refused(world, hostile):
    sb, hw = world.sb, hostile
    a = created(sb, act(sb, hw, sb.c.ledger, "createOrigin", origin(sb, hw, world, 500, model=UNCERTIFIED)))[0]
    b = created(sb, act(sb, hw, sb.c.ledger, "createOrigin", origin(sb, hw, world, 700, model=UNCERTIFIED)))[0]
    arm(sb, hw, sb.c.ledger, "merge", [a, b], [500, 700], UNCERTIFIED)
    receipt = act(sb, hw, sb.c.ledger, "merge", [a, b], [500, 700], UNCERTIFIED)
    (attempt,) = reentered(sb, hw, receipt)
    assert attempt[:2] == (False, "ERC1155InsufficientBalance")
    (merged,) = created(sb, receipt)
    assert sb.balance(hw.address, merged) == 1_200
    assert_parents_first(sb, receipt)


def test_transform_reentered_transforming_the_inputs_again_refused(world, hostile):
    sb, hw = world.sb, hostile
    raw = created(sb, act(sb, hw, sb.c.ledger, "createOrigin", origin(sb, hw, world, 1_000)))[0]
    args = (world.ginning, [raw], [1_000], 350, SEGREGATED, 0)
    arm(sb, hw, sb.c.ledger, "transform", *args)
    receipt = act(sb, hw, sb.c.ledger, "transform", *args)
    (attempt,) = reentered(sb, hw, receipt)
    assert attempt[:2] == (False, "ERC1155InsufficientBalance")
    names = [n for _, n, _ in ordered(sb, receipt)]
    assert names.index("TransformRecorded") > names.index("BatchCreated")  # complete before the hook ran
    (lint,) = created(sb, receipt)
    assert sb.balance(hw.address, lint) == 350


def test_custody_transferWithAcceptance_calls_no_hook(world, hostile):
    """Custody moves never call a receiver hook: nothing can re-enter in the middle of a handshake."""
    sb, hw = world.sb, hostile
    batch = sb.create_origin(world.farm, world.raw_cotton, 2_000, characteristic=world.organic, model=SEGREGATED)
    arm(sb, hw, sb.c.ledger, "split", batch, [1])
    t = sb.offer(world.farm, hw.address, batch, 1_000)
    deadline = sb.now() + 3600
    accept = sign_typed(hw.owner.key, accept_typed_data(sb.chain_id, sb.c.ledger.address, t, deadline))
    sb.tx(sb.c.ledger.functions.transferWithAcceptance(t.as_tuple(), sb.sign_offer(world.farm, t), deadline, accept),
          sb.relayer)
    assert sb.balance(hw.address, batch) == 1_000
    assert hw.wallet.functions.hooks().call() == 0 and hw.wallet.functions.fired().call() == 0


def test_custody_acceptTransfer_calls_no_hook(world, hostile):
    sb, hw = world.sb, hostile
    batch = sb.create_origin(world.farm, world.raw_cotton, 2_000, characteristic=world.organic, model=SEGREGATED)
    arm(sb, hw, sb.c.ledger, "split", batch, [1])
    t = sb.offer(world.farm, hw.address, batch, 1_000)
    sb.tx(sb.c.ledger.functions.proposeTransfer(t.as_tuple(), sb.sign_offer(world.farm, t)), sb.relayer)
    deadline = sb.now() + 3600
    accept = sign_typed(hw.owner.key, accept_typed_data(sb.chain_id, sb.c.ledger.address, t, deadline))
    sb.tx(sb.c.ledger.functions.acceptTransfer(t.as_tuple(), deadline, accept), sb.relayer)
    assert sb.balance(hw.address, batch) == 1_000 and hw.wallet.functions.hooks().call() == 0
    # the same acceptance again: refused, nothing received twice
    expect_revert(sb.c.ledger.functions.acceptTransfer(t.as_tuple(), deadline, accept), sb.relayer,
                  "BatchTransferNotPending")


def test_releaseAttributes_calls_no_hook_and_pledge_is_recorded(world, hostile):
    sb, hw = world.sb, hostile
    batch = created(sb, act(sb, hw, sb.c.ledger, "createOrigin", origin(sb, hw, world, 1_000)))[0]
    hooks = hw.wallet.functions.hooks().call()
    arm(sb, hw, sb.c.certificates, "pledgeBatch", batch, 1_000)
    receipt = act(sb, hw, sb.c.certificates, "pledgeBatch", batch, 600)
    assert hw.wallet.functions.hooks().call() == hooks and reentered(sb, hw, receipt) == []
    names = [n for _, n, _ in ordered(sb, receipt)]
    assert names[-1] == "AttributesPledged" and "BatchCreated" in names
    # the wallet cannot pledge the same quantity twice
    with pytest.raises(Exception, match="ERC1155InsufficientBalance"):
        act(sb, hw, sb.c.certificates, "pledgeBatch", batch, 600)


# ---------------------------------------------------------------------------------------------- certificates


def test_issue_reentered_second_issuance_on_same_evidence_refused(world, hostile):
    sb, hw = world.sb, hostile
    evidence = sb.next_evidence("production-record")
    p = issue_params(sb, hw, world, hw.address, 5, evidence)
    arm(sb, hw, sb.c.certificates, "issue", p)
    arm(sb, hw, sb.c.ledger, "createOrigin", origin(sb, hw, world, 1_000, evidence=evidence))
    cid = sb.c.certificates.functions.certificateCount().call() + 1
    receipt = act(sb, hw, sb.c.certificates, "issue", p)
    (attempt,) = reentered(sb, hw, receipt)
    assert attempt == (False, "CertificateEvidenceAlreadyUsed", {"evidenceHash": evidence, "certificateId": cid})
    # and an origin batch on the certificate's evidence, from the next hook: refused too
    receipt = sb.tx(sb.c.certificates.functions.issue(issue_params(sb, hw, world, hw.address, 1,
                                                                    sb.next_evidence())), world.issuer, gas=GAS)
    (attempt,) = reentered(sb, hw, receipt)
    assert attempt == (False, "BatchEvidenceAlreadyUsed", {"evidenceHash": evidence, "batchId": 0, "certificateId": cid})


def test_issue_reentered_retirement_comes_after_issuance_and_retiring_twice_refused(world, hostile):
    sb, hw = world.sb, hostile
    now = sb.now()
    cid = sb.c.certificates.functions.certificateCount().call() + 1
    retire = (cid, 5, "Hostile Brand", now - 90 * DAY, now, h("purpose"))
    arm(sb, hw, sb.c.certificates, "retire", *retire)
    receipt = sb.tx(sb.c.certificates.functions.issue(issue_params(sb, hw, world, hw.address, 5,
                                                                    sb.next_evidence())), world.issuer, gas=GAS)
    assert [a[0] for a in reentered(sb, hw, receipt)] == [True]
    names = [n for c, n, _ in ordered(sb, receipt) if c == "certs"]
    assert names == ["CertificatesIssued", "TransferSingle", "TransferSingle", "CertificatesRetired"]
    with pytest.raises(Exception, match="ERC1155InsufficientBalance"):
        act(sb, hw, sb.c.certificates, "retire", *retire)
    assert sb.c.certificates.functions.issuance(cid).call()[1][2] == 5  # retired once


def test_safeTransferFrom_reentered_spending_the_units_twice_refused(world, hostile):
    sb, hw = world.sb, hostile
    cid = sb.issue(world.issuer, world.farm, world.brand, 10, material=world.raw_cotton, characteristic=world.organic)
    c = sb.c.certificates
    arm(sb, hw, c, "safeTransferFrom", hw.address, world.brand.address, cid, 10, b"")
    receipt = tx(c.functions.safeTransferFrom(world.brand.address, hw.address, cid, 5, b""), world.brand, gas=GAS)
    (attempt,) = reentered(sb, hw, receipt)
    assert attempt[:2] == (False, "ERC1155InsufficientBalance")
    assert c.functions.balanceOf(hw.address, cid).call() == 5
    assert c.functions.balanceOf(world.brand.address, cid).call() == 5


# ---------------------------------------------------------------------------------------------- the auditor


def test_auditor_passes_the_chain_after_every_attack(world, hostile):
    """Every attack above on one chain: the auditor's replay (events in causal order) finds nothing."""
    sb, hw = world.sb, hostile
    params = origin(sb, hw, world, 2_000)
    arm(sb, hw, sb.c.ledger, "createOrigin", params)
    receipt = act(sb, hw, sb.c.ledger, "createOrigin", params)
    batch = created(sb, receipt)[0]
    child = sb.c.ledger.functions.batchCount().call() + 1
    arm(sb, hw, sb.c.ledger, "split", child, [100, 300])
    arm(sb, hw, sb.c.ledger, "split", batch, [2_000])
    act(sb, hw, sb.c.ledger, "split", batch, [400, 1_600])
    now = sb.now()
    cert_evidence = sb.next_evidence()
    cid = sb.c.certificates.functions.certificateCount().call() + 1
    arm(sb, hw, sb.c.certificates, "retire", cid, 2, "Hostile Brand", now - 90 * DAY, now, h("purpose"))
    sb.tx(sb.c.certificates.functions.issue(issue_params(sb, hw, world, hw.address, 5, cert_evidence)), world.issuer, gas=GAS)
    res = run_audit(sb.w3.provider.endpoint_uri, sb.c.registry.address)
    assert [f["message"] for f in res["findings"]] == []
    assert res["summary"]["ok"]
