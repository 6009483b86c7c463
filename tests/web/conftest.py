"""The web app in a real browser: Debian's Chromium driven by Playwright against a real node and
chain (Anvil), the demo scenario loaded through the node's API, and an EIP-1193 wallet injected into
every page (``window.ethereum``, as a browser wallet presents itself) whose signatures are made in
Python with a real key (eth_account) through ``context.expose_function``.

Skipped when Chromium is not at /usr/bin/chromium (``COC_CHROMIUM`` to point elsewhere). Screenshots
of the main pages go to build/screenshots/ (git-ignored)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import httpx
import pytest

from node_api.core.anvil import EmbeddedAnvil
from webhelp import ADMIN_KEY, PROVIDER, Wallet, nodeserver

CHROMIUM = os.environ.get("COC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

_node = nodeserver



def wait_indexed(client: httpx.Client, rpc_url: str, timeout: float = 60) -> None:
    head = int(httpx.post(rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}).json()["result"], 16)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (client.get("/provenance/status").json().get("last_indexed_block") or -1) >= head:
            return
        time.sleep(0.2)
    raise AssertionError("the index did not catch up with the chain")


@pytest.fixture(scope="session")
def web() -> Iterator[SimpleNamespace]:
    """A node on its own Anvil with the demo loaded; ``contracts`` are web3 contracts of its deployment."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api")
    from node_api.core.chain import connect
    from node_api.core.config import Settings
    from node_api.core.deploy import SHORT_NAMES
    from testkit.demo import actor_key, run_demo

    anvil = EmbeddedAnvil.throwaway(accounts=20)
    anvil.start()
    server = None
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"coc-web-{os.getpid()}-{time.time_ns()}"
    try:
        server = _node.ServerThread(_node.node_settings(tmp, anvil.url)).start()
        ids = run_demo(server.url, admin_key=ADMIN_KEY, seed="web", log=lambda *_a: None)
        client = httpx.Client(base_url=server.url, timeout=60)
        wait_indexed(client, anvil.url)
        w3 = connect(Settings(), rpc_url=anvil.url)
        node = server.node
        contracts = SimpleNamespace(**{short: w3.eth.contract(address=node.addresses[full], abi=node.abis[full].abi)
                                       for full, short in SHORT_NAMES.items()})
        keys = {k: actor_key(ids["seed"], k) for k in ids["participants"]}
        yield SimpleNamespace(url=server.url, rpc=anvil.url, ids=ids, api=client, w3=w3, c=contracts, keys=keys)
        client.close()
    finally:
        if server is not None:
            server.stop()
        anvil.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# Module scope: sync_playwright runs an event loop in the main thread until it exits, and later modules
# (e.g. the TRACES client tests) call asyncio.run; a session-long browser would break them.
@pytest.fixture(scope="module")
def browser(web) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def wallet() -> Wallet:
    return Wallet()


@pytest.fixture
def ctx(browser, wallet) -> Iterator[Any]:
    """A fresh browser profile with the injected wallet; requests leaving the node fail the test
    (the app works offline)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.expose_function("__cocWallet", wallet.handle)
    context.add_init_script(PROVIDER)
    outside: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "about:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", only_local)
    broken: list[str] = []  # uncaught script errors and Content-Security-Policy violations

    def watch(page):
        page.on("pageerror", lambda exc: broken.append(f"{page.url}: {exc}"))
        page.on("console", lambda m: broken.append(f"{page.url}: {m.text}")
                if m.type == "error" and "Content Security Policy" in m.text else None)

    context.on("page", watch)
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()
    assert not outside, f"the app fetched from outside the node: {outside}"
    assert not broken, f"script errors or CSP violations: {broken}"
