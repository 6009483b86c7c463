"""Who the node may sign for: wallets it holds (encrypted keystores) reached through API keys, and the
consortium admin wallet; plus the relayer's own key."""

from __future__ import annotations

import json
import secrets
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ..core.config import Settings
from ..db import Database
from ..errors import ApiError
from ..keys import Keystores, KeystoreError

API_KEY_PREFIX = "coc_"


def relayer_key(settings: Settings) -> str:
    """The relayer's private key: from its keystore file (password in the environment) or the setting."""
    if settings.relayer_keystore:
        if not settings.relayer_keystore_password:
            raise RuntimeError("COC_RELAYER_KEYSTORE_PASSWORD is not set")
        keystore: dict[str, Any] = json.loads(settings.relayer_keystore.read_text())
        return "0x" + Account.decrypt(keystore, settings.relayer_keystore_password).hex()
    if not settings.relayer_key:
        raise RuntimeError("no relayer key: set COC_RELAYER_KEY or COC_RELAYER_KEYSTORE")
    return settings.relayer_key


class Accounts:
    def __init__(self, db: Database, keystores: Keystores, admin_key: str):
        self.db = db
        self.keystores = keystores
        self._admin_key = admin_key

    def held(self, address: str) -> LocalAccount:
        """The wallet ``address`` held by this node (403 NoNodeKey if it holds none)."""
        try:
            return self.keystores.account(address)
        except KeystoreError as exc:
            raise ApiError(403, "NoNodeKey", str(exc), {"address": address}) from None

    def admin(self) -> LocalAccount:
        """The consortium admin wallet the node signs with for the admin key."""
        return Account.from_key(self._admin_key)

    def create_api_key(self, address: str, label: str | None) -> str:
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        self.db.add_api_key(key, to_checksum_address(address), label)
        return key

    def api_key_address(self, key: str) -> str | None:
        return self.db.api_key_address(key)
