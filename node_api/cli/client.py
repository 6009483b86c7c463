"""A small HTTP client of the node: prepare, sign locally, submit. Used by the ``coc`` CLI, the demo
scenario and the end-to-end tests. The private key never leaves this process: only typed data comes
in and a signature goes out."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from .. import signing


class NodeError(Exception):
    """An error answer of the node: ``status`` (HTTP), ``error`` (stable name), ``message``, ``details``."""

    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        self.error = self.body.get("error", "")
        self.message = self.body.get("message", "")
        self.details = self.body.get("details", {})
        super().__init__(f"HTTP {status} {self.error}: {self.message}")


class NodeClient:
    def __init__(self, base_url: str, *, admin_key: str | None = None, api_key: str | None = None, timeout: float = 60.0):
        headers = {}
        if admin_key:
            headers["X-Admin-Key"] = admin_key
        if api_key:
            headers["X-API-Key"] = api_key
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "NodeClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ raw
    def request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None,
                params: dict[str, Any] | None = None) -> Any:
        r = self.http.request(method, "/" + path.lstrip("/"), json=json, headers=headers, params=params)
        try:
            body = r.json()
        except ValueError:
            body = {"message": r.text}
        if r.status_code >= 400:
            raise NodeError(r.status_code, body)
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any, *, idempotency_key: str | None = None, **params: Any) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", path, json=body, headers=headers, params=params or None)

    # ------------------------------------------------------------------ prepare / sign / submit
    def prepare(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """``action`` as a path: "batches/create", "certificates/retire"..."""
        return self.post(f"{action}/prepare", body)

    def submit(self, action: str, body: dict[str, Any], *, idempotency_key: str | None = None, wait: bool = True) -> dict[str, Any]:
        params = {} if wait else {"wait": "false"}
        return self.post(f"{action}/submit", body, idempotency_key=idempotency_key, **params)

    def act(self, account: LocalAccount, action: str, *, idempotency_key: str | None = None, **params: Any) -> dict[str, Any]:
        """Prepare a forwarded action for ``account``, sign it here, submit it, wait for the outcome."""
        prep = self.prepare(action, {"signer": account.address, **params})
        sig = signing.sign_typed(account.key, prep["typedData"])
        return self.submit(action, {"typedData": prep["typedData"], "signature": "0x" + sig.hex()},
                           idempotency_key=idempotency_key or str(uuid.uuid4()))

    def propose(self, sender: LocalAccount, to: str, batch_id: int, quantity: int, certified: int = 0) -> dict[str, Any]:
        prep = self.prepare("batches/transfer", {"batchId": batch_id, "from": sender.address, "to": to,
                                                 "quantity": quantity, "certifiedQuantity": certified})
        sig = signing.sign_typed(sender.key, prep["typedData"])
        out = self.submit("batches/transfer", {"typedData": prep["typedData"], "signature": "0x" + sig.hex()})
        out.setdefault("result", {}).setdefault("transferId", prep["transferId"])
        return out

    def settle(self, kind: str, account: LocalAccount, transfer_id: str) -> dict[str, Any]:
        """accept / reject (receiver) or cancel (sender) a pending transfer by id."""
        prep = self.prepare(f"batches/{kind}", {"transferId": transfer_id})
        sig = signing.sign_typed(account.key, prep["typedData"])
        return self.submit(f"batches/{kind}", {"typedData": prep["typedData"], "signature": "0x" + sig.hex(),
                                               "transfer": prep["transfer"]})

    def transfer_with_acceptance(self, sender: LocalAccount, receiver: LocalAccount, batch_id: int, quantity: int,
                                 certified: int = 0) -> dict[str, Any]:
        prep = self.prepare("batches/transfer-with-acceptance", {
            "batchId": batch_id, "from": sender.address, "to": receiver.address, "quantity": quantity,
            "certifiedQuantity": certified})
        ssig = signing.sign_typed(sender.key, prep["typedData"])
        rsig = signing.sign_typed(receiver.key, prep["acceptance"]["typedData"])
        return self.submit("batches/transfer-with-acceptance", {
            "transfer": prep["typedData"]["message"], "senderSignature": "0x" + ssig.hex(),
            "acceptDeadline": prep["acceptance"]["typedData"]["message"]["deadline"],
            "receiverSignature": "0x" + rsig.hex()})
