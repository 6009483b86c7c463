"""Helpers for the node's end-to-end tests (imported as ``nodehelp``)."""

from __future__ import annotations

from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from node_api import signing


def actor(demo: Any, name: str) -> LocalAccount:
    return Account.from_key(demo.keys[name])


def sign(account: LocalAccount, typed: dict[str, Any]) -> str:
    return "0x" + signing.sign_typed(account.key, typed).hex()


def forward_body(node: Any, account: LocalAccount, contract: str, fn: str, *args: Any, gas: int = 800_000,
                 nonce: int | None = None, deadline: int | None = None) -> dict[str, Any]:
    """A ForwardRequest built and signed here (not by /prepare), so /submit's own checks are exercised."""
    data = node.abis[contract].fn(fn).encode(*args)
    fwd = node.addresses["CocForwarder"]
    w3nonce = nonce if nonce is not None else _fwd_nonce(node, account.address)
    typed = signing.forward_request_typed_data(
        node.chain_id, fwd, sender=account.address, to=node.addresses[contract], data=data, nonce=w3nonce,
        deadline=deadline if deadline is not None else 2**40, gas=gas,
    )
    return {"typedData": typed, "signature": sign(account, typed)}


def transfer_typed(node: Any, account: LocalAccount, batch_id: int, to: str, quantity: int, *, certified: int = 0,
                   deadline: int = 2**40) -> dict[str, Any]:
    """A CustodyTransfer built here (not by /prepare, which refuses what the chain would), so /submit's
    own checks are exercised."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(node.settings.effective_rpc_url))
    ledger = w3.eth.contract(address=node.ledger, abi=node.abis["BatchLedger"].abi)
    nonce = ledger.functions.nonces(account.address).call()
    t = signing.CustodyTransfer(batch_id, account.address, to, quantity, certified, nonce, deadline)
    return signing.transfer_typed_data(node.chain_id, node.ledger, t)


def _fwd_nonce(node: Any, address: str) -> int:
    from node_api.core.chain import connect
    from node_api.core.config import Settings

    w3 = connect(Settings(), rpc_url=node.settings.effective_rpc_url)
    c = w3.eth.contract(address=node.addresses["CocForwarder"], abi=node.abis["CocForwarder"].abi)
    return c.functions.nonces(address).call()


def assert_refused(r: httpx.Response, status: int, error: str, *fragments: str) -> dict[str, Any]:
    body = r.json()
    assert r.status_code == status, f"expected {status} {error}, got {r.status_code}: {body}"
    assert body["error"] == error, body
    for f in fragments:
        assert f in body["message"], f"{f!r} not in message {body['message']!r}"
    assert "Traceback" not in r.text
    return body


def create_uncertified(api: httpx.Client, account: LocalAccount, material: int, quantity: int, tag: str) -> int:
    prep = api.post("/batches/create/prepare", json={
        "signer": account.address, "material": material, "quantity": quantity, "geolocationHash": f"geo:{tag}",
        "evidenceHash": f"evidence:{tag}", "productionDate": 1,
    })
    assert prep.status_code == 200, prep.text
    typed = prep.json()["typedData"]
    r = api.post("/batches/create/submit", json={"typedData": typed, "signature": sign(account, typed)})
    assert r.status_code == 200, r.text
    return r.json()["result"]["batchIds"][0]
