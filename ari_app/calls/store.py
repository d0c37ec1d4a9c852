"""Persisting calls: one row per Linkedid, updated in place on every transition."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.model import Call, CallState, EndReason
from schema.calls import CallRecord
from schema.surveys import SurveyResponse


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class SqlCallStore:
    """The tracker's CallSink over SQLAlchemy. Each save is its own short transaction, so a crash of the
    server loses at most the transition in flight, never a call already seen."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.writes = 0

    def save(self, call: Call) -> None:
        with self.sessions.begin() as s:
            row = s.scalar(select(CallRecord).where(CallRecord.linkedid == call.id))
            if row is None:
                row = CallRecord(linkedid=call.id, state=call.state.value, arrived_at=call.arrived_at)
                s.add(row)
            row.hotline = call.hotline
            row.dialed = call.dialed
            row.caller = call.caller
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
        self.writes += 1

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
            "caller": r.caller,
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
            "callback_of": r.callback_of,
            "satisfaction": ratings.get(r.linkedid),
        }
        for r in rows
    ]
