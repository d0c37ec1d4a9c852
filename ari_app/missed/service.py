"""The missed-call worklist (漏接回拨): tasks from the tracker's events, the agents' claims and attempts, and the
share called back in time. The package's docstring tells the rules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallConnected, CallEnded, CallEvent
from ari_app.calls.numbers import is_withheld
from ari_app.cases.actor import SYSTEM, Actor
from ari_app.cases.audit import audit
from ari_app.config import Config
from ari_app.missed.errors import MissedCallClaimed, MissedCallClosed, MissedCallNotFound, MissedCallPermissionDenied
from ari_app.protocol import iso
from schema.callbacks import CallbackRequest, CallbackStatus
from schema.calls import CallDirection, CallRecord, EndReason
from schema.missed import AttemptOutcome, MissedCall, MissedReason, MissedStatus
from schema.users import Role

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CENTRE_ZONE = ZoneInfo("Asia/Shanghai")
"""`centre.timezone`'s default (ari_app.config)."""

MISSED_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
"""Who works the worklist: the centre's agents and supervisors (and administrators); not the hotlines' units,
the departments or QA."""

REASONS: dict[EndReason, MissedReason] = {
    EndReason.ABANDONED: MissedReason.ABANDONED,
    EndReason.OVERFLOW: MissedReason.OVERFLOW,
    EndReason.QUEUE_TIMEOUT: MissedReason.TIMEOUT,
    EndReason.LOST: MissedReason.LOST,
}
"""The end reasons that make a missed call, and the task's reason. Not missed: answered calls (caller or agent
hung up), a call to no hotline, and a caller who chose the callback key (`callback_requested`: the callback
dialer calls them back, schema.callbacks)."""


@dataclass(frozen=True)
class MissedSettings:
    """From config.yaml `callback:` (`missed_target_minutes`, `missed_claim_minutes`, `calling_hours`) and
    `centre.timezone`."""

    target: timedelta = timedelta(minutes=30)
    claim: timedelta = timedelta(minutes=10)
    opening: time = time(8, 0)
    closing: time = time(21, 0)
    zone: ZoneInfo = CENTRE_ZONE

    @classmethod
    def from_config(cls, cfg: Config) -> MissedSettings:
        cb = cfg.callback
        return cls(
            target=timedelta(minutes=cb.missed_target_minutes),
            claim=timedelta(minutes=cb.missed_claim_minutes),
            opening=cb.calling_hours[0],
            closing=cb.calling_hours[1],
            zone=ZoneInfo(cfg.timezone),
        )

    def callable_from(self, at: datetime) -> datetime:
        """`at` itself when it falls within the calling hours (centre time), else the next opening: the same
        day's before the opening, the next day's from the closing on. UTC."""
        local = at.astimezone(self.zone)
        if local.time() < self.opening:
            day = local.date()
        elif local.time() >= self.closing:
            day = local.date() + timedelta(days=1)
        else:
            return at.astimezone(UTC)
        return datetime.combine(day, self.opening, self.zone).astimezone(UTC)

    def due(self, missed_at: datetime) -> datetime:
        """A task's due time: `target` after the miss, moved to the next opening when it falls outside the
        calling hours (a call missed at 20:50 with a 30-minute target is due at 08:00 the next day)."""
        return self.callable_from(missed_at + self.target)

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The UTC instants a centre-time calendar day starts and ends (end excluded)."""
        start = datetime.combine(day, time(0), self.zone)
        return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)


@dataclass(frozen=True)
class MissedCallChanged:
    """A task appeared, joined a further miss, was claimed, had an attempt, or closed (`change`); `task` is
    its `task_info` as stored after the change. Published on the bus after the change committed."""

    change: str
    task: dict[str, Any]


def task_info(row: MissedCall, now: datetime) -> dict[str, Any]:
    """A task as the link and the CLI show it (docs/protocol.md, "Missed calls"). `claimed_by` is set only
    while the claim holds."""
    claimed = row.claimed_by is not None and row.claim_until is not None and row.claim_until > now
    is_open = row.status == MissedStatus.OPEN
    return {
        "id": row.id,
        "call_id": row.call_id,
        "last_call_id": row.last_call_id,
        "hotline": row.hotline,
        "caller": row.caller,
        "caller_raw": row.caller_raw,
        "missed_at": iso(row.missed_at),
        "last_missed_at": iso(row.last_missed_at),
        "misses": row.misses,
        "reason": row.reason,
        "due_at": iso(row.due_at),
        "overdue": is_open and row.due_at < now,
        "status": row.status,
        "claimed_by": row.claimed_by if claimed and is_open else None,
        "claim_until": iso(row.claim_until) if claimed and is_open else None,
        "attempts": row.attempts,
        "last_attempt_at": iso(row.last_attempt_at),
        "last_outcome": row.last_outcome,
        "last_attempt_by": row.last_attempt_by,
        "notes": row.notes,
        "closed_at": iso(row.closed_at),
        "closed_by_call": row.closed_by_call,
    }


# --- tasks from the calls ----------------------------------------------------------------------------------
def record_miss(session: Session, settings: MissedSettings, call_id: str) -> tuple[str, MissedCall] | None:
    """Open a task for the stored call `call_id` if it was missed, or join it to its caller's open task.
    Returns ("missed" | "joined", the task), or None when the call makes no task: not missed (`REASONS`), no
    hotline, answered, a withheld caller, a caller waiting for the callback they asked for (a pending or
    dialling request in `callbacks`), or a call already counted. Audited as the platform (`missed_call_opened`,
    `missed_call_joined`)."""
    rec = session.scalar(select(CallRecord).where(CallRecord.linkedid == call_id))
    if rec is None or rec.direction != CallDirection.INBOUND:
        return None  # a call an agent placed is no citizen's missed call
    if rec.end_reason is None or rec.ended_at is None or not rec.hotline:
        return None
    reason = REASONS.get(rec.end_reason)  # type: ignore[call-overload]
    if reason is None or rec.answered_at is not None:
        return None
    caller = rec.caller
    if caller is None or is_withheld(caller):  # stored canonical: `withheld` for a withheld caller id
        return None
    waiting = session.scalar(
        select(CallbackRequest.id).where(
            CallbackRequest.number == caller,
            CallbackRequest.status.in_((CallbackStatus.PENDING.value, CallbackStatus.DIALING.value)),
        )
    )
    if waiting is not None:
        return None
    counted = session.scalar(
        select(MissedCall.id).where((MissedCall.call_id == call_id) | (MissedCall.last_call_id == call_id))
    )
    if counted is not None:
        return None
    at = rec.ended_at
    task = session.scalar(select(MissedCall).where(MissedCall.open_number == caller))
    if task is not None:
        task.misses += 1
        task.last_call_id = call_id
        task.last_missed_at = max(task.last_missed_at, at)
        audit(session, SYSTEM, "missed_call_joined", None, at, task=task.id, call_id=call_id, caller=caller)
        return "joined", task
    task = MissedCall(
        call_id=call_id,
        last_call_id=call_id,
        hotline=rec.hotline,
        caller=caller,
        caller_raw=rec.caller_raw,
        open_number=caller,
        missed_at=at,
        last_missed_at=at,
        misses=1,
        reason=reason.value,
        due_at=settings.due(at),
        status=MissedStatus.OPEN.value,
        attempts=0,
    )
    session.add(task)
    session.flush()
    audit(session, SYSTEM, "missed_call_opened", None, at, task=task.id, call_id=call_id, caller=caller)
    return "missed", task


def close_by_contact(session: Session, call_id: str, at: datetime) -> MissedCall | None:
    """The stored hotline call `call_id` was answered by an agent: its caller's open task, missed before `at`,
    closes as `closed_by_contact` (audited as the platform). Returns the task, or None."""
    rec = session.scalar(select(CallRecord).where(CallRecord.linkedid == call_id))
    if rec is None or rec.direction != CallDirection.INBOUND or not rec.hotline or rec.caller is None:
        return None  # an agent's own call back closes the task by the outcome they record (missed_call_attempt)
    if is_withheld(rec.caller):
        return None
    task = session.scalar(select(MissedCall).where(MissedCall.open_number == rec.caller))
    if task is None or task.missed_at > at:
        return None
    _close(task, MissedStatus.CLOSED_BY_CONTACT, at)
    task.closed_by_call = call_id
    audit(session, SYSTEM, "missed_call_closed", None, at, task=task.id, call_id=call_id, status=task.status)
    return task


def _close(task: MissedCall, status: MissedStatus, at: datetime) -> None:
    task.status = status.value
    task.closed_at = at
    task.open_number = None
    task.claimed_by = task.claimed_at = task.claim_until = None


# --- the agents' operations --------------------------------------------------------------------------------
def _allowed(session: Session, actor: Actor, request: str, now: datetime) -> None:
    if actor.role not in MISSED_ROLES:
        raise MissedCallPermissionDenied(f"{actor.role} may not {request}", role=str(actor.role))


def list_missed(
    session: Session, actor: Actor, now: datetime, which: str = "open", limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """The worklist (`which`, protocol.MISSED_FILTERS): `open` tasks, the `overdue` open ones, or `all` (the
    open first, then the closed, newest first); the open by due time, earliest first. Returns (one page of
    `task_info`, how many match in all). Audited as `missed_calls_listed`. Raises MissedCallPermissionDenied
    for other roles."""
    _allowed(session, actor, "list missed calls", now)
    query = select(MissedCall)
    if which in ("open", "overdue"):
        query = query.where(MissedCall.status == MissedStatus.OPEN.value)
    if which == "overdue":
        query = query.where(MissedCall.due_at < now)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    is_closed = case((MissedCall.status == MissedStatus.OPEN.value, 0), else_=1)
    open_due = case((MissedCall.status == MissedStatus.OPEN.value, MissedCall.due_at), else_=None)
    query = query.order_by(is_closed, open_due, MissedCall.closed_at.desc(), MissedCall.id)
    rows = session.scalars(query.limit(limit).offset(offset)).all()
    audit(session, actor, "missed_calls_listed", None, now, filter=which, offset=offset, found=len(rows), total=total)
    return [task_info(r, now) for r in rows], total


def _task(session: Session, task_id: int) -> MissedCall:
    task = session.get(MissedCall, task_id, with_for_update=True)
    if task is None:
        raise MissedCallNotFound(f"no missed-call task {task_id}", task_id=task_id)
    if task.status != MissedStatus.OPEN:
        raise MissedCallClosed(f"missed-call task {task_id} is {task.status}", task_id=task_id, status=task.status)
    return task


def _not_claimed_by_other(task: MissedCall, actor: Actor, now: datetime) -> None:
    if (
        task.claimed_by is not None
        and task.claimed_by != actor.login
        and task.claim_until is not None
        and task.claim_until > now
    ):
        raise MissedCallClaimed(
            f"{task.claimed_by} has claimed missed-call task {task.id} until {iso(task.claim_until)}",
            task_id=task.id,
            claimed_by=task.claimed_by,
            claim_until=iso(task.claim_until),
        )


def claim(session: Session, settings: MissedSettings, actor: Actor, task_id: int, now: datetime) -> MissedCall:
    """Claim an open task for `settings.claim` from `now` (one agent at a time; the claimant may claim again to
    extend it). Raises MissedCallNotFound, MissedCallClosed, MissedCallClaimed (another agent's claim holds),
    MissedCallPermissionDenied. Audited as `missed_call_claimed`."""
    _allowed(session, actor, "claim missed calls", now)
    task = _task(session, task_id)
    _not_claimed_by_other(task, actor, now)
    task.claimed_by, task.claimed_at, task.claim_until = actor.login, now, now + settings.claim
    audit(session, actor, "missed_call_claimed", None, now, task=task.id, claim_until=iso(task.claim_until))
    return task


def attempt(
    session: Session, actor: Actor, task_id: int, outcome: AttemptOutcome, notes: str, now: datetime
) -> MissedCall:
    """Record a callback attempt: `reached` closes the task as `called_back`, `wrong_number` closes it as
    `wrong_number`, `not_reached` leaves it open and ends the claim (another agent may try). Refused while
    another agent's claim holds; the same errors as `claim`. Audited as `missed_call_attempt`."""
    _allowed(session, actor, "record callback attempts", now)
    task = _task(session, task_id)
    _not_claimed_by_other(task, actor, now)
    task.attempts += 1
    task.first_attempt_at = task.first_attempt_at or now
    task.last_attempt_at, task.last_outcome, task.last_attempt_by = now, outcome.value, actor.login
    task.notes = notes or None
    if outcome is AttemptOutcome.REACHED:
        _close(task, MissedStatus.CALLED_BACK, now)
    elif outcome is AttemptOutcome.WRONG_NUMBER:
        _close(task, MissedStatus.WRONG_NUMBER, now)
    else:
        task.claimed_by = task.claimed_at = task.claim_until = None
    audit(session, actor, "missed_call_attempt", None, now, task=task.id, outcome=outcome.value, status=task.status)
    return task


# --- the figure --------------------------------------------------------------------------------------------
def called_back_in_time(
    session: Session, settings: MissedSettings, day: date, now: datetime, hotline: str | None = None
) -> list[dict[str, Any]]:
    """漏接回拨及时率 of one centre-time day, per hotline (docs/calls.md, "Missed calls" defines it): the tasks
    whose first miss fell on `day`; `missed` all of them; `contact_in_time` those closed by the citizen's own
    answered call by their due time with no attempt before; `pending` those open, unattempted and not due yet
    at `now`; `counted` = missed - contact_in_time - pending (the denominator); `in_time` those whose first
    attempt (any outcome) was at or before their due time (the numerator); `reached` those called back;
    `share` in_time / counted (None when nothing is counted)."""
    start, end = settings.day_bounds(day)
    query = select(MissedCall).where(MissedCall.missed_at >= start, MissedCall.missed_at < end)
    if hotline is not None:
        query = query.where(MissedCall.hotline == hotline)
    figures: dict[str, dict[str, Any]] = {}
    for t in session.scalars(query.order_by(MissedCall.hotline)):
        f = figures.setdefault(
            t.hotline,
            {"day": day.isoformat(), "hotline": t.hotline, "missed": 0, "contact_in_time": 0, "pending": 0}
            | {"counted": 0, "in_time": 0, "reached": 0, "share": None},
        )
        f["missed"] += 1
        if t.status == MissedStatus.CALLED_BACK:
            f["reached"] += 1
        if t.first_attempt_at is not None and t.first_attempt_at <= t.due_at:
            f["in_time"] += 1
            f["counted"] += 1
        elif (
            t.status == MissedStatus.CLOSED_BY_CONTACT
            and t.first_attempt_at is None
            and t.closed_at is not None
            and t.closed_at <= t.due_at
        ):
            f["contact_in_time"] += 1
        elif t.status == MissedStatus.OPEN and t.first_attempt_at is None and t.due_at >= now:
            f["pending"] += 1
        else:
            f["counted"] += 1
    for f in figures.values():
        f["share"] = round(f["in_time"] / f["counted"], 4) if f["counted"] else None
    return list(figures.values())


# --- the service on the bus --------------------------------------------------------------------------------
class MissedCalls:
    """Subscriber to the tracker's CallEnded and CallConnected (after their calls are stored: the server wraps
    it in `stored_first`); opens, joins and closes tasks and publishes each change as MissedCallChanged."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: MissedSettings,
        publish: Callable[[object], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.publish = publish if publish is not None else (lambda event: None)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))

    async def on_event(self, event: CallEvent) -> None:
        if isinstance(event, CallEnded):
            change = await asyncio.to_thread(self.ended, event.call_id)
        elif isinstance(event, CallConnected):
            change = await asyncio.to_thread(self.connected, event.call_id, event.at)
        else:
            return
        if change is not None:
            self.publish(change)

    def ended(self, call_id: str) -> MissedCallChanged | None:
        try:
            change = self._record_miss(call_id)
        except IntegrityError:  # the same number's open task was made at the same moment: join it now
            change = self._record_miss(call_id)
        if change is not None:
            log.info("missed call %s: task %s %s", call_id, change.task["id"], change.change)
        return change

    def _record_miss(self, call_id: str) -> MissedCallChanged | None:
        """`record_miss` in a transaction of its own, and the change it made (None: nothing to do)."""
        with self.sessions.begin() as s:
            found = record_miss(s, self.settings, call_id)
            if found is None:
                return None
            s.flush()
            return MissedCallChanged(found[0], task_info(found[1], self.clock()))

    def connected(self, call_id: str, at: datetime) -> MissedCallChanged | None:
        with self.sessions.begin() as s:
            task = close_by_contact(s, call_id, at)
            if task is None:
                return None
            s.flush()
            return MissedCallChanged("closed", task_info(task, self.clock()))
