"""Compile ``contracts/**/*.sol`` with solc-js (through py-solc-x): the build step, not the node's.

Two users: ``make artifacts`` (``python -m node_api.core.compile``) writes the artifacts the node
ships with (``node_api/artifacts/``, see :mod:`node_api.core.artifacts`), and the tests, which also
compile test-only contracts. The node itself never compiles.

Why a cache (``build/contracts``): solc-js is solc compiled to WebAssembly, so a full compile takes
many seconds. The cache key is a hash of every source file, the compiler settings, the solc version
and the OpenZeppelin version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import evm_compat, toolchain
from .abi import register_errors
from .artifacts import ARTIFACTS_DIR, MANIFEST_NAME, Artifact, read_manifest

log = logging.getLogger(__name__)

CONTRACTS_DIR: Path = toolchain.REPO_ROOT / "contracts"
BUILD_DIR: Path = toolchain.REPO_ROOT / "build" / "contracts"
HASH_FILE_NAME = ".sources-hash"

#: Test-only contracts: compiled by the tests, never built into the shipped artifacts.
TEST_CONTRACTS_DIR: Path = CONTRACTS_DIR / "test"

#: The EVM version of the default target. "cancun" matches Anvil's default hardfork and current
#: permissioned chains (Besu).
DEFAULT_EVM_VERSION = "cancun"

#: Compiler settings of the default target; part of the cache key and of the artifacts' manifest
#: (ape-config.yaml repeats them). Optimizer runs 200 = solc's default trade-off. viaIR: the IR
#: pipeline gives smaller code (BatchLedger about 1.2 KB less) and cheaper custody transfers than the
#: legacy one (scripts/bench_gas.py measures both figures).
COMPILER_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": True,
    "evmVersion": DEFAULT_EVM_VERSION,
    "remappings": ["@openzeppelin/=node_modules/@openzeppelin/"],
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.bytecode.linkReferences",
                    "evm.deployedBytecode.object", "evm.deployedBytecode.linkReferences"]},
    },
}


#: Settings that differ for one target. paris (the Clique network) has no PUSH0 (Shanghai), so each
#: zero pushed costs a byte more: BatchLedger's paris build was 20,536 bytes at runs 200, over the
#: 20,480-byte headroom bound of tests/contracts/test_code_size.py (cancun: 20,235). Optimizer runs
#: 50 (code size weighed more than per-call gas) brings it to 20,355; the cancun target is unchanged.
TARGET_SETTINGS: dict[str, dict[str, Any]] = {
    "paris": {"optimizer": {"enabled": True, "runs": 50}},
}


def compiler_settings(evm_version: str | None = None) -> dict[str, Any]:
    """The settings of one target: the default settings with its ``evmVersion`` (and its
    ``TARGET_SETTINGS``)."""
    evm = evm_version or DEFAULT_EVM_VERSION
    return {**COMPILER_SETTINGS, **TARGET_SETTINGS.get(evm, {}), "evmVersion": evm}


class CompileError(RuntimeError):
    """solc reported errors; ``messages`` holds solc's formatted messages."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("Solidity compilation failed:\n" + "\n".join(messages))


def find_sources(contracts_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """Every ``.sol`` file under ``contracts_dir``, sorted (deterministic hash and input)."""
    return sorted(p for p in contracts_dir.rglob("*.sol") if p.is_file())


def _source_name(path: Path) -> str:
    """Source unit name as solc sees it: path relative to the repo root, POSIX separators."""
    path = path.resolve()
    try:
        return path.relative_to(toolchain.REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()  # a source outside the repo (e.g. tests' temp contracts)


def _openzeppelin_version() -> str:
    pkg = toolchain.NODE_MODULES / "@openzeppelin" / "contracts" / "package.json"
    return json.loads(pkg.read_text())["version"] if pkg.exists() else "missing"


def deployable_sources(contracts_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """The sources built into the shipped artifacts: every ``.sol`` except ``contracts/test/``."""
    test_dir = contracts_dir / "test"
    return [p for p in find_sources(contracts_dir) if test_dir not in p.parents]


def sources_hash(sources: Iterable[Path], settings: Mapping[str, Any] | None = None) -> str:
    """Cache key over source names + contents, compiler settings and tool versions."""
    h = hashlib.sha256()
    meta = {
        "solc": toolchain.SOLC_VERSION,
        "openzeppelin": _openzeppelin_version(),
        "settings": settings if settings is not None else COMPILER_SETTINGS,
    }
    h.update(json.dumps(meta, sort_keys=True).encode())
    for path in sources:
        h.update(_source_name(path).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _load_cached(build_dir: Path, digest: str) -> dict[str, Artifact] | None:
    hash_file = build_dir / HASH_FILE_NAME
    if not hash_file.exists() or hash_file.read_text().strip() != digest:
        return None
    index_file = build_dir / ".index.json"
    if not index_file.exists():
        return None
    names: list[str] = json.loads(index_file.read_text())
    out: dict[str, Artifact] = {}
    for name in names:
        f = build_dir / f"{name}.json"
        if not f.exists():
            return None
        out[name] = json.loads(f.read_text())
    return out


def compile_contracts(
    force: bool = False,
    *,
    sources: Iterable[Path] | None = None,
    build_dir: Path | None = None,
    evm_version: str | None = None,
) -> dict[str, Artifact]:
    """Compile (or load cached) artifacts, keyed by contract name.

    ``sources`` defaults to every ``contracts/**/*.sol``; ``build_dir`` to ``build/contracts``
    (``build/contracts-<evm>`` for another EVM version than the default).
    Artifacts are returned for contracts defined in ``sources`` only (not OpenZeppelin's), which
    includes interfaces/abstract contracts (empty bytecode). Raises ``CompileError`` on failure.
    """
    import solcx

    src_list = sorted(Path(p).resolve() for p in (sources if sources is not None else find_sources()))
    if not src_list:
        raise CompileError([f"no .sol sources found under {CONTRACTS_DIR}"])
    settings = compiler_settings(evm_version)
    if build_dir is not None:
        out_dir = build_dir
    else:
        out_dir = BUILD_DIR if settings["evmVersion"] == DEFAULT_EVM_VERSION else BUILD_DIR.with_name(
            f"contracts-{settings['evmVersion']}")
    own = {_source_name(p): p for p in src_list}
    # Pre-Cancun targets (paris, for Clique): OpenZeppelin's mcopy rewritten (core/evm_compat.py).
    compat = (evm_compat.rewritten_sources(own, toolchain.REPO_ROOT, settings["remappings"])
              if evm_compat.needs_rewrite(settings["evmVersion"]) else {})
    digest = sources_hash(src_list, settings)
    if compat:
        digest = hashlib.sha256((digest + evm_compat.REWRITE_VERSION + json.dumps(compat, sort_keys=True)).encode()
                                ).hexdigest()
    if not force and (cached := _load_cached(out_dir, digest)) is not None:
        register_errors(cached)
        return cached

    input_json = {
        "language": "Solidity",
        "sources": {**{name: {"content": text} for name, text in compat.items()},
                    **{name: {"content": p.read_text()} for name, p in own.items()}},
        "settings": settings,
    }
    toolchain.register_solc()
    try:
        output = solcx.compile_standard(
            input_json,
            base_path=str(toolchain.REPO_ROOT),
            allow_paths=[str(toolchain.REPO_ROOT)],
            solc_binary=str(toolchain.solc_binary()),
        )
    except solcx.exceptions.SolcError as exc:
        errors = getattr(exc, "error_dict", None) or []
        msgs = [e.get("formattedMessage", e.get("message", "")) for e in errors if e.get("severity") == "error"]
        raise CompileError(msgs or [str(exc)]) from None

    for err in output.get("errors", []):
        if err.get("severity") == "warning":
            log.warning("solc: %s", err.get("formattedMessage", err.get("message")))

    artifacts: dict[str, Artifact] = {}
    for source_name, contracts in output.get("contracts", {}).items():
        if source_name not in own:
            continue  # OpenZeppelin etc.: their ABIs are folded into ours through inheritance
        for name, data in contracts.items():
            if name in artifacts:
                raise CompileError(
                    [f"duplicate contract name {name!r} in {source_name} and {artifacts[name]['sourceName']}"]
                )
            artifacts[name] = Artifact(
                contractName=name,
                sourceName=source_name,
                abi=data["abi"],
                bytecode="0x" + data["evm"]["bytecode"]["object"],
                deployedBytecode="0x" + data["evm"]["deployedBytecode"]["object"],
                linkReferences=data["evm"]["bytecode"].get("linkReferences") or {},
                deployedLinkReferences=data["evm"]["deployedBytecode"].get("linkReferences") or {},
            )

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        stale.unlink()
    for name, art in artifacts.items():
        (out_dir / f"{name}.json").write_text(json.dumps(art, indent=1))
    (out_dir / ".index.json").write_text(json.dumps(sorted(artifacts)))
    # Written last: a crash mid-write leaves no matching hash, so the next run recompiles.
    (out_dir / HASH_FILE_NAME).write_text(digest + "\n")
    register_errors(artifacts)
    return artifacts


# ---------------------------------------------------------------------------- shipped artifacts
# Only what the node needs of each contract, so the committed files stay small and stable.
ARTIFACT_FIELDS = ("contractName", "sourceName", "abi", "bytecode", "deployedBytecode",
                   "linkReferences", "deployedLinkReferences")


def shipped(artifacts: Mapping[str, Artifact]) -> dict[str, Artifact]:
    """The artifacts worth shipping: contracts with bytecode (deployable contracts and libraries;
    interfaces and abstract contracts are folded into them through inheritance)."""
    return {n: Artifact(**{k: a.get(k, {}) for k in ARTIFACT_FIELDS})  # type: ignore[typeddict-item]
            for n, a in sorted(artifacts.items()) if len(a["bytecode"]) > 2}


def build_manifest(targets: Mapping[str, Mapping[str, Artifact]], default: str) -> dict[str, Any]:
    sources = deployable_sources()
    return {
        "compiler": {"solc": toolchain.SOLC_VERSION, "openzeppelin": _openzeppelin_version()},
        "sources": {"files": [_source_name(p) for p in sources], "hash": sources_hash(sources, {})},
        "default": default,
        "targets": {
            t: {"settings": compiler_settings(t), "contracts": sorted(arts),
                **({"rewritten": sorted(evm_compat.rewritten_sources(
                    {_source_name(p): p for p in sources}, toolchain.REPO_ROOT,
                    compiler_settings(t)["remappings"]))} if evm_compat.needs_rewrite(t) else {})}
            for t, arts in sorted(targets.items())
        },
    }


def build_target(evm_version: str, *, force: bool = False) -> dict[str, Artifact]:
    """Compile the deployable sources for one target and keep what ships. Cached in
    ``build/artifacts-<target>``, apart from the tests' cache of every source."""
    return shipped(compile_contracts(force, sources=deployable_sources(), evm_version=evm_version,
                                     build_dir=BUILD_DIR.with_name(f"artifacts-{evm_version}")))


def configured_targets(directory: Path = ARTIFACTS_DIR) -> list[str]:
    """The targets the committed manifest lists (the default target alone if there is none yet)."""
    try:
        return list(read_manifest(directory)["targets"])
    except Exception:  # noqa: BLE001 - no or unreadable manifest: start from the default
        return [DEFAULT_EVM_VERSION]


def write_artifacts(evm_versions: Iterable[str] | None = None, directory: Path = ARTIFACTS_DIR) -> dict[str, Any]:
    """``make artifacts``: build every target and (re)write ``directory``; returns the manifest."""
    versions = list(dict.fromkeys(evm_versions or configured_targets(directory)))
    targets = {v: build_target(v) for v in versions}
    default = DEFAULT_EVM_VERSION if DEFAULT_EVM_VERSION in targets else versions[0]
    manifest = build_manifest(targets, default)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*/*.json"):
        old.unlink()
    for target, arts in targets.items():
        (directory / target).mkdir(exist_ok=True)
        for name, art in arts.items():
            (directory / target / f"{name}.json").write_text(json.dumps(art, indent=1, sort_keys=True) + "\n")
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m node_api.core.compile",
                                 description="Build the contracts into node_api/artifacts (make artifacts).")
    ap.add_argument("--evm-version", action="append", dest="evm_versions", metavar="EVM",
                    help="a target to build (repeatable); default: the targets of the current manifest")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    manifest = write_artifacts(args.evm_versions)
    for target, spec in manifest["targets"].items():
        print(f"{ARTIFACTS_DIR.relative_to(toolchain.REPO_ROOT)}/{target}: {', '.join(spec['contracts'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


