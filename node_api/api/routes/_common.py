"""Route factories shared by the resource routers (no ``from __future__ import annotations`` here:
FastAPI must see the request models built at runtime)."""

from typing import Any, Optional

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from ... import signing
from ...actions.base import Address, ForwardAction
from ..deps import IdempotencyKey, NodeDep, SignerDep


class ForwardSubmit(BaseModel):
    """A signed ERC-2771 ForwardRequest: the full typed data (as signed) or just its message."""

    model_config = ConfigDict(extra="forbid")
    typedData: Optional[dict[str, Any]] = Field(None, description="the typed data exactly as signed")
    message: Optional[dict[str, Any]] = Field(None, description="or only the ForwardRequest message")
    signature: str = Field(description="0x-hex 65-byte signature")


def respond(body: dict[str, Any], status: int | None = None) -> JSONResponse:
    if status is None:
        status = 200 if body.get("status") == "mined" else 202
    return JSONResponse(body, status_code=status)


async def run_idempotent(node, key, request: Any, run) -> JSONResponse:
    async def go(op_key):
        body = await run(op_key)
        return (200 if body.get("status") == "mined" else 202), body

    status, body = await node.idempotent(key, request, go)
    return JSONResponse(body, status_code=status)


def add_forward_routes(router: APIRouter, action: ForwardAction) -> None:
    params_model = action.params
    prepare_model = create_model(
        f"{params_model.__name__}Prepare",
        __base__=params_model,
        signer=(Address, Field(description="the wallet that will sign")),
        nonce=(Optional[int], Field(None, description="forwarder nonce; default: the signer's next")),
        deadline=(Optional[int], Field(None, description="unix time; default: now + the node's signature TTL")),
    )
    node_model = create_model(
        f"{params_model.__name__}NodeSigned",
        __base__=params_model,
        deadline=(Optional[int], Field(None, description="unix time; default: now + the node's signature TTL")),
    )
    exclude = {"signer", "nonce", "deadline"}

    async def prepare(body: prepare_model, node: NodeDep):  # type: ignore[valid-type]
        return await node.prepare_forward(action, body.signer, body, nonce=body.nonce, deadline=body.deadline)

    async def submit(body: ForwardSubmit, node: NodeDep, idempotency_key: IdempotencyKey = None, wait: bool = True):
        return await run_idempotent(
            node, idempotency_key, {"action": action.name, **body.model_dump()},
            lambda op: node.submit_forward(action, body.typedData, body.message, body.signature, op_key=op, wait=wait),
        )

    async def node_signed(body: node_model, node: NodeDep, account: SignerDep,  # type: ignore[valid-type]
                          idempotency_key: IdempotencyKey = None, wait: bool = True):
        async def run(op):
            prep = await node.prepare_forward(action, account.address, body, deadline=body.deadline)
            sig = signing.sign_typed(account.key, prep["typedData"])
            return await node.submit_forward(action, prep["typedData"], None, "0x" + sig.hex(), op_key=op, wait=wait)

        return await run_idempotent(node, idempotency_key,
                                    {"action": action.name, "by": account.address, **body.model_dump(exclude=exclude)}, run)

    tag = action.resource
    router.add_api_route(
        f"/{action.path}/prepare", prepare, methods=["POST"], name=f"{action.name}.prepare", tags=[tag],
        summary=f"{action.summary}: prepare (signed by the {action.who})",
        description=f"Returns the ERC-2771 ForwardRequest typed data for `{action.contract}.{action.function}`, "
        "checked against the chain first (a refusal comes back now, without a signature).",
    )
    router.add_api_route(
        f"/{action.path}/submit", submit, methods=["POST"], name=f"{action.name}.submit", tags=[tag],
        summary=f"{action.summary}: submit the signed request",
        description="Checks the signature and simulates the relayed call; relays it. 200 with the outcome when mined "
        "within the wait time, 202 with the transaction hash otherwise (`?wait=false` returns at once).",
    )
    router.add_api_route(
        f"/{action.path}", node_signed, methods=["POST"], name=f"{action.name}.node-signed", tags=[tag],
        summary=f"{action.summary}: signed by a key held by this node (X-API-Key or X-Admin-Key)",
    )
