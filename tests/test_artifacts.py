"""The built artifacts (``node_api/artifacts``, ``make artifacts``) match the sources, ship with the
package, and are what the node, the deploy step and the index use: nothing compiles at start."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import pytest

from node_api.core import compile as build
from node_api.core.anvil import EmbeddedAnvil, free_port
from node_api.core.artifacts import ARTIFACTS_DIR, ArtifactsMissing, load_artifacts, read_manifest
from node_api.domain import CONTRACTS

REPO = Path(__file__).resolve().parents[1]
STALE = "the committed artifacts in node_api/artifacts differ from contracts/: run `make artifacts`"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return read_manifest()


def test_manifest_describes_the_build(manifest: dict) -> None:
    assert manifest["compiler"]["solc"] == build.toolchain.SOLC_VERSION
    assert manifest["default"] in manifest["targets"]
    for target, spec in manifest["targets"].items():
        assert spec["settings"] == build.compiler_settings(target), STALE
        assert spec["settings"]["evmVersion"] == target
        for name in spec["contracts"]:
            assert (ARTIFACTS_DIR / target / f"{name}.json").exists(), STALE


@pytest.mark.chain  # runs the compiler
def test_committed_artifacts_match_the_sources(manifest: dict) -> None:
    """Compiles ``contracts/`` (without ``contracts/test``) per target, as ``make artifacts`` does."""
    expected = build.build_manifest({t: {n: {} for n in s["contracts"]} for t, s in manifest["targets"].items()},
                                    manifest["default"])
    assert manifest["sources"] == expected["sources"], STALE
    assert manifest["compiler"] == expected["compiler"], STALE
    for target in manifest["targets"]:
        fresh = build.build_target(target)
        committed = load_artifacts(target)
        assert sorted(committed) == sorted(fresh), STALE
        for name, art in fresh.items():
            assert committed[name] == json.loads(json.dumps(art)), f"{target}/{name}: {STALE}"


def test_deployable_contracts_and_nothing_test_only_are_shipped() -> None:
    arts = load_artifacts()
    for name in ("ParticipantRegistry", "CocForwarder", "MassBalance", "BatchLedger", "CertificateRegistry"):
        assert len(arts[name]["bytecode"]) > 2 and len(arts[name]["deployedBytecode"]) > 2
        assert arts[name]["abi"]
    test_only = {p.stem for p in (REPO / "contracts" / "test").glob("*.sol")}
    assert not test_only & set(arts)


def test_each_load_is_a_copy() -> None:
    a = load_artifacts()
    a["BatchLedger"]["abi"].clear()
    assert load_artifacts()["BatchLedger"]["abi"]


def test_unknown_target_says_how_to_build_it() -> None:
    with pytest.raises(ArtifactsMissing, match="make artifacts"):
        load_artifacts("frontier")


def _build_package(target: Path) -> Path:
    """What an install of this project puts in site-packages (setuptools' build_py with the
    pyproject's package data), without the checkout around it."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    dist = Distribution()
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mp.chdir(REPO)
        apply_configuration(dist, "pyproject.toml")
        dist.script_name = "setup.py"
        dist.get_command_obj("build_py").build_lib = str(target)
        dist.run_command("build_py")
    return target


@pytest.mark.chain  # starts Anvil
def test_installed_package_runs_the_node_without_node_modules(tmp_path: Path) -> None:
    """``python -m node_api`` from a built package (no contracts/, no node_modules, no solc) on an
    external chain: it deploys the built artifacts and serves /info."""
    site = _build_package(tmp_path / "site")
    assert (site / "node_api" / "artifacts" / "manifest.json").exists()
    assert not (tmp_path / "node_modules").exists() and not (tmp_path / "contracts").exists()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(site), "COC_DATA_DIR": str(tmp_path / "data"), "COC_API_PORT": str(port)}
    where = subprocess.run([sys.executable, "-c", "import node_api; print(node_api.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(site / "node_api" / "__init__.py"), where.stderr
    with EmbeddedAnvil.throwaway(accounts=10) as anvil:
        env["COC_RPC_URL"] = anvil.url
        node = subprocess.Popen([sys.executable, "-m", "node_api"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline, info = time.monotonic() + 120, None
            while info is None and time.monotonic() < deadline and node.poll() is None:
                try:
                    info = httpx.get(f"http://127.0.0.1:{port}/info", timeout=2).json()
                except httpx.HTTPError:
                    time.sleep(0.2)
        finally:
            node.send_signal(signal.SIGINT)
            out = node.communicate(timeout=60)[0]
        assert info is not None, out
        assert sorted(info["contracts"]) == sorted(CONTRACTS), out  # libraries are linked, not listed
        assert "compil" not in out.lower(), out


def test_the_node_never_compiles() -> None:
    """No module of the node's runtime imports the compiler (only ``core/compile.py`` itself, the
    build step behind ``make artifacts``, and ``core/toolchain.py``, which registers it)."""
    build_step = {"node_api/core/compile.py", "node_api/core/toolchain.py"}
    offenders = []
    for path in sorted((REPO / "node_api").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in build_step:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                if node.level:  # relative: "from .compile import" / "from .core import compile"
                    names += [a.name for a in node.names] + [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.split(".")[-1] in ("compile", "solcx") or n.endswith("core.compile") for n in names):
                offenders.append(rel)
    assert not offenders, f"these modules reach the compiler: {offenders}"


def test_node_starts_without_the_compiler(tmp_path: Path) -> None:
    """Importing the node's entry points with solcx and the compile module blocked works: the start
    path loads built artifacts only."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'solcx' or name == 'node_api.core.compile':\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import node_api.__main__, node_api.node, node_api.api.app, node_api.index.service\n"
        "from node_api.core.artifacts import load_artifacts\n"
        "from node_api.core.abi import load_abis\n"
        "print(len(load_abis(load_artifacts())))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(load_artifacts()))  # the five contracts and their libraries
