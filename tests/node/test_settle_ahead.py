"""Accept, reject and cancel at chain speed (issue 11): a settlement of a proposal the node accepted
and the chain has not mined yet is checked on the state the proposal leaves and relayed at once
(node_api/services/settle_ahead.py), and each test tries to break one promise:

- on a chain with a block time, a receiver's accept of an in-flight proposal lands in the same block
  as the proposal (the accept is answered before that block exists);
- a wrong signature or a wrong quantity is refused before any gas is spent;
- an accept of a proposal that is then refused at inclusion answers that truthfully (and is not sent
  again);
- an accept included before its proposal (the proposal's transaction lost its relayer nonce and was
  signed again) is sent again after the proposal and the first hash leads to the outcome;
- a cancel and an accept of the same in-flight proposal: exactly one of them runs.

Own Anvil and node: these tests switch mining modes.
"""

from __future__ import annotations

import time

import httpx
import pytest
from eth_account import Account

from node_api import signing
from node_api.core.anvil import rpc_call
from node_api.core.config import ANVIL_RELAYER_KEY
from nodehelp import sign
from nodeserver import ADMIN_KEY, relay_world

pytestmark = pytest.mark.chain

ADMIN = {"X-Admin-Key": ADMIN_KEY}
REBROADCAST_AFTER = 1.0
PENDING, ACCEPTED, CANCELLED = 1, 2, 4


def _ok(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with relay_world(tmp_path_factory.mktemp("settle-ahead-node"), wallets=10, name="Settler", http_timeout=60,
                     rebroadcast_after=REBROADCAST_AFTER, nonce_wait_seconds=10.0, wait_timeout=20.0) as ns:
        yield ns


def rpc(env, method: str, *params):
    return rpc_call(env.url, method, list(params), timeout=10)


@pytest.fixture
def manual_mining(env):
    rpc(env, "evm_setAutomine", False)
    try:
        yield
    finally:
        env.node.relayer.rebroadcast_after = REBROADCAST_AFTER
        rpc(env, "evm_setAutomine", True)
        rpc(env, "evm_mine")


_tags = iter(range(10**6))


def _create(env, acct, quantity: int) -> int:
    tag = f"{acct.address}:{next(_tags)}"
    prep = _ok(env.api.post("/batches/create/prepare", json={
        "signer": acct.address, "material": env.material, "quantity": quantity, "geolocationHash": f"geo:{tag}",
        "evidenceHash": f"evidence:{tag}", "productionDate": 1}))
    body = _ok(env.api.post("/batches/create/submit", json={"typedData": prep["typedData"],
                                                            "signature": sign(acct, prep["typedData"])}))
    return body["result"]["batchIds"][0]


def _proposal(env, sender, receiver, batch: int, quantity: int, nonce: int | None = None) -> signing.CustodyTransfer:
    if nonce is None:
        nonce = env.ledger.functions.nonces(sender.address).call()
    return signing.CustodyTransfer(batch, sender.address, receiver.address, quantity, 0, nonce, 2**40)


def _propose(env, sender, t: signing.CustodyTransfer) -> dict:
    typed = signing.transfer_typed_data(env.node.chain_id, env.node.ledger, t)
    return _ok(env.api.post("/batches/transfer/submit", params={"wait": "false"},
                            json={"typedData": typed, "signature": sign(sender, typed)}), 202)


def _settle_body(env, kind: str, signer, t: signing.CustodyTransfer, *, as_transfer=None) -> dict:
    typed = {"accept": signing.accept_typed_data, "reject": signing.reject_typed_data,
             "cancel": signing.cancel_typed_data}[kind](env.node.chain_id, env.node.ledger, t, 2**40)
    shown = as_transfer or t
    return {"typedData": typed, "signature": sign(signer, typed), "transfer": shown.message()}


def _settle(env, kind: str, signer, t, *, wait: bool = False, **kw) -> httpx.Response:
    return env.api.post(f"/batches/{kind}/submit", params={"wait": str(wait).lower()},
                        json=_settle_body(env, kind, signer, t, **kw))


def _receipt(env, tx_hash: str):
    return rpc(env, "eth_getTransactionReceipt", tx_hash)


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _status(env, tx_hash: str) -> dict:
    return _ok(env.api.get(f"/transactions/{tx_hash}"))


def _settled(env, tx_hash: str, timeout: float = 20.0) -> dict:
    _wait(lambda: _status(env, tx_hash)["status"] != "pending", timeout, f"{tx_hash} to settle")
    return _status(env, tx_hash)


# ---------------------------------------------------------------- one block on a block-time chain
def test_accepts_of_in_flight_proposals_land_in_the_proposals_block(env):
    """2 s blocks: three senders propose and their receivers accept at once; every accept is answered
    while its proposal is still unmined, and each pair lands in one block (before: two blocks)."""
    pairs = [(env.wallets[i], env.wallets[i + 3]) for i in range(3)]
    lots = [_create(env, s, 100) for s, _ in pairs]
    rpc(env, "evm_setAutomine", False)
    rpc(env, "evm_setIntervalMining", 2)
    try:
        head = env.w3.eth.block_number
        _wait(lambda: env.w3.eth.block_number > head, 10, "a block")  # just after a block: 2 s to the next
        out = []
        for (s, r), lot in zip(pairs, lots):
            t = _proposal(env, s, r, lot, 40)
            p = _propose(env, s, t)
            a = _ok(_settle(env, "accept", r, t), 202)
            assert _receipt(env, p["txHash"]) is None  # the accept did not wait for the proposal's block
            out.append((t, p["txHash"], a["txHash"]))
        for t, p, a in out:
            assert _settled(env, a)["status"] == "mined"
            assert _receipt(env, p)["blockNumber"] == _receipt(env, a)["blockNumber"]
            tid = "0x" + t.transfer_id().hex()
            assert env.ledger.functions.transferStatus(tid).call() == ACCEPTED
            assert env.ledger.functions.balanceOf(t.to, t.batchId).call() == 40
        assert env.node.custody.settling.stats["ahead"] >= 3
    finally:
        rpc(env, "evm_setIntervalMining", 0)
        rpc(env, "evm_setAutomine", True)


def test_accept_with_wait_is_answered_mined_from_the_proposals_block(env):
    """2 s blocks: propose (not waiting), accept waiting for its outcome: one block, answered mined."""
    s, r = env.wallets[6], env.wallets[7]
    lot = _create(env, s, 100)
    rpc(env, "evm_setAutomine", False)
    rpc(env, "evm_setIntervalMining", 2)
    try:
        head = env.w3.eth.block_number
        _wait(lambda: env.w3.eth.block_number > head, 10, "a block")
        t = _proposal(env, s, r, lot, 25)
        p = _propose(env, s, t)
        a = _ok(_settle(env, "accept", r, t, wait=True))
        assert a["status"] == "mined" and a["action"] == "batches.accept", a
        accepted = [e for e in a["events"] if e["event"] == "CustodyAccepted"]
        assert len(accepted) == 1 and accepted[0]["args"]["transferId"] == "0x" + t.transfer_id().hex(), a
        assert int(_receipt(env, p["txHash"])["blockNumber"], 16) == a["blockNumber"]
    finally:
        rpc(env, "evm_setIntervalMining", 0)
        rpc(env, "evm_setAutomine", True)


# ---------------------------------------------------------------- refused before any gas
def test_wrong_signature_or_quantity_of_an_in_flight_proposal_is_refused_before_gas(env, manual_mining):
    s, r = env.wallets[0], env.wallets[3]
    rpc(env, "evm_setAutomine", True)
    lot = _create(env, s, 100)
    rpc(env, "evm_setAutomine", False)
    t = _proposal(env, s, r, lot, 30)
    p = _propose(env, s, t)
    sent = env.w3.eth.get_transaction_count(env.relayer, "pending")
    tid = "0x" + t.transfer_id().hex()
    # the sender signs the receiver's accept: refused by signer
    bad = _settle(env, "accept", s, t)
    assert bad.status_code == 403 and bad.json()["error"] == "SignatureMismatch", bad.text
    assert r.address in bad.json()["message"]
    # the receiver signs an accept of 31 (a transfer that was never proposed; its own id): the ledger's
    # answer on the state the proposal leaves
    wrong = signing.CustodyTransfer(t.batchId, t.from_, t.to, 31, 0, t.nonce, t.deadline)
    bad = _settle(env, "accept", r, wrong)
    assert bad.status_code == 409 and bad.json()["error"] == "BatchTransferNotPending", bad.text
    assert bad.json()["details"]["args"]["status"] == 0
    # the right transfer but the message's quantity changed: refused as not matching it
    body = _settle_body(env, "accept", r, t)
    body["typedData"]["message"]["quantity"] = 31
    bad = env.api.post("/batches/accept/submit", params={"wait": "false"}, json=body)
    assert bad.status_code == 422 and bad.json()["details"]["field"] == "message", bad.text
    # an accept of the sender's next nonce (no such proposal in flight): refused at once, not held
    later = _proposal(env, s, r, lot, 30, nonce=t.nonce + 1)
    t0 = time.monotonic()
    bad = _settle(env, "accept", r, later)
    assert bad.status_code == 409 and bad.json()["error"] == "BatchTransferNotPending", bad.text
    assert time.monotonic() - t0 < 5
    assert env.w3.eth.get_transaction_count(env.relayer, "pending") == sent  # no gas spent on any of them
    rpc(env, "evm_mine")
    assert _settled(env, p["txHash"])["status"] == "mined"
    assert env.ledger.functions.transferStatus(tid).call() == PENDING


# ---------------------------------------------------------------- the proposal does not land
def test_accept_of_a_proposal_refused_at_inclusion_is_answered_truthfully(env, manual_mining):
    """The sender's nonce is taken by another proposal of theirs sent straight to the ledger (paying a
    higher tip, it runs first in the block): the node's proposal fails at inclusion, and the accept
    of it that was relayed ahead answers that the transfer does not exist; it is not sent again."""
    s, r, other = env.wallets[1], env.wallets[4], env.wallets[5]
    rpc(env, "evm_setAutomine", True)
    lot = _create(env, s, 100)
    rpc(env, "evm_setAutomine", False)
    t = _proposal(env, s, r, lot, 60)
    p = _propose(env, s, t)
    a = _ok(_settle(env, "accept", r, t), 202)
    # the competing proposal, same nonce, another receiver, sent by a funded outsider
    rival = signing.CustodyTransfer(lot, s.address, other.address, 50, 0, t.nonce, 2**40)
    rsig = bytes.fromhex(sign(s, signing.transfer_typed_data(env.node.chain_id, env.node.ledger, rival))[2:])
    outsider = Account.create()
    rpc(env, "anvil_setBalance", outsider.address, hex(10**20))
    tx = env.ledger.functions.proposeTransfer(rival.as_tuple(), rsig).build_transaction({
        "from": outsider.address, "nonce": 0, "gas": 500_000, "chainId": env.w3.eth.chain_id,
        "maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 50 * 10**9})
    env.w3.eth.send_raw_transaction(outsider.sign_transaction(tx).raw_transaction)
    rpc(env, "evm_mine")
    ps, acc = _settled(env, p["txHash"]), _settled(env, a["txHash"])
    assert ps["status"] == "reverted" and ps["error"]["error"] == "InvalidAccountNonce", ps
    assert acc["status"] == "reverted" and acc["error"]["error"] == "BatchTransferNotPending", acc
    assert acc["error"]["details"]["args"]["status"] == 0 and acc["txHash"] == a["txHash"]
    tid = "0x" + t.transfer_id().hex()
    assert env.ledger.functions.transferStatus(tid).call() == 0
    assert env.ledger.functions.balanceOf(r.address, lot).call() == 0
    time.sleep(1.0)  # nothing is sent again for it
    assert env.w3.eth.get_transaction_count(env.relayer, "pending") == env.w3.eth.get_transaction_count(env.relayer)


def test_accept_included_before_its_proposal_is_sent_again_after_it(env, manual_mining):
    """The proposal's transaction is dropped from the pool and its relayer nonce taken by another
    transaction, so the accept relayed behind it runs first and reverts (the transfer is not on chain
    yet). The relayer signs the proposal again; once it is mined the node sends the same signed accept
    again, and the accept's first hash leads to the outcome."""
    s, r = env.wallets[2], env.wallets[8]
    relayer = env.node.relayer
    rpc(env, "evm_setAutomine", True)
    lot = _create(env, s, 100)
    rpc(env, "evm_setAutomine", False)
    resent = env.node.custody.settling.stats["resent"]
    relayer.rebroadcast_after = 3600.0  # while the loss is arranged
    t = _proposal(env, s, r, lot, 70)
    p = _propose(env, s, t)
    a = _ok(_settle(env, "accept", r, t), 202)
    nonce = _status(env, p["txHash"])["nonce"]
    rpc(env, "anvil_dropTransaction", p["txHash"])
    key = Account.from_key(ANVIL_RELAYER_KEY)
    filler = key.sign_transaction({"nonce": nonce, "to": key.address, "value": 0, "gas": 21_000,
                                   "gasPrice": 2 * env.w3.eth.gas_price, "chainId": env.w3.eth.chain_id})
    env.w3.eth.send_raw_transaction(filler.raw_transaction)
    # Anvil drops the relayer's later transactions with it: the accept comes back (as the relayer's
    # rebroadcast would bring it), the proposal does not (its nonce is taken)
    rpc(env, "eth_sendRawTransaction", "0x" + relayer.db.tx(a["txHash"])["raw"])
    rpc(env, "evm_mine")
    early = _receipt(env, a["txHash"])
    assert early is not None and int(early["status"], 16) == 0  # ran before its proposal
    relayer.rebroadcast_after = REBROADCAST_AFTER
    tid = "0x" + t.transfer_id().hex()

    def accepted() -> bool:
        rpc(env, "evm_mine")
        return env.ledger.functions.transferStatus(tid).call() == ACCEPTED

    _wait(accepted, 30, "the proposal signed again and the accept sent again")
    st = _settled(env, a["txHash"])
    assert st["status"] == "mined" and st["replaces"] == a["txHash"] and st["txHash"] != a["txHash"], st
    assert [e["args"]["transferId"] for e in st["events"] if e["event"] == "CustodyAccepted"] == [tid]
    assert env.node.custody.settling.stats["resent"] == resent + 1
    assert env.ledger.functions.balanceOf(r.address, lot).call() == 70
    assert env.ledger.functions.balanceOf(s.address, lot).call() == 30
    assert _status(env, p["txHash"])["status"] == "mined"


# ---------------------------------------------------------------- cancel against accept
def test_cancel_and_accept_of_one_in_flight_proposal_resolve_to_exactly_one(env, manual_mining):
    s, r = env.wallets[9], env.wallets[3]
    rpc(env, "evm_setAutomine", True)
    lot = _create(env, s, 100)
    rpc(env, "evm_setAutomine", False)
    for k, first in enumerate(("accept", "cancel")):
        t = _proposal(env, s, r, lot, 10)
        p = _propose(env, s, t)
        one = {"accept": (r, "accept"), "cancel": (s, "cancel")}
        order = [first, "cancel" if first == "accept" else "accept"]
        acks = {kind: _ok(_settle(env, kind, one[kind][0], t), 202)["txHash"] for kind in order}
        rpc(env, "evm_mine")
        blocks = {_receipt(env, x)["blockNumber"] for x in [p["txHash"], *acks.values()]}
        assert len(blocks) == 1  # the proposal and both settlements in one block
        st = {kind: _settled(env, h) for kind, h in acks.items()}
        tid = "0x" + t.transfer_id().hex()
        assert st[order[0]]["status"] == "mined" and st[order[1]]["status"] == "reverted", st
        err = st[order[1]]["error"]
        assert err["error"] == "BatchTransferNotPending", err
        status = env.ledger.functions.transferStatus(tid).call()
        assert status == (ACCEPTED if first == "accept" else CANCELLED)
        assert err["details"]["args"]["status"] == status
    # accepted 10 once, cancelled 10 back: conservation
    assert env.ledger.functions.balanceOf(r.address, lot).call() == 10
    assert env.ledger.functions.balanceOf(s.address, lot).call() == 90
    assert env.ledger.functions.balanceOf(env.ledger.address, lot).call() == 0


# ---------------------------------------------------------------- one upload: proposals and their accepts
def test_bulk_of_proposals_and_their_accepts_goes_out_before_any_block(env, manual_mining):
    """One /bulk upload: a sender's three proposals, then the receiver's accepts of them (listed
    first for the last one, so an accept can come before its proposal in the upload). Every item is
    answered before any block; one block carries all six, each accept after its own proposal."""
    s, r = env.wallets[4], env.wallets[5]
    rpc(env, "evm_setAutomine", True)
    lot = _create(env, s, 100)
    rpc(env, "evm_setAutomine", False)
    n0 = env.ledger.functions.nonces(s.address).call()
    ts = [_proposal(env, s, r, lot, 10 + k, nonce=n0 + k) for k in range(3)]

    def proposal_item(t):
        typed = signing.transfer_typed_data(env.node.chain_id, env.node.ledger, t)
        return {"action": "batches.transfer", "body": {"typedData": typed, "signature": sign(s, typed)}}

    items = [proposal_item(t) for t in ts] + [{"action": "batches.accept", "body": _settle_body(env, "accept", r, t)}
                                               for t in ts]
    items.insert(2, items.pop())  # the accept of the third proposal before it in the upload
    head = env.w3.eth.block_number
    out = _ok(env.api.post("/bulk", json={"items": items}, timeout=60))
    assert env.w3.eth.block_number == head
    assert [it["status"] for it in out["items"]] == ["pending"] * 6, out
    rpc(env, "evm_mine")
    blocks = {_receipt(env, it["txHash"])["blockNumber"] for it in out["items"]}
    assert len(blocks) == 1
    for t in ts:
        assert env.ledger.functions.transferStatus("0x" + t.transfer_id().hex()).call() == ACCEPTED
    assert env.ledger.functions.balanceOf(r.address, lot).call() == 10 + 11 + 12
