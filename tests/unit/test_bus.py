"""The one publisher: each subscriber on its own queue and task, failures logged with their event."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

import pytest

from ari_app.bus import EventBus
from tests.support.waiting import until


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Other:
    n: int


async def test_a_slow_subscriber_never_delays_another() -> None:
    bus = EventBus()
    fast: list[tuple[int, float]] = []
    release = asyncio.Event()

    async def slow(event: Ping) -> None:
        await release.wait()  # a subscriber stuck on its database work

    all_fast = asyncio.Event()

    def quick(event: Ping) -> None:
        fast.append((event.n, time.perf_counter()))
        if len(fast) == 50:
            all_fast.set()

    bus.subscribe(slow, Ping, name="slow")
    bus.subscribe(quick, Ping, name="fast")
    t0 = time.perf_counter()
    for n in range(50):
        bus.publish(Ping(n))
    await asyncio.wait_for(all_fast.wait(), 2)
    assert [n for n, _ in fast] == list(range(50))  # in order
    assert fast[-1][1] - t0 < 0.5
    assert bus.backlog()["slow"] == 49  # the slow one has all but the one it is on still queued
    release.set()
    await asyncio.wait_for(bus.settle(), 2)
    assert bus.backlog() == {"slow": 0, "fast": 0}


async def test_a_failing_subscriber_is_logged_with_the_event_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[int] = []

    def picky(event: Ping) -> None:
        if event.n == 1:
            raise RuntimeError("boom")
        seen.append(event.n)

    sub = bus.subscribe(picky, Ping, name="picky")
    with caplog.at_level(logging.ERROR, logger="ari_app.bus"):
        for n in range(3):
            bus.publish(Ping(n))
        await bus.settle()
    assert seen == [0, 2]
    assert (sub.handled, sub.failed) == (2, 1)
    (record,) = caplog.records
    assert "picky" in record.getMessage() and "Ping(n=1)" in record.getMessage()


async def test_a_subscriber_gets_only_the_kinds_it_asked_for() -> None:
    bus = EventBus()
    pings: list[object] = []
    everything: list[object] = []
    bus.subscribe(pings.append, Ping)
    bus.subscribe(everything.append)
    bus.publish(Ping(1))
    bus.publish(Other(2))
    await bus.settle()
    assert pings == [Ping(1)]
    assert everything == [Ping(1), Other(2)]


async def test_events_published_from_a_worker_thread_arrive_in_order() -> None:
    bus = EventBus()
    seen: list[int] = []
    all_seen = asyncio.Event()

    def record(event: Ping) -> None:
        seen.append(event.n)
        if len(seen) == 101:
            all_seen.set()

    bus.subscribe(record, Ping)
    bus.publish(Ping(0))  # binds the bus to this loop

    def worker() -> None:
        assert threading.current_thread() is not threading.main_thread()
        for n in range(1, 101):
            bus.publish(Ping(n))

    await asyncio.to_thread(worker)
    await asyncio.wait_for(all_seen.wait(), 2)
    assert seen == list(range(101))


async def test_stop_handles_what_is_queued_then_ignores_later_events() -> None:
    bus = EventBus()
    seen: list[int] = []

    async def handler(event: Ping) -> None:
        await asyncio.sleep(0.001)
        seen.append(event.n)

    bus.subscribe(handler, Ping)
    for n in range(5):
        bus.publish(Ping(n))
    await bus.stop()
    assert seen == [0, 1, 2, 3, 4]
    bus.publish(Ping(5))
    await asyncio.sleep(0.01)
    assert seen == [0, 1, 2, 3, 4]


async def test_caught_up_waits_for_what_one_subscriber_was_given_before_and_not_for_later_events() -> None:
    bus = EventBus()
    gate = asyncio.Event()
    seen: list[int] = []

    async def held(event: Ping) -> None:
        if event.n == 2:
            await gate.wait()
        seen.append(event.n)

    async def stuck(event: Ping) -> None:
        await asyncio.Event().wait()  # another subscriber that never finishes: not waited for

    sub = bus.subscribe(held, Ping)
    bus.subscribe(stuck, Ping)
    for n in range(3):
        bus.publish(Ping(n))
    waiting = asyncio.ensure_future(sub.caught_up())
    await until(lambda: seen == [0, 1])  # the subscriber is held on event 2
    bus.publish(Ping(3))  # after the barrier: not waited for
    assert not waiting.done()
    gate.set()
    await asyncio.wait_for(waiting, 2)
    assert seen[:3] == [0, 1, 2]
    await sub.caught_up()  # nothing more queued before this call than is handled: at once (or after 3)
    assert seen == [0, 1, 2, 3]
