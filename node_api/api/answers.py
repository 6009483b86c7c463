"""How an action's answer becomes an HTTP response: 200 once mined, 202 while pending, and at most one
execution per ``Idempotency-Key`` of one caller at one endpoint."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi.responses import JSONResponse

from ..services.idempotency import Idempotency, Scope

#: run(op_key) -> the answer of one action
Run = Callable[[str | None], Awaitable[dict[str, Any]]]
#: who is calling (asked only when the request carries an Idempotency-Key), e.g. "signer:0x.."
Caller = Callable[[], Awaitable[str]]


def status_of(body: dict[str, Any]) -> int:
    return 200 if body.get("status") == "mined" else 202


async def scope_of(idempotency: Idempotency, key: str | None, endpoint: str, caller: Caller) -> Scope | None:
    if key is None:
        return None
    idempotency.check_key(key)
    return Scope(await caller(), endpoint)


async def run_idempotent(idempotency: Idempotency, key: str | None, request: Any, run: Run, *, endpoint: str,
                         caller: Caller) -> JSONResponse:
    async def answer(op_key: str | None) -> tuple[int, dict[str, Any]]:
        body = await run(op_key)
        return status_of(body), body

    scope = await scope_of(idempotency, key, endpoint, caller)
    status, body = await idempotency.run(key, request, answer, scope=scope)
    return JSONResponse(body, status_code=status)
