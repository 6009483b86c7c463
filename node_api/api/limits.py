"""The request body limit (``max_body_bytes``), applied before a body is read into memory.

An ASGI middleware: a ``Content-Length`` above the limit is answered 413 at once, without reading
the body; a body without one (chunked) is counted while it streams in and refused with 413 as soon
as it passes the limit (the route never sees it).
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from starlette.exceptions import HTTPException

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """Raised while the body streams in (an HTTPException, so FastAPI's body reader lets it through)."""

    def __init__(self, max_bytes: int):
        super().__init__(413, f"the request body is larger than this node takes ({max_bytes} bytes)")
        self.max_bytes = max_bytes


def _error(status: int, error: str, message: str, details: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"error": error, "message": message, "details": details}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"connection", b"close")]}
    return start, body


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, status: int, error: str, message: str) -> None:
        start, body = _error(status, error, message, {"maxBytes": self.max_bytes})
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit():
                await self._refuse(send, 400, "InvalidRequest", "Content-Length must be a whole number")
                return
            if int(length) > self.max_bytes:
                await self._refuse(send, 413, "BodyTooLarge",
                                   f"the request body is {int(length)} bytes; this node takes at most {self.max_bytes}")
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send, 413, "BodyTooLarge",
                               f"the request body is larger than this node takes ({self.max_bytes} bytes)")
