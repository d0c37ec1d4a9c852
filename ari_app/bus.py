"""EventBus: the one publisher of the server's typed domain events (calls, queue members, transfers, cases,
health, failed recordings).

    bus = EventBus()
    bus.subscribe(link.on_call_event, CallEvent, QueueMemberChanged, name="link")
    bus.publish(CallRinging(...))          # never waits for a subscriber; safe from a worker thread
    bus.start()                            # on the server's loop, before anything publishes
    await bus.settle()                     # every event published so far has been handled (tests, stop)

Each subscriber has its own queue and its own task, so one that does database work (a transcription lookup,
an audit row) never delays another (the screen-pop): a subscriber sees its events one at a time, in the
order they were published, and only the kinds it asked for (`isinstance`). A subscriber that raises is
logged with the event it failed on and goes on with the next one; nothing is dropped silently. A queue
that grows past `BACKLOG_WARNING` events is logged, once each time it crosses it.

Publishing from another thread (a worker thread's commit) hands the event to the bus's loop with
`call_soon_threadsafe`; the order of events published from one thread is kept.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ari_app.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[object] | object]
BACKLOG_WARNING = 1000
"""Events waiting for one subscriber above which the bus logs a warning (a subscriber that cannot keep up)."""


@dataclass(eq=False)
class Subscription:
    """One subscriber: what it wants, its queue, its task and its counts (`handled`, `failed`)."""

    handler: Handler
    kinds: tuple[type, ...]
    name: str
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    pending: int = 0
    """Events queued and not yet handled (the one being handled included)."""
    handled: int = 0
    failed: int = 0
    warned: bool = False
    queued: int = 0
    """Events ever queued for this subscriber (`queued - pending` of them are handled)."""
    waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    async def caught_up(self) -> None:
        """Return once every event queued for this subscriber so far has been handled."""
        target = self.queued
        if self.queued - self.pending >= target:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append((target, done))
        await done

    def _wake(self) -> None:
        handled = self.queued - self.pending
        still = []
        for target, done in self.waiters:
            if handled >= target:
                if not done.done():
                    done.set_result(None)
            else:
                still.append((target, done))
        self.waiters = still

    def wants(self, event: object) -> bool:
        return not self.kinds or isinstance(event, self.kinds)

    async def run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                result = self.handler(event)
                if inspect.isawaitable(result):
                    await result
                self.handled += 1
            except Exception:
                self.failed += 1
                log.exception("subscriber %s failed on %r", self.name, event)
            finally:
                self.pending -= 1
                self.queue.task_done()
                if self.waiters:
                    self._wake()


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def subscribe(self, handler: Handler, *kinds: type, name: str | None = None) -> Subscription:
        """Deliver every later event that is an instance of one of `kinds` (all events when none are given)
        to `handler` (a function or a coroutine function), on its own task."""
        sub = Subscription(handler, kinds, name or _name_of(handler))
        self._subscriptions.append(sub)
        return sub

    def start(self) -> None:
        """Deliver on the running loop from now on (call it on the loop, as the server starts): an event a
        worker thread publishes (a case committed in a thread) is then delivered even before anything was
        published on the loop itself, instead of being dropped for want of a loop."""
        self._bind(asyncio.get_running_loop())

    def publish(self, event: object) -> None:
        """Queue `event` for every subscriber that wants it, and return at once. From the bus's loop or any
        other thread; without a running loop anywhere (a command, a synchronous test) it is dropped with a
        debug log, as there is nobody to deliver it to."""
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:  # on a loop's own thread: that loop is the bus's
            if loop is not self._loop:
                self._bind(loop)
            self._enqueue(event)
        elif self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._enqueue, event)
        else:
            log.debug("no event loop to deliver %r on", event)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on `loop` from now on (the first one, or a new one after the old loop ended)."""
        self._loop = loop
        for sub in self._subscriptions:
            sub.queue, sub.task, sub.pending, sub.queued, sub.waiters = asyncio.Queue(), None, 0, 0, []

    def _enqueue(self, event: object) -> None:
        for sub in self._subscriptions:
            if not sub.wants(event):
                continue
            if sub.task is None or sub.task.done():
                sub.task = asyncio.get_running_loop().create_task(sub.run(), name=f"bus:{sub.name}")
            sub.queue.put_nowait(event)
            sub.pending += 1
            sub.queued += 1
            backlog = sub.queue.qsize()
            if backlog > BACKLOG_WARNING and not sub.warned:
                sub.warned = True
                log.warning("subscriber %s is %d events behind", sub.name, backlog)
            elif backlog <= BACKLOG_WARNING // 2:
                sub.warned = False

    async def settle(self) -> None:
        """Return once every event published so far (and any they led to) has been handled."""
        while any(sub.pending for sub in self._subscriptions):
            for sub in self._subscriptions:
                await sub.queue.join()

    async def stop(self) -> None:
        """Handle what is queued, then end the subscribers' tasks; later events are ignored."""
        try:
            await asyncio.wait_for(self.settle(), timeout=5.0)
        except TimeoutError:
            log.warning("stopping with events still queued: %s", self.backlog())
        self._closed = True
        await cancel_and_wait(*(sub.task for sub in self._subscriptions))

    def backlog(self) -> dict[str, int]:
        """Events waiting, by subscriber name."""
        return {sub.name: sub.queue.qsize() for sub in self._subscriptions}


def _name_of(handler: Handler) -> str:
    owner = getattr(handler, "__self__", None)
    name = getattr(handler, "__qualname__", None) or repr(handler)
    return f"{type(owner).__name__}.{handler.__name__}" if owner is not None else str(name)
