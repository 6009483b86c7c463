"""How an action's answer becomes an HTTP response: 200 once mined, 202 while pending, and at most one
execution per ``Idempotency-Key``."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi.responses import JSONResponse

from ..services.idempotency import Idempotency

#: run(op_key) -> the answer of one action
Run = Callable[[str | None], Awaitable[dict[str, Any]]]


def status_of(body: dict[str, Any]) -> int:
    return 200 if body.get("status") == "mined" else 202


async def run_idempotent(idempotency: Idempotency, key: str | None, request: Any, run: Run) -> JSONResponse:
    async def answer(op_key: str | None) -> tuple[int, dict[str, Any]]:
        body = await run(op_key)
        return status_of(body), body

    status, body = await idempotency.run(key, request, answer)
    return JSONResponse(body, status_code=status)
