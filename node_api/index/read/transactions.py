"""One transaction's indexed events, verbatim (``idx_events``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .. import schema as t


def tx_facts(conn: Connection, tx_hash: str) -> dict[str, Any] | None:
    rows = conn.execute(select(t.events).where(t.events.c.tx_hash == tx_hash.lower())
                        .order_by(t.events.c.log_index)).all()
    if not rows:
        return None
    return {"tx_hash": tx_hash.lower(), "block_number": rows[0].block_number, "time": rows[0].block_time,
            "events": [{"log_index": r.log_index, "contract": r.contract, "event": r.name, "args": json.loads(r.args)}
                       for r in rows]}
