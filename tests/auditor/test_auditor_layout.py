"""The auditor's modules stay small and import one another in one direction only (no cycles, and no import
hidden inside a function to get round one)."""

from __future__ import annotations

import ast
from pathlib import Path

AUDITOR = Path(__file__).resolve().parents[2] / "auditor"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(AUDITOR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> tuple[set[str], list[int]]:
    """Auditor modules `path` imports, and the lines of imports that are not at module level."""
    tree = ast.parse(path.read_text())
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    nested: list[int] = []
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        names = [n for n in names if n.split(".")[0] == "auditor"]
        if names and id(node) not in top:
            nested.append(node.lineno)
        found.update(names)
    return found, nested


def test_auditor_modules_are_small_and_imports_form_no_cycle():
    files = sorted(AUDITOR.rglob("*.py"))
    modules = {_module_name(p): p for p in files}
    too_long = {m: n for m, p in modules.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"
    graph: dict[str, set[str]] = {}
    for m, p in modules.items():
        names, nested = _imports(p)
        assert not nested, f"{m} imports auditor modules inside functions (lines {nested})"
        # `from .x import y` names module x (y may be a module or a name in it); keep what is a module
        graph[m] = {n for n in names if n in modules and n != m}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                # a package's __init__ importing its own submodules is not a cycle unless they import it back
                cycle = path[path.index(n):] + [m, n] if n in path else [m, n]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if n not in state:
                visit(n, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
