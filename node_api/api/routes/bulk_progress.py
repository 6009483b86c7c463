"""/bulk at scale: backpressure, items answered from the node's log after a restart, and per-item
progress as JSON lines (issue 11)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

from ...errors import ApiError
from ...node import Node
from ...relayer.batching import item_error, split_logs


def capacity(node: Node, items: int) -> None:
    """429 NodeBusy (Retry-After) when these items would take the node past what it may hold."""
    relayer = node.relayer
    pipeline = node.custody.pipeline
    waiting = pipeline.waiting if pipeline is not None else 0
    held = relayer.queue_depth + waiting
    room = relayer.max_queue - held
    if items > room:
        err = ApiError(429, "NodeBusy",
                       f"this node holds {held} actions on their way to the chain (at most {relayer.max_queue}); "
                       f"{items} more do not fit: retry in a few seconds (nothing of this request was relayed)",
                       {"held": held, "limit": relayer.max_queue, "items": items, "retryAfter": 2})
        err.headers = {"Retry-After": "2"}  # type: ignore[attr-defined]
        raise err


def relayed_items(node: Node, op_key: str | None) -> dict[int, dict[str, Any]]:
    """Items of this Idempotency-Key that the relayer logged before (a restart interrupted the
    request): index -> answer from the log, so a retry relays only the others."""
    if op_key is None:
        return {}
    out: dict[int, dict[str, Any]] = {}
    packer = node.relayer.packer
    for row in node.relayer.items.for_op(op_key):
        tx = node.db.tx(row["tx_hash"])
        if tx is None or tx["status"] in ("replaced", "abandoned") or row["item"] is None:
            continue
        body = node.outcomes.row_body(tx)
        ans: dict[str, Any] = {"index": row["item"], "txHash": tx["hash"], "status": body["status"],
                               "action": row["action"], "signer": row["signer"], "batchIndex": row["idx"],
                               "blockNumber": body.get("blockNumber"), "replayed": True}
        if body["status"] == "mined":
            status, error = row["status"], json.loads(row["error"]) if row["error"] else None
            if status is None and packer is not None:  # mined while the node was down: read its receipt's logs
                ok, reason, _ = split_logs(packer.batcher, json.loads(tx["logs"] or "[]")).get(row["idx"], (False, b"", []))
                status, error = ("ok" if ok else "failed"), (None if ok else item_error(reason))
            if status == "failed":
                ans["status"] = "reverted"
                ans["error"] = {"error": (error or {}).get("name") or "Reverted", "message": "the item reverted "
                                "in its batch transaction", "details": (error or {}).get("args", {})}
        elif body.get("error"):
            ans["error"] = body["error"]
        out[row["item"]] = ans
    return out


async def ndjson(answer: asyncio.Future, progress: asyncio.Queue) -> AsyncIterator[bytes]:
    """One line per item as its outcome is known, then ``{"summary": ...}`` (or ``{"error": ...}``)."""
    seen: set[int] = set()
    while True:
        get = asyncio.ensure_future(progress.get())
        done, _ = await asyncio.wait({get, answer}, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            item = get.result()
            seen.add(item["index"])
            yield (json.dumps(item, default=str) + "\n").encode()
            continue
        get.cancel()
        break
    while not progress.empty():
        item = progress.get_nowait()
        seen.add(item["index"])
        yield (json.dumps(item, default=str) + "\n").encode()
    try:
        status, out = answer.result()
    except ApiError as exc:
        yield (json.dumps({"error": exc.body(), "httpStatus": exc.status}) + "\n").encode()
        return
    for item in out.get("items", []):  # a stored answer (a retry): every item at once
        if item.get("index") not in seen:
            yield (json.dumps(item, default=str) + "\n").encode()
    yield (json.dumps({"summary": {"accepted": out.get("accepted"), "refused": out.get("refused"),
                                   "replayed": out.get("replayed", False), "httpStatus": status}}) + "\n").encode()
