"""The node's FastAPI app served by uvicorn on a free port, in a thread, for end-to-end tests.

Its own module (not conftest.py) so that tests can import it unambiguously: several test folders
have a conftest.py, and `from conftest import ...` would pick whichever was imported first.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn

from node_api.api.app import create_app
from node_api.core.anvil import free_port
from node_api.core.config import Settings

ADMIN_KEY = "test-admin-key"


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
