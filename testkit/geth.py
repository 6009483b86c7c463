"""The consortium's engine: go-ethereum v1.13.15, built once from the Go module proxy and cached.

Why this version: it is the last go-ethereum release that seals Clique proof-of-authority blocks
(v1.14 dropped Clique); Hyperledger Besu, the production target, cannot be installed from the
registries these machines reach. ``go install`` builds it from its module (no replace directives).
On Go 1.23+ its ``fjl/memsize`` dependency needs ``-ldflags=-checklinkname=0`` to link
(go-ethereum issue 30100): verified here with Go 1.26.

Where: ``$COC_GETH`` if set (an existing binary), else ``<cache>/coc-geth/v1.13.15/geth`` with
``<cache>`` = ``$XDG_CACHE_HOME`` or ``~/.cache``: outside the repository, so a CI machine builds it
once (about 1 min 40 s on 2 cores with a cold module cache) and every later run finds it.

``python -m testkit.geth`` (``make geth``) builds it if missing and prints its path; ``find_geth()``
returns the path or None with the reason (the consortium tests skip with that reason).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

GETH_VERSION = "v1.13.15"
GETH_MODULE = f"github.com/ethereum/go-ethereum/cmd/geth@{GETH_VERSION}"
#: Where Go lives on the CI machines when it is not on PATH.
GO_FALLBACK = Path("/usr/local/go/bin/go")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "coc-geth" / GETH_VERSION


def go_binary() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    return str(GO_FALLBACK) if GO_FALLBACK.exists() else None


def cached_geth() -> Path | None:
    env = os.environ.get("COC_GETH")
    if env:
        return Path(env) if Path(env).is_file() else None
    path = cache_dir() / "geth"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def build_geth(*, log=print) -> Path:
    """Builds geth into the cache (idempotent: returns the cached binary if present)."""
    existing = cached_geth()
    if existing is not None:
        return existing
    go = go_binary()
    if go is None:
        raise RuntimeError("Go is not installed (no `go` on PATH nor /usr/local/go/bin/go)")
    out = cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(out))
    log(f"building geth {GETH_VERSION} into {out} (go install, a few minutes the first time)...")
    t0 = time.monotonic()
    proc = subprocess.run([go, "install", "-ldflags=-checklinkname=0", GETH_MODULE], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"go install {GETH_MODULE} failed:\n{proc.stderr[-4000:]}")
    log(f"built geth in {time.monotonic() - t0:.0f} s")
    return out / "geth"


def find_geth(*, build: bool = True) -> tuple[Path | None, str]:
    """(path, "") or (None, why not): the cached binary, else a build when Go is present."""
    path = cached_geth()
    if path is not None:
        return path, ""
    if os.environ.get("COC_GETH"):
        return None, f"COC_GETH={os.environ['COC_GETH']} is not a file"
    if go_binary() is None:
        return None, "Go is not installed: the consortium (geth Clique) tests need it (`make geth`)"
    if not build:
        return None, f"geth {GETH_VERSION} is not built yet: run `make geth`"
    try:
        return build_geth(log=lambda m: print(m, file=sys.stderr)), ""
    except RuntimeError as exc:
        return None, str(exc)


def main() -> int:
    try:
        print(build_geth(log=lambda m: print(m, file=sys.stderr)))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
