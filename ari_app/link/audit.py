"""The link's own audit rows: sign-ins, failed and throttled sign-ins, ended sessions and refused requests.

These happen at a rate a client controls (an attacker's sign-in flood), so they are not written in the request's
path: `record()` queues a row on the event loop and, `window` seconds after the first row queued, a short task
writes what has queued, in one transaction, in a worker thread. (A timer rather than a task that waits for ever:
nothing of the trail is left suspended when the loop stops.) A refusal is therefore committed in its own
transaction, never rolled back with the request it refused. Rows are bounded: past `max_pending` waiting rows new
ones are counted and the count is written as one `audit_rows_dropped` row, so a flood can neither grow memory nor
hold the database's write lock. `flush()` writes what is queued (the server's stop calls it).

Row shape: `audit_log` (schema.cases.AuditEntry) with `login` the login concerned (the attempted one for a
failed sign-in), `role` the user's role or "" when unknown, and `detail` JSON that always has `source`, the
client's address.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from schema.cases import AuditEntry

log = logging.getLogger(__name__)


class AuditTrail:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        window: float = 0.2,
        max_pending: int = 5_000,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.window = window
        self.max_pending = max_pending
        self._rows: list[dict[str, Any]] = []  # AuditEntry columns; the rows are made in the writer's thread
        self._dropped = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._running = False

    def record(self, action: str, login: str, role: str = "", user_id: int | None = None, **detail: Any) -> None:
        """Queue one row (call on the event loop)."""
        if len(self._rows) >= self.max_pending:
            self._dropped += 1
            return
        self._rows.append(
            {"at": self.clock(), "user_id": user_id, "login": login[:64], "role": role[:16], "action": action[:32]}
            | {"detail": detail or None}  # made JSON in the writer's thread, off the loop
        )
        if self._running and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window, self._flush_now)

    def start(self) -> None:
        self._running = True

    async def stop(self) -> None:
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing:
            await asyncio.wait(set(self._flushing))
        await self.flush()

    def _flush_now(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        async with self._lock:
            rows, self._rows = self._rows, []
            if self._dropped:
                rows.append(
                    {"at": self.clock(), "user_id": None, "login": "", "role": "", "action": "audit_rows_dropped"}
                    | {"detail": {"dropped": self._dropped}}
                )
                self._dropped = 0
            if rows:
                try:
                    await asyncio.to_thread(self._write, rows)
                except Exception:
                    log.exception("could not write %d audit rows of the desktop link", len(rows))

    def _write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            detail = row["detail"]
            row["detail"] = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None
        with self.sessions() as s, s.begin():
            s.execute(insert(AuditEntry), rows)  # one executemany, no ORM objects: less of the loop's GIL
