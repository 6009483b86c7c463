"""The one engine factory for the node's databases (its write-ahead record in ``node_api/db.py`` and
the provenance index in ``node_api/index/schema.py``).

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed transaction survives the process
being killed (only a power loss can drop the last ones), and readers never block the writer.
PostgreSQL URLs are accepted in their usual spellings and use psycopg 3.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` -> the psycopg 3 driver; anything else unchanged."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, sqlite_pragmas: Iterable[str] = ()) -> Engine:
    """Engine for ``url``; on SQLite every connection gets WAL, ``synchronous=NORMAL`` and then
    ``sqlite_pragmas`` (``"name=value"``)."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    pragmas = ("journal_mode=WAL", "synchronous=NORMAL", *sqlite_pragmas)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # noqa: ANN401
        cur = dbapi_conn.cursor()
        for pragma in pragmas:
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    return engine
