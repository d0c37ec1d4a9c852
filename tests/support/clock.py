"""Clocks a test moves by hand, in place of the wall clock and the event loop's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


class Clock:
    """Wall-clock time (aware datetimes) the test moves by hand: what `clock=` parameters take."""

    def __init__(self, now: datetime = T0) -> None:
        self.t = now

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> datetime:
        self.t += timedelta(**kw)
        return self.t


class LoopTime:
    """Monotonic seconds the test moves by hand, with the timers of an event loop (`time`, `call_at`,
    `call_soon`: ari_app.calls.store.LoopClock): a callback due at or before the new time runs, on the
    running loop, when `advance` reaches it."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self._due: list[tuple[float, Callable[[], object]]] = []

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object], /) -> None:
        self._due.append((when, callback))

    def call_soon(self, callback: Callable[[], object], /) -> None:
        asyncio.get_running_loop().call_soon(callback)

    def pending(self) -> list[float]:
        """When the timers not run yet are due."""
        return sorted(when for when, _ in self._due)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = sorted((t for t in self._due if t[0] <= self.now), key=lambda t: t[0])
        self._due = [t for t in self._due if t[0] > self.now]
        for _, callback in due:
            self.call_soon(callback)
