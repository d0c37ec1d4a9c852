"""CallbackService: a callback request stored per CallbackRequested event, and the dialer calling the
citizens back, oldest first, as agents become free (the package's docstring tells how)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallbackRequested, CallEnded, CallEvent, QueueMemberChanged
from ari_app.calls.numbers import RAW_LENGTH, NumberError, NumberPlan
from ari_app.config import Config
from ari_app.tasks import cancel_and_wait, repeat
from schema.callbacks import CallbackRequest, CallbackStatus

log = logging.getLogger(__name__)


def rows_changed(result: Result[Any]) -> int:
    """The rows an UPDATE changed. SQLAlchemy types `Session.execute` as returning a `Result`; for an UPDATE
    it is a `CursorResult`, which alone has `rowcount`."""
    assert isinstance(result, CursorResult)
    return result.rowcount


Clock = Callable[[], datetime]


class Dialer(Protocol):
    async def free_agents(self, queue: str) -> int: ...

    async def originate_callback(self, *, number: str, trunk: str, hotline: str, callback_of: str) -> tuple[bool, str]:
        """Call `number` through `trunk`; when answered, the call enters the hotline's queue.
        Returns (answered, reason)."""
        ...


class CallbackService:
    def __init__(
        self,
        cfg: Config,
        sessions: sessionmaker[Session],
        dialer: Dialer,
        clock: Clock | None = None,
        interval: float = 2.0,
    ) -> None:
        self.cfg = cfg
        self.sessions = sessions
        self.dialer = dialer
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.interval = interval
        self.numbers = NumberPlan.from_config(cfg)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._dialing: set[asyncio.Task[None]] = set()

    # --- requests --------------------------------------------------------------------------------------
    def request(self, call_id: str, hotline: str, number: str, at: datetime, number_raw: str | None = None) -> bool:
        """Store a request (once per call); False if this call had already asked. `number` is the caller in
        any form (stored canonical), `number_raw` the caller id as received (default: `number`). A request
        from a withheld caller (`ari_app.calls.numbers.is_withheld`) or a number the callback trunk cannot dial
        (`NumberPlan.outbound`, the rule every number dialled out follows) is stored `failed` with the reason and
        never dialled: there is no one to call back."""
        found = self.numbers.caller(number)
        number = found.canonical
        raw = (number_raw if number_raw is not None else found.raw)[:RAW_LENGTH] or None
        error = "the caller withheld their number" if found.withheld else None
        if error is None:
            try:
                self.numbers.outbound(number, self.cfg.callback.trunk)
            except NumberError as exc:
                error = f"the caller's number cannot be dialled: {exc.reason}"[:200]
        status = CallbackStatus.PENDING if error is None else CallbackStatus.FAILED
        try:
            with self.sessions.begin() as s:
                s.add(
                    CallbackRequest(
                        call_id=call_id,
                        hotline=hotline,
                        number=number or "",
                        number_raw=raw,
                        status=status.value,
                        requested_at=at,
                        next_attempt_at=at,
                        attempts=0,
                        last_error=error,
                    )
                )
        except IntegrityError:
            return False
        log.info("callback requested by %s on %s (call %s)", number, hotline, call_id)
        self._wake.set()
        return True

    async def on_event(self, event: CallEvent | QueueMemberChanged) -> None:
        """Subscriber to the tracker's events."""
        if isinstance(event, CallbackRequested):
            self.request(event.call_id, event.hotline or "", event.number or "", event.at, event.number_raw)
        elif isinstance(event, QueueMemberChanged) or (isinstance(event, CallEnded) and event.agent_id):
            self._wake.set()  # an agent may be free now (not after a call no agent had, as in a storm)

    # --- dialer ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        with self.sessions.begin() as s:
            s.execute(
                update(CallbackRequest)
                .where(CallbackRequest.status == CallbackStatus.DIALING.value)
                .values(status=CallbackStatus.PENDING.value)
            )
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task, *self._dialing)

    async def _run(self) -> None:
        await repeat(self.dial_due, self._idle, log, "callback dialer failed; trying again")

    async def _idle(self) -> None:
        """Until an agent may be free (`on_event`), at most `interval` seconds."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), self.interval)
        except TimeoutError:
            pass

    async def dial_due(self) -> int:
        """Start a callback for each free agent, oldest request first. Returns how many were started."""
        if not self.cfg.callback.enabled:
            return 0
        now = self.clock()
        with self.sessions() as s:
            due = s.scalars(
                select(CallbackRequest)
                .where(CallbackRequest.status == CallbackStatus.PENDING.value, CallbackRequest.next_attempt_at <= now)
                .order_by(CallbackRequest.requested_at, CallbackRequest.id)
            ).all()
        if not due:
            return 0
        free = await self.dialer.free_agents(self.cfg.queue.name) - len(self._dialing)
        started = 0
        for req in due[: max(0, free)]:
            with self.sessions.begin() as s:
                claimed = rows_changed(
                    s.execute(
                        update(CallbackRequest)
                        .where(CallbackRequest.id == req.id, CallbackRequest.status == CallbackStatus.PENDING.value)
                        .values(status=CallbackStatus.DIALING.value, attempts=CallbackRequest.attempts + 1)
                    )
                )
            if claimed:
                task = asyncio.create_task(self._dial(req.id, req.number, req.hotline, req.call_id))
                self._dialing.add(task)
                task.add_done_callback(self._dialed)
                started += 1
        return started

    def _dialed(self, task: asyncio.Task[None]) -> None:
        """A dial task ended: forget it, and log what failed in it (the request stays `dialing` until the
        next start of the service puts it back to `pending`), never lose the error silently."""
        self._dialing.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a callback dial task failed", exc_info=exc)

    async def _dial(self, req_id: int, number: str, hotline: str, call_id: str) -> None:
        log.info("calling back %s for hotline %s (request of call %s)", number, hotline, call_id)
        trunk = self.cfg.callback.trunk
        try:
            answered, reason = await self.dialer.originate_callback(
                number=self.numbers.dial_string(number, trunk), trunk=trunk, hotline=hotline, callback_of=call_id
            )
        except Exception as exc:  # Asterisk unreachable, action refused: counts as an attempt
            answered, reason = False, f"{type(exc).__name__}: {exc}"
        now = self.clock()
        with self.sessions.begin() as s:
            req = s.get(CallbackRequest, req_id)
            if req is None:
                return
            if answered:
                req.status = CallbackStatus.DONE.value
                req.completed_at = now
                req.last_error = None
            elif req.attempts >= self.cfg.callback.max_attempts:
                req.status = CallbackStatus.FAILED.value
                req.completed_at = now
                req.last_error = reason[:200]
            else:
                req.status = CallbackStatus.PENDING.value
                req.next_attempt_at = now + timedelta(seconds=self.cfg.callback.retry_seconds)
                req.last_error = reason[:200]
        log.info("callback of %s: %s", number, "answered" if answered else f"not answered ({reason})")
        self._wake.set()
