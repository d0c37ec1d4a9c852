"""Live updates for the open pages (docs/web.md, "Live updates"): Server-Sent Events at `/events`.

Each signed-in page that listens gets the ids and numbers of the cases that changed and that its person is
concerned with, never their text (the page then asks for its list again, which the service checks and
audits). Two sources, one per way the web front runs:

- inside `hotline serve` (`web.enabled`): the committed case events from the event bus
  (`LiveHub.on_case_event`), to exactly their `Audience` (`Audience.includes`, as the desktop link pushes
  `case_event`s, ari_app.cases.desk);
- `hotline web` on its own: `AuditPoller` reads the audit trail every `web.poll_seconds` for entries of the
  case workflow's moves (`CHANGES`) made by any process since the last read, and tells each listener whose
  person may see the case: the centre's roles every case, a hotline unit its hotline's, a department the cases
  dispatched to one of its units (the same rule as `access.visible`, on the case's hotline and dispatches).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases import queries
from ari_app.cases.events import Audience, CaseEvent
from ari_app.cases.machine import Action
from ari_app.tasks import cancel_and_wait, repeat
from schema.cases import AuditEntry, Case, Dispatch
from schema.users import Role

log = logging.getLogger(__name__)

QUEUE_LIMIT = 256
"""Notices one listener may have waiting; past that it is told to reload its list (`overflow`)."""
GAP_WAIT = 30.0
"""Seconds an audit id missing below the highest read is asked for again (a transaction committing later)."""
MAX_GAPS = 10_000
CHANGES = frozenset({str(a) for a in Action} | {"create"})
"""The audit actions that are a change of a case (the workflow's moves and intake)."""


@dataclass(eq=False)
class Listener:
    user: queries.UserRecord
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))

    def tell(self, notice: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            pass  # the page reloads its list at the next notice it gets anyway


class LiveHub:
    """The listening pages of one web front. Used on the event loop only."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    def listen(self, user: queries.UserRecord) -> Listener:
        listener = Listener(user)
        self._listeners.add(listener)
        return listener

    def drop(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def __len__(self) -> int:
        return len(self._listeners)

    def notify(self, case_id: int, number: str, audience: Audience, kind: str) -> int:
        """Tell each listener in `audience` that case `case_id` changed; returns how many were told."""
        told = 0
        for lst in list(self._listeners):
            user = lst.user
            if audience.includes(user.role, user.hotline, user.units):
                lst.tell({"case_id": case_id, "number": number, "kind": kind})
                told += 1
        return told

    def on_case_event(self, event: CaseEvent) -> int:
        """Bus subscriber for committed case events (`hotline serve`)."""
        push = queries.push_for(event)
        if push is None:
            return 0
        return self.notify(event.case_id, event.number, event.audience, str(push.get("event") or push["type"]))

    def close(self) -> None:
        """Every stream ends (the server stops)."""
        for lst in list(self._listeners):
            try:
                lst.queue.put_nowait(None)
            except asyncio.QueueFull:
                lst.queue.get_nowait()
                lst.queue.put_nowait(None)


ALL_ROLES = frozenset(Role)


class AuditPoller:
    """`hotline web` on its own: the case changes of every process, read from the audit trail."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        hub: LiveHub,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.hub = hub
        self.interval = interval
        self.clock = clock
        self._last: int | None = None
        self._gaps: dict[int, float] = {}  # audit ids not seen below `_last` -> when first missed (clock)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="web audit poller")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        await repeat(
            self.poll,
            lambda: asyncio.sleep(self.interval),
            log,
            "reading the audit trail for live updates failed; trying again",
        )

    def _read(self) -> list[tuple[int, str, Audience, str]]:
        """The changed cases since the last read. Ids are handed out when a row is inserted, not when it is
        committed: on PostgreSQL a transaction that began first can commit after a later one, so an id below
        the highest read may still appear. Such gaps are asked for again at every read for GAP_WAIT seconds
        (a rolled-back insert leaves a gap for good; at most MAX_GAPS are kept, the oldest dropped first)."""
        with self.sessions() as s:
            if self._last is None:
                self._last = s.scalar(select(func.max(AuditEntry.id))) or 0
                return []
            columns = (AuditEntry.id, AuditEntry.case_id, AuditEntry.action)
            rows = list(
                s.execute(select(*columns).where(AuditEntry.id > self._last).order_by(AuditEntry.id).limit(5000))
            )
            now = self.clock()
            self._gaps = {i: t for i, t in self._gaps.items() if now - t < GAP_WAIT}
            if self._gaps:
                rows += s.execute(select(*columns).where(AuditEntry.id.in_(list(self._gaps)))).all()
            if not rows:
                return []
            seen = {r[0] for r in rows}
            top = max(seen)
            if top > self._last:
                if top - self._last <= MAX_GAPS:  # not after a jump of the id sequence
                    for missing in range(self._last + 1, top):
                        if missing not in seen:
                            self._gaps[missing] = now
                self._last = top
            for found in seen:
                self._gaps.pop(found, None)
            while len(self._gaps) > MAX_GAPS:
                self._gaps.pop(next(iter(self._gaps)))
            changed: dict[int, str] = {}
            for _, case_id, action in sorted(rows):
                if case_id is not None and action in CHANGES:
                    changed[case_id] = action
            if not changed:
                return []
            read = s.execute(select(Case.id, Case.number, Case.hotline).where(Case.id.in_(changed)))
            cases = {cid: (number, hotline) for cid, number, hotline in read}
            units: dict[int, set[int]] = {}
            for case_id, unit_id in s.execute(
                select(Dispatch.case_id, Dispatch.unit_id).where(Dispatch.case_id.in_(changed))
            ):
                units.setdefault(case_id, set()).add(unit_id)
            return [
                (cid, cases[cid][0], Audience(ALL_ROLES, cases[cid][1], frozenset(units.get(cid, ()))), action)
                for cid, action in changed.items()
                if cid in cases
            ]

    async def poll(self) -> int:
        """Read what changed since the last poll and tell the listeners; returns the notices sent."""
        told = 0
        for case_id, number, audience, action in await asyncio.to_thread(self._read):
            told += self.hub.notify(case_id, number, audience, action)
        return told
