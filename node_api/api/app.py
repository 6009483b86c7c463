"""The node's FastAPI application.

``create_app(settings)`` starts the node (node_api.node.Node: chain connection, contracts, relayer,
database, provenance index) in the app's lifespan and stops it at shutdown; ``create_app(node=...)``
serves a node started elsewhere (its owner stops it). Errors: every ApiError (including mapped
contract reverts) becomes ``{"error", "message", "details"}`` with its status; invalid input 422
naming the field; an unreachable chain 503; anything unexpected 500 without a stack trace (logged on
the node).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.config import Settings, get_settings
from ..core.rpc import ChainUnavailable
from ..errors import ApiError, chain_unavailable
from ..node import Node
from ..relayer import RelayError
from .docs import mount_docs
from .limits import BodyLimit, BodyTooLarge
from ..web import router as web_app
from .routes import ROUTERS, digital_link, iscc
from .routes import eudr as eudr_routes
from .schemas.node import ErrorBody

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Every supply chain action as a wallet-signed contract call. For each action: `POST .../prepare` "
    "returns EIP-712 typed data (for eth_signTypedData_v4) and its digest; sign it anywhere; "
    "`POST .../submit` checks signature, role and rule (no gas spent on a refusal) and relays it. "
    "`POST .../<action>` without /prepare signs with a key held by this node (X-API-Key / X-Admin-Key)."
)


#: the shape of every refusal (ApiError.body()), documented on every route
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "Refused: invalid input (422, naming the field), not allowed (401/403), "
            "unknown (404), against a rule or the state (409); nothing was done"},
    "5XX": {"model": ErrorBody, "description": "The chain is unreachable (503) or the relay failed (502)"},
}


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def create_app(settings: Settings | None = None, *, node: Node | None = None) -> FastAPI:
    """The API over ``node`` (already started, stopped by its owner), or over a node started from
    ``settings`` in the app's lifespan (default: the environment's settings)."""
    settings = node.settings if node is not None else (settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = node if node is not None else await Node.start(settings)
        app.state.node = running
        app.state.index = running.index  # the provenance routes reach it through deps.IndexDep
        try:
            yield
        finally:
            if node is None:
                await running.stop()

    app = FastAPI(title="Chain-of-custody ledger node", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  responses=ERROR_RESPONSES, docs_url=None, redoc_url=None)
    mount_docs(app)  # /docs and /redoc from assets in the package (offline, no CDN)
    app.state.settings = settings
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(digital_link.router)  # GS1 Digital Link resolver, identifiers, QR codes (issue 14)
    app.include_router(iscc.router)  # ISCC PLUS sustainability declarations v4.0 (issue 14)
    app.include_router(eudr_routes.router)  # EUDR plots, statements, TRACES (issue 14)
    app.include_router(web_app.router)  # the web app under /app/ (issue 13)
    return app


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=getattr(exc, "headers", None))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, BodyTooLarge):
            return JSONResponse({"error": "BodyTooLarge", "message": exc.detail, "details": {"maxBytes": exc.max_bytes}},
                                status_code=413, headers={"Connection": "close"})
        names = {404: "NotFound", 405: "MethodNotAllowed", 400: "InvalidRequest"}
        return JSONResponse({"error": names.get(exc.status_code, "HTTPError"), "message": str(exc.detail), "details": {}},
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        msg = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse({"error": "InvalidRequest", "message": msg, "details": {"errors": errors}}, status_code=422)

    @app.exception_handler(ChainUnavailable)
    async def _unavailable(_: Request, exc: ChainUnavailable) -> JSONResponse:
        e = chain_unavailable(str(exc))
        return JSONResponse(e.body(), status_code=503)

    @app.exception_handler(RelayError)
    async def _relay(_: Request, exc: RelayError) -> JSONResponse:
        e = chain_unavailable(str(exc)) if exc.unavailable else ApiError(502, "RelayFailed", str(exc))
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            {"error": "InternalError", "message": "internal error; the node logged the details", "details": {}},
            status_code=500,
        )
