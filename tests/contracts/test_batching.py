"""RelayBatch: many signed actions in one transaction, each on its own (issue 11).

Every rule has a test that tries to break it: a bad item undoes only itself, an item that depends on
a failed one fails on its own check, nothing but the signed entry points can be called through it,
``check`` sees the state the items before it leave, and the amortised gas target holds.
"""

import importlib.util
from pathlib import Path

import pytest
from web3 import Web3

from node_api.core.chain import deploy_contract

_spec = importlib.util.spec_from_file_location("bench_gas", Path(__file__).parents[2] / "scripts" / "bench_gas.py")
bench_gas = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_gas)


@pytest.fixture
def batcher(w3, world, artifacts, deployed):
    return deploy_contract(w3, artifacts["RelayBatch"], world.sb.admin,
                           deployed.ledger.address, deployed.forwarder.address)


def _twa(sb, sender, receiver, batch, qty, nonce, *, bad_sig=False):
    t = sb.offer(sender, receiver, batch, qty, nonce=nonce)
    deadline = sb.now() + 3600
    ssig = sb.sign_offer(receiver if bad_sig else sender, t)
    fn = sb.c.ledger.functions.transferWithAcceptance(t.as_tuple(), ssig, deadline, sb.sign_accept(receiver, t, deadline))
    return bytes.fromhex(fn._encode_transaction_data()[2:])


def _origin(sb, w, qty):
    params = sb.origin_params(w.farm, w.raw_cotton, qty, characteristic=w.organic, model=bench_gas.SEGREGATED)
    r = sb.tx(sb.c.ledger.functions.createOrigin(params), w.farm)
    return sb.events(r, sb.c.ledger, "BatchCreated")[0]["batchId"]


def test_a_failing_item_undoes_only_itself(world, batcher):
    sb, w = world.sb, world
    ledger = sb.c.ledger
    seg = _origin(sb, w, 10**9)
    n0 = ledger.functions.nonces(w.farm.address).call()
    items = [
        _twa(sb, w.farm, w.ginner, seg, 100, n0),
        _twa(sb, w.farm, w.ginner, seg, 100, n0 + 1, bad_sig=True),  # refused by the ledger: undone alone
        _twa(sb, w.farm, w.ginner, seg, 100, n0 + 2),  # depends on item 1's nonce: fails on its own check
        bytes.fromhex(ledger.functions.consume(seg, 1, 0, b"\x00" * 32)._encode_transaction_data()[2:]),  # not allowed
        _twa(sb, w.farm, w.ginner, seg, 100, n0 + 1),  # independent of the failures: runs
    ]
    r = sb.tx(batcher.functions.run(items), sb.relayer)
    assert r["status"] == 1
    runs = sb.events(r, batcher, "ItemRun")
    assert [e["index"] for e in runs] == [0, 1, 2, 3, 4]
    failed = {e["index"]: e["reason"] for e in runs if not e["ok"]}
    assert sorted(failed) == [1, 2, 3]
    assert failed[3][:4] == Web3.keccak(text="BatchItemNotAllowed(uint256)")[:4]
    assert sb.events(r, batcher, "BatchRun") == [{"items": 5, "failed": 3}]
    assert ledger.functions.nonces(w.farm.address).call() == n0 + 2
    assert ledger.functions.balanceOf(w.ginner.address, seg).call() == 200
    assert len(sb.events(r, ledger, "CustodyAccepted")) == 2


def test_check_runs_a_signers_queue_against_the_state_before_it(world, batcher):
    sb, w = world.sb, world
    seg = _origin(sb, w, 10**9)
    n0 = sb.c.ledger.functions.nonces(w.farm.address).call()
    queue = [_twa(sb, w.farm, w.ginner, seg, 10, n0 + k) for k in range(5)]
    # alone, the third message is ahead of the chain; in order after its predecessors it passes
    ok, reasons, gas = batcher.functions.check([queue[2]]).call()
    assert ok == [False]
    ok, reasons, gas = batcher.functions.check(queue).call()
    assert ok == [True] * 5 and all(20_000 < g < 300_000 for g in gas)
    # an item that needs more than the holding after its predecessors is refused in the check
    t = sb.offer(w.farm, w.ginner, seg, 10**9 - 40, nonce=n0 + 5)
    deadline = sb.now() + 3600
    over = sb.c.ledger.functions.transferWithAcceptance(t.as_tuple(), sb.sign_offer(w.farm, t), deadline,
                                                        sb.sign_accept(w.ginner, t, deadline))
    ok, reasons, _ = batcher.functions.check(queue + [bytes.fromhex(over._encode_transaction_data()[2:])]).call()
    assert ok == [True] * 5 + [False] and len(reasons[5]) >= 4
    assert sb.c.ledger.functions.nonces(w.farm.address).call() == n0  # check is a dry run only


def test_batched_transfer_gas_target(w3, accounts, artifacts, chain_snapshot):
    bare = deploy_contract(w3, artifacts["BareERC1155"], accounts[0])
    a, b = accounts[10], accounts[11]
    from node_api.core.chain import send_tx

    send_tx(w3, bare.functions.mint(a.address, 1, 10**9), a)
    send_tx(w3, bare.functions.safeTransferFrom(a.address, b.address, 1, 10, b""), a)
    warm = send_tx(w3, bare.functions.safeTransferFrom(a.address, b.address, 1, 10, b""), a)
    rows = [{"operation": "bare ERC-1155 safeTransferFrom, warm", "gas": int(warm["gasUsed"])}]
    out, checks = bench_gas.measure_batching(w3.provider.endpoint_uri, accounts, rows, artifacts=artifacts)
    assert checks[0]["ok"], checks
    assert out[0]["gas"] > 20_000  # a real figure (ecrecover twice alone is 6,000)
