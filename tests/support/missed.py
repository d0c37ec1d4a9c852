"""Missed calls for the worklist's suites: a hotline call no agent answered, stored as the tracker stores it,
and the CallEnded the tracker publishes for it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallConnected, CallEnded
from schema.calls import CallRecord, CallState, EndReason


def store_miss(
    sessions: sessionmaker[Session],
    linkedid: str,
    caller: str,
    ended_at: datetime,
    *,
    hotline: str = "12345",
    reason: EndReason = EndReason.ABANDONED,
    caller_raw: str | None = None,
) -> CallEnded:
    """Store a call of `caller` to `hotline` that ended unanswered at `ended_at` (`reason`), and return the
    tracker's CallEnded for it."""
    state = CallState.REJECTED if reason is EndReason.OVERFLOW else CallState.ABANDONED
    _store(
        sessions,
        linkedid,
        caller,
        hotline,
        caller_raw=caller_raw if caller_raw is not None else caller,
        state=state.value,
        arrived_at=ended_at - timedelta(seconds=40),
        ended_at=ended_at,
        end_reason=reason.value,
    )
    return CallEnded(linkedid, ended_at, state, reason, None, None)


def store_answered(
    sessions: sessionmaker[Session], linkedid: str, caller: str, answered_at: datetime, *, hotline: str = "12345"
) -> CallConnected:
    """Store a call of `caller` an agent (1001) answered at `answered_at`; return the tracker's CallConnected."""
    _store(
        sessions,
        linkedid,
        caller,
        hotline,
        caller_raw=caller,
        agent="1001",
        state=CallState.CONNECTED.value,
        arrived_at=answered_at - timedelta(seconds=20),
        answered_at=answered_at,
    )
    return CallConnected(linkedid, answered_at, "1001", "PJSIP/1001", 20.0)


def _store(sessions: sessionmaker[Session], linkedid: str, caller: str, hotline: str, **fields: Any) -> None:
    """Store a call of `caller` dialled to `hotline` and queued there; `fields`: the rest of its CallRecord."""
    with sessions.begin() as s:
        s.add(CallRecord(linkedid=linkedid, hotline=hotline, dialed=hotline, caller=caller, queue="hotline", **fields))
