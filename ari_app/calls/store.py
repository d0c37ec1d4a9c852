"""Persisting calls: one row per Linkedid, updated in place on every transition."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.model import Call, CallState, EndReason
from schema.calls import CallRecord
from schema.surveys import SurveyResponse

log = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def call_at_or_soon(loop: asyncio.AbstractEventLoop, due: float, callback: Callable[[], object]) -> None:
    """Run `callback` at loop time `due`, or, if that has passed, before the loop handles anything else."""
    if due <= loop.time():
        loop.call_soon(callback)
    else:
        loop.call_at(due, callback)


class SqlCallStore:
    """The tracker's CallSink over SQLAlchemy, one row per Linkedid.

    Writes can be grouped (the server does): with `deferred=True` and a running event loop, a save marks
    the call, and one transaction writes every call changed since the last one: at once when the store has
    been idle for `window` seconds, otherwise `window` after the last write. In a call storm that is one
    commit for hundreds of transitions instead of one each, so the records keep up with Asterisk; at other
    times a transition is written as soon as the loop is free. The server's AMI link also flushes before it
    publishes the events, so a subscriber always finds the calls it is told about stored. A crash of the
    server loses at most the transitions of the last `window` (as it loses events Asterisk sent but the
    server had not read), never a call an earlier write stored; calls Asterisk still has are adopted again by
    the resync after a restart, and a clean stop flushes. Without a running loop (the command line, tests)
    each save is written at once; `batch()` groups saves explicitly.
    """

    RETRY_SECONDS = 1.0

    def __init__(self, sessions: sessionmaker[Session], deferred: bool = False, window: float = 0.0) -> None:
        self.sessions = sessions
        self.deferred = deferred
        self.window = window  # deferred: at most one flush per `window` seconds (at once when idle longer)
        self._last_flush = float("-inf")
        self.writes = 0  # transitions saved
        self.commits = 0  # transactions that wrote them
        self._dirty: dict[str, Call] = {}
        self._scheduled = False
        self._batching = 0

    def save(self, call: Call) -> None:
        self._dirty[call.id] = call
        self.writes += 1
        if self._batching or self._scheduled:
            return
        if self.deferred:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:
                self._scheduled = True
                call_at_or_soon(loop, self._last_flush + self.window, self._flush_soon)
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

    def _flush_soon(self) -> None:
        self._scheduled = False
        self._last_flush = asyncio.get_running_loop().time()
        try:
            self.flush()
        except Exception:  # the database is unavailable: keep the calls and try again
            log.exception("storing %d call records failed; retrying in %.0f s", len(self._dirty), self.RETRY_SECONDS)
            self._scheduled = True
            asyncio.get_running_loop().call_later(self.RETRY_SECONDS, self._flush_soon)

    def flush(self) -> None:
        """Write every call saved since the last flush, in one transaction. On failure they stay pending."""
        if not self._dirty:
            return
        pending = dict(self._dirty)
        with self.sessions.begin() as s:
            rows = {r.linkedid: r for r in s.scalars(select(CallRecord).where(CallRecord.linkedid.in_(pending)))}
            for call in pending.values():
                row = rows.get(call.id)
                if row is None:
                    row = CallRecord(linkedid=call.id, state=call.state.value, arrived_at=call.arrived_at)
                    s.add(row)
                _copy(call, row)
        for key, call in pending.items():
            if self._dirty.get(key) is call:
                del self._dirty[key]
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
                )
                for r in rows
            ]


def _copy(call: Call, row: CallRecord) -> None:
    row.hotline = call.hotline
    row.dialed = call.dialed
    row.caller = call.caller
    row.dialed_raw = call.dialed_raw
    row.caller_raw = call.caller_raw
    row.queue = call.queue
    row.agent = call.agent
    row.state = call.state.value
    row.arrived_at = call.arrived_at
    row.queued_at = call.queued_at
    row.answered_at = call.answered_at
    row.ended_at = call.ended_at
    row.wait_seconds = call.wait_seconds
    row.talk_seconds = call.talk_seconds
    row.end_reason = call.end_reason.value if call.end_reason else None
    row.recording = call.recording
    row.channel = call.channel
    row.callback_of = call.callback_of


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
            "satisfaction": ratings.get(r.linkedid),
        }
        for r in rows
    ]
