"""Runtime settings, read from the environment (prefix ``COC_``) and an optional ``.env`` file.

Why pydantic-settings: every knob that differs between the embedded dev chain (Anvil) and a
production permissioned chain (e.g. Besu/QBFT) is configuration, not a code path — PoA extraData
middleware, zero gas price, confirmations, external RPC URL.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Repository root (the directory holding pyproject.toml); node_api/core/config.py -> ../../
REPO_ROOT: Path = Path(__file__).resolve().parents[2]

#: Anvil's first dev account (mnemonic "test test ... junk", index 0). Public knowledge:
#: only ever a default for local development chains.
ANVIL_DEFAULT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class Settings(BaseSettings):
    """Node settings. Every field can be set as ``COC_<FIELD_NAME>`` (case-insensitive)."""

    model_config = SettingsConfigDict(
        env_prefix="COC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    #: Where Anvil state, deployment records and node databases live.
    data_dir: Path = Field(default=REPO_ROOT / "data")
    #: External JSON-RPC endpoint. None = start an embedded Anvil.
    rpc_url: str | None = None
    anvil_host: str = "127.0.0.1"
    anvil_port: int = 8545
    chain_id: int = 31337
    #: Seconds per block for Anvil; None = automine (one block per transaction).
    anvil_block_time: float | None = None
    #: How often Anvil dumps its state file, in seconds (it also dumps on clean exit).
    anvil_state_interval: int = 5
    #: Hex private key of the deploying/admin account.
    deployer_key: str = ANVIL_DEFAULT_KEY
    #: Inject web3's ExtraDataToPOAMiddleware (needed for clique/QBFT chains with long extraData).
    poa_extra_data: bool = False
    #: Send transactions with gas price 0 (permissioned chains configured with free gas).
    zero_gas_price: bool = False
    #: Blocks to wait on top of a receipt's block before treating it as final (0 = immediate finality).
    confirmations: int = 0

    @property
    def embedded_rpc_url(self) -> str:
        """URL of the embedded Anvil this configuration would start."""
        return f"http://{self.anvil_host}:{self.anvil_port}"

    @property
    def effective_rpc_url(self) -> str:
        """The configured external RPC URL, or the embedded Anvil's URL."""
        return self.rpc_url or self.embedded_rpc_url

    @property
    def deployments_dir(self) -> Path:
        return self.data_dir / "deployments"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached: read env/.env once). Tests build ``Settings(...)`` directly."""
    return Settings()
