"""``python -m testkit.demo_node`` (``make run DEMO=1``): the node as ``make run`` starts it, with the
demo scenario loaded once through its HTTP API as soon as it serves.

The demo is development tooling, so the product's entry point (``python -m node_api``) knows nothing of
it: it only offers a hook called when the API serves. ``<data_dir>/demo-loaded.json`` records that the
demo was loaded (with its ids), so a restart does not load it twice.
"""

from __future__ import annotations

import json
import sys

from node_api.__main__ import main
from node_api.core.config import Settings

from .demo import run_demo


def load_demo_once(url: str, settings: Settings) -> None:
    marker = settings.data_dir / "demo-loaded.json"
    if marker.exists():
        print(f"demo already loaded ({marker}); delete it or `make clean` to load again", flush=True)
        return
    try:
        ids = run_demo(url, admin_wallet_key=settings.admin_wallet_key or settings.deployer_key,
                       log=lambda msg: print(f"[demo] {msg}", flush=True))
        ids.pop("keys", None)
        marker.write_text(json.dumps(ids, indent=2) + "\n")
        print(f"[demo] ids written to {marker}", flush=True)
    except Exception as exc:  # noqa: BLE001 - the node keeps running
        print(f"[demo] failed: {exc}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(on_serving=load_demo_once))
