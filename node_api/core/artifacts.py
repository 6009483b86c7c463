"""The built contracts the node ships with: ``node_api/artifacts/`` (package data), and their loader.

Why built artifacts: the node, the deploy step and the index need ABIs and bytecode, not a compiler.
``make artifacts`` (``python -m node_api.core.compile``) compiles ``contracts/`` (without
``contracts/test/``) once per *target* and commits the result; ``tests/test_artifacts.py`` fails
with "run make artifacts" when the committed files no longer match the sources. The node then runs
from an installed package, without node_modules or solc.

Layout::

    node_api/artifacts/manifest.json         compiler, sources hash, targets
    node_api/artifacts/<target>/<Name>.json   abi, bytecode, deployedBytecode, link references

A target is one set of compiler settings, named after its ``evmVersion`` ("cancun": Anvil and
Besu today). A chain that needs another EVM version (e.g. "paris" for a Clique network) gets its own
target: ``make artifacts EVM_VERSIONS="cancun paris"`` builds both, and ``COC_EVM_VERSION=paris``
makes the node deploy and decode with it. The manifest's ``default`` is the target used when none
is asked for.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

#: node_api/core/artifacts.py -> node_api/artifacts
ARTIFACTS_DIR: Path = Path(__file__).resolve().parents[1] / "artifacts"
MANIFEST_NAME = "manifest.json"


class Artifact(TypedDict, total=False):
    """One compiled contract: ``bytecode``/``deployedBytecode`` are 0x-prefixed hex; the link
    references (solc's ``{source: {library: [{start, length}]}}``) are empty unless the contract
    calls external library functions."""

    contractName: str
    sourceName: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployedBytecode: str
    linkReferences: dict[str, dict[str, list[dict[str, int]]]]
    deployedLinkReferences: dict[str, dict[str, list[dict[str, int]]]]


class ArtifactsMissing(RuntimeError):
    """No built artifacts (for the asked target): the package was built without ``make artifacts``."""


def read_manifest(directory: Path | None = None) -> dict[str, Any]:
    path = (directory or ARTIFACTS_DIR) / MANIFEST_NAME
    if not path.exists():
        raise ArtifactsMissing(f"{path} not found: run `make artifacts`")
    return json.loads(path.read_text())


def default_target(directory: Path | None = None) -> str:
    return str(read_manifest(directory)["default"])


@lru_cache(maxsize=8)
def _load(directory: Path, target: str) -> dict[str, Artifact]:
    manifest = read_manifest(directory)
    spec = manifest["targets"].get(target)
    if spec is None:
        raise ArtifactsMissing(
            f"no artifacts for EVM target {target!r} (built: {sorted(manifest['targets'])}); "
            f"run `make artifacts EVM_VERSIONS=\"{' '.join([*manifest['targets'], target])}\"`"
        )
    return {name: json.loads((directory / target / f"{name}.json").read_text()) for name in spec["contracts"]}


def load_artifacts(evm_version: str | None = None, *, directory: Path | None = None) -> dict[str, Artifact]:
    """The built contracts of one target (default: the manifest's), keyed by contract name.

    Never compiles. Each call returns its own copy, so a caller may change what it got."""
    d = (directory or ARTIFACTS_DIR).resolve()
    return copy.deepcopy(_load(d, evm_version or default_target(d)))
