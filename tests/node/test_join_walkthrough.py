"""The README's "Join a consortium" walkthrough, step by step, with real processes and keys: a node process
on its own Anvil, ``coc`` run as a process for every step (keys imported or created into keystores, each
signature shown in words first), the admin path both without ``COC_ADMIN_API_KEY`` (the admin signs with
the consortium admin wallet in ``coc``) and with it (a second node process holding the admin wallet,
called with ``X-Admin-Key``). The site-0 mistake is tried on both paths and refused, naming ``siteId``.

Order: reference data (once per consortium) -> organisation -> site -> wallet -> certification -> capacity,
then the supplier's first action.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from node_api.core.anvil import EmbeddedAnvil, free_port
from node_api.core.config import ANVIL_DEFAULT_KEY
from testkit.node_process import node_env, start_node, stop_node

pytestmark = pytest.mark.chain

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "walkthrough-admin-secret"
#: a second relayer for the node that holds the admin key (Anvil's account 9)
RELAYER_2 = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"
RELAYER_1 = "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"  # account 8


@pytest.fixture(scope="module")
def consortium(tmp_path_factory):
    """Anvil, node 1 (no admin key: the default) and node 2 (COC_ADMIN_API_KEY set) on the same contracts."""
    tmp = tmp_path_factory.mktemp("join")
    chain = EmbeddedAnvil.throwaway(accounts=10)
    chain.start()
    procs = []
    try:
        p1, p2 = free_port(), free_port()
        env1 = node_env(chain.url, tmp / "node1", p1, RELAYER_1)
        env1.pop("COC_ADMIN_API_KEY", None)
        url1, url2 = f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"
        procs.append(start_node(env1, url1, timeout=120, log=tmp / "node1.log"))
        (tmp / "node2" / "deployments").mkdir(parents=True)
        for f in (tmp / "node1" / "deployments").glob("*.json"):
            shutil.copy(f, tmp / "node2" / "deployments" / f.name)  # the same consortium's contracts
        env2 = node_env(chain.url, tmp / "node2", p2, RELAYER_2, COC_ADMIN_API_KEY=ADMIN_KEY)
        procs.append(start_node(env2, url2, timeout=120, log=tmp / "node2.log"))
        yield type("Consortium", (), {"url1": url1, "url2": url2, "tmp": tmp})
    finally:
        for p in procs:
            stop_node(p)
        chain.stop()


def coc(c, keystore: str, *args: str, stdin: str | None = None, node: str | None = None, code: int = 0) -> tuple[str, str]:
    """``coc`` as a separate process, as a person runs it (the wallet password from the environment)."""
    env = dict(os.environ, COC_WALLET_PASSWORD="walkthrough-pw", COC_NODE_URL=node or c.url1, COLUMNS="200")
    r = subprocess.run([sys.executable, "-m", "node_api.cli.main", "--keystore", str(c.tmp / keystore), *args],
                       input=stdin or "", capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == code, f"coc {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout, r.stderr


def do(c, keystore: str, action: str, *params: str, node: str | None = None) -> tuple[dict, str]:
    out, err = coc(c, keystore, "--json", "do", action, *params, "--yes", node=node)
    res = json.loads(out)
    assert res["status"] == "mined", res
    return res["result"], err


def test_join_a_consortium_without_admin_api_key(consortium):
    c = consortium
    now = int(time.time())
    # ---- 0. every signer has a wallet: the admin imports the consortium admin wallet's key, the others create one
    out, _ = coc(c, "admin.json", "--json", "wallet", "import", stdin=ANVIL_DEFAULT_KEY + "\n")
    assert json.loads(out)["address"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    cb = json.loads(coc(c, "cb.json", "--json", "wallet", "create")[0])["address"]
    weaver = json.loads(coc(c, "weaver.json", "--json", "wallet", "create")[0])["address"]
    assert json.loads(coc(c, "weaver.json", "--json", "wallet", "address")[0])["address"] == weaver
    out, _ = coc(c, "weaver.json", "batches")
    assert "is not registered with any participant" in out and "consortium administrator" in out
    # the node-signed admin endpoints are off on this node: the admin signs with its own wallet
    r = httpx.post(f"{c.url1}/participants/register", json={"name": "X", "roles": 4}, headers={"X-Admin-Key": "guess"})
    assert r.status_code == 401

    # ---- reference data, once per consortium (admin)
    material = do(c, "admin.json", "processes/register-material", "name=cotton yarn", "unit=g", "group=1")[0]["material"]
    scheme = do(c, "admin.json", "processes/register-scheme", "name=GOTS", "periodLength=7776000",
                f"anchor={now - 86400}")[0]["scheme"]
    organic = do(c, "admin.json", "processes/register-characteristic", "name=organic", f"scheme={scheme}")[0]["characteristic"]
    # the certification body: a participant with the certifier role, its wallet bound without a site
    cb_id = do(c, "admin.json", "participants/register", "name=Control Union", "roles=2")[0]["participantId"]
    do(c, "admin.json", "participants/add-wallet", f"wallet={cb}", f"participantId={cb_id}", "siteId=0")

    # ---- 1. organisation (admin): coc shows the action in words before signing
    res, err = do(c, "admin.json", "participants/register", "name=Weaver Ltd", "roles=4")
    pid = res["participantId"]
    assert "Register participant Weaver Ltd as supplier" in err and "signed by Consortium administration" in err
    # ---- the site-0 mistake: refused before anything is signed, naming siteId
    out, err = coc(c, "admin.json", "--json", "do", "participants/add-wallet", f"wallet={weaver}", f"participantId={pid}",
                   "siteId=0", "--yes", code=2)
    refusal = json.loads(out)
    assert refusal["error"] == "RegistryWalletNeedsSite" and refusal["details"]["field"] == "siteId"
    assert "add the site first" in refusal["message"]
    # ---- 2. site (admin)
    res, err = do(c, "admin.json", "participants/add-site", f"participantId={pid}", "name=Weaving shed Surat",
                  "locationRef=GLN 8901234000017")
    site = res["siteId"]
    assert "Add site Weaving shed Surat to Weaver Ltd" in err
    # ---- 3. wallet (admin): the supplier's address at its site
    res, err = do(c, "admin.json", "participants/add-wallet", f"wallet={weaver}", f"participantId={pid}", f"siteId={site}")
    assert f"Bind wallet {weaver}" in err and "Weaving shed Surat" in err
    # ---- 4. certification (the certification body)
    res, err = do(c, "cb.json", "participants/record-certification", f"holder={pid}", "scheme=GOTS",
                  "certificateNumber=CU-GOTS-0001", f"materials=[{material}]", f"characteristics=[{organic}]", "models=8",
                  f"validFrom={now - 86400}", f"validTo={now + 365 * 86400}")
    assert "Record GOTS certificate CU-GOTS-0001 of Weaver Ltd" in err
    # ---- 5. capacity (the certification body)
    res, err = do(c, "cb.json", "participants/set-capacity", f"participantId={pid}", f"material={material}",
                  f"validFrom={now - 86400}", f"validTo={now + 365 * 86400}", "amount=100000000")
    assert "100,000,000 g (100 t)" in err
    participant = httpx.get(f"{c.url1}/participants/{pid}").json()
    assert participant["name"] == "Weaver Ltd" and participant["roleNames"] == ["supplier"]
    assert [s["name"] for s in participant["sites"]] == ["Weaving shed Surat"]

    # ---- 6. the supplier's first action: an origin batch, certified organic, segregated
    res, err = do(c, "weaver.json", "batches/create", f"material={material}", f"characteristic={organic}",
                  "model=segregated", "share=1000000", "quantity=5000000", "geolocationHash=plot 7 GeoJSON",
                  "evidenceHash=harvest record 2026-11", f"productionDate={now - 3600}")
    batch = res["batchIds"][0]
    assert "Create an origin batch of 5,000,000 g (5 t) of cotton yarn" in err
    out, _ = coc(c, "weaver.json", "batches")
    assert "Weaver Ltd at Weaving shed Surat" in out and "cotton yarn" in out and "5,000,000 g (5 t)" in out
    assert "organic (GOTS)" in out and "segregated" in out and str(batch) in out


def test_join_a_consortium_with_admin_api_key(consortium):
    """The same onboarding through the node holding the admin wallet: the admin key instead of a local wallet."""
    c = consortium
    admin = {"X-Admin-Key": ADMIN_KEY}

    def post(path: str, body: dict, headers: dict | None = admin) -> httpx.Response:
        return httpx.post(f"{c.url2}/{path}", json=body, headers=headers, timeout=60)

    supplier = json.loads(coc(c, "spinner.json", "--json", "wallet", "create", node=c.url2)[0])["address"]
    assert post("participants/register", {"name": "Spinner Co", "roles": 4}, headers=None).status_code == 401
    assert post("participants/register", {"name": "Spinner Co", "roles": 4}, headers={"X-Admin-Key": "wrong"}).status_code == 401
    r = post("participants/register", {"name": "Spinner Co", "roles": 4})
    assert r.status_code == 200, r.text
    pid = r.json()["result"]["participantId"]
    r = post("participants/add-wallet", {"wallet": supplier, "participantId": pid, "siteId": 0})
    assert r.status_code == 422 and r.json()["error"] == "RegistryWalletNeedsSite" and r.json()["details"]["field"] == "siteId"
    site = post("participants/add-site", {"participantId": pid, "name": "Spinning mill Tiruppur",
                                          "locationRef": "GLN 8901234000024"}).json()["result"]["siteId"]
    assert post("participants/add-wallet", {"wallet": supplier, "participantId": pid, "siteId": site}).status_code == 200
    material = post("processes/register-material", {"name": "cotton lint", "unit": "g", "group": 2}).json()["result"]["material"]
    assert httpx.get(f"{c.url2}/registry/names").json()["materials"][str(material)]["unit"] == "g"
    # first action, uncertified (no certification yet): the supplier signs in coc against either node
    res, err = do(c, "spinner.json", "batches/create", f"material={material}", "quantity=2000", "geolocationHash=plot 9",
                  "evidenceHash=intake 1", "productionDate=1764547200", node=c.url2)
    assert "Create an origin batch of 2,000 g (2 kg) of cotton lint" in err
    out, _ = coc(c, "spinner.json", "batches", node=c.url1)
    assert "Spinner Co at Spinning mill Tiruppur" in out and "2,000 g (2 kg)" in out
