"""The relayer's fee policy cannot run away (issue 9, finding 1).

It priced at ``eth_gasPrice x 2``; on Anvil that compounded from 2.8 gwei to 22,826 gwei in about
120 transactions and drained the relayer. Now: the chain's fee market (base fee + suggested tip,
type-2 transactions), a cap, zero on free-gas chains. The long test relays 3,000 signed actions
through ``/bulk`` on a real Anvil and checks the price paid stays flat and below the cap.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import rlp
from eth_account import Account

from node_api import signing
from node_api.core.anvil import EmbeddedAnvil, rpc_call
from node_api.core.rpc import Rpc
from node_api.core.txsign import TxSigner
from node_api.relayer.fees import GWEI, FeePolicy, Spend
from node_api.relayer.receipts import call_of
from nodehelp import actor, create_uncertified, sign

ACTIONS = 3_000
SENDERS = ["farm", "ginner", "spinner", "weaver", "feedstock", "cracker", "polymer", "converter"]
PER_ROUND = 25  # consecutive nonces per sender in one /bulk (8 x 25 = 200 items)


# ---------------------------------------------------------------------------------------------- signing
def test_type2_transaction_is_byte_identical_to_eth_account():
    acct = Account.create()
    to = Account.create().address
    data = bytes.fromhex("ab" * 100)
    raw, tx_hash = TxSigner(acct.key, 31337).sign(nonce=7, gas_price=30 * GWEI, priority_fee=2 * GWEI,
                                                  gas=500_000, to=to, data=data)
    ref = acct.sign_transaction({"type": 2, "chainId": 31337, "nonce": 7, "maxFeePerGas": 30 * GWEI,
                                 "maxPriorityFeePerGas": 2 * GWEI, "gas": 500_000, "to": to, "value": 0,
                                 "data": data, "accessList": []})
    assert raw == bytes(ref.raw_transaction)
    assert tx_hash == "0x" + bytes(ref.hash).hex()
    assert Account.recover_transaction(raw) == acct.address
    # recovery re-signs a lost transaction's call from its raw bytes: both forms decode
    assert call_of(raw) == (to, data, 500_000)
    legacy, _ = TxSigner(acct.key, 31337).sign(nonce=7, gas_price=GWEI, gas=21_000, to=to, data=b"\x01")
    assert call_of(legacy) == (to, b"\x01", 21_000)
    assert int.from_bytes(rlp.decode(raw[1:])[3], "big") == 30 * GWEI  # maxFeePerGas


def test_spend_counts_gas_used_times_effective_price():
    s = Spend()
    s.record({"gasUsed": hex(100_000), "effectiveGasPrice": hex(3 * GWEI)})
    s.record({"gasUsed": hex(21_000), "effectiveGasPrice": hex(0)})
    assert s.recent() == 300_000 * GWEI and s.count == 2
    assert s.as_dict()["lastHourTransactions"] == 2


def test_a_cap_is_required():
    with pytest.raises(ValueError, match="COC_MAX_FEE_PER_GAS_GWEI"):
        FeePolicy(None, cap=0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- real chains
async def _refresh(url: str, **kw) -> tuple:
    rpc = Rpc(url)
    try:
        p = FeePolicy(rpc, **kw)
        return await p.refresh(), p
    finally:
        await rpc.aclose()


@pytest.mark.chain
def test_eip1559_chain_is_priced_from_base_fee_and_tip_and_capped():
    anvil = EmbeddedAnvil.throwaway(accounts=1).start()
    try:
        fees, policy = asyncio.run(_refresh(anvil.url, cap=100 * GWEI))
        base = int(rpc_call(anvil.url, "eth_feeHistory", ["0x1", "latest", [50]])["baseFeePerGas"][-1], 16)
        tip = int(rpc_call(anvil.url, "eth_maxPriorityFeePerGas"), 16)
        assert policy.eip1559 and fees.eip1559
        assert (fees.max_fee, fees.priority_fee) == (2 * base + tip, tip)
        # a base fee above the cap: the relayer signs at the cap, never above it
        rpc_call(anvil.url, "anvil_setNextBlockBaseFeePerGas", [hex(5_000 * GWEI)])
        rpc_call(anvil.url, "evm_mine")
        fees, _ = asyncio.run(_refresh(anvil.url, cap=100 * GWEI))
        assert fees.max_fee == 100 * GWEI and fees.priority_fee <= 100 * GWEI
    finally:
        anvil.stop()


@pytest.mark.chain
def test_legacy_and_free_chains():
    anvil = EmbeddedAnvil.throwaway(accounts=1, extra_args=["--hardfork", "berlin", "--gas-price", str(7 * GWEI)]).start()
    try:
        fees, policy = asyncio.run(_refresh(anvil.url, cap=100 * GWEI))
        assert policy.eip1559 is False and fees.priority_fee is None
        assert fees.max_fee == int(rpc_call(anvil.url, "eth_gasPrice"), 16) == 7 * GWEI  # as is, not doubled
        fees, _ = asyncio.run(_refresh(anvil.url, cap=5 * GWEI))
        assert fees.max_fee == 5 * GWEI
        fees, _ = asyncio.run(_refresh(anvil.url, cap=5 * GWEI, zero=True))
        assert (fees.max_fee, fees.priority_fee) == (0, None)
    finally:
        anvil.stop()


def _twa(chain_id, ledger, sender, receiver, batch_id, nonce, deadline):
    t = signing.CustodyTransfer(batch_id, sender.address, receiver.address, 1, 0, nonce, deadline)
    return {"action": "batches.transfer-with-acceptance", "body": {
        "transfer": t.message(),
        "senderSignature": sign(sender, signing.transfer_typed_data(chain_id, ledger, t)),
        "acceptDeadline": deadline,
        "receiverSignature": sign(receiver, signing.accept_typed_data(chain_id, ledger, t, deadline)),
    }}


def test_3000_relayed_actions_keep_the_price_flat(api, demo, chain, server):
    """3,000 wallet-signed custody transfers through /bulk (8 senders, 25 consecutive nonces each per
    request of 200): the effective gas price of the last ones is within a small factor of the first
    ones and below the cap; the relayer's spend per action is bounded by gas x that price (the old
    policy paid 8,000x more after 120 transactions)."""
    node = server.node
    w3 = chain.w3
    cap = int(node.settings.max_fee_per_gas_gwei * GWEI)
    senders = [actor(demo, n) for n in SENDERS]
    per_sender = ACTIONS // len(senders)
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda a: create_uncertified(api, a, demo.materials["lint"], per_sender, f"fees:{a.address}"), senders))
    deadline = w3.eth.get_block("latest")["timestamp"] + 86_400
    n0 = [chain.ledger.functions.nonces(a.address).call() for a in senders]
    started = time.monotonic()
    rounds = []
    for r in range(0, per_sender, PER_ROUND):
        rounds.append([_twa(node.chain_id, node.ledger, a, senders[(i + 1) % len(senders)], batches[i], n0[i] + k, deadline)
                       for i, a in enumerate(senders) for k in range(r, min(r + PER_ROUND, per_sender))])
    signed_in = time.monotonic() - started
    balance0 = w3.eth.get_balance(chain.relayer)
    hashes: list[str] = []
    for n, items in enumerate(rounds):  # the node holds a round's items until the previous round's are mined
        r = api.post("/bulk", json={"items": items, "wait": n == len(rounds) - 1}, timeout=600)
        assert r.status_code == 200, r.text[:2000]
        body = r.json()
        assert body["refused"] == 0, [it for it in body["items"] if it["status"] == "refused"][:3]
        hashes += [it["txHash"] for it in body["items"]]
    relayed_in = time.monotonic() - started - signed_in
    assert len(hashes) == ACTIONS
    for i, a in enumerate(senders):
        receiver = senders[(i + 1) % len(senders)]
        assert chain.ledger.functions.balanceOf(receiver.address, batches[i]).call() == per_sender
        assert chain.ledger.functions.nonces(a.address).call() == n0[i] + per_sender

    def receipts(sample: list[str]) -> list[dict]:
        out = []
        for h in sample:
            for _ in range(600):
                try:
                    out.append(w3.eth.get_transaction_receipt(h))
                    break
                except Exception:  # noqa: BLE001 - the last bulk's tail may still be mining
                    time.sleep(0.05)
        return out

    first, last = receipts(hashes[:50]), receipts(hashes[-50:])
    assert len(first) == len(last) == 50
    assert all(rc["status"] == 1 and rc["type"] == 2 for rc in first + last)  # EIP-1559 transactions
    p_first = max(rc["effectiveGasPrice"] for rc in first)
    p_last = max(rc["effectiveGasPrice"] for rc in last)
    assert 0 < p_last <= 2 * p_first, (p_first, p_last)
    assert max(rc["effectiveGasPrice"] for rc in first + last) <= cap
    tx = w3.eth.get_transaction(hashes[-1])
    assert tx["maxFeePerGas"] <= cap
    gas = max(rc["gasUsed"] for rc in first + last)
    spent = balance0 - w3.eth.get_balance(chain.relayer)
    per_action = spent / ACTIONS
    assert 0 < per_action <= gas * 2 * p_first, (per_action, gas, p_first)
    assert node.relayer.spend.count >= ACTIONS
    print(f"\n{ACTIONS} actions: signed in {signed_in:.1f}s, relayed in {relayed_in:.1f}s; "
          f"effective gas price first {p_first / GWEI:.3f} gwei, last {p_last / GWEI:.3f} gwei (cap {cap / GWEI:g}); "
          f"relayer spend per action {per_action / GWEI:.0f} gwei ({per_action / 1e18:.8f} ETH)")
