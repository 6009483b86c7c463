"""``Idempotency-Key``: a retried request gets the first answer instead of a second execution, also
after a restart (answers are recorded in the node's database; transactions carry the key too).

A key is scoped: it names an operation of *one caller at one endpoint*. The caller is the wallet
whose signature the node recovered (signed submits), the wallet an API key signs for, or the
consortium admin; the endpoint is the route. Two participants using the same key string never meet,
and an outsider cannot squat a key of someone else (an answer is recorded only for a request that
passed the signature check of that scope's wallet).

Race-safe within the node: while one request of a (scope, key) runs, a second with the same request
waits for the first's answer; with a different request it gets 409 at once. What ``wait`` says is
not part of the request (retrying with another ``wait`` is the same request).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ..db import Database
from ..errors import ApiError
from .outcomes import Outcomes

MAX_KEY_LENGTH = 200
#: ``status_code`` of an operation whose request is under way (its answer not recorded yet)
UNDER_WAY = 0

Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Scope:
    """Who is calling (``signer:0x..``, ``wallet:0x..``, ``admin``) at which endpoint."""

    caller: str
    endpoint: str

    def __str__(self) -> str:
        return f"{self.caller} {self.endpoint}"


def scoped_key(scope: Scope, key: str) -> str:
    """The stored key of a client's ``key`` in ``scope`` (fits the 200-character columns)."""
    return "s1:" + hashlib.sha256(f"{scope.caller}\0{scope.endpoint}\0{key}".encode()).hexdigest()


def request_hash(request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def _reused(key: str, scope: Scope) -> ApiError:
    return ApiError(409, "IdempotencyKeyReused",
                    "this Idempotency-Key was used for a different request by the same caller at this endpoint",
                    {"key": key, "caller": scope.caller, "endpoint": scope.endpoint})


class Idempotency:
    def __init__(self, db: Database, outcomes: Outcomes,
                 vouch: Callable[[dict[str, Any], Callable[[], dict[str, Any]]], Awaitable[dict[str, Any]]] | None = None):
        self.db = db
        self.outcomes = outcomes
        #: checks a replayed "mined" against the chain's canonical blocks (services/chain_guard.vouch)
        self.vouch = vouch
        #: scoped key -> (request hash, the running request's answer)
        self._running: dict[str, tuple[str, asyncio.Future]] = {}

    async def _vouched(self, body: dict[str, Any]) -> dict[str, Any]:
        """A replayed answer whose "mined" items are in blocks the chain still has (else pending)."""
        if self.vouch is None:
            return body

        async def one(b: dict[str, Any]) -> dict[str, Any]:
            if not b.get("txHash") or b.get("status") not in ("mined", "reverted"):
                return b
            return await self.vouch(b, lambda: self.outcomes.refresh(b, replayed=True))  # type: ignore[misc]

        if "items" in body:
            return {**body, "items": [await one(b) for b in body["items"]]}
        return await one(body)

    @staticmethod
    def check_key(key: str | None) -> None:
        if key is not None and (len(key) > MAX_KEY_LENGTH or not key.isprintable()):
            raise ApiError(422, "InvalidRequest", "Idempotency-Key must be at most 200 printable characters",
                           {"field": "Idempotency-Key"})

    async def run(self, key: str | None, request: Any, run: Callable[[str | None], Awaitable[Answer]], *,
                  scope: Scope | None = None) -> Answer:
        """Runs ``run(op_key)`` once per ``Idempotency-Key`` in ``scope``; a retry gets the first
        answer (with the transactions' current status), even after a restart."""
        if key is None:
            return await run(None)
        self.check_key(key)
        if scope is None:
            raise ValueError("an Idempotency-Key needs the caller's scope")
        op_key = scoped_key(scope, key)
        req_hash = request_hash(request)
        # No await between the lookups and the registration below: within the event loop this is atomic.
        stored = self.db.operation(op_key)
        running = self._running.get(op_key)
        # a transaction signed again is represented by its replacement
        rows = [r for r in self.db.txs_for_op(op_key) if r["status"] != "replaced"]
        # a row with status 0 marks a request under way; one left by a crash counts only if it relayed something
        if stored is not None and (stored["status_code"] or running is not None or rows):
            if stored["request_hash"] != req_hash:
                raise _reused(key, scope)
            if stored["status_code"]:
                return stored["status_code"], await self._vouched(
                    self.outcomes.refresh(json.loads(stored["response"]), replayed=True))
        if running is not None:
            if running[0] != req_hash:
                raise _reused(key, scope)
            status, body = await asyncio.shield(running[1])
            return status, await self._vouched(self.outcomes.refresh(body, replayed=True))
        if rows:  # acknowledged (or sent) before a restart, answer not recorded
            bodies = [self.outcomes.row_body(r) for r in rows]
            body = bodies[0] if len(bodies) == 1 and rows[0]["item"] is None else {"items": bodies}
            body["replayed"] = True
            return 200, body
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._running[op_key] = (req_hash, fut)
        done = False
        try:
            # recorded before it runs: after a crash, a retry with another request is still 409
            self.db.save_operation(op_key, req_hash, UNDER_WAY, None, scope=str(scope), client_key=key)
            status, body = await run(op_key)
            if status < 300:
                self.db.save_operation(op_key, req_hash, status, body, scope=str(scope), client_key=key)
                done = True
            fut.set_result((status, body))
            return status, body
        except BaseException as exc:
            fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            raise
        finally:
            self._running.pop(op_key, None)
            if not done and not self.db.txs_for_op(op_key):  # refused, nothing relayed: the key is free again
                self.db.delete_operation(op_key)
