import asyncio
import hashlib
from typing import Any, Optional

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...actions import FORWARD_ACTIONS
from ...actions.batches import CUSTODY_ACTIONS, SubmitSettle, SubmitTransfer, SubmitTransferWithAcceptance
from ...core.rpc import ChainUnavailable
from ...errors import ApiError, chain_unavailable
from ...node import Node
from ...services.signatures import Settle
from ..answers import scope_of
from ..params import Bytes32Hex
from ..deps import IdempotencyKey, NodeDep, OutcomesDep, ReadDep
from ..schemas.transactions import BulkAnswer, TxAnswer
from ._common import ForwardSubmit
from .bulk_progress import capacity, ndjson, relayed_items

router = APIRouter(tags=["transactions"])

MAX_BULK = 2000
SETTLEMENTS: dict[str, Settle] = {"batches.accept": "accept", "batches.reject": "reject", "batches.cancel": "cancel"}


class BulkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(description="e.g. batches.transfer-with-acceptance, batches.create, certificates.retire")
    body: dict[str, Any] = Field(description="what the action's /submit endpoint takes")


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[BulkItem] = Field(min_length=1, max_length=MAX_BULK)
    wait: bool = Field(False, description="wait until every accepted item is mined")


async def _submit(node: Node, index: int, item: BulkItem, op_key: Optional[str], wait: bool) -> dict[str, Any]:
    if item.action in FORWARD_ACTIONS:
        b = ForwardSubmit.model_validate(item.body)
        return await node.forwarding.submit(FORWARD_ACTIONS[item.action], b.typedData, b.message, b.signature,
                                            op_key=op_key, item=index, wait=wait)
    if item.action not in CUSTODY_ACTIONS:
        raise ApiError(422, "UnknownAction", f"unknown action {item.action!r}", {"field": f"items.{index}.action"})
    body = CUSTODY_ACTIONS[item.action].model_validate(item.body)
    if isinstance(body, SubmitTransfer):
        return await node.custody.submit_transfer(body, op_key=op_key, item=index, wait=wait)
    if isinstance(body, SubmitTransferWithAcceptance):
        return await node.custody.submit_transfer_with_acceptance(body, op_key=op_key, item=index, wait=wait)
    assert isinstance(body, SubmitSettle)
    kind = SETTLEMENTS[item.action]
    return await node.custody.submit_settle(kind, body, op_key=op_key, item=index, wait=wait)


async def _signer(node: Node, item: BulkItem) -> str:
    """The recovered signer of one item ("" for an item that is not a valid signed action)."""
    try:
        if item.action in FORWARD_ACTIONS:
            b = ForwardSubmit.model_validate(item.body)
            return node.forwarding.signer_of(b.typedData, b.message, b.signature)
        if item.action in CUSTODY_ACTIONS:
            body = CUSTODY_ACTIONS[item.action].model_validate(item.body)
            return await node.custody.signer_of(item.action.removeprefix("batches."), body)
    except (ApiError, ValidationError, ChainUnavailable):
        pass
    return ""


async def _callers(node: Node, items: list[BulkItem]) -> str:
    """A bulk's Idempotency-Key is scoped to the set of wallets that signed its items."""
    signers = sorted(set(await asyncio.gather(*(_signer(node, it) for it in items))))
    return "signers:" + hashlib.sha256(",".join(signers).encode()).hexdigest()


async def _one(node: Node, index: int, item: BulkItem, op_key: Optional[str], wait: bool) -> dict[str, Any]:
    try:
        out = await _submit(node, index, item, op_key, wait)
    except ValidationError as exc:
        errs = [{"field": f"items.{index}.body." + ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return {"index": index, "status": "refused", "httpStatus": 422,
                "error": {"error": "InvalidRequest", "message": "; ".join(f"{e['field']}: {e['message']}" for e in errs),
                          "details": {"errors": errs}}}
    except ApiError as exc:
        return {"index": index, "status": "refused", "httpStatus": exc.status, "error": exc.body()}
    except ChainUnavailable as exc:
        e = chain_unavailable(str(exc))
        return {"index": index, "status": "refused", "httpStatus": 503, "error": e.body()}
    return {"index": index, **out}


@router.post("/bulk", summary="Many signed actions in one request (ERP loads)", response_model=BulkAnswer,
             description="Each item is what the action's /submit endpoint takes. Items are checked and relayed "
             "concurrently (a signer's items in nonce order, without waiting for blocks; many to a transaction); "
             "the answer lists, per item, its transaction hash (and its place in it, batchIndex) or its refusal "
             "(status, error). With an Idempotency-Key a retried bulk never executes twice: after a restart, "
             "items relayed before it are answered from the node's log, the others are relayed now. "
             "stream=true answers application/x-ndjson: one line per item as soon as its outcome is known, "
             "then a summary line. 429 NodeBusy with Retry-After when the node holds too many actions.")
async def bulk(body: BulkRequest, node: NodeDep, idempotency_key: IdempotencyKey = None,
               stream: Annotated[bool, Query(description="one JSON line per item as it settles")] = False):
    capacity(node, len(body.items))
    progress: asyncio.Queue | None = asyncio.Queue() if stream else None

    async def run(op_key):
        logged = relayed_items(node, op_key)

        async def one(i: int, it: BulkItem) -> dict[str, Any]:
            out = logged[i] if i in logged else await _one(node, i, it, op_key, body.wait)
            if progress is not None:
                progress.put_nowait(out)
            return out

        results = await asyncio.gather(*(one(i, it) for i, it in enumerate(body.items)))
        refused = sum(1 for r in results if r["status"] == "refused")
        return 200, {"accepted": len(results) - refused, "refused": refused, "items": list(results)}

    scope = await scope_of(node.idempotency, idempotency_key, "bulk", lambda: _callers(node, body.items))
    # `wait` says how to answer, not what to do: a retry with another `wait` is the same request
    answer = node.idempotency.run(idempotency_key, body.model_dump(exclude={"wait"}), run, scope=scope)
    if progress is None:
        status, out = await answer
        return JSONResponse(out, status_code=status)
    return StreamingResponse(ndjson(asyncio.ensure_future(answer), progress), media_type="application/x-ndjson")


@router.get("/transactions/{tx_hash}", response_model=TxAnswer, response_model_exclude_unset=True,
            summary="Status of a relayed transaction: pending, mined, reverted (with reason)")
async def transaction(tx_hash: Bytes32Hex, outcomes: OutcomesDep, node: NodeDep, _: ReadDep):
    body = outcomes.tx_status(tx_hash)
    if node.guard is not None:  # never "mined" in a block the chain no longer has (services/chain_guard.vouch)
        body = await node.guard.vouch(body, lambda: outcomes.tx_status(tx_hash))
    return body
