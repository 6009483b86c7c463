"""Helpers of the browser tests (a module of its own: several test folders have a conftest.py):
the wallet behind the injected EIP-1193 provider, signing in, signing a form, screenshots."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from node_api.signing import sign_typed

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "screenshots"

# the node's test server (tests/node/nodeserver.py), loaded by file: several test folders have a conftest.py,
# so `from conftest import ...` would pick whichever was imported first
_spec = importlib.util.spec_from_file_location("_coc_web_nodeserver", REPO / "tests" / "node" / "nodeserver.py")
nodeserver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nodeserver)
ADMIN_KEY = nodeserver.ADMIN_KEY

#: what a browser wallet injects into the page: EIP-1193 ``request`` answered by the Python wallet
PROVIDER = """
window.ethereum = {
  isCocTestWallet: true,
  async request({ method, params }) {
    const answer = JSON.parse(await window.__cocWallet(method, JSON.stringify(params || [])));
    if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
    return answer.result;
  },
  on() {}, removeListener() {},
};
"""


class Wallet:
    """The key behind the injected provider (switch ``account`` to act as another organisation);
    ``signed`` keeps every typed data it signed."""

    def __init__(self) -> None:
        self.account: Any = None
        self.signed: list[dict[str, Any]] = []
        self.chain_id = 1  # the wallet starts on another chain: the app must ask it to switch

    def handle(self, method: str, params_json: str) -> str:
        params = json.loads(params_json)
        if self.account is None:
            return json.dumps({"error": {"code": 4100, "message": "no account"}})
        if method in ("eth_requestAccounts", "eth_accounts"):
            return json.dumps({"result": [self.account.address]})
        if method == "eth_chainId":
            return json.dumps({"result": hex(self.chain_id)})
        if method == "wallet_switchEthereumChain":
            self.chain_id = int(params[0]["chainId"], 16)
            return json.dumps({"result": None})
        if method == "eth_signTypedData_v4":
            address, typed = params
            if address.lower() != self.account.address.lower():
                return json.dumps({"error": {"code": 4100, "message": f"not this wallet's account: {address}"}})
            typed = json.loads(typed) if isinstance(typed, str) else typed
            if int(typed["domain"]["chainId"]) != self.chain_id:  # as wallets do
                return json.dumps({"error": {"code": 4901, "message": f"wallet on chain {self.chain_id}"}})
            self.signed.append(typed)
            return json.dumps({"result": "0x" + sign_typed(self.account.key, typed).hex()})
        return json.dumps({"error": {"code": 4200, "message": f"unsupported method {method}"}})


def sign_in(page: Any, web: SimpleNamespace, wallet: Wallet, account: Any) -> None:
    """Connect the injected wallet as ``account`` on the sign-in page."""
    wallet.account = account
    page.goto(web.url + "/app/")
    page.click("#connect")
    page.wait_for_function("a => ((document.querySelector('#signed-in, #unregistered') || {}).textContent || '')"
                           ".includes(a)", arg=account.address)


def sign_and_wait(page: Any, form_selector: str, *, button: str = "Sign and send") -> str:
    """Submit a signing form, check the description, confirm, wait for the recorded flash."""
    page.locator(form_selector).locator("button[type=submit]").click()
    dialog = page.locator("#confirm")
    try:
        dialog.wait_for(state="visible", timeout=15_000)
    except Exception as exc:
        raise AssertionError(f"no description shown: {page.locator(form_selector).locator('.outcome').inner_text()}") from exc
    described = dialog.inner_text()
    page.click("#confirm-sign")
    page.wait_for_function("() => document.querySelector('#flash').textContent.startsWith('Recorded')",
                           timeout=60_000)
    return described


def shot(page: Any, name: str, selector: str | None = None) -> None:
    """A screenshot of the whole page (or of one element, e.g. the open signing dialog)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    if selector:
        page.locator(selector).screenshot(path=str(SHOTS / f"{name}.png"))
    else:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def outcome_of(page: Any, form_selector: str) -> str:
    return page.locator(form_selector).locator(".outcome").inner_text()
