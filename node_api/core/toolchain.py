"""Locate the offline toolchain (solc-js wrapper, Anvil from npm) and register solc with py-solc-x.

Why this exists: on our machines only PyPI/npm/Debian are reachable, so neither a native solc nor
foundryup can be downloaded. solc-js (npm ``solc``) is driven through ``tools/solc`` (a native-CLI
look-alike) and Anvil comes from the npm package ``@foundry-rs/anvil``.

``SOLC_VERSION`` below is THE pin of the compiler version in Python; ``ape-config.yaml`` must carry
the same literal (YAML cannot import it) and ``tests/test_toolchain.py`` asserts both agree, as well
as the version of the installed npm ``solc`` package.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

SOLC_VERSION = "0.8.30"

#: Repository root: node_api/core/toolchain.py -> ../../
REPO_ROOT: Path = Path(__file__).resolve().parents[2]
NODE_MODULES: Path = REPO_ROOT / "node_modules"
SOLC_WRAPPER_JS: Path = REPO_ROOT / "tools" / "solc-js-wrapper.js"
#: Executable shell script (``exec node solc-js-wrapper.js "$@"``) usable as a solc binary.
SOLC_EXECUTABLE: Path = REPO_ROOT / "tools" / "solc"


class ToolchainError(RuntimeError):
    """A tool is missing; the message says which install step provides it."""


def _require(path: Path, hint: str) -> Path:
    if not path.exists():
        raise ToolchainError(f"{path} not found: {hint}")
    return path


def solc_binary() -> Path:
    """Path of the solc stand-in; checks that solc-js is installed in node_modules."""
    _require(NODE_MODULES / "solc" / "package.json", "run `make deps` (npm ci)")
    return _require(SOLC_EXECUTABLE, "the repository checkout is incomplete")


def installed_solcjs_version() -> str:
    """Version string of the npm ``solc`` package in node_modules (e.g. "0.8.30")."""
    import json

    pkg = json.loads((NODE_MODULES / "solc" / "package.json").read_text())
    return str(pkg["version"])


def _anvil_platform_package() -> str:
    """npm platform package name, mirroring @foundry-rs/anvil's own bin.mjs logic."""
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), "")
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, "")
    return f"anvil-{system}-{arch}"


def anvil_binary() -> Path:
    """Native Anvil executable from the npm platform package.

    Why not ``node_modules/.bin/anvil``: that is a node launcher that spawns the real binary; a
    signal sent to the launcher does not reliably reach Anvil, and Anvil must get SIGINT/SIGTERM
    itself to dump its state file on shutdown.
    """
    exe = "anvil.exe" if platform.system() == "Windows" else "anvil"
    native = NODE_MODULES / "@foundry-rs" / _anvil_platform_package() / "bin" / exe
    if native.exists():
        return native
    launcher = NODE_MODULES / ".bin" / "anvil"
    if launcher.exists():
        return launcher
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ToolchainError(f"Anvil not found at {native}: run `make deps` (npm ci)")


def solcx_install_folder() -> Path:
    import solcx

    return Path(solcx.get_solcx_install_folder())


def register_solc() -> Path:
    """Make py-solc-x (and thus ape-solidity) see solc ``SOLC_VERSION`` as installed.

    py-solc-x treats ``<install folder>/solc-v<version>`` (default ``~/.solcx``) as an installed
    compiler. We put a symlink to ``tools/solc`` there; ``solcx.import_installed_solc()`` would copy
    the script instead, which breaks its relative path to the wrapper. A real native solc of the same
    version already there is left alone (it produces the same bytecode). Idempotent and cheap.
    Returns the registered path.
    """
    import solcx

    target = solc_binary()
    link = solcx_install_folder() / f"solc-v{SOLC_VERSION}"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        if Path(os.readlink(link)) != target:
            link.unlink()
            link.symlink_to(target)
    elif link.exists():
        pass  # a real compiler binary of the same version: keep it
    else:
        link.symlink_to(target)
    solcx.set_solc_version(SOLC_VERSION, silent=True)
    return link


def solc_version_string() -> str:
    """Full version as reported by the stand-in, e.g. "0.8.30+commit.73712a01" (spawns node)."""
    out = subprocess.run(
        [str(solc_binary()), "--version"], check=True, capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    raise ToolchainError(f"unexpected `solc --version` output: {out!r}")


def link_venv_tools(bin_dir: Path) -> None:
    """Symlink ``anvil`` and ``solc`` into a venv's bin/ so that an activated venv has them on PATH.

    ape-foundry finds Anvil only through ``shutil.which("anvil")`` (no config key for the path),
    so ``ape test`` needs it on PATH; ``make deps`` calls this for ``.venv/bin``.
    """
    for name, target in (("anvil", anvil_binary()), ("solc", solc_binary())):
        link = bin_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)


def main() -> None:
    """``python -m node_api.core.toolchain``: register solc with py-solc-x and link venv tools."""
    import sys

    link = register_solc()
    link_venv_tools(Path(sys.prefix) / "bin")
    print(f"solc {SOLC_VERSION} registered for py-solc-x at {link}; anvil at {anvil_binary()}")


if __name__ == "__main__":
    main()
