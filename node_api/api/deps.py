"""Request dependencies: the node, the idempotency key, and who is calling (API key / admin key)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from ..errors import ApiError
from ..service import Node


def get_node(request: Request) -> Node:
    return request.app.state.node


NodeDep = Annotated[Node, Depends(get_node)]

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retrying with the same key never executes the request twice"),
]


def _is_admin(node: Node, key: str | None) -> bool:
    expected = node.settings.admin_api_key
    return bool(expected and key and hmac.compare_digest(expected.encode(), key.encode()))


def require_admin(
    node: NodeDep, x_admin_key: Annotated[str | None, Header(alias="X-Admin-Key")] = None
) -> None:
    if not node.settings.admin_api_key:
        raise ApiError(403, "AdminDisabled", "administrative endpoints are disabled (no COC_ADMIN_API_KEY set)")
    if not _is_admin(node, x_admin_key):
        raise ApiError(401, "Unauthorized", "a valid X-Admin-Key header is required")


AdminDep = Annotated[None, Depends(require_admin)]


def signing_caller(
    node: NodeDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    x_admin_key: Annotated[str | None, Header(alias="X-Admin-Key")] = None,
):
    """The account the node signs with for a "sign for me" call: the wallet an API key is bound
    to (its keystore must be on this node), or the consortium admin wallet for the admin key."""
    if x_admin_key is not None:
        if not _is_admin(node, x_admin_key):
            raise ApiError(401, "Unauthorized", "invalid X-Admin-Key")
        return node.admin_account()
    if x_api_key is None:
        raise ApiError(401, "Unauthorized", "node signing needs an X-API-Key bound to a wallet held by this node")
    address = node.api_key_address(x_api_key)
    if address is None:
        raise ApiError(401, "Unauthorized", "unknown API key")
    return node.node_account(address)


SignerDep = Annotated[object, Depends(signing_caller)]


def read_access(
    node: NodeDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    x_admin_key: Annotated[str | None, Header(alias="X-Admin-Key")] = None,
) -> None:
    if not node.settings.read_requires_key:
        return
    if _is_admin(node, x_admin_key) or (x_api_key and node.api_key_address(x_api_key)):
        return
    raise ApiError(401, "Unauthorized", "reading is restricted on this node: send X-API-Key")


ReadDep = Annotated[None, Depends(read_access)]


def read_access_if_node(
    request: Request,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    x_admin_key: Annotated[str | None, Header(alias="X-Admin-Key")] = None,
) -> None:
    """``read_access`` for a router that may also be mounted without a node (the provenance router
    in an index-only app): without a node there is no read restriction to apply."""
    node = getattr(request.app.state, "node", None)
    if node is not None:
        read_access(node, x_api_key, x_admin_key)
