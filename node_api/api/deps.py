"""Request dependencies, chained: the node and its services, the settings, the provenance index, the
idempotency key, and who is calling (API key / admin key) with the wallet the node signs for.

Routes declare what they use (``ForwardingDep``, ``ReadsDep``, ``CurrentWallet``...), never the node's
internals.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from eth_account.signers.local import LocalAccount
from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from ..core.config import Settings
from ..errors import ApiError
from ..index.service import IndexService
from ..node import Node
from ..services.accounts import Accounts
from ..services.contracts import Contracts
from ..services.custody import Custody
from ..services.forwarding import Forwarding
from ..services.held_keys import Prepare, SubmitAs, sign_and_submit
from ..services.idempotency import Idempotency
from ..services.outcomes import Outcomes
from ..services.reads import Reads
from .answers import run_idempotent


# ---------------------------------------------------------------- the node, its settings, its services
def get_node(request: Request) -> Node:
    return request.app.state.node


NodeDep = Annotated[Node, Depends(get_node)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_contracts(node: NodeDep) -> Contracts:
    return node.contracts


def get_reads(node: NodeDep) -> Reads:
    return node.reads


def get_forwarding(node: NodeDep) -> Forwarding:
    return node.forwarding


def get_custody(node: NodeDep) -> Custody:
    return node.custody


def get_outcomes(node: NodeDep) -> Outcomes:
    return node.outcomes


def get_idempotency(node: NodeDep) -> Idempotency:
    return node.idempotency


def get_accounts(node: NodeDep) -> Accounts:
    return node.accounts


ContractsDep = Annotated[Contracts, Depends(get_contracts)]
ReadsDep = Annotated[Reads, Depends(get_reads)]
ForwardingDep = Annotated[Forwarding, Depends(get_forwarding)]
CustodyDep = Annotated[Custody, Depends(get_custody)]
OutcomesDep = Annotated[Outcomes, Depends(get_outcomes)]
IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def get_index(request: Request) -> IndexService:
    """The provenance index (503 where it is not running, e.g. it could not start)."""
    index = getattr(request.app.state, "index", None)
    if index is None:
        raise ApiError(503, "IndexUnavailable", "the provenance index is not running on this node")
    return index


IndexDep = Annotated[IndexService, Depends(get_index)]

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retrying with the same key never executes the request twice"),
]
Wait = Annotated[bool, Query(description="wait for the receipt (up to the node's wait time) before answering; "
                                       "false: answer 202 with the transaction hash at once")]
ApiKeyHeader = Annotated[str | None, Header(alias="X-API-Key")]
AdminKeyHeader = Annotated[str | None, Header(alias="X-Admin-Key")]


# ---------------------------------------------------------------- who is calling
def _is_admin(settings: Settings, key: str | None) -> bool:
    expected = settings.admin_api_key
    return bool(expected and key and hmac.compare_digest(expected.encode(), key.encode()))


def require_admin(settings: SettingsDep, x_admin_key: AdminKeyHeader = None) -> None:
    if not settings.admin_api_key:
        raise ApiError(403, "AdminDisabled", "administrative endpoints are disabled (no COC_ADMIN_API_KEY set)")
    if not _is_admin(settings, x_admin_key):
        raise ApiError(401, "Unauthorized", "a valid X-Admin-Key header is required")


AdminDep = Annotated[None, Depends(require_admin)]


def current_wallet(settings: SettingsDep, accounts: AccountsDep, x_api_key: ApiKeyHeader = None,
                   x_admin_key: AdminKeyHeader = None) -> LocalAccount:
    """The account the node signs with for a "sign for me" call: the wallet an API key is bound
    to (its keystore must be on this node), or the consortium admin wallet for the admin key."""
    if x_admin_key is not None:
        if not _is_admin(settings, x_admin_key):
            raise ApiError(401, "Unauthorized", "invalid X-Admin-Key")
        return accounts.admin()
    if x_api_key is None:
        raise ApiError(401, "Unauthorized", "node signing needs an X-API-Key bound to a wallet held by this node")
    address = accounts.api_key_address(x_api_key)
    if address is None:
        raise ApiError(401, "Unauthorized", "unknown API key")
    return accounts.held(address)


CurrentWallet = Annotated[LocalAccount, Depends(current_wallet)]


def _may_read(settings: Settings, accounts: Accounts | None, x_api_key: str | None, x_admin_key: str | None) -> None:
    if not settings.read_requires_key:
        return
    if _is_admin(settings, x_admin_key) or (x_api_key and accounts is not None and accounts.api_key_address(x_api_key)):
        return
    raise ApiError(401, "Unauthorized", "reading is restricted on this node: send X-API-Key")


def read_access(settings: SettingsDep, accounts: AccountsDep, x_api_key: ApiKeyHeader = None,
                x_admin_key: AdminKeyHeader = None) -> None:
    _may_read(settings, accounts, x_api_key, x_admin_key)


ReadDep = Annotated[None, Depends(read_access)]


def read_access_if_node(request: Request, x_api_key: ApiKeyHeader = None, x_admin_key: AdminKeyHeader = None) -> None:
    """``read_access`` for a router that may also be mounted without a node (the provenance router
    in an index-only app): without a node there is no read restriction to apply."""
    node: Node | None = getattr(request.app.state, "node", None)
    if node is not None:
        _may_read(node.settings, node.accounts, x_api_key, x_admin_key)


# ---------------------------------------------------------------- signing with a node-held key
@dataclass
class NodeSigner:
    """Prepare -> sign with the caller's node-held wallet -> submit, once per Idempotency-Key."""

    wallet: LocalAccount
    idempotency: Idempotency
    key: str | None
    #: whose Idempotency-Keys these are: ``admin`` (X-Admin-Key) or ``wallet:0x..`` (the API key's wallet)
    caller: str

    @property
    def address(self) -> str:
        return self.wallet.address

    async def act(self, action: str, params: dict[str, Any], prepare: Prepare, submit: SubmitAs) -> JSONResponse:
        """``submit(typed, signature, op_key)`` relays what ``prepare()`` returned, signed."""
        async def run(op_key: str | None) -> dict[str, Any]:
            return await sign_and_submit(self.wallet, prepare, lambda typed, sig: submit(typed, sig, op_key))

        async def caller() -> str:
            return self.caller

        return await run_idempotent(self.idempotency, self.key, {"action": action, "by": self.address, **params}, run,
                                    endpoint=f"{action}.node-signed", caller=caller)


def node_signer(wallet: CurrentWallet, idempotency: IdempotencyDep, idempotency_key: IdempotencyKey = None,
                x_admin_key: AdminKeyHeader = None) -> NodeSigner:
    caller = "admin" if x_admin_key is not None else f"wallet:{wallet.address}"  # current_wallet checked the key
    return NodeSigner(wallet, idempotency, idempotency_key, caller)


SignerDep = Annotated[NodeSigner, Depends(node_signer)]
