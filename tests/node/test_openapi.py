"""The API's surface: the same paths and methods as before the services refactor (issue 8), and a
response model on every route of the node's own routers, so /openapi.json documents each answer.
No chain needed: the app is built, not started."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.routing import APIRoute

from node_api.api.app import create_app
from node_api.api.routes import ROUTERS, provenance
from node_api.core.config import Settings

PATHS_FILE = Path(__file__).with_name("openapi_paths.json")


def _app():
    return create_app(Settings())


def test_openapi_paths_and_methods_are_unchanged():
    paths = _app().openapi()["paths"]
    current = sorted([method.upper(), path] for path, ops in paths.items() for method in ops)
    assert current == json.loads(PATHS_FILE.read_text())


def test_every_node_route_declares_its_answer():
    # the provenance router's answers are documented by the index's own models (node_api.index)
    routes = [r for router in ROUTERS if router is not provenance.router for r in router.routes]
    assert routes and all(isinstance(r, APIRoute) for r in routes)
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if r.response_model is None]
    assert not missing, f"routes without a response model: {missing}"
    doc = _app().openapi()
    for r in routes:
        path = r.path_format if r.path_format in doc["paths"] else next(p for p in doc["paths"] if p.endswith(r.path_format))
        for method in r.methods:
            schema = doc["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
            assert schema.get("$ref"), f"{method} {path}: {schema}"
