"""The node's FastAPI app served by uvicorn on a free port, in a thread, for end-to-end tests.

Its own module (not conftest.py) so that tests can import it unambiguously: several test folders
have a conftest.py, and `from conftest import ...` would pick whichever was imported first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import httpx
import uvicorn
from eth_account import Account

from node_api.api.app import create_app
from node_api.core.anvil import EmbeddedAnvil, free_port
from node_api.core.chain import connect
from node_api.core.config import Settings
from node_api.core.deploy import SHORT_NAMES

ADMIN_KEY = "test-admin-key"
SUPPLIER = 4  # role bit


class ServerThread:
    """uvicorn serving ``create_app(settings)`` in a background thread."""

    def __init__(self, settings: Settings, port: int | None = None):
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("node server exited during startup")
            if time.monotonic() > deadline:
                raise RuntimeError("node server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def node(self):
        return self.server.config.app.state.node  # type: ignore[union-attr]


def node_settings(data_dir: Path, rpc_url: str, **extra) -> Settings:
    return Settings(
        data_dir=data_dir, rpc_url=rpc_url, admin_api_key=ADMIN_KEY, keystore_password="node-keystore-pw",
        nonce_wait_seconds=30.0, wait_timeout=20.0, **extra,
    )


@contextlib.contextmanager
def relay_world(data_dir: Path, *, wallets: int, name: str, accounts: int = 10, http_timeout: float = 30,
                **settings: Any) -> Iterator[SimpleNamespace]:
    """A throwaway Anvil, the node serving it over HTTP, the contracts by short name and ``wallets``
    registered suppliers (one participant, site and bound wallet each) plus a material: the world
    the relayer and settlement tests start from. ``settings`` go to the node's Settings."""
    anvil = EmbeddedAnvil.throwaway(accounts=accounts)
    anvil.start()
    srv = ServerThread(Settings(data_dir=data_dir, rpc_url=anvil.url, admin_api_key=ADMIN_KEY, **settings)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=http_timeout) as api:
            node = srv.node
            w3 = connect(Settings(), rpc_url=anvil.url)
            ns = SimpleNamespace(api=api, node=node, w3=w3, url=anvil.url, relayer=node.relayer.address)
            for full, short in SHORT_NAMES.items():
                setattr(ns, short, w3.eth.contract(address=node.addresses[full], abi=node.abis[full].abi))

            def admin(path: str, **params: Any) -> dict:
                r = api.post(f"/{path}", json=params, headers={"X-Admin-Key": ADMIN_KEY})
                assert r.status_code == 200, r.text
                return r.json()["result"]

            ns.wallets = []
            for i in range(wallets):
                acct = Account.create()
                pid = admin("participants/register", name=f"{name} {i}", roles=SUPPLIER)["participantId"]
                site = admin("participants/add-site", participantId=pid, name=f"Site {i}", locationRef=f"site:{i}")["siteId"]
                admin("participants/add-wallet", wallet=acct.address, participantId=pid, siteId=site)
                ns.wallets.append(acct)
            ns.material = admin("processes/register-material", name="yarn", unit="g", group=1)["material"]
            yield ns
    finally:
        srv.stop()
        anvil.stop()
