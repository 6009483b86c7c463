"""The shape of the house (ARCHITECTURE.md): no import cycles, small modules, the auditor independent.

These read the sources only (no chain, no compiler), so they run with `make test-unit` in seconds.
Imports inside functions count as edges too: a function-level import that hides a cycle is a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("node_api", "auditor")
#: "No module over about 500 lines" (issue 8). Lines as `wc -l` counts them.
MAX_MODULE_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((REPO / package).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Internal modules ``name`` imports, anywhere in the file (relative imports resolved)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                mod = ".".join(anchor + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # `import a.b.c` of an attribute resolves to its module
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    sources: dict[str, Path] = {}
    for p in packages:
        sources.update(_sources(p))
    known = set(sources)
    return {n: _imports(n, p, known) for n, p in sources.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _package_edges_removed(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop edges from a package to its own submodules: ``pkg/__init__`` re-exporting ``pkg.sub`` while
    ``pkg.sub`` imports a sibling through ``pkg.sibling`` is Python's normal package layout, not a cycle
    between pieces of logic."""
    return {n: {t for t in ts if not t.startswith(n + ".")} for n, ts in graph.items()}


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_noCycles(package: str) -> None:
    cycles = _cycles(_package_edges_removed(_graph((package,))))
    assert not cycles, "import cycles (each line one cycle):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycleDetector_findsAHiddenCycle(tmp_path: Path) -> None:
    """The detector itself: a cycle hidden behind a function-level import is found."""
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]
    (tmp_path / "a.py").write_text("import json\n\ndef f():\n    from p import b\n")
    assert _imports("p.a", tmp_path / "a.py", {"p", "p.a", "p.b"}) == {"p.b"}


def test_auditor_importsNothingFromTheNode() -> None:
    graph = _graph(("auditor",))
    for path in (REPO / "auditor").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for n in names:
                assert not n.startswith(("node_api", "testkit")), f"{path.relative_to(REPO)} imports {n}"
    assert graph  # the scan saw the auditor's modules


@pytest.mark.parametrize("package", PACKAGES + ("testkit",))
def test_modules_atMost500Lines(package: str) -> None:
    too_long = {
        str(p.relative_to(REPO)): n
        for p in (REPO / package).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_productPackages_neverImportTheTestkit() -> None:
    for package in PACKAGES:
        for name, targets in _graph((package, "testkit")).items():
            if name.startswith(package):
                assert not any(t.startswith("testkit") for t in targets), f"{name} imports the testkit"
