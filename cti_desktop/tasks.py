"""`TaskKeeper`: the desktop's async slots run as asyncio tasks, each kept until it ends (the event loop holds
only weak references to tasks) and its failure handed on rather than lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class TaskKeeper:
    """Runs coroutines as tasks and keeps them in `tasks` until they end; `failed` is called with the exception
    of each task that raised (a cancelled task is no failure)."""

    def __init__(self, failed: Callable[[BaseException], None]) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self._failed = failed

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run an async slot; keep a reference until it ends and report any failure."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._failed(exc)

    def cancel_all(self) -> None:
        """Cancel the tasks still running, without reporting them (the window is going away)."""
        for task in list(self.tasks):
            task.remove_done_callback(self._done)
            task.cancel()
        self.tasks.clear()
