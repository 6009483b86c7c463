"""``Idempotency-Key``: a retried request gets the first answer instead of a second execution, also
after a restart (answers are recorded in the node's database; transactions carry the key too)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Awaitable, Callable

from ..db import Database
from ..errors import ApiError
from .outcomes import Outcomes

MAX_KEY_LENGTH = 200

Answer = tuple[int, dict[str, Any]]


class Idempotency:
    def __init__(self, db: Database, outcomes: Outcomes):
        self.db = db
        self.outcomes = outcomes
        self._running: dict[str, asyncio.Future] = {}

    async def run(self, key: str | None, request: Any, run: Callable[[str | None], Awaitable[Answer]]) -> Answer:
        """Runs ``run(op_key)`` once per ``Idempotency-Key``; a retry gets the first answer (with the
        transactions' current status), even after a restart."""
        if key is None:
            return await run(None)
        if len(key) > MAX_KEY_LENGTH:
            raise ApiError(422, "InvalidRequest", "Idempotency-Key is longer than 200 characters", {"field": "Idempotency-Key"})
        req_hash = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
        stored = self.db.operation(key)
        if stored is not None:
            if stored["request_hash"] != req_hash:
                raise ApiError(409, "IdempotencyKeyReused",
                               "this Idempotency-Key was used for a different request", {"key": key})
            return stored["status_code"], self.outcomes.refresh(json.loads(stored["response"]), replayed=True)
        running = self._running.get(key)
        if running is not None:
            status, body = await asyncio.shield(running)
            return status, self.outcomes.refresh(body, replayed=True)
        # a transaction signed again is represented by its replacement
        rows = [r for r in self.db.txs_for_op(key) if r["status"] != "replaced"]
        if rows:  # acknowledged (or sent) before a restart, answer not recorded
            bodies = [self.outcomes.row_body(r) for r in rows]
            body = bodies[0] if len(bodies) == 1 and rows[0]["item"] is None else {"items": bodies}
            body["replayed"] = True
            return 200, body
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._running[key] = fut
        try:
            status, body = await run(key)
            if status < 300:
                self.db.save_operation(key, req_hash, status, body)
            fut.set_result((status, body))
            return status, body
        except BaseException as exc:
            fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            raise
        finally:
            self._running.pop(key, None)
