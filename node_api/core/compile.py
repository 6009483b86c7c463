"""Compile ``contracts/**/*.sol`` with solc-js (through py-solc-x) and cache the artifacts.

Why a cache: solc-js is solc compiled to WebAssembly, so a full compile takes many seconds; the
node, the scripts and every test session need the artifacts. The cache key is a hash of every
source file, the compiler settings, the solc version and the OpenZeppelin version.

Also here: decoding of revert data (``Error(string)``, ``Panic(uint256)`` and custom errors) over
the ABIs of *all* artifacts, so an error bubbled up from a called contract is named correctly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from . import toolchain

log = logging.getLogger(__name__)

CONTRACTS_DIR: Path = toolchain.REPO_ROOT / "contracts"
BUILD_DIR: Path = toolchain.REPO_ROOT / "build" / "contracts"
HASH_FILE_NAME = ".sources-hash"

#: Compiler settings; part of the cache key (ape-config.yaml repeats them). EVM "cancun" matches
#: Anvil's default hardfork and current permissioned chains (Besu). Optimizer runs 200 = solc's
#: default trade-off. viaIR: the IR pipeline gives smaller code (BatchLedger about 1.2 KB less) and
#: cheaper custody transfers than the legacy one (scripts/bench_gas.py measures both figures).
COMPILER_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": True,
    "evmVersion": "cancun",
    "remappings": ["@openzeppelin/=node_modules/@openzeppelin/"],
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]},
    },
}


class Artifact(TypedDict):
    """One compiled contract: ``bytecode``/``deployedBytecode`` are 0x-prefixed hex."""

    contractName: str
    sourceName: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployedBytecode: str


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


def sources_hash(sources: Iterable[Path]) -> str:
    """Cache key over source names + contents, compiler settings and tool versions."""
    h = hashlib.sha256()
    meta = {
        "solc": toolchain.SOLC_VERSION,
        "openzeppelin": _openzeppelin_version(),
        "settings": COMPILER_SETTINGS,
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
) -> dict[str, Artifact]:
    """Compile (or load cached) artifacts, keyed by contract name.

    ``sources`` defaults to every ``contracts/**/*.sol``; ``build_dir`` to ``build/contracts``.
    Artifacts are returned for contracts defined in ``sources`` only (not OpenZeppelin's), which
    includes interfaces/abstract contracts (empty bytecode). Raises ``CompileError`` on failure.
    """
    import solcx

    src_list = sorted(Path(p).resolve() for p in (sources if sources is not None else find_sources()))
    if not src_list:
        raise CompileError([f"no .sol sources found under {CONTRACTS_DIR}"])
    out_dir = build_dir or BUILD_DIR
    digest = sources_hash(src_list)
    if not force and (cached := _load_cached(out_dir, digest)) is not None:
        register_errors(cached)
        return cached

    own = {_source_name(p): p for p in src_list}
    input_json = {
        "language": "Solidity",
        "sources": {name: {"content": p.read_text()} for name, p in own.items()},
        "settings": COMPILER_SETTINGS,
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
            )

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        stale.unlink()
    for name, art in artifacts.items():
        (out_dir / f"{name}.json").write_text(json.dumps(art, indent=1))
    (out_dir / ".index.json").write_text(json.dumps(sorted(artifacts)))
    # Written last: a crash mid-write leaves no matching hash, so the next run recompiles.
    (out_dir / HASH_FILE_NAME).write_text(digest + "\n")
    _error_selectors_cached.cache_clear()
    register_errors(artifacts)
    return artifacts


def load_artifacts(build_dir: Path | None = None) -> dict[str, Artifact]:
    """Artifacts currently in ``build_dir`` (no compile); empty if none."""
    out_dir = build_dir or BUILD_DIR
    return {p.stem: json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json")) if not p.name.startswith(".")}


# ---------------------------------------------------------------------------- revert decoding

def _abi_type(param: Mapping[str, Any]) -> str:
    """Canonical ABI type string; expands tuples (structs) recursively."""
    t: str = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param.get("components", []))
        return f"({inner}){t[len('tuple'):]}"
    return t


class ErrorInfo(TypedDict):
    contract: str
    name: str
    types: list[str]
    names: list[str]


def all_abis(artifacts: Mapping[str, Artifact] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Contract name -> ABI, over the given artifacts or everything in ``build/contracts``."""
    arts = artifacts if artifacts is not None else load_artifacts()
    return {name: a["abi"] for name, a in arts.items()}


#: Errors of artifacts compiled/loaded in this process (any build_dir), so decode_revert knows
#: them even when they are not in build/contracts (e.g. a test compiling into a temp dir).
_REGISTERED: dict[str, ErrorInfo] = {}


def register_errors(artifacts: Mapping[str, Artifact]) -> None:
    """Add the custom errors of ``artifacts`` to the default decoding table."""
    for sel, info in _build_error_selectors(all_abis(artifacts)).items():
        _REGISTERED.setdefault(sel, info)


def error_selectors(artifacts: Mapping[str, Artifact] | None = None) -> dict[str, ErrorInfo]:
    """Map ``"0x" + 4-byte selector hex`` -> error info, over every artifact's custom errors.

    Without ``artifacts``: everything in ``build/contracts`` (cached until the next
    ``compile_contracts``) plus everything compiled or loaded in this process. Identical error
    declarations in several contracts share a selector and collapse to one entry.
    """
    if artifacts is None:
        return {**_REGISTERED, **_error_selectors_cached()}
    return _build_error_selectors(all_abis(artifacts))


@lru_cache(maxsize=1)
def _error_selectors_cached() -> dict[str, ErrorInfo]:
    return _build_error_selectors(all_abis())


def _build_error_selectors(abis: Mapping[str, list[dict[str, Any]]]) -> dict[str, ErrorInfo]:
    out: dict[str, ErrorInfo] = {}
    for contract, abi in abis.items():
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_abi_type(i) for i in item.get("inputs", [])]
            sig = f"{item['name']}({','.join(types)})"
            sel = "0x" + keccak(text=sig)[:4].hex()
            out.setdefault(
                sel,
                ErrorInfo(
                    contract=contract,
                    name=item["name"],
                    types=types,
                    names=[i.get("name") or f"arg{n}" for n, i in enumerate(item.get("inputs", []))],
                ),
            )
    return out


ERROR_STRING_SELECTOR = "0x08c379a0"  # Error(string)
PANIC_SELECTOR = "0x4e487b71"  # Panic(uint256)


def decode_revert(
    data: bytes | str | None, selectors: Mapping[str, ErrorInfo] | None = None
) -> tuple[str, dict[str, Any]]:
    """Decode revert data into ``(error_name, {arg_name: value})``.

    - empty data (``revert()``, failed ``require`` without message, out of gas): ``("", {})``
    - ``Error(string)``: ``("Error", {"message": str})``
    - ``Panic(uint256)``: ``("Panic", {"code": int})`` (0x11 overflow, 0x12 div by zero, ...)
    - custom error known to any artifact: ``(name, {...})``, unnamed params as ``arg<N>``
    - unknown selector: ``("<unknown 0x12345678>", {"data": "0x..."})``
    """
    if data is None:
        return "", {}
    if isinstance(data, str):
        data = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    data = bytes(data)
    if len(data) < 4:
        return "", {}
    sel, body = "0x" + data[:4].hex(), data[4:]
    if sel == ERROR_STRING_SELECTOR:
        return "Error", {"message": abi_decode(["string"], body)[0]}
    if sel == PANIC_SELECTOR:
        return "Panic", {"code": abi_decode(["uint256"], body)[0]}
    table = selectors if selectors is not None else error_selectors()
    info = table.get(sel)
    if info is None:
        return f"<unknown {sel}>", {"data": "0x" + data.hex()}
    values = abi_decode(info["types"], body)
    return info["name"], {n: _checksum(t, v) for n, t, v in zip(info["names"], info["types"], values)}


def _checksum(abi_type: str, value: Any) -> Any:
    """eth_abi returns lowercase addresses; checksum them so they compare equal to
    ``account.address`` / web3 contract addresses (also inside address arrays)."""
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type.startswith("address[") and isinstance(value, (list, tuple)):
        inner = abi_type[: abi_type.rindex("[")]
        return type(value)(_checksum(inner, v) for v in value)
    return value
