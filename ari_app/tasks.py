"""Running and stopping the server's background tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel each of `tasks` (None: nothing to stop) and return once every one has ended. What a task raised
    on its way out is not raised here: a stop goes on stopping the rest."""
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    await asyncio.gather(*live, return_exceptions=True)


async def repeat(
    step: Callable[[], Awaitable[Any]], pause: Callable[[], Awaitable[Any]], log: logging.Logger, failed: str
) -> None:
    """Await `step`, then `pause`, for ever (until cancelled). A step that raises is logged on `log` as `failed`
    with its traceback, and the loop goes on."""
    while True:
        try:
            await step()
        except Exception:
            log.exception(failed)
        await pause()
