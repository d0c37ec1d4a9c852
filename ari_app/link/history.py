"""The caller history a screen-pop shows, read when the call arrives, so that the pop never waits for the
database and no pop waits for another's lookup.

    history = PopHistory(sessions, limit=5)
    history.on_call_event(event)        # CallArrived: start the read; CallEnded: forget the call
    found = history.ready(call_id)      # the history, or None while it is still being read
    found = await history.wait(call_id, caller)   # a pop that came first waits for its own read only

The reads of every call that arrived in one turn of the event loop go to one worker thread together, in
one database session (`cases.pop_histories`: the centre's view of the cases, most recent first). A read
that fails is logged and gives an empty history: the pop still goes out. Calls are forgotten when they end;
at most `MAX_CALLS` are held (the oldest go first).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallArrived, CallEnded
from ari_app.cases import queries as cases
from ari_app.protocol import CaseSummary

log = logging.getLogger(__name__)

MAX_CALLS = 10_000
"""Calls whose history is held at once: more than the calls a centre has in progress (each call is
forgotten when it ends), a bound for a tracker that missed the ends."""


class PopHistory:
    def __init__(self, sessions: sessionmaker[Session], limit: int) -> None:
        self.sessions = sessions
        self.limit = limit
        self._found: OrderedDict[str, asyncio.Future[list[CaseSummary]]] = OrderedDict()
        self._batch: dict[str, str] = {}  # call id -> caller, to read in the next batch
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        """Batches read so far (each one worker-thread hop and one session)."""

    def on_call_event(self, event: object) -> None:
        if isinstance(event, CallArrived) and event.caller:
            self.prefetch(event.call_id, event.caller)
        elif isinstance(event, CallEnded):
            future = self._found.pop(event.call_id, None)
            if future is not None and not future.done():
                future.cancel()

    def prefetch(self, call_id: str, caller: str) -> asyncio.Future[list[CaseSummary]]:
        """Start reading the history of `caller` for `call_id` (once per call) and return its future."""
        future = self._found.get(call_id)
        if future is not None:
            return future
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._found[call_id] = future
        while len(self._found) > MAX_CALLS:
            _, old = self._found.popitem(last=False)
            old.cancel()
        if not self._batch:
            loop.call_soon(self._read_batch)
        self._batch[call_id] = caller
        return future

    def ready(self, call_id: str) -> list[CaseSummary] | None:
        future = self._found.get(call_id)
        if future is None or not future.done() or future.cancelled():
            return None
        return future.result()

    async def wait(self, call_id: str, caller: str, timeout: float = 2.0) -> list[CaseSummary]:
        """The history of `call_id`, read now if its arrival was not seen (a call adopted after a restart);
        empty after `timeout` seconds."""
        future = self.prefetch(call_id, caller)
        done, _ = await asyncio.wait({future}, timeout=timeout)
        return future.result() if future in done and not future.cancelled() else []

    def _read_batch(self) -> None:
        batch, self._batch = self._batch, {}
        if batch:
            task = asyncio.ensure_future(self._read(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _read(self, batch: dict[str, str]) -> None:
        self.batches += 1
        try:
            found = await asyncio.to_thread(cases.pop_histories, self.sessions, set(batch.values()), self.limit)
        except Exception:
            log.exception("caller history for %d screen-pops failed", len(batch))
            found = {}
        for call_id, caller in batch.items():
            future = self._found.get(call_id)
            if future is not None and not future.done():
                future.set_result(found.get(caller, []))
