"""Every setting is a declared field of ``Settings``: no code reads a ``COC_`` variable or a
``settings`` attribute that is not one (scanned with ``ast``), and the index settings take effect.

Why: settings read with ``getattr(settings, "x", default)`` or ``os.environ["COC_X"]`` beside
``Settings`` are silently ignored when set the documented way (``COC_INDEX_MAX_RANGE`` was)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from node_api.core.config import Settings
from node_api.core.deploy import Deployment
from node_api.index.service import IndexService, index_database_url

PACKAGE = Path(__file__).resolve().parents[1] / "node_api"

#: ``COC_`` variables that are not node settings, each with the reason.
NOT_NODE_SETTINGS = {
    # the supplier's command line (`coc`, node_api/cli) is a client of the node with its own options
    "COC_NODE_URL": "cli", "COC_KEYSTORE": "cli", "COC_WALLET_PASSWORD": "cli", "COC_API_KEY": "cli",
    "COC_IMPORT_PASSWORD": "cli",  # `coc wallet import --from-keystore`: the password of the keystore imported
}
#: Families of variables named at run time: one per node-held wallet (node_api/keys.py).
DYNAMIC_PREFIXES = ("COC_KEYSTORE_PASSWORD_",)


def _sources() -> list[tuple[Path, ast.AST]]:
    return [(p, ast.parse(p.read_text(), str(p))) for p in sorted(PACKAGE.rglob("*.py"))]


def _is_settings(node: ast.AST, aliases: set[str]) -> bool:
    """``settings``, ``<anything>.settings``, ``get_settings()`` or a local alias of one of them."""
    if isinstance(node, ast.Name):
        return node.id == "settings" or node.id in aliases
    if isinstance(node, ast.Attribute):
        return node.attr == "settings"
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in ("get_settings", "Settings")
    return False


def _settings_reads(tree: ast.AST) -> set[str]:
    """Attribute names read from a settings object (``s.x``, ``getattr(settings, "x")``) in one module."""
    out: set[str] = set()
    # local aliases (``s = self.settings``) count inside the function that binds them only
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in [tree, *functions]:
        aliases = set() if scope is tree else {
            t.id
            for n in ast.walk(scope) if isinstance(n, ast.Assign) and _is_settings(n.value, set())
            for t in n.targets if isinstance(t, ast.Name)
        }
        for n in ast.walk(scope):
            if isinstance(n, ast.Attribute) and _is_settings(n.value, aliases):
                out.add(n.attr)
            elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr")
                  and n.args and _is_settings(n.args[0], aliases)):
                name = n.args[1] if len(n.args) > 1 else None
                out.add(name.value if isinstance(name, ast.Constant) else "<computed name>")
    return out


def _env_reads(tree: ast.AST) -> set[str]:
    """``COC_`` names passed to os.environ.get / os.getenv / os.environ[...] (f-strings: their prefix + '*')."""
    out: set[str] = set()

    def name_of(arg: ast.AST) -> str | None:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
        if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
            return str(arg.values[0].value) + "*"
        return "<computed name>"

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    for n in ast.walk(tree):
        arg = None
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            if (n.func.attr in ("get", "pop", "setdefault") and is_environ(n.func.value)) or n.func.attr == "getenv":
                arg = n.args[0] if n.args else None
        elif isinstance(n, ast.Subscript) and is_environ(n.value):
            arg = n.slice
        if arg is not None:
            name = name_of(arg)
            if name is not None and (name.startswith("COC_") or name == "<computed name>"):
                out.add(name)
    return out


def _allowed_attribute(name: str) -> bool:
    """A field, or a property/method Settings itself defines (``effective_rpc_url``, ...)."""
    if name in Settings.model_fields:
        return True
    own = next((vars(k)[name] for k in Settings.__mro__ if name in vars(k)), None)
    return isinstance(own, property) or (callable(own) and not name.startswith("_"))


def test_code_reads_only_declared_settings() -> None:
    undeclared = {
        f"{path.relative_to(PACKAGE.parent)}: settings.{name}"
        for path, tree in _sources() for name in _settings_reads(tree) if not _allowed_attribute(name)
    }
    assert not undeclared, f"settings read but not declared in Settings: {sorted(undeclared)}"


def test_code_reads_only_declared_coc_variables() -> None:
    undeclared = set()
    for path, tree in _sources():
        for name in _env_reads(tree):
            if name.endswith("*") and name[:-1].startswith(DYNAMIC_PREFIXES):
                continue
            if name in NOT_NODE_SETTINGS:
                assert path.parts[-2] == "cli", f"{name} is the client's variable, read in {path}"
                continue
            if name.startswith("COC_") and name[4:].lower() in Settings.model_fields:
                # pydantic-settings reads it already: a second read beside Settings is a leak too
                undeclared.add(f"{path.relative_to(PACKAGE.parent)}: {name} read directly (use settings.{name[4:].lower()})")
                continue
            undeclared.add(f"{path.relative_to(PACKAGE.parent)}: {name}")
    assert not undeclared, f"COC_ variables read but not Settings fields: {sorted(undeclared)}"


def test_the_scan_sees_the_leaks_it_must_catch() -> None:
    """The scanner itself: each form of leak found in this issue is reported."""
    leaks = ast.parse(
        "import os\n"
        "def f(settings, node):\n"
        "    s = node.settings\n"
        "    a = getattr(settings, 'index_max_range', 2000)\n"
        "    b = s.not_a_field + node.settings.other\n"
        "    return os.environ.get('COC_INDEX_DATABASE_URL'), os.environ['COC_X'], os.getenv(f'COC_Y_{a}')\n"
    )
    assert _settings_reads(leaks) == {"index_max_range", "not_a_field", "other"}
    assert _env_reads(leaks) == {"COC_INDEX_DATABASE_URL", "COC_X", "COC_Y_*"}
    assert not _allowed_attribute("not_a_field") and _allowed_attribute("effective_rpc_url")


def test_index_settings_from_the_environment_take_effect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COC_INDEX_MAX_RANGE", "7")
    monkeypatch.setenv("COC_INDEX_CONFIRMATIONS", "3")
    monkeypatch.setenv("COC_INDEX_POLL_INTERVAL", "0.25")
    monkeypatch.setenv("COC_EXPLORER_TX_URL", "https://explorer.example/tx/{tx}")
    monkeypatch.setenv("COC_INDEX_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    settings = Settings(data_dir=tmp_path, rpc_url="http://127.0.0.1:9")  # no chain needed: nothing is read
    assert (settings.index_max_range, settings.index_confirmations, settings.index_poll_interval) == (7, 3, 0.25)
    assert index_database_url(settings) == f"sqlite:///{tmp_path / 'elsewhere.db'}"

    contracts = {n: "0x" + f"{i + 1:040x}" for i, n in enumerate(
        ["ParticipantRegistry", "CocForwarder", "MassBalance", "BatchLedger", "CertificateRegistry"])}
    index = IndexService.from_settings(settings, Deployment(31337, contracts, contracts["CocForwarder"], 5))
    try:
        f = index.follower
        assert f is not None
        assert (f.max_range, f.confirmations, f.poll_interval, f.start_block) == (7, 3, 0.25, 5)
        assert index.tx_url == "https://explorer.example/tx/{tx}"
        assert str(index.engine.url) == f"sqlite:///{tmp_path / 'elsewhere.db'}"
    finally:
        index.stop()


def test_index_confirmations_default_to_the_node_confirmations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COC_INDEX_CONFIRMATIONS", "COC_INDEX_MAX_RANGE", "COC_INDEX_POLL_INTERVAL"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings(data_dir=tmp_path, confirmations=2)
    assert (settings.index_confirmations, settings.index_max_range, settings.index_poll_interval) == (None, 2000, 1.0)
    contracts = {n: "0x" + f"{i + 1:040x}" for i, n in enumerate(
        ["ParticipantRegistry", "CocForwarder", "MassBalance", "BatchLedger", "CertificateRegistry"])}
    index = IndexService.from_settings(settings, Deployment(31337, contracts, contracts["CocForwarder"], 0))
    try:
        assert index.follower is not None and index.follower.confirmations == 2
    finally:
        index.stop()
