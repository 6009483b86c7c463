"""Node-held keys for back-office / ERP integration: encrypted eth-account keystores.

A participant may keep a wallet on its own node (``<data_dir>/keystores/<address>.json``, the
standard Web3 Secret Storage format). Its password never sits on disk: it comes from the
environment, ``COC_KEYSTORE_PASSWORD_<ADDRESS>`` (upper-case hex, no 0x) or else the node-wide
``COC_KEYSTORE_PASSWORD``. API keys bound to the wallet (db.api_keys) authorise the node to sign
for it; the decrypted key is cached in memory only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from .core.config import Settings


class KeystoreError(Exception):
    pass


class Keystores:
    def __init__(self, directory: Path, default_password: str | None):
        self.dir = Path(directory)
        self.default_password = default_password
        self._cache: dict[str, LocalAccount] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> "Keystores":
        """``<data_dir>/keystores``, with the node-wide password of the settings (COC_KEYSTORE_PASSWORD)."""
        return cls(settings.keystores_dir, settings.keystore_password)

    def path(self, address: str) -> Path:
        return self.dir / f"{to_checksum_address(address)}.json"

    def password_for(self, address: str) -> str | None:
        return os.environ.get(f"COC_KEYSTORE_PASSWORD_{to_checksum_address(address)[2:].upper()}") or self.default_password

    def create(self, password: str | None = None) -> str:
        pw = password or self.default_password
        if not pw:
            raise KeystoreError("no keystore password configured (COC_KEYSTORE_PASSWORD)")
        acct = Account.create()
        self.save(acct, pw)
        return acct.address

    def save(self, acct: LocalAccount, password: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        p = self.path(acct.address)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(Account.encrypt(acct.key, password, kdf="scrypt", iterations=2**14)))
        os.chmod(tmp, 0o600)
        tmp.replace(p)
        self._cache[acct.address] = acct
        return p

    def has(self, address: str) -> bool:
        return self.path(address).exists()

    def account(self, address: str) -> LocalAccount:
        address = to_checksum_address(address)
        if address in self._cache:
            return self._cache[address]
        p = self.path(address)
        if not p.exists():
            raise KeystoreError(f"the node holds no keystore for {address}")
        pw = self.password_for(address)
        if not pw:
            raise KeystoreError(f"no password in the environment for the keystore of {address}")
        try:
            key = Account.decrypt(json.loads(p.read_text()), pw)
        except ValueError as exc:
            raise KeystoreError(f"cannot decrypt the keystore of {address}: {exc}") from None
        acct = Account.from_key(key)
        self._cache[address] = acct
        return acct

    def addresses(self) -> list[str]:
        if not self.dir.exists():
            return []
        return sorted(p.stem for p in self.dir.glob("0x*.json"))
