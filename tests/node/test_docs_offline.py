"""/docs and /redoc work offline: Swagger UI and ReDoc are shipped in the package (vendored from npm with
their licences, checked against VENDORED.json), the pages load every script, style and icon from the node
itself, and nothing in the pages or the bundles they load reaches for a CDN or web fonts."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from node_api.api import docs

REPO = Path(__file__).resolve().parents[2]
VENDORED = json.loads((docs.ASSETS / "VENDORED.json").read_text())
#: what would make an offline page blank or reach out: CDNs and web fonts in the pages; in the bundles, code
#: loaded from a CDN or telemetry (ReDoc's bundle names its attribution logo on cdn.redoc.ly and Swagger UI's
#: the online validator: the pages' Content-Security-Policy keeps both from loading, checked below)
REMOTE_PAGE = re.compile(r"https?://|cdn\.|fonts\.googleapis|fonts\.gstatic|unpkg\.com")
REMOTE_CODE = re.compile(r"cdn\.jsdelivr|unpkg\.com|cdnjs|fonts\.googleapis|otel\.|/v1/traces|cdn\.redocly\.com")


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(a["src"])
        if tag == "link" and a.get("href"):
            self.refs.append(a["href"])
        if tag == "img" and a.get("src"):
            self.refs.append(a["src"])


def test_vendored_files_are_the_recorded_ones_with_their_licences():
    assert set(VENDORED) == {"swagger-ui-dist", "redoc"}
    assert VENDORED["swagger-ui-dist"]["license"] == "Apache-2.0" and VENDORED["redoc"]["license"] == "MIT"
    for pkg in VENDORED.values():
        for name, digest in pkg["files"].items():
            assert hashlib.sha256((docs.ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (docs.ASSETS / "LICENSE.swagger-ui-dist").read_text()
    assert "MIT License" in (docs.ASSETS / "LICENSE.redoc").read_text()
    assert VENDORED["redoc"]["version"].startswith("2.")  # ReDoc 3's bundle sends telemetry to Redocly


def test_the_package_ships_the_assets():
    """An installed node (not an editable checkout) has them: the package-data globs cover every file."""
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["node_api"]
    for f in docs.ASSETS.iterdir():
        rel = f.relative_to(REPO / "node_api").as_posix()
        assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} is not in the package data"
    assert "node_modules" not in str(docs.ASSETS)


@pytest.mark.parametrize("page, asset", [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")])
def test_pages_load_everything_from_the_node(api, page, asset):
    r = api.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert not REMOTE_PAGE.search(r.text), f"{page} reaches outside the node: {REMOTE_PAGE.search(r.text).group(0)}"
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    for directive in ("default-src", "script-src", "style-src", "img-src", "font-src", "connect-src"):
        sources = csp[directive].split()
        assert "'self'" in sources and not [s for s in sources if s.startswith("http") or s == "*"], csp[directive]
    parser = _Refs()
    parser.feed(r.text)
    assert f"{docs.PREFIX}/{asset}" in parser.refs
    for ref in parser.refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"{page} loads {ref} from elsewhere"
        got = api.get(ref)
        assert got.status_code == 200 and got.content, ref
        if ref.endswith(".js"):
            assert "javascript" in got.headers["content-type"]
            assert not REMOTE_CODE.search(got.text), f"{ref} reaches outside the node"
        if ref.endswith(".css"):
            assert "text/css" in got.headers["content-type"] and not REMOTE_CODE.search(got.text)
    assert "/openapi.json" in r.text and api.get("/openapi.json").status_code == 200
    if page == "/docs":
        assert '"validatorUrl": null' in r.text  # no badge fetched from validator.swagger.io


def test_assets_outside_the_folder_are_not_served(api):
    for path in ("/docs-assets/../app.py", "/docs-assets/%2e%2e/app.py", "/docs-assets/nope.js"):
        assert api.get(path).status_code == 404, path


CHROMIUM = os.environ.get("COC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_pages_render_in_chromium_with_the_network_cut_off(server):
    """Offline as a browser sees it: every request to another origin is aborted, and both pages still render
    the API (operations listed); the only outside address either page even tries is ReDoc's attribution logo,
    which the Content-Security-Policy blocks before it is requested."""
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(server.url) or url.startswith(("blob:", "data:")):
            return r.continue_()
        outside.append(url)
        return r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", route)
            page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(server.url + "/docs")
            page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
            # Swagger UI renders only the operations near the viewport once a spec is this large: scroll through
            # the page and collect every operation it renders; each path of /openapi.json must have been there.
            paths = set(httpx.get(server.url + "/openapi.json").json()["paths"])
            seen: set[str] = set()
            unchanged = 0
            while unchanged < 8:
                now = {t.replace("\u200b", "").strip()
                       for t in page.locator(".swagger-ui .opblock-summary-path").all_inner_texts()}
                unchanged = unchanged + 1 if now <= seen else 0
                seen |= now
                page.mouse.wheel(0, 800)
                page.wait_for_timeout(100)
            assert len(paths) > 50 and not paths - seen, sorted(paths - seen)[:5]
            page.goto(server.url + "/redoc")
            page.wait_for_selector("[role=menuitem], .menu-content li", timeout=30_000)
            assert "typed-data" in page.content()
        finally:
            browser.close()
    assert not outside, f"requests to other origins: {outside}"
    assert all("cdn.redoc.ly/redoc/logo" in m for m in blocked), blocked
