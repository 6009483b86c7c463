"""Route factories shared by the resource routers (no ``from __future__ import annotations`` here:
FastAPI must see the request models built at runtime)."""

from typing import Any, Optional

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, create_model

from ...actions.base import Address, ForwardAction
from ..answers import run_idempotent
from ..deps import ForwardingDep, IdempotencyDep, IdempotencyKey, SignerDep, Wait
from ..schemas.transactions import Prepared, TxAnswer

#: 200 with the outcome when mined within the wait time, 202 with the transaction hash otherwise
TX_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": TxAnswer, "description": "Accepted: relayed, not mined yet (poll GET /transactions/{txHash})"},
}


class ForwardSubmit(BaseModel):
    """A signed ERC-2771 ForwardRequest: the full typed data (as signed) or just its message."""

    model_config = ConfigDict(extra="forbid")
    typedData: Optional[dict[str, Any]] = Field(None, description="the typed data exactly as signed")
    message: Optional[dict[str, Any]] = Field(None, description="or only the ForwardRequest message")
    signature: str = Field(description="0x-hex 65-byte signature")


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

    async def prepare(body: prepare_model, forwarding: ForwardingDep):  # type: ignore[valid-type]
        return await forwarding.prepare(action, body.signer, body, nonce=body.nonce, deadline=body.deadline)

    async def submit(body: ForwardSubmit, forwarding: ForwardingDep, idempotency: IdempotencyDep,
                     idempotency_key: IdempotencyKey = None, wait: Wait = True):
        async def caller() -> str:
            return "signer:" + forwarding.signer_of(body.typedData, body.message, body.signature)

        return await run_idempotent(
            idempotency, idempotency_key, {"action": action.name, **body.model_dump()},
            lambda op: forwarding.submit(action, body.typedData, body.message, body.signature, op_key=op, wait=wait),
            endpoint=f"{action.name}.submit", caller=caller,
        )

    async def node_signed(body: node_model, forwarding: ForwardingDep, signer: SignerDep,  # type: ignore[valid-type]
                          wait: Wait = True):
        return await signer.act(
            action.name, body.model_dump(exclude=exclude),
            prepare=lambda: forwarding.prepare(action, signer.address, body, deadline=body.deadline),
            submit=lambda typed, sig, op: forwarding.submit(action, typed, None, sig, op_key=op, wait=wait),
        )

    tag = action.resource
    router.add_api_route(
        f"/{action.path}/prepare", prepare, methods=["POST"], name=f"{action.name}.prepare", tags=[tag],
        response_model=Prepared, response_model_exclude_unset=True,
        summary=f"{action.summary}: prepare (signed by the {action.who})",
        description=f"Returns the ERC-2771 ForwardRequest typed data for `{action.contract}.{action.function}`, "
        "checked against the chain first (a refusal comes back now, without a signature).",
    )
    router.add_api_route(
        f"/{action.path}/submit", submit, methods=["POST"], name=f"{action.name}.submit", tags=[tag],
        response_model=TxAnswer, responses=TX_RESPONSES,
        summary=f"{action.summary}: submit the signed request",
        description="Checks the signature and simulates the relayed call; relays it. 200 with the outcome when mined "
        "within the wait time, 202 with the transaction hash otherwise (`?wait=false` returns at once).",
    )
    router.add_api_route(
        f"/{action.path}", node_signed, methods=["POST"], name=f"{action.name}.node-signed", tags=[tag],
        response_model=TxAnswer, responses=TX_RESPONSES,
        summary=f"{action.summary}: signed by a key held by this node (X-API-Key or X-Admin-Key)",
    )
