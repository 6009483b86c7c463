"""Runtime settings, read from the environment (prefix ``COC_``) and an optional ``.env`` file.

Why pydantic-settings: every knob that differs between the embedded dev chain (Anvil) and a
production permissioned chain (e.g. Besu/QBFT) is configuration, not a code path — PoA extraData
middleware, zero gas price, confirmations, external RPC URL.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Repository root (the directory holding pyproject.toml); node_api/core/config.py -> ../../
REPO_ROOT: Path = Path(__file__).resolve().parents[2]

#: Anvil's first dev account (mnemonic "test test ... junk", index 0). Public knowledge:
#: only ever a default for local development chains.
ANVIL_DEFAULT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#: Anvil's dev account #9: the default relayer on a local chain (pays gas, is never trusted).
ANVIL_RELAYER_KEY = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"

#: Settings profiles for a kind of chain (``COC_PROFILE``): each fills the settings not set
#: explicitly (an explicit setting always wins). What differs between chains is configuration here,
#: not a code path. Tested on a 4-validator Clique network (tests/consortium); "qbft" is the
#: production target (Besu, immediate finality), documented, not testable on these machines.
PROFILES: dict[str, dict[str, Any]] = {
    # go-ethereum 1.13 Clique proof of authority (the consortium network of testkit/consortium.py)
    "clique": {
        "poa_extra_data": True,       # Clique blocks carry 97+ bytes of extraData (vanity, signers, seal)
        "evm_version": "paris",       # Clique refuses Shanghai and Cancun: the paris build of the contracts
        "zero_gas_price": False,      # London fee market (base fee + tip); validators accept a tip >= 1 wei
        "max_fee_per_gas_gwei": 100.0,
        "confirmations": 0,           # acknowledged at inclusion; an orphaned block's actions are sent again
        "index_confirmations": 2,     # the index serves only blocks 2 below the head (Clique can reorg there)
        "rebroadcast_after": 4.0,     # two block periods: a transaction lost with a dead endpoint is resent
    },
    # Hyperledger Besu QBFT (immediate finality, free gas): the production consortium
    "qbft": {
        "poa_extra_data": True,       # QBFT extraData is RLP (vanity, validators, votes, round, seals)
        "evm_version": "cancun",
        "zero_gas_price": True,       # genesis zeroBaseFee + --min-gas-price=0
        "confirmations": 0,
        "index_confirmations": 0,     # a QBFT block is final once sealed
        "rebroadcast_after": 4.0,
    },
}


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
    #: More JSON-RPC endpoints of the same chain (a member's other validators), used in order when
    #: the one in use fails (core/rpc.py). Env ``COC_RPC_URLS``: comma-separated or a JSON list.
    rpc_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: A profile of settings for a kind of chain ("clique", "qbft"; see PROFILES); None = none.
    profile: Literal["clique", "qbft"] | None = None
    anvil_host: str = "127.0.0.1"
    anvil_port: int = 8545
    chain_id: int = 31337
    #: Seconds per block for Anvil; None = automine (one block per transaction).
    anvil_block_time: float | None = None
    #: How often the node dumps the embedded Anvil's state, in seconds (also on a clean stop): each
    #: dump is checked self-consistent and written atomically as a new generation (core/anvil_state.py).
    anvil_state_interval: int = 5
    #: Hex private key of the deploying/admin account.
    deployer_key: str = ANVIL_DEFAULT_KEY
    #: Inject web3's ExtraDataToPOAMiddleware (needed for clique/QBFT chains with long extraData).
    poa_extra_data: bool = False
    #: Send transactions with gas price 0 (permissioned chains configured with free gas).
    zero_gas_price: bool = False
    #: Blocks to wait on top of a receipt's block before treating it as final (0 = immediate finality).
    confirmations: int = 0
    #: Start although the chain is not the instance the data folder belongs to (its genesis or
    #: deployment block differs: a reset chain): every transaction of the old instance is marked
    #: ``lost`` and the contracts are deployed again. Env ``COC_ACCEPT_NEW_CHAIN=1``.
    accept_new_chain: bool = False
    #: Seconds between the chain guard's checks of the head (regression, identity).
    chain_guard_interval: float = 0.5
    #: Development chain only: a relayed transaction unmined this many seconds while Anvil's pool holds
    #: ready transactions gets one ``evm_mine`` (Anvil 1.7's automine can leave a burst in its pool with
    #: no block coming). None: 2 s when the node runs the embedded Anvil without a block time, else off;
    #: 0: off. Never on a chain that is not Anvil or that mines on a timer (checked on the chain).
    dev_mine_stuck_seconds: float | None = Field(default=None, ge=0)

    # ------------------------------------------------------------------ the node's API (issue 3)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    #: SQLAlchemy URL of the node database (transactions, idempotency keys, API keys).
    #: None = SQLite file ``<data_dir>/node.db``.
    database_url: str | None = None
    #: Relayer key source: a hex private key, or a keystore file (``relayer_keystore``) whose
    #: password is in ``relayer_keystore_password`` (env ``COC_RELAYER_KEYSTORE_PASSWORD``).
    relayer_key: str | None = ANVIL_RELAYER_KEY
    relayer_keystore: Path | None = None
    relayer_keystore_password: str | None = None
    #: Secret for administrative endpoints (header ``X-Admin-Key``); None disables them.
    admin_api_key: str | None = None
    #: Key of the consortium admin wallet the node signs with for admin "sign for me" calls
    #: (None: the deployer key).
    admin_wallet_key: str | None = None
    #: Password for node-held participant keystores in ``<data_dir>/keystores``
    #: (``COC_KEYSTORE_PASSWORD``); a per-wallet ``COC_KEYSTORE_PASSWORD_<ADDRESS>`` wins.
    keystore_password: str | None = None
    #: Reads need an API key (any participant's or the admin key) when true; open when false.
    read_requires_key: bool = False
    #: Default validity of prepared signatures (EIP-712 deadlines), seconds.
    signature_ttl: int = 3600
    #: Extra gas above the estimate for a forwarded request (ppm of the estimate, plus a constant).
    forward_gas_margin_ppm: int = 300_000
    forward_gas_extra: int = 30_000
    #: Gas limit of a relayed custody call (the ledger's own signed messages).
    custody_gas: int = 600_000
    #: How long a request whose signed nonce is ahead of the chain waits for its predecessors.
    nonce_wait_seconds: float = 15.0
    #: How long a single submit waits for its receipt before answering 202 (pending).
    wait_timeout: float = 30.0
    #: Receipt polling interval of the relayer, seconds.
    poll_interval: float = 0.02
    #: Most transactions in one JSON-RPC array (eth_sendRawTransaction / eth_call).
    rpc_batch_size: int = 200
    #: Resend a transaction unknown to the chain after this many seconds.
    rebroadcast_after: float = 10.0
    #: Which build of the contracts the node deploys and decodes with: a target (EVM version) of
    #: ``node_api/artifacts/manifest.json``; None = the manifest's default ("cancun").
    evm_version: str | None = None

    # ------------------------------------------------------------------ fees, health, key policy (issue 9)
    #: Most the relayer pays per gas, in gwei (maxFeePerGas of type-2 transactions, or the legacy
    #: gas price). The price follows the chain's fee market (base fee + suggested tip) below it.
    max_fee_per_gas_gwei: float = Field(default=500.0, gt=0)
    #: Seconds between reads of the chain's fee market by the relayer.
    fee_refresh_seconds: float = Field(default=2.0, ge=0)
    #: Allow Anvil's published development keys on an external chain with chain id 31337 (tests
    #: against a throwaway Anvil). They are always allowed on the embedded chain (no ``rpc_url``)
    #: and never on any other chain id.
    allow_dev_keys: bool = False
    #: /health: the relayer's balance is low below this floor (gwei; ignored on free-gas chains).
    health_min_relayer_balance_gwei: float = Field(default=10_000_000.0, ge=0)  # 0.01 ETH
    #: /health: the relayer's balance is low below its last hour's spend x this factor.
    health_balance_hours: float = Field(default=24.0, ge=0)
    #: /health: a transaction is stuck when unmined this many seconds after it was sent.
    health_stuck_seconds: float = Field(default=60.0, gt=0)
    #: /health: the chain is behind when its head has not advanced for this many seconds while
    #: transactions are pending, or (with a block time) its head is older than this many block periods.
    health_stall_seconds: float = Field(default=30.0, gt=0)
    health_block_periods: float = Field(default=10.0, gt=0)
    #: /health: the index is behind when more than this many blocks below the safe head.
    health_index_lag_blocks: int = Field(default=50, ge=0)
    #: /health: seconds to wait for the chain before calling it unreachable.
    health_rpc_timeout: float = Field(default=2.0, gt=0)
    #: The relayer pays gas only for wallets of active registered participants (checked against the
    #: registry at the chain's head before relaying; 403 RelayMembersOnly otherwise).
    relay_members_only: bool = True
    #: Per-signer token bucket of relayed actions (each /bulk item counts): average per second and
    #: burst size; over it: 429 RelayRateLimited with Retry-After.
    relay_rate_per_signer: float = Field(default=50.0, gt=0)
    relay_burst_per_signer: int = Field(default=2000, ge=1)
    #: Signed actions per RelayBatch transaction (contracts/batching/RelayBatch.sol): actions queued
    #: together go out as one transaction, each item on its own; a signer's queue is checked in
    #: order against the state its accepted predecessors leave, not held until they are mined.
    #: 0 = off (every action alone, each waiting for its predecessor to be mined).
    relay_batch_items: int = Field(default=100, ge=0)
    #: Most gas of one RelayBatch transaction (keep well below the chain's block gas limit).
    relay_batch_gas: int = Field(default=12_000_000, ge=100_000)
    #: Gas of one eth_call checking a signer's queue (its accepted, unmined actions and the new
    #: ones, in order): at most the chain's eth_call gas cap (Anvil: its block gas limit; geth:
    #: --rpc.gascap, 50M by default). A signer with more in flight waits for blocks.
    relay_check_gas: int = Field(default=30_000_000, ge=1_000_000)
    #: Most actions queued in the relayer or sent and not mined; beyond: 429 NodeBusy + Retry-After.
    relay_queue_max: int = Field(default=50_000, ge=1)
    #: Most signed actions waiting for their predecessors to be checked; beyond: 429 NodeBusy.
    relay_waiting_max: int = Field(default=20_000, ge=1)
    #: Largest request body, bytes (413 BodyTooLarge; checked on Content-Length and while streaming).
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    # ------------------------------------------------------------------ the provenance index
    #: SQLAlchemy URL of the index. None = ``database_url`` (the index's tables are prefixed
    #: ``idx_``, so they can share the node's PostgreSQL database), else ``<data_dir>/index.db``.
    index_database_url: str | None = None
    #: Blocks the index stays behind the head. None = ``confirmations`` (0 on instant finality).
    index_confirmations: int | None = Field(default=None, ge=0)
    #: Most blocks per eth_getLogs; halved automatically while the chain answers "too large".
    index_max_range: int = Field(default=2000, ge=1)
    #: Seconds between polls of the chain head.
    index_poll_interval: float = Field(default=1.0, gt=0)
    #: Link template of a transaction on the explorer page, e.g. ``https://explorer.example/tx/{tx}``.
    #: None = this node's own ``/provenance/tx/{tx}``.
    explorer_tx_url: str | None = None
    #: Public base URL of GS1 Digital Link URIs and of the links in QR codes and linksets, e.g.
    #: ``https://id.example.com`` (issue 14). None = the URL each request came to.
    digital_link_base_url: str | None = None

    # ------------------------------------------------------------------ EUDR (issue 14)
    #: SOAP endpoint of the EU information system for due-diligence statements (TRACES), e.g. the
    #: acceptance environment's EUDRSubmissionServiceV1 URL. None = statements are built and checked
    #: but not submitted (503 TracesNotConfigured).
    traces_url: str | None = None
    #: TRACES user name and web-service authentication key (WS-Security UsernameToken, PasswordDigest).
    traces_username: str = ""
    traces_auth_key: str = ""
    #: The WebServiceClientId header TRACES asks for ("eudr-test" on its acceptance environment).
    traces_client_id: str = "eudr-test"
    #: Seconds to wait for TRACES before answering 502 TracesUnavailable.
    traces_timeout: float = Field(default=10.0, gt=0)

    @field_validator("rpc_urls", mode="before")
    @classmethod
    def _split_urls(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            if v.startswith("["):
                return json.loads(v)
            return [u.strip() for u in v.split(",") if u.strip()]
        return v

    @model_validator(mode="after")
    def _apply_profile(self) -> "Settings":
        for name, value in PROFILES.get(self.profile or "", {}).items():
            if name not in self.model_fields_set:
                setattr(self, name, value)
        return self

    @property
    def effective_rpc_urls(self) -> list[str]:
        """Every endpoint the node may use, the preferred first (``rpc_url``, then ``rpc_urls``)."""
        return list(dict.fromkeys([self.effective_rpc_url, *self.rpc_urls]))

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

    @property
    def keystores_dir(self) -> Path:
        return self.data_dir / "keystores"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'node.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached: read env/.env once). Tests build ``Settings(...)`` directly."""
    return Settings()
