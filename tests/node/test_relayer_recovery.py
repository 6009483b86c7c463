"""The relayer under a chain that does not mine at once (Anvil automine off, blocks mined by the test).

- A transaction dropped from the pool is sent again, and a nonce gap it leaves is closed: every
  acknowledged action ends up on chain exactly once and the relayer carries on.
- A send the chain refuses (the relayer cannot pay for it) leaves no nonce gap: a filler takes the
  nonce so the transactions behind it are mined.
- The relayer's key used outside the node: the stale local nonce is re-read, the action still goes out
  once; a dropped transaction whose nonce was taken that way is signed again (its old hash leads to
  the outcome).
- Two actions that are each valid on the current state but conflict (both simulated before either is
  mined): the second reverts on chain and GET /transactions/{hash} reports "reverted" with the
  decoded custom error and its message.

Own Anvil and node: the session chain must keep mining at once for the other node tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
from eth_account import Account
from web3.logs import DISCARD

from node_api.core.anvil import rpc_call
from nodehelp import forward_body, sign
from nodeserver import ADMIN_KEY, relay_world

pytestmark = pytest.mark.chain  # starts its own chain and node in module fixtures

ADMIN = {"X-Admin-Key": ADMIN_KEY}
REBROADCAST_AFTER = 1.0


def _ok(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with relay_world(tmp_path_factory.mktemp("relayer-node"), wallets=5, name="Supplier", accounts=20,
                     rebroadcast_after=REBROADCAST_AFTER, nonce_wait_seconds=10.0, wait_timeout=10.0) as ns:
        ns.suppliers = ns.wallets
        yield ns


def rpc(env, method: str, *params):
    return rpc_call(env.url, method, list(params))


@pytest.fixture
def manual_mining(env):
    """Automine off for one test; on again (and whatever is left in the pool mined) afterwards."""
    rpc(env, "evm_setAutomine", False)
    try:
        yield
    finally:
        env.node.relayer.rebroadcast_after = REBROADCAST_AFTER
        rpc(env, "evm_setAutomine", True)
        rpc(env, "evm_mine")


class _loss:
    """While the test arranges a loss (drops, mines, spends nonces), the relayer does not look for
    missing transactions yet: on a loaded machine the arranging could take longer than
    ``rebroadcast_after`` and race the relayer. On exit the relayer's normal delay applies again,
    and what was sent before is overdue at once."""

    def __init__(self, env):
        self.relayer = env.node.relayer

    def __enter__(self):
        self.relayer.rebroadcast_after = 3600.0

    def __exit__(self, *exc):
        self.relayer.rebroadcast_after = REBROADCAST_AFTER


_tags = iter(range(10**6))


def _prepare_create(env, acct, quantity: int) -> dict:
    tag = f"{acct.address}:{next(_tags)}"
    prep = _ok(env.api.post("/batches/create/prepare", json={
        "signer": acct.address, "material": env.material, "quantity": quantity, "geolocationHash": f"geo:{tag}",
        "evidenceHash": f"evidence:{tag}", "productionDate": 1}))
    return {"typedData": prep["typedData"], "signature": sign(acct, prep["typedData"])}


def _create_now(env, acct, quantity: int) -> int:
    """An origin batch, mined at once (automine on)."""
    body = _ok(env.api.post("/batches/create/submit", json=_prepare_create(env, acct, quantity)))
    return body["result"]["batchIds"][0]


def _submit(env, path: str, body: dict) -> dict:
    """Submit without waiting: acknowledged (202) with the transaction hash."""
    out = _ok(env.api.post(f"/{path}/submit", params={"wait": "false"}, json=body), 202)
    assert out["status"] == "pending"
    return out


def _in_pool(env, tx_hash: str) -> bool:
    tx = rpc(env, "eth_getTransactionByHash", tx_hash)
    return tx is not None and tx["blockNumber"] is None


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _status(env, tx_hash: str) -> dict:
    return _ok(env.api.get(f"/transactions/{tx_hash}"))


def _wait_settled(env, hashes: list[str], timeout: float = 10.0) -> dict[str, dict]:
    out: dict[str, dict] = {}

    def done() -> bool:
        for h in hashes:
            if h not in out:
                s = _status(env, h)
                if s["status"] != "pending":
                    out[h] = s
        return len(out) == len(hashes)

    _wait(done, timeout, "the node to see the receipts")
    return out


def _created(env, tx_hash: str) -> list[tuple[int, str, int]]:
    rcpt = env.w3.eth.get_transaction_receipt(tx_hash)
    return [(e.args.batchId, e.args.holder, e.args.quantity)
            for e in env.ledger.events.BatchCreated().process_receipt(rcpt, errors=DISCARD)]


def _origins_of(env, holder: str, from_block: int) -> list[int]:
    logs = env.ledger.events.BatchCreated().get_logs(from_block=from_block, argument_filters={"holder": holder})
    return [lg.args.quantity for lg in logs]


# ---------------------------------------------------------------- 4. dropped transactions, nonce gaps


def test_dropped_transaction_is_rebroadcast_and_the_nonce_gap_closed(env, manual_mining):
    s = env.suppliers[:4]
    start_block = env.w3.eth.block_number + 1
    fwd = [env.forwarder.functions.nonces(a.address).call() for a in s]
    rebroadcast = env.node.relayer.stats["rebroadcast"]
    bodies = [_prepare_create(env, a, 100 + i) for i, a in enumerate(s)]
    with _loss(env):
        acks = [_submit(env, "batches/create", b) for b in bodies[:3]]
        hashes = [a["txHash"] for a in acks]
        nonces = [_status(env, h)["nonce"] for h in hashes]
        first = nonces[0]
        assert nonces == [first, first + 1, first + 2]
        assert all(_in_pool(env, h) for h in hashes)

        # the pool loses the middle one (Anvil also evicts what depends on it: the third)
        rpc(env, "anvil_dropTransaction", hashes[1])
        assert [_in_pool(env, h) for h in hashes] == [True, False, False]
        rpc(env, "evm_mine")
        assert env.w3.eth.get_transaction_count(env.relayer) == first + 1  # nonce first+1 is a gap now
        # a new action acknowledged meanwhile goes out behind the gap
        late = _submit(env, "batches/create", bodies[3])
        hashes.append(late["txHash"])
        assert _status(env, late["txHash"])["nonce"] == first + 3

    # the relayer notices the missing transactions and sends the very same ones again
    _wait(lambda: all(_in_pool(env, h) for h in hashes[1:]), REBROADCAST_AFTER + 5, "the rebroadcast")
    assert env.node.relayer.stats["rebroadcast"] - rebroadcast == 2
    rpc(env, "evm_mine")
    settled = _wait_settled(env, hashes)
    assert [settled[h]["status"] for h in hashes] == ["mined"] * 4
    assert env.w3.eth.get_transaction_count(env.relayer) == first + 4
    # every acknowledged action exactly once, attributed to its signer
    for i, (a, h) in enumerate(zip(s, hashes)):
        assert [(holder, q) for _, holder, q in _created(env, h)] == [(a.address, 100 + i)]
        assert _origins_of(env, a.address, start_block) == [100 + i]
        assert env.forwarder.functions.nonces(a.address).call() == fwd[i] + 1
        assert settled[h]["signer"] == a.address and len(settled[h]["result"]["batchIds"]) == 1


def test_dropped_transaction_alone_is_resent_and_relayer_carries_on(env, manual_mining):
    a = env.suppliers[4]
    start_block = env.w3.eth.block_number + 1
    body = _prepare_create(env, a, 42)
    with _loss(env):
        ack = _submit(env, "batches/create", body)
        rpc(env, "anvil_dropTransaction", ack["txHash"])
        assert rpc(env, "eth_getTransactionByHash", ack["txHash"]) is None
        rpc(env, "evm_mine")  # an empty block: nothing of it on chain
        assert _origins_of(env, a.address, start_block) == []
    _wait(lambda: _in_pool(env, ack["txHash"]), REBROADCAST_AFTER + 5, "the rebroadcast")
    rpc(env, "evm_mine")
    assert _wait_settled(env, [ack["txHash"]])[ack["txHash"]]["status"] == "mined"
    # the relayer carries on with the next action
    nxt = _submit(env, "batches/create", _prepare_create(env, a, 43))
    rpc(env, "evm_mine")
    assert _wait_settled(env, [nxt["txHash"]])[nxt["txHash"]]["status"] == "mined"
    assert _origins_of(env, a.address, start_block) == [42, 43]


def test_send_refused_by_chain_leaves_no_nonce_gap(env, manual_mining):
    """The relayer cannot pay for a large request: the chain refuses it (502, not acknowledged, nothing
    done); a filler takes its nonce so the next action is mined; the same signed request succeeds
    once the relayer is funded again."""
    big, small = env.suppliers[0], env.suppliers[1]
    node = env.node
    first = env.w3.eth.get_transaction_count(env.relayer, "pending")
    fillers = node.relayer.stats["fillers"]
    fwd_big = env.forwarder.functions.nonces(big.address).call()
    funded = env.w3.eth.get_balance(env.relayer)
    # enough for a custody-sized transaction and a filler, not for 3,000,000 gas
    price = max(node.relayer.gas_price, 2 * env.w3.eth.gas_price)
    rpc(env, "anvil_setBalance", env.relayer, hex(price * 700_000))
    try:
        tag = f"big:{next(_tags)}"
        big_body = forward_body(node, big, "BatchLedger", "createOrigin",
                                (env.material, 0, 0, 0, 5, b"g" * 32, "", tag.encode().ljust(32, b"\0"), 1),
                                gas=3_000_000)
        r = env.api.post("/batches/create/submit", params={"wait": "false"}, json=big_body)
        assert r.status_code == 502 and r.json()["error"] == "RelayFailed", r.text
        assert "Insufficient funds" in r.json()["message"]
        ok = _submit(env, "batches/create", _prepare_create(env, small, 77))
        assert _status(env, ok["txHash"])["nonce"] == first + 1
        assert node.relayer.stats["fillers"] == fillers + 1
        rpc(env, "evm_mine")
        assert _wait_settled(env, [ok["txHash"]])[ok["txHash"]]["status"] == "mined"
    finally:
        rpc(env, "anvil_setBalance", env.relayer, hex(funded))
    assert env.w3.eth.get_transaction_count(env.relayer) == first + 2
    filler = env.w3.eth.get_transaction(env.w3.eth.get_block(env.w3.eth.block_number)["transactions"][0])
    assert (filler["nonce"], filler["from"], filler["to"], filler["value"]) == (first, env.relayer, env.relayer, 0)
    assert env.forwarder.functions.nonces(big.address).call() == fwd_big  # the refused request did nothing
    # the same signed request goes through once the relayer can pay
    again = _submit(env, "batches/create", big_body)
    rpc(env, "evm_mine")
    assert _wait_settled(env, [again["txHash"]])[again["txHash"]]["status"] == "mined"
    assert [q for _, _, q in _created(env, again["txHash"])] == [5]
    assert env.forwarder.functions.nonces(big.address).call() == fwd_big + 1


def test_relayer_key_used_outside_the_node_is_resynced(env):
    """Someone spends the relayer's next nonce directly: the node's stale nonce is refused by the
    chain, re-read, and the action still executes exactly once."""
    a = env.suppliers[2]
    from node_api.core.config import ANVIL_RELAYER_KEY

    relayer = Account.from_key(ANVIL_RELAYER_KEY)
    assert relayer.address == env.relayer
    resyncs = env.node.relayer.stats["resyncs"]
    nonce = env.w3.eth.get_transaction_count(env.relayer)
    tx = relayer.sign_transaction({"nonce": nonce, "to": relayer.address, "value": 0, "gas": 21_000,
                                   "gasPrice": 2 * env.w3.eth.gas_price, "chainId": env.w3.eth.chain_id})
    env.w3.eth.wait_for_transaction_receipt(env.w3.eth.send_raw_transaction(tx.raw_transaction))
    fwd = env.forwarder.functions.nonces(a.address).call()
    body = _ok(env.api.post("/batches/create/submit", json=_prepare_create(env, a, 9)))
    assert body["status"] == "mined" and body["signer"] == a.address
    assert _status(env, body["txHash"])["nonce"] == nonce + 1
    assert env.node.relayer.stats["resyncs"] > resyncs
    assert env.forwarder.functions.nonces(a.address).call() == fwd + 1
    assert [q for _, _, q in _created(env, body["txHash"])] == [9]


# ---------------------------------------------------------------- 5. reverted with the decoded reason


def _transfer_body(env, holder, to, batch_id: int, quantity: int) -> dict:
    prep = _ok(env.api.post("/batches/transfer/prepare", json={"batchId": batch_id, "from": holder.address,
                                                               "to": to.address, "quantity": quantity}))
    return {"typedData": prep["typedData"], "signature": sign(holder, prep["typedData"])}


def _consume_body(env, holder, batch_id: int, quantity: int) -> dict:
    prep = _ok(env.api.post("/batches/consume/prepare", json={"signer": holder.address, "batchId": batch_id,
                                                              "quantity": quantity}))
    return {"typedData": prep["typedData"], "signature": sign(holder, prep["typedData"])}


def test_conflicting_actions_second_reverts_with_decoded_reason(env, manual_mining):
    """A holder signs a custody transfer of a whole batch and, through the forwarder, a consumption of
    the same quantity (two nonce lanes, so neither waits for the other): each is valid on the chain's
    state, both are relayed before either is mined, and the second finds the balance already spent.
    Holder 1 transfers first, holder 2 consumes first; all four land in one block."""
    h1, h2, receiver = env.suppliers[3], env.suppliers[4], env.suppliers[0]
    rpc(env, "evm_setAutomine", True)
    xa = _create_now(env, h1, 1_000)
    xb = _create_now(env, h2, 2_000)
    rpc(env, "evm_setAutomine", False)
    ledger_nonces = [env.ledger.functions.nonces(h.address).call() for h in (h1, h2)]
    fwd_nonces = [env.forwarder.functions.nonces(h.address).call() for h in (h1, h2)]

    # all four prepared (and each checked against the chain) before any is relayed
    bodies = [("batches/transfer", _transfer_body(env, h1, receiver, xa, 1_000)),
              ("batches/consume", _consume_body(env, h1, xa, 1_000)),
              ("batches/consume", _consume_body(env, h2, xb, 2_000)),
              ("batches/transfer", _transfer_body(env, h2, receiver, xb, 2_000))]
    t1, c1, c2, t2 = (_submit(env, path, body) for path, body in bodies)
    rpc(env, "evm_mine")
    hashes = [t1["txHash"], c1["txHash"], c2["txHash"], t2["txHash"]]
    assert len({env.w3.eth.get_transaction_receipt(h)["blockNumber"] for h in hashes}) == 1
    st = _wait_settled(env, hashes)
    assert [st[h]["status"] for h in hashes] == ["mined", "reverted", "mined", "reverted"]
    assert [env.w3.eth.get_transaction_receipt(h)["status"] for h in hashes] == [1, 0, 1, 0]

    # the consumption after the transfer: the forwarded call's own error, not the forwarder's wrapper
    err = st[c1["txHash"]]["error"]
    assert err["error"] == "ERC1155InsufficientBalance", err
    assert err["message"] == f"{h1.address} holds 0 of token {xa}, 1000 needed"
    assert err["details"]["args"] == {"sender": h1.address, "balance": 0, "needed": 1_000, "tokenId": xa}
    # the transfer after the consumption
    err = st[t2["txHash"]]["error"]
    assert err["error"] == "ERC1155InsufficientBalance", err
    assert err["message"] == f"{h2.address} holds 0 of token {xb}, 2000 needed"
    assert err["details"]["args"] == {"sender": h2.address, "balance": 0, "needed": 2_000, "tokenId": xb}

    # what the chain holds: each balance spent once, the reverted actions left no trace
    transfer_id = st[t1["txHash"]]["result"]["transferId"]
    assert env.ledger.functions.transferStatus(transfer_id).call() == 1  # pending: the quantity is in transit
    assert env.ledger.functions.balanceOf(env.ledger.address, xa).call() == 1_000
    assert env.ledger.functions.balanceOf(h1.address, xa).call() == 0
    assert env.ledger.functions.balanceOf(h2.address, xb).call() == 0
    assert env.ledger.functions.balanceOf(env.ledger.address, xb).call() == 0
    assert env.ledger.functions.nonces(h1.address).call() == ledger_nonces[0] + 1
    assert env.ledger.functions.nonces(h2.address).call() == ledger_nonces[1]  # t2's nonce unused
    assert env.forwarder.functions.nonces(h1.address).call() == fwd_nonces[0]  # c1's nonce unused
    assert env.forwarder.functions.nonces(h2.address).call() == fwd_nonces[1] + 1
    assert st[c1["txHash"]].get("result", {}) == {} and st[t2["txHash"]].get("result", {}) == {}


def test_conflicting_settlements_second_reverts_with_transfer_status(env, manual_mining):
    """The receiver accepts and the sender cancels the same pending transfer, both signed and relayed
    before either is mined: the cancellation reverts, reported with the transfer's new status."""
    sender, receiver = env.suppliers[0], env.suppliers[1]
    rpc(env, "evm_setAutomine", True)
    batch = _create_now(env, sender, 500)
    tid = _ok(env.api.post("/batches/transfer/submit", json=_transfer_body(env, sender, receiver, batch, 500)))["result"]["transferId"]
    rpc(env, "evm_setAutomine", False)
    acc = _ok(env.api.post("/batches/accept/prepare", json={"transferId": tid}))["typedData"]
    can = _ok(env.api.post("/batches/cancel/prepare", json={"transferId": tid}))["typedData"]
    a = _submit(env, "batches/accept", {"typedData": acc, "signature": sign(receiver, acc)})
    c = _submit(env, "batches/cancel", {"typedData": can, "signature": sign(sender, can)})
    rpc(env, "evm_mine")
    st = _wait_settled(env, [a["txHash"], c["txHash"]])
    assert st[a["txHash"]]["status"] == "mined"
    assert st[c["txHash"]]["status"] == "reverted"
    err = st[c["txHash"]]["error"]
    assert err["error"] == "BatchTransferNotPending", err
    assert err["message"] == f"transfer {tid} is not pending (it is accepted)"
    assert err["details"]["args"] == {"transferId": tid, "status": 2}
    assert env.ledger.functions.transferStatus(tid).call() == 2
    assert env.ledger.functions.balanceOf(receiver.address, batch).call() == 500
    assert env.ledger.functions.balanceOf(sender.address, batch).call() == 0


def test_dropped_transaction_whose_nonce_was_taken_still_executes_once(env, manual_mining):
    """The pool loses an acknowledged transaction and its relayer nonce is used by another transaction
    (the relayer key used outside the node) before it is resent: the resend is refused ("nonce too
    low"), so the node signs the same action again with a fresh nonce; it executes exactly once and
    the client's transaction hash leads to the outcome."""
    from node_api.core.config import ANVIL_RELAYER_KEY

    a = env.suppliers[1]
    start_block = env.w3.eth.block_number + 1
    fwd = env.forwarder.functions.nonces(a.address).call()
    body = _prepare_create(env, a, 31)
    relayer = Account.from_key(ANVIL_RELAYER_KEY)
    with _loss(env):
        ack = _submit(env, "batches/create", body)
        nonce = _status(env, ack["txHash"])["nonce"]
        rpc(env, "anvil_dropTransaction", ack["txHash"])
        other = relayer.sign_transaction({"nonce": nonce, "to": relayer.address, "value": 0, "gas": 21_000,
                                          "gasPrice": 2 * env.w3.eth.gas_price, "chainId": env.w3.eth.chain_id})
        env.w3.eth.send_raw_transaction(other.raw_transaction)
        rpc(env, "evm_mine")
        assert env.w3.eth.get_transaction_count(env.relayer) == nonce + 1
        assert _origins_of(env, a.address, start_block) == []

    def resent() -> bool:
        st = _status(env, ack["txHash"])
        return st["txHash"] != ack["txHash"] and _in_pool(env, st["txHash"])

    _wait(resent, REBROADCAST_AFTER + 5, "the action to be signed again")
    rpc(env, "evm_mine")
    _wait(lambda: _status(env, ack["txHash"])["status"] != "pending", 10, "the outcome")
    st = _status(env, ack["txHash"])
    assert st["status"] == "mined" and st["replaces"] == ack["txHash"], st
    assert st["nonce"] > nonce and st["result"]["batchIds"]
    assert _origins_of(env, a.address, start_block) == [31]
    assert env.forwarder.functions.nonces(a.address).call() == fwd + 1
    assert _status(env, st["txHash"])["status"] == "mined"


# ---------------------------------------------------------------- chain regression (the chain guard)
def _guard_events(env) -> int:
    return len(env.node.guard.status()["regressions"])


@contextlib.contextmanager
def _guard_paused(env):
    """The chain guard stopped (its own ``stop``, on the node's event loop) while the test arranges and
    observes a regression, then started again: ``start`` checks at once, as its next tick would have."""
    guard = env.node.guard
    loop = guard._task.get_loop()
    asyncio.run_coroutine_threadsafe(guard.stop(), loop).result(10)
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(guard.start(), loop).result(30)


def test_chain_going_back_gets_the_lost_actions_again_with_the_same_ids(env):
    """The chain goes back (evm_revert: as the embedded chain restarted from an older state file)
    after three actions were answered mined: the relayer sends the same signed transactions again in
    nonce order, they create the same ids, an idempotent retry answers the truth, and the next new
    action gets a new id (never a lost one's)."""
    acct = env.suppliers[0]
    snap = rpc(env, "evm_snapshot")
    events = _guard_events(env)
    answered = []
    for q in (501, 502, 503):
        body = _prepare_create(env, acct, q)
        key = f"regress-{q}-{time.time_ns()}"
        out = _ok(env.api.post("/batches/create/submit", json=body, headers={"Idempotency-Key": key}))
        assert out["status"] == "mined"
        answered.append((out["txHash"], out["result"]["batchIds"], body, key))
    with _guard_paused(env):  # else it may send them again (it looks every 0.5 s) before the next line looks
        assert rpc(env, "evm_revert", snap)
        assert all(rpc(env, "eth_getTransactionReceipt", h) is None for h, *_ in answered)  # the chain lost them
    _wait(lambda: _guard_events(env) > events, 10, "the chain guard to see the regression")
    event = env.node.guard.status()["regressions"][-1]
    assert event["resent"] == 3 and event["lost"] == 0, event
    settled = _wait_settled(env, [h for h, *_ in answered])
    for (tx_hash, ids, body, key), q in zip(answered, (501, 502, 503)):
        assert settled[tx_hash]["status"] == "mined"
        assert [b for b, _, _ in _created(env, tx_hash)] == ids  # the same id, by the same transaction
        again = _ok(env.api.post("/batches/create/submit", json=body, headers={"Idempotency-Key": key}))
        assert again["status"] == "mined" and again["result"]["batchIds"] == ids and again["replayed"] is True
        assert env.ledger.functions.balanceOf(acct.address, ids[0]).call() == q
    new = _create_now(env, acct, 504)
    assert new > max(ids[0] for _, ids, _, _ in answered)
    assert env.node.guard.status()["ok"] is True


def test_a_receipt_whose_nonce_went_to_another_transaction_is_lost_never_mined(env):
    """The chain goes back and, before the node notices, the relayer's nonce of an answered action is
    used by another transaction: that action cannot be given again; it answers ``lost`` with the
    reason (status and idempotent retry), never a stale ``mined``."""
    acct = env.suppliers[1]
    relayer = env.node.relayer
    snap = rpc(env, "evm_snapshot")
    events = _guard_events(env)
    body = _prepare_create(env, acct, 601)
    key = f"lost-{time.time_ns()}"
    out = _ok(env.api.post("/batches/create/submit", json=body, headers={"Idempotency-Key": key}))
    assert out["status"] == "mined"
    nonce = _status(env, out["txHash"])["nonce"]
    raw, other = relayer.signer.sign(nonce=nonce, gas_price=relayer.gas_price or 10**9, gas=21_000,
                                     to=relayer.address, data=b"")
    # in one JSON-RPC array: the chain goes back and the nonce is taken before the guard looks again
    answers = httpx.post(env.url, json=[
        {"jsonrpc": "2.0", "id": 1, "method": "evm_revert", "params": [snap]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]},
    ]).json()
    assert all("error" not in a for a in answers), answers
    _wait(lambda: _guard_events(env) > events, 10, "the chain guard to see the regression")
    st = _status(env, out["txHash"])
    assert st["status"] == "lost" and "was used by another transaction" in st["error"]["message"], st
    again = _ok(env.api.post("/batches/create/submit", json=body, headers={"Idempotency-Key": key}))
    assert again["status"] == "lost" and "result" not in again, again
    _create_now(env, acct, 602)  # the relayer carries on
