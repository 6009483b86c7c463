"""Refresh the auditor's copy of the contract ABIs from the compiled artifacts.

    python -m auditor.abi.refresh [build/contracts]

The auditor ships these ABIs (events and view functions) so that it never imports the node's code:
it is a second implementation that only shares the contracts' interface. A test checks that the copy
equals the artifacts in build/contracts, so a changed event cannot go unnoticed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CONTRACTS = ("ParticipantRegistry", "BatchLedger", "MassBalance", "CertificateRegistry", "ProductIdentifiers")
HERE = Path(__file__).resolve().parent


def extract(artifact: dict) -> list[dict]:
    """Events and functions only (no errors/constructor), in a stable order."""
    keep = [item for item in artifact["abi"] if item.get("type") in ("event", "function")]
    return sorted(keep, key=lambda i: (i["type"], i["name"], json.dumps(i.get("inputs", []), sort_keys=True)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    build = Path(argv[0]) if argv else HERE.parents[1] / "build" / "contracts"
    for name in CONTRACTS:
        artifact = json.loads((build / f"{name}.json").read_text())
        (HERE / f"{name}.json").write_text(json.dumps(extract(artifact), indent=1, sort_keys=True) + "\n")
        print(f"wrote {HERE / (name + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
