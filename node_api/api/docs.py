"""/docs (Swagger UI) and /redoc (ReDoc) from assets shipped in the package (node_api/web/docs/,
vendored from npm by scripts/vendor_docs_assets.py with their licences): an installed node documents
its API offline, with no CDN and no node_modules. The pages' scripts, styles and icon all load from
/docs-assets on the node itself, and a Content-Security-Policy keeps the pages to the node's own origin
(no web fonts, no online validator, no attribution logo fetched from elsewhere)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parents[1] / "web" / "docs"
PREFIX = "/docs-assets"
#: the pages may load and call their own origin only (inline script/style: the page's start-up code and the
#: styles the renderers inject; blob workers: ReDoc's search)
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
       "frame-ancestors 'self'; base-uri 'self'; form-action 'self'")


def _local(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


def mount_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc from the local assets (create the app with docs_url=None, redoc_url=None)."""
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _local(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title}: API", swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui.css", swagger_favicon_url=f"{PREFIX}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None}))  # no badge from the online validator

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _local(get_redoc_html(openapi_url=openapi_url, title=f"{app.title}: API reference",
                                     redoc_js_url=f"{PREFIX}/redoc.standalone.js",
                                     redoc_favicon_url=f"{PREFIX}/favicon-32x32.png", with_google_fonts=False))
