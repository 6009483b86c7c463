"""End to end on the node: the demo scenario loaded through the node's HTTP API, followed by the
node's own index (started in the app's lifespan), answered over /provenance, exported as EPCIS
that validates against GS1's schema, and shown by the explorer page in a real headless Chromium."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import httpx
import jsonschema
import pytest

from helpers_index import wait_for
from test_epcis import SCHEMA_PATH, _checker

from node_api.core.anvil import EmbeddedAnvil

pytestmark = pytest.mark.chain  # starts its own chain and node in module fixtures

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("COC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# the node's test server (tests/node/nodeserver.py: a module of its own, importable by file)
_spec = importlib.util.spec_from_file_location("_coc_nodeserver", REPO / "tests" / "node" / "nodeserver.py")
_node = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_node)


def show(page, token: int) -> None:
    """Type a token into the explorer and wait until its answer is on screen."""
    page.fill("#token", str(token))
    page.click("#show")
    page.wait_for_function("t => new URLSearchParams(location.search).get('token') === t", arg=str(token),
                           timeout=20_000)


@pytest.fixture(scope="module")
def demo_node(tmp_path_factory):
    anvil = EmbeddedAnvil.throwaway(accounts=20)
    anvil.start()
    server = None
    try:
        server = _node.ServerThread(_node.node_settings(tmp_path_factory.mktemp("node"), anvil.url)).start()
        from testkit.demo import run_demo

        ids = run_demo(server.url, admin_key=_node.ADMIN_KEY, seed="explorer", log=lambda *_a: None)
        ids["batches"]["flakes"] = _kg_mass_balance_batch(server.url, ids)
        client = httpx.Client(base_url=server.url, timeout=60)
        head = int(httpx.post(anvil.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}).json()["result"], 16)
        assert wait_for(lambda: (client.get("/provenance/status").json().get("last_indexed_block") or -1) >= head, 60)
        yield server.url, client, ids
        client.close()
    finally:
        if server is not None:
            server.stop()
        anvil.stop()


def _kg_mass_balance_batch(url: str, ids: dict) -> int:
    """A material registered in kg (issue 10, explorer): a mass-balance batch of 150,000 kg, of which
    100,000 kg are delivered with a declaration of 90,000 kg certified. Through the node's API."""
    from eth_account import Account

    from node_api.cli.client import NodeClient
    from node_api.core.config import ANVIL_DEFAULT_KEY
    from testkit.demo import actor_key

    c = NodeClient(url, admin_key=_node.ADMIN_KEY)
    admin = Account.from_key(ANVIL_DEFAULT_KEY)
    now = int(c.get("health")["timestamp"])
    sgs, feedstock, cracker = (actor_key(ids["seed"], k) for k in ("sgs", "feedstock", "cracker"))

    def act(who, action, **params):
        return c.act(who, action, **params)["result"]

    flakes = act(admin, "processes/register-material", name="recycled PET flakes", unit="kg", group=99_990,
                 waste=False)["material"]
    circular = ids["characteristics"]["bio_circular"]
    for key in ("feedstock", "cracker"):
        act(sgs, "participants/record-certification", holder=ids["participants"][key], scheme="ISCC PLUS",
            certificateNumber=f"ISCC-PLUS-flakes-{key}", materials=[flakes], characteristics=[circular],
            models=1 << 1, validFrom=now - 86_400, validTo=now + 365 * 86_400)
    act(sgs, "participants/set-capacity", participantId=ids["participants"]["feedstock"], material=flakes,
        validFrom=now - 86_400, validTo=now + 365 * 86_400, amount=1_000_000)
    batch = act(feedstock, "batches/create", material=flakes, characteristic=circular, model="mass balance", share=0,
                quantity=150_000, geolocationHash="geo:explorer:flakes", ddsReference="",
                evidenceHash="production:explorer:flakes", productionDate=now - 86_400)["batchIds"][0]
    c.transfer_with_acceptance(feedstock, cracker, batch, 100_000, certified=90_000)
    return batch


def test_node_index_follows_the_chain(demo_node):
    _url, client, _ids = demo_node
    s = client.get("/provenance/status").json()
    assert s["following"] is True and s["in_sync"] is True and s["blocks_behind"] == 0 and s["last_error"] is None


def test_demo_product_provenance_over_http(demo_node):
    _url, client, ids = demo_node
    b = ids["batches"]
    p = client.get(f"/provenance/batches/{b['fabric']}").json()
    assert [o["batch_id"] for o in p["lineage"]["origins"]] == [b["seed_cotton"]]
    (o,) = p["lineage"]["origins"]
    assert o["producer"] == "Organic Cotton Farm, Gujarat" and o["site"] == "Farm Gujarat"
    assert o["path"] == [b["seed_cotton"], b["lint"], b["yarn"], b["yarn_lot_a"], b["fabric"]]
    assert p["claim"]["percent"] == "100" and "contains 100 % organic material" in p["claim"]["text"]
    statuses = [(t["batch_id"], t["status"]) for t in p["custody"]]
    assert (b["yarn_lot_b"], "cancelled") not in statuses  # a sibling lot, not in this product's lineage
    assert [s for _, s in statuses] == ["accepted", "accepted", "accepted", "accepted"]
    mb = client.get(f"/provenance/batches/{b['pe']}/claim").json()
    assert mb["kind"] == "supply_chain" and mb["certified_quantity"] == 20_000_000
    cert = client.get(f"/provenance/certificates/{ids['certificates']['pe_credits']}").json()
    assert [h["kind"] for h in cert["holders_over_time"]] == ["issued", "transferred", "retired"]
    assert cert["retirements"][0]["retirement_id"] == str(ids["retirements"]["converter_claim"])
    revoked = client.get(f"/provenance/certificates/{ids['certificates']['verified_revoked']}").json()
    assert revoked["revoked"]["outstanding"] == 50


def test_demo_epcis_documents_validate_against_gs1_schema(demo_node):
    _url, client, ids = demo_node
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_PATH.read_text()), format_checker=_checker())
    for token in (ids["batches"]["fabric"], ids["batches"]["film"]):
        doc = client.get(f"/provenance/batches/{token}/epcis").json()
        errors = list(validator.iter_errors(doc))
        assert not errors, errors[0].message[:500]
        assert doc["epcisBody"]["eventList"]
    whole = client.get("/provenance/epcis").json()
    assert not list(validator.iter_errors(whole)) and len(whole["epcisBody"]["eventList"]) > 20


def test_explorer_shows_demo_product_lineage_in_chromium(demo_node, tmp_path):
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")
    url, _client, ids = demo_node
    b = ids["batches"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            external = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(url) else None)
            page.goto(f"{url}/explorer")
            page.fill("#token", str(b["fabric"]))
            page.click("#show")
            page.wait_for_selector("g.node.origin", timeout=20_000)
            origins = page.eval_on_selector_all(
                "g.node.origin", "els => els.map(e => ({batch: Number(e.dataset.batch), text: e.textContent}))")
            assert [o["batch"] for o in origins] == [b["seed_cotton"]]
            assert "Organic Cotton Farm, Gujarat" in origins[0]["text"] and "Farm Gujarat" in origins[0]["text"]
            product = page.eval_on_selector("g.node.product", "e => ({batch: Number(e.dataset.batch), model: e.dataset.model})")
            assert product == {"batch": b["fabric"], "model": "segregated"}
            assert page.locator("g.edge").count() == 4
            assert "10 t" in page.locator("g.edge").first.text_content()
            assert "contains 100 % organic material" in page.locator("#claim-text").inner_text()
            assert page.locator("tr.custody-row").count() == 4
            page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
            shutil.copy(tmp_path / "explorer.png", Path(os.environ.get("TMPDIR", "/tmp")) / "coc-explorer.png")
            # the segregated product: its origin's part is a content share; input equivalents are labelled
            assert page.locator("td.origin-part .content-share").count() == 1
            assert "input equivalent" in page.locator("td.input-equivalent").first.inner_text()
            assert "Input equivalent taken into this product" in page.locator("#origins tr").first.inner_text()

            # issue 10: a declaration in a material registered in kg is shown in kg, never as grams, and is
            # attributed to the part delivered with it
            show(page, b["flakes"])
            declared = page.locator("tr.custody-row .declared").first.inner_text()
            assert declared == "declared certified: 90,000 kg of the 100,000 kg delivered", declared
            assert page.locator("tr.custody-row .custody-qty").first.inner_text().startswith("100,000 kg")
            delivered = page.locator("#claim-delivered").inner_text()
            assert ("Certified input declared: 90,000 kg, attributed to the 100,000 kg delivered with declarations, "
                    "of this batch's 150,000 kg (mass balance: not content)") == delivered, delivered
            screen = page.locator("main").inner_text()
            assert "90 kg" not in screen and " g\n" not in screen and "Share" not in screen

            # polyethylene made under mass balance: its origins' proportion is labelled, never a content share
            show(page, b["pe"])
            parts = page.locator("td.origin-part").all_inner_texts()
            assert parts and all("mass balance: no content share" in x or "uncertified" in x for x in parts), parts
            assert page.locator("td.origin-part .content-share").count() == 0
            assert page.locator("td.origin-part .mb-attribution").count() >= 1
            assert "not a statement of content" in page.locator("#claim-text").inner_text()
            assert "attributed to the 117.6 t delivered with declarations" in page.locator("#claim-delivered").inner_text()

            show(page, b["fabric"])
            href = page.locator("a.tx").first.get_attribute("href")
            assert href.startswith("/provenance/tx/0x")
            page.click("a.tx >> nth=0")
            page.wait_for_load_state()
            assert "events" in json.loads(page.locator("body").inner_text())
            assert external == [], f"the page fetched outside the node: {external}"
        finally:
            browser.close()
