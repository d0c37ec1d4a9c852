"""Persisting calls: one row per Linkedid, updated in place on every transition."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.model import Call
from schema.calls import CallDirection, CallRecord, CallState, EndReason, OutboundPurpose
from schema.surveys import SurveyResponse

log = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class LoopClock(Protocol):
    """The time and timers the deferred store schedules its writes with: the running event loop's own, or a
    clock a test moves by hand."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object], /) -> object: ...

    def call_soon(self, callback: Callable[[], object], /) -> object: ...


def call_at_or_soon(loop: LoopClock, due: float, callback: Callable[[], object]) -> None:
    """Run `callback` at loop time `due`, or, if that has passed, before the loop handles anything else."""
    if due <= loop.time():
        loop.call_soon(callback)
    else:
        loop.call_at(due, callback)


class SqlCallStore:
    """The tracker's CallSink over SQLAlchemy, one row per Linkedid.

    Writes can be grouped (the server does): with `deferred=True` and a running event loop, a save marks
    the call, and one transaction writes every call changed since the last one: `delay` seconds after the
    save when the store has been idle for `window` seconds, otherwise `window` after the last write. In a
    call storm that is one commit for hundreds of transitions instead of one each, so the records keep up
    with Asterisk. The `delay` (the server's STORE_DELAY) lets the publish of the same events go first: the
    write's thread would otherwise contend with the screen-pops of a burst for the interpreter. Those
    writes run in a worker thread (`write_pending`: the calls are copied on the loop, written one
    transaction at a time, in order), so the
    loop goes on routing events and screen-pops meanwhile. The server's AMI link publishes the events without
    waiting for the write; a subscriber that reads the call records it is told about awaits `write_pending`
    first, which returns once every call saved before it was called is stored. A crash of the
    server loses at most the transitions of the last `window` (as it loses events Asterisk sent but the
    server had not read), never a call an earlier write stored; calls Asterisk still has are adopted again by
    the resync after a restart, and a clean stop flushes. Without a running loop (the command line, tests)
    each save is written at once; `batch()` groups saves explicitly. The window is counted on `clock`'s time
    and timers: the running loop's, unless a test passes a clock it moves by hand.
    """

    RETRY_SECONDS = 1.0

    def __init__(
        self,
        sessions: sessionmaker[Session],
        deferred: bool = False,
        window: float = 0.0,
        clock: LoopClock | None = None,
        delay: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self._clock = clock  # None: the running event loop's time and timers
        self.deferred = deferred
        self.window = window  # deferred: at most one flush per `window` seconds (at once when idle longer)
        self.delay = delay  # deferred: and none sooner than `delay` seconds after the save that asks for it
        self._last_flush = float("-inf")
        self.writes = 0  # transitions saved
        self.commits = 0  # transactions that wrote them
        self._dirty: dict[str, Call] = {}
        self._saved: dict[str, int] = {}  # call id -> the count of `writes` at its last save
        self._scheduled = False
        self._batching = 0
        self._writing: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def save(self, call: Call) -> None:
        self._dirty[call.id] = call
        self.writes += 1
        self._saved[call.id] = self.writes
        if self._batching or self._scheduled:
            return
        if self.deferred:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:
                self._scheduled = True
                timer = self._timer()
                call_at_or_soon(timer, max(self._last_flush + self.window, timer.time() + self.delay), self._flush_soon)
                return
        self.flush()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the saves made inside into one transaction, written on leaving."""
        self._batching += 1
        try:
            yield
        finally:
            self._batching -= 1
            if not self._batching:
                self.flush()

    def _timer(self) -> LoopClock:
        return self._clock or asyncio.get_running_loop()

    def _flush_soon(self) -> None:
        self._scheduled = False
        self._last_flush = self._timer().time()
        task = asyncio.ensure_future(self._write_or_retry())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_or_retry(self) -> None:
        try:
            await self.write_pending()
        except Exception:  # the database is unavailable: keep the calls and try again
            log.exception("storing %d call records failed; retrying in %.0f s", len(self._dirty), self.RETRY_SECONDS)
            if not self._scheduled:
                self._scheduled = True
                timer = self._timer()
                timer.call_at(timer.time() + self.RETRY_SECONDS, self._flush_soon)

    async def write_pending(self) -> None:
        """Write every call saved so far, in one transaction in a worker thread (call on the event loop; the
        loop goes on meanwhile). One write at a time, in the order asked, so an older copy of a call never
        overwrites a newer one. Raises what the database raised; the calls then stay pending."""
        if self._writing is None:
            self._writing = asyncio.Lock()
        async with self._writing:
            pending = self._take()
            if pending:
                await asyncio.to_thread(self._write, pending)
                self._written(pending)

    def flush(self) -> None:
        """Write every call saved so far, in one transaction, now (the command line, tests, a clean stop with
        no write in flight). On failure they stay pending."""
        pending = self._take()
        if pending:
            self._write(pending)
            self._written(pending)

    def _take(self) -> dict[str, tuple[Call, int]]:
        """Copies of the calls to write, with the save count each copy is of."""
        return {key: (copy.copy(call), self._saved[key]) for key, call in self._dirty.items()}

    def _write(self, pending: dict[str, tuple[Call, int]]) -> None:
        """One transaction: the calls not stored yet inserted, the others updated in place (one executemany
        each, as Core statements: a storm's hundreds of rows cost the event loop's thread little)."""
        with self.sessions.begin() as s:
            stored = set(s.scalars(select(CallRecord.linkedid).where(CallRecord.linkedid.in_(pending))))
            values = [_values(call) for call, _ in pending.values()]
            new = [v for v in values if v["linkedid"] not in stored]
            old = [{**v, "key": v["linkedid"]} for v in values if v["linkedid"] in stored]
            if new:
                s.execute(insert(CALLS), new)
            if old:
                s.execute(update(CALLS).where(CALLS.c.linkedid == bindparam("key")), old)

    def _written(self, pending: dict[str, tuple[Call, int]]) -> None:
        for key, (_, saved) in pending.items():
            if self._saved.get(key) == saved:  # not saved again while it was being written
                del self._dirty[key]
                del self._saved[key]
        self.commits += 1

    def load_open(self) -> list[Call]:
        """Calls a previous run of the server left in progress, for the tracker to reconcile."""
        terminal = [s.value for s in CallState if s.terminal]
        with self.sessions() as s:
            rows = s.scalars(select(CallRecord).where(CallRecord.state.not_in(terminal))).all()
            return [
                Call(
                    id=r.linkedid,
                    arrived_at=r.arrived_at,
                    state=CallState(r.state),
                    channel=r.channel,
                    hotline=r.hotline,
                    dialed=r.dialed,
                    caller=r.caller,
                    dialed_raw=r.dialed_raw,
                    caller_raw=r.caller_raw,
                    queue=r.queue,
                    agent=r.agent,
                    queued_at=r.queued_at,
                    answered_at=r.answered_at,
                    ended_at=r.ended_at,
                    end_reason=EndReason(r.end_reason) if r.end_reason else None,
                    recording=r.recording,
                    callback_of=r.callback_of,
                    direction=CallDirection(r.direction),
                    case_id=r.case_id,
                    purpose=OutboundPurpose(r.purpose) if r.purpose else None,
                    missed_call_id=r.missed_call_id,
                )
                for r in rows
            ]


CALLS = cast(Table, CallRecord.__table__)


def _values(call: Call) -> dict[str, Any]:
    """The `calls` columns the tracker owns (the recording check's are written by recordings.service)."""
    return {
        "linkedid": call.id,
        "hotline": call.hotline,
        "dialed": call.dialed,
        "caller": call.caller,
        "dialed_raw": call.dialed_raw,
        "caller_raw": call.caller_raw,
        "queue": call.queue,
        "agent": call.agent,
        "state": call.state.value,
        "arrived_at": call.arrived_at,
        "queued_at": call.queued_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "end_reason": call.end_reason.value if call.end_reason else None,
        "recording": call.recording,
        "channel": call.channel,
        "callback_of": call.callback_of,
        "direction": call.direction.value,
        "case_id": call.case_id,
        "purpose": call.purpose.value if call.purpose else None,
        "missed_call_id": call.missed_call_id,
    }


def recent_calls(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Recent calls, newest first, in the documented `hotline calls --json` shape (docs/calls.md)."""
    rows = list(
        session.scalars(select(CallRecord).order_by(CallRecord.arrived_at.desc(), CallRecord.id.desc()).limit(limit))
    )
    ratings: dict[str, str] = {
        call_id: rating
        for call_id, rating in session.execute(
            select(SurveyResponse.call_id, SurveyResponse.rating).where(
                SurveyResponse.call_id.in_([r.linkedid for r in rows])
            )
        )
    }
    return [
        {
            "id": r.linkedid,
            "hotline": r.hotline,
            "dialed": r.dialed,
            "dialed_raw": r.dialed_raw,
            "caller": r.caller,
            "caller_raw": r.caller_raw,
            "queue": r.queue,
            "agent": r.agent,
            "state": r.state,
            "arrived_at": _iso(r.arrived_at),
            "answered_at": _iso(r.answered_at),
            "ended_at": _iso(r.ended_at),
            "wait_seconds": r.wait_seconds,
            "talk_seconds": r.talk_seconds,
            "end_reason": r.end_reason,
            "recording": r.recording,
            "recording_status": r.recording_status,
            "recording_error": r.recording_error,
            "callback_of": r.callback_of,
            "direction": r.direction,
            "case_id": r.case_id,
            "purpose": r.purpose,
            "missed_call_id": r.missed_call_id,
            "satisfaction": ratings.get(r.linkedid),
        }
        for r in rows
    ]
