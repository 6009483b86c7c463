"""The web app, served by the node under /app/ (issue 13).

Server-rendered HTML: every page is built here from the provenance index (names, units and dates
already resolved by its read side), so a page shows the same facts the API answers and works without
JavaScript for reading. One small ES module (static/app.js, no dependency, no build step) does what
only the browser can: connect an EIP-1193 wallet (``eth_requestAccounts``), prepare an action through
the node's existing ``.../prepare`` endpoints (the node simulates it, so a refusal shows before anything
is signed), ask the node to describe the typed data in words (``POST /typed-data/describe``), sign it
with ``eth_signTypedData_v4`` after the user confirms that description, and submit it to
``.../submit``; or, signed in with an API key, have the node sign with the key it holds for the
wallet (``POST /<action>`` with ``X-API-Key`` / ``X-Admin-Key``). No CDN: nothing is fetched from
elsewhere.

The signed-in wallet is a cookie (``coc_wallet``) the script sets; the pages are the views of that
wallet. On a node that restricts reading (``read_requires_key``) the pages need the API key as a
cookie too (``coc_key`` / ``coc_key_kind``), checked like the header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from ..api.deps import AdminKeyHeader, ApiKeyHeader, _is_admin, _may_read, get_index
from ..errors import ApiError
from ..index.read.reference import Reference, reference
from . import data, pages_products, pages_work
from .html import esc, page

router = APIRouter(prefix="/app", include_in_schema=False)
STATIC = Path(__file__).with_name("static")
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
#: the pages load nothing but the node's own script, style and images (the QR code), and talk to the node only
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
TokenId = Annotated[int, PathParam(ge=0, lt=2**63, description="the product's token (batch) id")]


class WhoAmI(BaseModel):
    address: str
    kind: str


def _may_read_pages(request: Request) -> bool:
    """The read rule of the API (``read_requires_key``), with the key from the cookies app.js sets."""
    node = getattr(request.app.state, "node", None)
    if node is None:
        return True
    kind, key = request.cookies.get("coc_key_kind"), request.cookies.get("coc_key")
    try:
        _may_read(node.settings, node.accounts, key if kind == "X-API-Key" else None,
                  key if kind == "X-Admin-Key" else None)
    except ApiError:
        return False
    return True


def _render(request: Request, title: str, active: str, build: Callable[[Connection, Reference, dict | None], str],
            *, status: int = 200) -> HTMLResponse:
    if not _may_read_pages(request):
        body = ('<p class="empty" id="restricted">Reading is restricted on this node: <a href="/app/">sign in with an '
                "API key</a>.</p>")
        return _html(page(title, body, active=active), 401)
    index = get_index(request)
    with index.engine.connect() as conn:
        ref = reference(conn)
        me = data.who(ref, request.cookies.get("coc_wallet"))
        try:
            body = build(conn, ref, me)
        except LookupError:
            return _html(page("Not found", '<p class="empty">Nothing here. <a href="/app/products">Search '
                              "products</a>.</p>", active=active), 404)
    who = ""
    if me:
        who = (f"{esc(me['participant'])}{', ' + esc(me['site']) if me['site'] else ''}" if me["participant"]
               else f"unregistered wallet {esc(me['address'])}")
    return _html(page(title, body, active=active, who=who), status)


def _html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status, headers={"Content-Security-Policy": CSP})


def _work(build: Callable[[Connection, Reference, dict[str, Any]], str]) -> Callable[..., str]:
    """A page of the signed-in wallet's own work: the hint to sign in, or to get registered, first."""
    def run(conn: Connection, ref: Reference, me: dict | None) -> str:
        if me is None:
            return f'<p class="empty" id="not-signed-in">{pages_work.NOT_SIGNED_IN}</p>'
        view = data.own_view(conn, ref, me["address"])
        if view is None:
            return pages_work.unregistered(me["address"])
        return build(conn, ref, view)
    return run


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    if not _may_read_pages(request):  # the sign-in page stays open; it shows nothing of the ledger then
        return _html(page("Sign in", pages_work.signin(None), active="/app/"))
    return _render(request, "Sign in", "/app/", lambda conn, ref, me: pages_work.signin(me))


@router.get("/supplier", response_class=HTMLResponse)
def supplier(request: Request) -> HTMLResponse:
    return _render(request, "Supplier", "/app/supplier", _work(pages_work.supplier))


@router.get("/credits", response_class=HTMLResponse)
def credits(request: Request) -> HTMLResponse:
    return _render(request, "Mass-balance credits", "/app/credits", _work(lambda c, r, v: pages_work.credits(v)))


@router.get("/certifier", response_class=HTMLResponse)
def certifier(request: Request) -> HTMLResponse:
    return _render(request, "Certification body", "/app/certifier", _work(pages_work.certifier))


@router.get("/issuer", response_class=HTMLResponse)
def issuer(request: Request) -> HTMLResponse:
    return _render(request, "Certificate issuer", "/app/issuer", _work(pages_work.issuer))


@router.get("/certificates", response_class=HTMLResponse)
def certificates(request: Request) -> HTMLResponse:
    return _render(request, "Certificates held", "/app/certificates", _work(lambda c, r, v: pages_work.holder(r, v)))


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, participant: Annotated[int | None, Query(ge=1, lt=2**32)] = None) -> HTMLResponse:
    return _render(request, "Onboard an organisation", "/app/admin",
                   lambda conn, ref, me: pages_work.onboarding(ref, participant))


@router.get("/products", response_class=HTMLResponse)
def products(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    return _render(request, "Products", "/app/products", lambda conn, ref, me: pages_products.search(conn, ref, q))


def _found(html: str | None) -> str:
    if html is None:
        raise LookupError
    return html


@router.get("/products/{token_id}", response_class=HTMLResponse)
def product(request: Request, token_id: TokenId) -> HTMLResponse:
    return _render(request, f"Product {token_id}", "/app/products",
                   lambda conn, ref, me: _found(pages_products.product(conn, token_id)))


@router.get("/products/{token_id}/passport", response_class=HTMLResponse)
def passport(request: Request, token_id: TokenId) -> HTMLResponse:
    return _render(request, f"Product passport {token_id}", "/app/products",
                   lambda conn, ref, me: _found(pages_products.passport(conn, token_id)))


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    if name not in ASSETS:
        raise ApiError(404, "NotFound", f"no asset {name!r}")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})


@router.get("/whoami", response_model=WhoAmI)
def whoami(request: Request, x_api_key: ApiKeyHeader = None, x_admin_key: AdminKeyHeader = None) -> dict[str, str]:
    """The wallet a back-office key signs for (the sign-in of the API-key login)."""
    node = request.app.state.node
    if x_admin_key is not None:
        if not _is_admin(node.settings, x_admin_key):
            raise ApiError(401, "Unauthorized", "invalid X-Admin-Key")
        return {"address": node.accounts.admin().address, "kind": "admin"}
    address = node.accounts.api_key_address(x_api_key) if x_api_key else None
    if address is None:
        raise ApiError(401, "Unauthorized", "unknown API key (X-API-Key)")
    node.accounts.held(address)  # 403 NoNodeKey when this node holds no key for it
    return {"address": address, "kind": "api-key"}
