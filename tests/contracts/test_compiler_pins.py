"""One compiler, pinned once: every source under contracts/ (deployable contracts, the libraries and
interfaces they use, the test contracts) declares exactly node_api/core/toolchain.py SOLC_VERSION, and
ape-config.yaml compiles with the same optimizer settings as node_api/core/compile.py."""

from __future__ import annotations

import re

import yaml

from node_api.core import toolchain
from node_api.core.compile import COMPILER_SETTINGS, find_sources

PRAGMA = re.compile(r"^\s*pragma\s+solidity\s+([^;]+);", re.MULTILINE)


def test_pragma_everySourcePinsSolcVersion() -> None:
    sources = find_sources()
    assert any(p.name == "BatchLedger.sol" for p in sources)
    pragmas = {p.relative_to(toolchain.REPO_ROOT).as_posix(): PRAGMA.findall(p.read_text()) for p in sources}
    wrong = {name: found for name, found in pragmas.items() if found != [toolchain.SOLC_VERSION]}
    assert not wrong, f"expected exactly `pragma solidity {toolchain.SOLC_VERSION};` in: {wrong}"


def test_apeConfig_compilesWithTheNodesSettings() -> None:
    ape = yaml.safe_load((toolchain.REPO_ROOT / "ape-config.yaml").read_text())["solidity"]
    assert str(ape["version"]) == toolchain.SOLC_VERSION
    assert ape["optimize"] is COMPILER_SETTINGS["optimizer"]["enabled"]
    assert ape["optimization_runs"] == COMPILER_SETTINGS["optimizer"]["runs"]
    assert ape.get("via_ir", False) is COMPILER_SETTINGS.get("viaIR", False)
    assert ape["evm_version"] == COMPILER_SETTINGS["evmVersion"]
