"""A node that restricts reading to key holders (``read_requires_key``): the web app's pages answer
401 with the way in, the sign-in page stays open, and a back office signed in with its API key reads
(the key travels as the cookie app.js sets)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from node_api.core.anvil import EmbeddedAnvil

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def restricted(web):
    from webhelp import ADMIN_KEY, nodeserver as _node

    anvil = EmbeddedAnvil.throwaway(accounts=5)
    anvil.start()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"coc-web-restricted-{os.getpid()}-{time.time_ns()}"
    server = None
    try:
        server = _node.ServerThread(_node.node_settings(tmp, anvil.url, read_requires_key=True)).start()
        yield server.url, ADMIN_KEY
    finally:
        if server is not None:
            server.stop()
        anvil.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_pages_need_a_key_where_reading_is_restricted(restricted, ctx):
    url, admin_key = restricted
    with httpx.Client(base_url=url, timeout=30) as api:
        for path in ("/app/supplier", "/app/products?q=cotton", "/app/products/1", "/app/admin"):
            r = api.get(path)
            assert r.status_code == 401 and "Reading is restricted" in r.text, path
        assert api.get("/app/").status_code == 200  # the way in stays open
        assert api.get("/app/static/app.js").status_code == 200
        wrong = httpx.get(url + "/app/supplier", cookies={"coc_key": "wrong", "coc_key_kind": "X-API-Key"})
        assert wrong.status_code == 401
        held = api.post("/admin/keystores", headers={"X-Admin-Key": admin_key}).json()["address"]
        key = api.post("/admin/api-keys", headers={"X-Admin-Key": admin_key}, json={"address": held}).json()["apiKey"]

    page = ctx.new_page()
    page.goto(url + "/app/")
    page.fill("#api-key", key)
    page.select_option("#key-kind", label="participant API key")
    with page.expect_navigation():
        page.click("#key-login button[type=submit]")
    assert held in page.inner_text("#unregistered")  # read with the key: this wallet is not onboarded yet
    page.goto(url + "/app/products?q=cotton")
    assert "No product matches" in page.inner_text("main")
