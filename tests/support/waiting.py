"""Waiting on a condition with a deadline, never for a fixed time: `wait_for` in plain code (the end-to-end
harness, benchmarks), `until` on an event loop."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `condition` until it returns something truthy, and return that; fail with `what` after `timeout`
    seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


async def until(
    condition: Callable[[], Any],
    within: float = 3.0,
    what: str = "the condition",
    *,
    interval: float = 0.005,
    each: Callable[[], object] | None = None,
    blocking: bool = False,
) -> Any:
    """Poll `condition` on the running loop until it returns something truthy, and return that; fail with
    `what` after `within` seconds. For state that has no event of its own to wait on.

    `condition` may return an awaitable (a coroutine reading Asterisk), which is awaited; with `blocking` it
    runs in a worker thread (it reads files or runs a command), so the loop goes on meanwhile. `each` runs
    before every poll: Qt's `QApplication.processEvents` where windows live on a plain asyncio loop."""

    async def poll() -> Any:
        while True:
            if each is not None:
                each()
            value = await asyncio.to_thread(condition) if blocking else condition()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(interval)

    try:
        return await asyncio.wait_for(poll(), within)
    except TimeoutError as exc:
        raise AssertionError(f"timed out after {within} s waiting for {what}") from exc
