"""Background loops of the node's services: one way to stop them."""

from __future__ import annotations

import asyncio


async def cancel(task: asyncio.Task | None) -> None:
    """Cancel ``task`` and wait for it to end; whatever it raised while ending is not the caller's
    concern (the loop logs its own errors)."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):  # noqa: BLE001
        pass
