"""Safe defaults: the node refuses Anvil's published development keys on any chain but its own
embedded development chain (issue 9, finding 4).

Anvil's keys come from the public mnemonic "test test ... junk"; anyone holding them could register
wallets with every role on a consortium the node deployed with them, or spend its relayer's gas.
They are the settings' defaults so that ``make demo`` runs with nothing configured; the node
accepts them only

- on the embedded Anvil (``COC_RPC_URL`` unset), or
- on an external chain with chain id 31337 (a throwaway Anvil) when ``COC_ALLOW_DEV_KEYS=true``.

Checked: the deployer/admin key (``COC_DEPLOYER_KEY``), the admin wallet key
(``COC_ADMIN_WALLET_KEY``) and the relayer key (``COC_RELAYER_KEY`` or its keystore).
"""

from __future__ import annotations

from functools import lru_cache

from eth_account import Account

from ..core.anvil import ANVIL_MNEMONIC
from ..core.config import Settings

#: Anvil's development chain id
DEV_CHAIN_ID = 31337


class DevKeyRefused(RuntimeError):
    """A published development key configured for a chain that is not the development chain."""


@lru_cache(maxsize=1)
def dev_addresses() -> frozenset[str]:
    """Addresses of the first 20 keys of Anvil's published mnemonic (lower case)."""
    Account.enable_unaudited_hdwallet_features()
    return frozenset(
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").address.lower() for i in range(20)
    )


def is_dev_key(private_key: str | bytes) -> bool:
    return Account.from_key(private_key).address.lower() in dev_addresses()


def dev_keys_allowed(settings: Settings, chain_id: int) -> bool:
    if settings.rpc_url is None:
        return True  # the embedded development chain
    return chain_id == DEV_CHAIN_ID and settings.allow_dev_keys


def check_keys(settings: Settings, chain_id: int, relayer_key: str) -> None:
    """Raises ``DevKeyRefused`` naming each setting that holds a published key, unless allowed."""
    if dev_keys_allowed(settings, chain_id):
        return
    keys = {"COC_DEPLOYER_KEY": settings.deployer_key,
            "COC_ADMIN_WALLET_KEY": settings.admin_wallet_key,
            "COC_RELAYER_KEY" if not settings.relayer_keystore else "COC_RELAYER_KEYSTORE": relayer_key}
    public = [name for name, key in keys.items() if key and is_dev_key(key)]
    if not public:
        return
    where = settings.rpc_url
    hint = (" (a throwaway Anvil with chain id 31337 may allow them with COC_ALLOW_DEV_KEYS=true)"
            if chain_id == DEV_CHAIN_ID else "")
    raise DevKeyRefused(
        f"refusing to start: {', '.join(public)} {'is' if len(public) == 1 else 'are'} one of Anvil's published "
        f"development keys, which anyone can use, and the chain at {where} (chain id {chain_id}) is not the "
        f"embedded development chain. Provide your own key{'s' if len(public) > 1 else ''}: "
        f"set {', '.join(public)} (or COC_RELAYER_KEYSTORE for the relayer){hint}."
    )
