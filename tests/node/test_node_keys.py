"""Node-held keys for back-office / ERP integration, the admin key, and read restriction.

- A wallet kept by the node is an encrypted eth-account keystore whose password comes from the
  environment; an API key bound to it (created through the admin endpoint) lets the node sign for
  that wallet, and the action is attributed on chain to the wallet (the relayer only pays gas).
- A missing / wrong API key is refused (401) and nothing happens on chain; A's key never acts for B.
- API keys are stored as SHA-256 hashes only.
- Administrative calls need X-Admin-Key.
- Reading is open by default; with ``read_requires_key`` every read route (provenance included)
  needs an API key or the admin key.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import stat
from types import SimpleNamespace

import httpx
import pytest
from eth_account import Account
from web3.logs import DISCARD

from nodehelp import assert_refused

SUPPLIER = 4
#: the admin key tests/node/conftest.py gives the session node (checked in the ``erp`` fixture;
#: not imported: ``conftest`` is ambiguous when several test folders run together)
ADMIN_KEY = "test-admin-key"
ADMIN = {"X-Admin-Key": ADMIN_KEY}
#: Anvil dev account #7: relayer of the read-restricted node (it never sends in these tests).
ANVIL_KEY_7 = "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdb71081b356"


def _ok(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def _admin_act(api: httpx.Client, path: str, **params) -> dict:
    """A node-signed administrative action (the node signs with the consortium admin wallet)."""
    body = _ok(api.post(f"/{path}", json=params, headers=ADMIN))
    assert body["status"] == "mined"
    return body["result"]


def _register_supplier(api: httpx.Client, wallet: str, name: str) -> int:
    pid = _admin_act(api, "participants/register", name=name, roles=SUPPLIER)["participantId"]
    site = _admin_act(api, "participants/add-site", participantId=pid, name=f"{name} site",
                      locationRef=f"site:{name}")["siteId"]
    _admin_act(api, "participants/add-wallet", wallet=wallet, participantId=pid, siteId=site)
    return pid


def _origin(material: int, quantity: int, tag: str) -> dict:
    return {"material": material, "quantity": quantity, "geolocationHash": f"geo:{tag}",
            "evidenceHash": f"evidence:{tag}", "productionDate": 1}


def _key(api_key: str) -> dict:
    return {"X-API-Key": api_key}


@pytest.fixture(scope="module")
def erp(api, server, chain):
    """Two participants (A, B) whose wallets are held by the node, each with an API key, and a material."""
    assert server.settings.admin_api_key == ADMIN_KEY
    tag = f"{random.getrandbits(32):08x}"
    ns = SimpleNamespace(tag=tag)
    ns.a = _ok(api.post("/admin/keystores", headers=ADMIN))["address"]
    ns.b = _ok(api.post("/admin/keystores", headers=ADMIN))["address"]
    ns.pid_a = _register_supplier(api, ns.a, f"ERP A {tag}")
    ns.pid_b = _register_supplier(api, ns.b, f"ERP B {tag}")
    ns.material = _admin_act(api, "processes/register-material", name=f"erp yarn {tag}", unit="g",
                             group=random.randrange(1_000_000, 2_000_000))["material"]
    ns.key_a = _ok(api.post("/admin/api-keys", json={"address": ns.a, "label": "ERP A"}, headers=ADMIN))["apiKey"]
    ns.key_b = _ok(api.post("/admin/api-keys", json={"address": ns.b, "label": "ERP B"}, headers=ADMIN))["apiKey"]
    return ns


@pytest.fixture
def unchanged(chain):
    """A refusal sends no transaction: the relayer's nonce and the block number stay as they were."""
    before = (chain.w3.eth.get_transaction_count(chain.relayer, "pending"), chain.w3.eth.block_number)
    yield
    assert (chain.w3.eth.get_transaction_count(chain.relayer, "pending"), chain.w3.eth.block_number) == before


def _create(api: httpx.Client, api_key: str, material: int, quantity: int, tag: str) -> dict:
    body = _ok(api.post("/batches/create", json=_origin(material, quantity, tag), headers=_key(api_key)))
    assert body["status"] == "mined"
    return body


# ---------------------------------------------------------------- 1. node-held keys


def test_admin_keystores_are_encrypted_with_the_node_password(api, server, erp):
    keystores = server.settings.data_dir / "keystores"
    listed = _ok(api.get("/admin/keystores", headers=ADMIN))["addresses"]
    assert {erp.a, erp.b} <= set(listed)
    for address in (erp.a, erp.b):
        path = keystores / f"{address}.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        doc = json.loads(text)
        assert doc["crypto"]["kdf"] == "scrypt" and doc["crypto"]["cipher"] == "aes-128-ctr"
        key = Account.decrypt(doc, server.settings.keystore_password)
        assert Account.from_key(key).address == address
        assert key.hex() not in text.lower()  # only the ciphertext is on disk
        with pytest.raises(ValueError):
            Account.decrypt(doc, "not-the-password")


def test_node_wide_keystore_password_comes_from_the_environment(server, erp, monkeypatch):
    """After a restart the node decrypts its keystores from disk with COC_KEYSTORE_PASSWORD."""
    from node_api.core.config import Settings
    from node_api.keys import KeystoreError, Keystores

    # the node's keystores as a restarted node builds them from its settings (node_api.node.Node.wire)
    monkeypatch.setenv("COC_KEYSTORE_PASSWORD", server.settings.keystore_password)
    restarted = Keystores.from_settings(Settings(data_dir=server.settings.data_dir))  # nothing cached: decrypts from disk
    assert restarted.account(erp.a).address == erp.a
    monkeypatch.setenv("COC_KEYSTORE_PASSWORD", "not-the-password")
    with pytest.raises(KeystoreError, match="cannot decrypt"):
        Keystores.from_settings(Settings(data_dir=server.settings.data_dir)).account(erp.b)
    monkeypatch.delenv("COC_KEYSTORE_PASSWORD")
    with pytest.raises(KeystoreError, match="no password in the environment"):
        Keystores.from_settings(Settings(data_dir=server.settings.data_dir)).account(erp.b)


def test_node_signed_create_with_api_key_is_attributed_to_the_wallet(api, chain, erp):
    fwd_nonce = chain.forwarder.functions.nonces(erp.a).call()
    body = _create(api, erp.key_a, erp.material, 7_000, f"{erp.tag}:attributed")
    assert body["signer"] == erp.a and body["action"] == "batches.create"
    (batch_id,) = body["result"]["batchIds"]
    assert chain.ledger.functions.balanceOf(erp.a, batch_id).call() == 7_000
    created = chain.ledger.events.BatchCreated().process_receipt(
        chain.w3.eth.get_transaction_receipt(body["txHash"]), errors=DISCARD)
    assert [(e.args.batchId, e.args.holder, e.args.creator, e.args.quantity) for e in created] == [
        (batch_id, erp.a, erp.pid_a, 7_000)]
    # the relayer paid; the forwarder consumed the wallet's signed request, not the relayer's
    assert chain.w3.eth.get_transaction(body["txHash"])["from"] == chain.relayer
    assert chain.forwarder.functions.nonces(erp.a).call() == fwd_nonce + 1
    status = _ok(api.get(f"/transactions/{body['txHash']}"))
    assert (status["status"], status["signer"], status["result"]["batchIds"]) == ("mined", erp.a, [batch_id])


@pytest.mark.parametrize("headers, fragment", [
    ({}, "X-API-Key"),
    ({"X-API-Key": "coc_not-a-key"}, "unknown API key"),
    ({"X-API-Key": ""}, "unknown API key"),
    ({"X-Admin-Key": "wrong-admin-key"}, "invalid X-Admin-Key"),
])
def test_node_signed_without_valid_key_is_401_and_changes_nothing(api, chain, erp, unchanged, headers, fragment):
    fwd_nonce = chain.forwarder.functions.nonces(erp.a).call()
    r = api.post("/batches/create", json=_origin(erp.material, 1_000, f"{erp.tag}:refused"), headers=headers)
    assert_refused(r, 401, "Unauthorized", fragment)
    assert chain.forwarder.functions.nonces(erp.a).call() == fwd_nonce


def test_api_key_of_a_cannot_act_for_b(api, chain, erp):
    made = _create(api, erp.key_b, erp.material, 10_000, f"{erp.tag}:b-owned")
    (xb,) = made["result"]["batchIds"]
    ledger_nonce_b = chain.ledger.functions.nonces(erp.b).call()
    fwd_nonce_a = chain.forwarder.functions.nonces(erp.a).call()

    # A's key asks for a transfer out of B's wallet: refused, not silently re-attributed to A
    r = api.post("/batches/transfer", json={"batchId": xb, "from": erp.b, "to": erp.a, "quantity": 4_000},
                 headers=_key(erp.key_a))
    body = assert_refused(r, 403, "ApiKeyWalletMismatch", erp.a, erp.b)
    assert body["details"] == {"apiKeyWallet": erp.a, "requested": erp.b}
    # A's key can only sign as A: splitting B's batch is A's action, and A holds none of it
    r = api.post("/batches/split", json={"batchId": xb, "quantities": [5_000, 5_000]}, headers=_key(erp.key_a))
    body = assert_refused(r, 409, "ERC1155InsufficientBalance", erp.a)
    assert body["details"]["args"] == {"sender": erp.a, "balance": 0, "needed": 5_000, "tokenId": xb}
    assert chain.ledger.functions.balanceOf(erp.b, xb).call() == 10_000
    assert chain.ledger.functions.balanceOf(erp.a, xb).call() == 0
    assert chain.ledger.functions.nonces(erp.b).call() == ledger_nonce_b
    assert chain.forwarder.functions.nonces(erp.a).call() == fwd_nonce_a

    # B proposes with its own key; A's key cannot cancel it (the sender's act), B's cannot accept it
    prop = _ok(api.post("/batches/transfer", json={"batchId": xb, "from": erp.b, "to": erp.a, "quantity": 4_000},
                        headers=_key(erp.key_b)))
    tid = prop["result"]["transferId"]
    assert chain.ledger.functions.transferStatus(tid).call() == 1
    r = api.post("/batches/cancel", json={"transferId": tid}, headers=_key(erp.key_a))
    assert_refused(r, 403, "SignatureMismatch", f"signed by {erp.a}", f"must be signed by {erp.b}")
    r = api.post("/batches/accept", json={"transferId": tid}, headers=_key(erp.key_b))
    assert_refused(r, 403, "SignatureMismatch", f"signed by {erp.b}", f"must be signed by {erp.a}")
    assert chain.ledger.functions.transferStatus(tid).call() == 1  # still pending
    assert chain.ledger.functions.balanceOf(erp.b, xb).call() == 6_000
    # each key does act for its own wallet
    ok = _ok(api.post("/batches/accept", json={"transferId": tid}, headers=_key(erp.key_a)))
    assert ok["signer"] == erp.a
    assert chain.ledger.functions.transferStatus(tid).call() == 2
    assert chain.ledger.functions.balanceOf(erp.a, xb).call() == 4_000


def test_api_keys_are_stored_hashed(api, server, erp):
    db = server.settings.data_dir / "node.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT key_hash, address, label FROM api_keys").fetchall()
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    for key, address, label in ((erp.key_a, erp.a, "ERP A"), (erp.key_b, erp.b, "ERP B")):
        assert (hashlib.sha256(key.encode()).hexdigest(), address, label) in rows
        assert key not in dump
        secret = key.removeprefix("coc_")
        for f in db.parent.glob("node.db*"):  # the database file and its WAL
            assert secret.encode() not in f.read_bytes()
    assert all(len(h) == 64 for h, _, _ in rows)


def test_keystore_password_comes_from_the_wallet_environment_variable(api, server, chain, erp, monkeypatch):
    """An ERP's existing wallet, copied to the node encrypted with its own password: the node signs
    for it only once COC_KEYSTORE_PASSWORD_<ADDRESS> is in the environment."""
    wallet = Account.create()
    doc = Account.encrypt(wallet.key, "erp-wallet-pw", kdf="scrypt", iterations=2**14)
    path = server.settings.data_dir / "keystores" / f"{wallet.address}.json"
    path.write_text(json.dumps(doc))
    _register_supplier(api, wallet.address, f"ERP C {erp.tag}")
    created = _ok(api.post("/admin/api-keys", json={"address": wallet.address}, headers=ADMIN))
    assert created["nodeHoldsKey"] is True
    var = f"COC_KEYSTORE_PASSWORD_{wallet.address[2:].upper()}"
    monkeypatch.delenv(var, raising=False)

    before = (chain.w3.eth.get_transaction_count(chain.relayer, "pending"), chain.forwarder.functions.nonces(wallet.address).call())
    r = api.post("/batches/create", json=_origin(erp.material, 500, f"{erp.tag}:c1"), headers=_key(created["apiKey"]))
    assert_refused(r, 403, "NoNodeKey", "cannot decrypt", wallet.address)
    assert (chain.w3.eth.get_transaction_count(chain.relayer, "pending"), chain.forwarder.functions.nonces(wallet.address).call()) == before

    monkeypatch.setenv(var, "erp-wallet-pw")
    body = _create(api, created["apiKey"], erp.material, 500, f"{erp.tag}:c2")
    assert body["signer"] == wallet.address
    assert chain.ledger.functions.balanceOf(wallet.address, body["result"]["batchIds"][0]).call() == 500


def test_api_key_for_wallet_not_held_by_node_cannot_sign(api, chain, erp, unchanged):
    outsider = Account.create().address
    created = _ok(api.post("/admin/api-keys", json={"address": outsider}, headers=ADMIN))
    assert created["nodeHoldsKey"] is False
    r = api.post("/batches/create", json=_origin(erp.material, 1, f"{erp.tag}:nokey"), headers=_key(created["apiKey"]))
    assert_refused(r, 403, "NoNodeKey", f"no keystore for {outsider}")


# ---------------------------------------------------------------- 2. admin key


def _api_key_count(server) -> int:
    conn = sqlite3.connect(f"file:{server.settings.data_dir / 'node.db'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM api_keys").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("headers, fragment", [
    ({}, "X-Admin-Key"),
    ({"X-Admin-Key": "wrong-admin-key"}, "X-Admin-Key"),
    ({"X-Admin-Key": ADMIN_KEY + "x"}, "X-Admin-Key"),
    ("api-key", "X-Admin-Key"),  # a participant's API key is no admin key
])
def test_admin_endpoints_without_admin_key_are_401(api, server, erp, unchanged, headers, fragment):
    if headers == "api-key":
        headers = {"X-API-Key": erp.key_a, "X-Admin-Key": erp.key_a}
    keystores = sorted(p.name for p in (server.settings.data_dir / "keystores").iterdir())
    count = _api_key_count(server)
    assert_refused(api.post("/admin/api-keys", json={"address": erp.a}, headers=headers), 401, "Unauthorized", fragment)
    assert_refused(api.post("/admin/keystores", headers=headers), 401, "Unauthorized", fragment)
    assert_refused(api.get("/admin/keystores", headers=headers), 401, "Unauthorized", fragment)
    assert sorted(p.name for p in (server.settings.data_dir / "keystores").iterdir()) == keystores
    assert _api_key_count(server) == count


def test_admin_endpoints_with_admin_key_are_accepted(api, server, erp):
    count = _api_key_count(server)
    created = _ok(api.post("/admin/api-keys", json={"address": erp.b, "label": "second key"}, headers=ADMIN))
    assert created["address"] == erp.b and created["apiKey"].startswith("coc_")
    assert _api_key_count(server) == count + 1
    wallet = _ok(api.post("/admin/keystores", headers=ADMIN))["address"]
    assert (server.settings.data_dir / "keystores" / f"{wallet}.json").exists()
    assert wallet in _ok(api.get("/admin/keystores", headers=ADMIN))["addresses"]
    # the second key of B acts for B
    body = _create(api, created["apiKey"], erp.material, 3, f"{erp.tag}:second")
    assert body["signer"] == erp.b


def test_admin_node_signed_action_needs_the_admin_key(api, chain, erp):
    count = chain.registry.functions.counts().call()[0]
    block = chain.w3.eth.block_number
    r = api.post("/participants/register", json={"name": "Rogue", "roles": SUPPLIER})
    assert_refused(r, 401, "Unauthorized", "X-API-Key")
    r = api.post("/participants/register", json={"name": "Rogue", "roles": SUPPLIER},
                 headers={"X-Admin-Key": "wrong-admin-key"})
    assert_refused(r, 401, "Unauthorized", "invalid X-Admin-Key")
    # a participant's API key signs as that participant, who is no admin: the registry refuses
    r = api.post("/participants/register", json={"name": "Rogue", "roles": SUPPLIER}, headers=_key(erp.key_a))
    body = assert_refused(r, 403, "RegistryMissingRole", erp.a, "admin role")
    assert body["details"]["args"]["participantId"] == erp.pid_a
    assert chain.registry.functions.counts().call()[0] == count
    assert chain.w3.eth.block_number == block
    # with the admin key the node signs with the consortium admin wallet
    pid = _admin_act(api, "participants/register", name=f"Admin-made {erp.tag}", roles=SUPPLIER)["participantId"]
    assert pid == count + 1 and chain.registry.functions.counts().call()[0] == count + 1


def test_keystore_creation_without_password_is_refused(restricted, monkeypatch):
    """A node without COC_KEYSTORE_PASSWORD cannot create a wallet (it would be unencrypted or lost)."""
    monkeypatch.delenv("COC_KEYSTORE_PASSWORD", raising=False)
    r = restricted.api.post("/admin/keystores", headers=ADMIN)
    assert_refused(r, 409, "KeystoreUnavailable", "COC_KEYSTORE_PASSWORD")
    assert not (restricted.server.settings.data_dir / "keystores").exists()
    assert _ok(restricted.api.get("/admin/keystores", headers=ADMIN))["addresses"] == []


# ---------------------------------------------------------------- 3. read restriction

#: required query parameters of read routes
QUERIES = {"/mass-balance/account-key": "?participantId=1&siteId=1&material=1&characteristic=1"}
OPEN_READS = {"/health", "/info", "/explorer", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


@pytest.fixture(scope="module")
def restricted(server, node_anvil, tmp_path_factory):
    """A second node on the same chain and contracts with reading restricted."""
    data = tmp_path_factory.mktemp("restricted-node")
    (data / "deployments").mkdir()
    for f in (server.settings.data_dir / "deployments").glob("*.json"):
        shutil.copy(f, data / "deployments" / f.name)
    settings = server.settings.model_copy(update={"data_dir": data, "read_requires_key": True,
                                                  "relayer_key": ANVIL_KEY_7, "keystore_password": None})
    srv = type(server)(settings).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            key = _ok(c.post("/admin/api-keys", json={"address": Account.create().address}, headers=ADMIN))["apiKey"]
            yield SimpleNamespace(api=c, key=key, server=srv)
    finally:
        srv.stop()


def _read_paths(c: httpx.Client, values: dict[str, object]) -> list[str]:
    out = []
    for path, ops in c.get("/openapi.json").json()["paths"].items():
        if "get" not in ops or path in OPEN_READS or path.startswith("/admin/"):  # admin: see above
            continue
        for name, v in values.items():
            path = path.replace("{" + name + "}", str(v))
        assert "{" not in path, f"no sample value for {path}"
        out.append(path + QUERIES.get(path, ""))
    return out


def _samples(erp, body) -> dict[str, object]:
    return {
        "participant_id": erp.pid_a, "address": erp.a, "certification_id": 1, "material_id": erp.material,
        "characteristic_id": 1, "process_id": 1, "transfer_id": "0x" + "11" * 32,
        "batch_id": body["result"]["batchIds"][0], "account": "0x" + "22" * 32, "period": 0, "retirement_id": 1,
        "pledge_id": 1, "certificate_id": 1, "tx_hash": body["txHash"], "name": "calldata-BatchLedger.json",
        # issue 14: GS1 Digital Link (a well-formed identifier bound to nothing: 404) and product routes
        "gtin": "09506000134352", "ai": "10", "value": "LOT1", "token_id": body["result"]["batchIds"][0],
        # EUDR (issue 14): a plot hash no node holds and a statement index
        "plot_hash": "0x" + "33" * 32, "index": 0,
    }


def test_reads_are_open_by_default(api, erp):
    body = _create(api, erp.key_a, erp.material, 11, f"{erp.tag}:open")
    batch_id = body["result"]["batchIds"][0]
    assert _ok(api.get(f"/batches/{batch_id}/balance/{erp.a}"))["quantity"] == 11
    assert _ok(api.get(f"/participants/{erp.pid_a}"))["participantId"] == erp.pid_a
    assert _ok(api.get(f"/transactions/{body['txHash']}"))["status"] == "mined"
    assert api.get("/provenance/status").status_code == 200
    # a credit account that was never opened is an unknown id (not a contract panic)
    unknown = "0x" + "22" * 32
    body = assert_refused(api.get(f"/mass-balance/accounts/{unknown}"), 404, "UnknownAccount", unknown, "never opened")
    assert body["details"] == {"account": unknown}


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "coc_wrong"}, {"X-Admin-Key": "wrong-admin-key"}])
def test_restricted_reads_without_valid_key_are_401(api, restricted, erp, headers):
    body = _create(api, erp.key_a, erp.material, 13, f"{erp.tag}:restricted-{len(headers)}-{random.random()}")
    paths = _read_paths(restricted.api, _samples(erp, body))
    assert any(p.startswith("/provenance/") for p in paths) and any(p.startswith("/batches/") for p in paths)
    answers = {p: restricted.api.get(p, headers=headers) for p in paths}
    open_ = {p: r.status_code for p, r in answers.items() if r.status_code != 401}
    assert not open_, f"readable without a valid key on a restricted node: {open_}"
    for r in answers.values():
        assert_refused(r, 401, "Unauthorized", "restricted")
    # the node itself stays reachable (health, chain and contract info for wallet signing)
    assert restricted.api.get("/health").status_code == 200
    assert restricted.api.get("/info").status_code == 200


@pytest.mark.parametrize("who", ["api-key", "admin-key"])
def test_restricted_reads_with_key_are_allowed(api, restricted, erp, who):
    headers = {"X-API-Key": restricted.key} if who == "api-key" else ADMIN
    body = _create(api, erp.key_a, erp.material, 17, f"{erp.tag}:allowed-{who}")
    batch_id = body["result"]["batchIds"][0]
    c = restricted.api
    assert _ok(c.get(f"/batches/{batch_id}/balance/{erp.a}", headers=headers))["quantity"] == 17
    assert _ok(c.get(f"/batches/{batch_id}", headers=headers))
    assert _ok(c.get(f"/participants/{erp.pid_a}", headers=headers))["participantId"] == erp.pid_a
    assert _ok(c.get(f"/participants/wallets/{erp.a}", headers=headers))["participantId"] == erp.pid_a
    assert _ok(c.get("/provenance/status", headers=headers))
    # every read route answers (200, or 404 for a sample id that does not exist) - never 401/403/5xx
    for p in _read_paths(c, _samples(erp, body)):
        r = c.get(p, headers=headers)
        assert r.status_code in (200, 404), f"{p}: {r.status_code} {r.text[:200]}"
    # the transaction was relayed by the other node: this node knows nothing of it
    assert_refused(c.get(f"/transactions/{body['txHash']}", headers=headers), 404, "UnknownTransaction")
