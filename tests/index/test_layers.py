"""The index's module structure (no chain needed): the write side and the read side apart, the read
side layered so that imports only point downward, no import inside a function (the way a cycle
hides), no private name imported from another module, no module over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "node_api" / "index"
PACKAGE = "node_api.index"

#: Modules both sides use: tables, lineage arithmetic and fragments, spelling of names.
SHARED = {"schema", "ancestry", "lineage_fragments", "spelling"}
#: The write side (events -> rows) and its plumbing; ``service`` wires the whole index.
WRITE = {"store", "lineage_ingest", "follower", "abi", "rpc"}
#: The read side's layers, bottom to top: a module may import only from layers below its own.
READ_LAYERS = [
    {"common"},
    {"reference"},
    {"holdings", "certifications", "custody", "credits", "transactions", "identifiers"},
    {"batches", "certificates", "lineage"},
    {"participants", "claims", "epcis", "passport"},
    {"provenance"},
]
READ_RANK = {m: i for i, layer in enumerate(READ_LAYERS) for m in layer}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(INDEX.rglob("*.py")):
        rel = path.relative_to(INDEX).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out[".".join([PACKAGE, *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str], bool]]:
    """(imported module, names imported from it, imported at module level) for every import."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [a.name for a in node.names]
            # "from . import x" imports the module x
            subs = [n for n in names if f"{mod}.{n}" in MODULES]
            if subs:
                out += [(f"{mod}.{n}", [], id(node) in top) for n in subs]
                names = [n for n in names if n not in subs]
            if names or not subs:
                out.append((mod, names, id(node) in top))
    return out


def _side(module: str) -> tuple[str, str]:
    rest = module[len(PACKAGE) + 1:] if module.startswith(PACKAGE + ".") else ""
    if rest.startswith("read."):
        return "read", rest[len("read."):]
    if rest in ("read", ""):
        return "package", rest
    return ("shared" if rest in SHARED else "write" if rest in WRITE else "other"), rest


def test_every_index_module_is_classified():
    for name in MODULES:
        side, short = _side(name)
        if side == "read":
            assert short in READ_RANK, f"{name}: add it to a read layer"
        elif side == "other":
            assert short == "service", f"{name}: classify it as shared, write or read"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_downward(name):
    side, short = _side(name)
    for target, names, at_top in _imports(name, MODULES[name]):
        assert at_top, f"{name} imports {target} inside a function or class"
        if not target.startswith(PACKAGE):
            continue
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{name} imports private names {private} from {target}"
        t_side, t_short = _side(target)
        if side in ("shared", "write"):
            assert t_side in ("shared", "write"), f"{name} ({side} side) imports {target}"
        if side == "shared":
            assert t_side == "shared", f"shared module {name} imports {target} ({t_side} side)"
        if side == "read":
            assert t_side in ("shared", "read"), f"{name} (read side) imports {target} ({t_side} side)"
            if t_side == "read":
                assert READ_RANK[t_short] < READ_RANK[short], (
                    f"{name} (layer {READ_RANK[short]}) imports {target} (layer {READ_RANK[t_short]}): not downward")


def test_no_import_cycle_in_the_index():
    graph = {n: {t for t, _names, _top in _imports(n, p) if t in MODULES and t != n} for n, p in MODULES.items()}
    done: set[str] = set()

    def visit(n: str, stack: list[str]) -> None:
        assert n not in stack, " -> ".join(stack[stack.index(n):] + [n])
        if n in done:
            return
        for m in graph[n]:
            visit(m, stack + [n])
        done.add(n)

    for n in graph:
        visit(n, [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_index_module_over_500_lines(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= 500, f"{name}: {lines} lines"
