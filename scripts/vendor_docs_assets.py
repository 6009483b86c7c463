"""Vendor Swagger UI and ReDoc into the package (node_api/web/docs/), so /docs and /redoc work offline
on an installed node, without node_modules or a CDN.

    .venv/bin/python scripts/vendor_docs_assets.py      # after changing a version below

Fetches the pinned npm packages with `npm pack` (the npm registry, the ordinary client), copies the
files the pages load plus the licences (swagger-ui-dist: Apache-2.0, with its NOTICE; redoc: MIT) and
writes VENDORED.json (package, version, licence, sha256 of each file); tests/node/test_docs_offline.py
checks the files against it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEST = REPO / "node_api" / "web" / "docs"
PACKAGES = {
    "swagger-ui-dist": ("5.35.0", "Apache-2.0", {
        "swagger-ui-bundle.js": "swagger-ui-bundle.js", "swagger-ui.css": "swagger-ui.css",
        "favicon-32x32.png": "favicon-32x32.png", "LICENSE": "LICENSE.swagger-ui-dist", "NOTICE": "NOTICE.swagger-ui-dist",
        "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt"}),
    # ReDoc 2 (what FastAPI itself uses): ReDoc 3's bundle sends OpenTelemetry traces to Redocly and loads icons
    # from its CDN; ReDoc 2 loads nothing but its attribution logo, which the pages' Content-Security-Policy blocks
    "redoc": ("2.5.4", "MIT", {"bundles/redoc.standalone.js": "redoc.standalone.js",
                               "bundles/redoc.standalone.js.LICENSE.txt": "redoc.standalone.js.LICENSE.txt",
                               "LICENSE": "LICENSE.redoc"}),
}


def main() -> int:
    DEST.mkdir(parents=True, exist_ok=True)
    record = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, licence, files) in PACKAGES.items():
            out = subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            with tarfile.open(Path(tmp) / out) as tar:
                tar.extractall(Path(tmp) / name, filter="data")
            pkg = Path(tmp) / name / "package"
            assert json.loads((pkg / "package.json").read_text())["version"] == version
            hashes = {}
            for src, dst in files.items():
                shutil.copyfile(pkg / src, DEST / dst)
                hashes[dst] = hashlib.sha256((DEST / dst).read_bytes()).hexdigest()
            record[name] = {"version": version, "license": licence, "files": hashes}
    (DEST / "VENDORED.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"vendored into {DEST}: " + ", ".join(f"{n} {v['version']}" for n, v in record.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
