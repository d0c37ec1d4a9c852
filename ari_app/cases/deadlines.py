"""Deadlines (限期办结) and supervision (督办): the time limits of a work order, time left, overdue, escalation by
the clock, and the problem work order (问题工单) raised a level.

The four limits (config `cases.deadlines`, ari_app.config.DeadlineTable, defaults cited there) are separate:
the dispatch deadline (派单, by urgency, from intake) on the case; the sign-for (签收), first-feedback (首次
反馈, both by urgency) and handling (办理, by request type) deadlines on each unit's share, from its dispatch.
Working days and working hours are counted by the centre's WorkCalendar (ari_app.cases.calendar: China's
holidays and 调休 days); clock hours run around the clock.

Every unit's share of a case (a Dispatch) has a deadline. `escalate_overdue` is run periodically by the
server (any interval; it is idempotent): each share still pending or being worked on past its deadline is
raised to the supervision level the policy gives for how long it has been overdue, one record per share and
level (a unique constraint keeps two runs, or two servers, from doubling them), audited as the system actor,
with an event for the people who must act at that level.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ari_app.cases.access import ACTIVE_DISPATCH, transition
from ari_app.cases.actor import SYSTEM, Actor
from ari_app.cases.audit import audit
from ari_app.cases.calendar import Limit, LimitUnit
from ari_app.cases.events import Audience, SupervisionRaised, emit
from ari_app.cases.machine import Action, CaseState
from ari_app.cases.settings import CaseSettings, settings_of
from ari_app.config import HotlineMode, TimeLimit
from schema.cases import Case, Dispatch, DispatchStatus, Supervision
from schema.users import Role


def limit_of(limit: TimeLimit) -> Limit:
    """A configured limit as the calendar counts it."""
    return Limit(limit.amount, LimitUnit(limit.unit))


def dispatch_due(settings: CaseSettings, case: Case, received_at: datetime) -> datetime | None:
    """派单时限: when the centre must have dispatched `case` taken at `received_at` (by urgency); None when the
    hotline has no limits configured. Raises CalendarUnknownYear past the calendar's years."""
    table = settings.limits(case.hotline)
    if table is None:
        return None
    return settings.calendar.due(received_at, limit_of(table.dispatch[str(case.urgency)]))


@dataclass(frozen=True)
class ShareDeadlines:
    """The deadlines of one unit's share counted from its dispatch: handling (by request type), sign-for and
    first feedback (by urgency)."""

    handling: datetime
    sign_for: datetime
    feedback: datetime


def share_due(settings: CaseSettings, case: Case, dispatched_at: datetime) -> ShareDeadlines | None:
    """The deadlines of a share of `case` dispatched at `dispatched_at`; None when the hotline has no limits
    configured (the share then gets the category's or the default deadline in clock hours, as before)."""
    table = settings.limits(case.hotline)
    if table is None:
        return None
    cal, urgency = settings.calendar, str(case.urgency)
    return ShareDeadlines(
        handling=cal.due(dispatched_at, limit_of(table.handling[str(case.request_type)])),
        sign_for=cal.due(dispatched_at, limit_of(table.sign_for[urgency])),
        feedback=cal.due(dispatched_at, limit_of(table.feedback[urgency])),
    )


def check_problem(session: Session, actor: Actor, case: Case, now: datetime) -> bool:
    """问题工单: once the case's re-dispatches (改派) or send-backs (发回重办) reach `problem_threshold`
    (config `cases.problem_threshold`, default 3: the 12345 rule of three re-handlings or three transfers
    without a lead unit), mark it (`problem_at`) and raise its supervision one level (提级督办): a Supervision
    row, an audit entry `problem` and a SupervisionRaised event for the supervisors (the hotline unit on a
    sub-platform) and the units on it. Once: a case already marked is left alone. Returns whether it was
    marked now."""
    settings = settings_of(session)
    threshold = settings.problem_threshold
    if case.problem_at is not None or max(case.redispatch_count, case.send_back_count) < threshold:
        return False
    case.problem_at = now
    level = case.supervision_level + 1
    case.supervision_level = level
    why = f"问题工单: {case.redispatch_count} re-dispatches, {case.send_back_count} send-backs (threshold {threshold})"
    session.add(Supervision(case_id=case.id, at=now, by=None, level=level, overdue=False, instructions=why))
    audit(
        session,
        actor,
        "problem",
        case.id,
        now,
        level=level,
        redispatch_count=case.redispatch_count,
        send_back_count=case.send_back_count,
    )
    mode = settings.mode(case.hotline)
    roles = {Role.SUPERVISOR, Role.DEPARTMENT}
    if mode is HotlineMode.SUB_PLATFORM:
        roles.add(Role.HOTLINE_UNIT)
    units = frozenset(d.unit_id for d in case.dispatches)
    audience = Audience(frozenset(roles), hotline=case.hotline if Role.HOTLINE_UNIT in roles else None, units=units)
    emit(session, SupervisionRaised(case.id, case.number, now, audience, level, None, False, False, why))
    return True


def time_left(case: Case, now: datetime) -> timedelta | None:
    """Until the earliest open deadline; negative when overdue; None when no unit work is open."""
    return None if case.deadline_at is None else case.deadline_at - now


def is_overdue(case: Case, now: datetime) -> bool:
    return case.deadline_at is not None and now > case.deadline_at


def _audience(level: int, mode: HotlineMode, hotline: str, unit_id: int) -> Audience:
    """Level 1 goes to the unit; level 2 also to whoever dispatches (the centre's supervisors, or the hotline
    unit on a sub-platform); level 3 is the leaders' matter and goes to the supervisors as well."""
    roles = {Role.DEPARTMENT}
    if level >= 2:
        roles.add(Role.HOTLINE_UNIT if mode is HotlineMode.SUB_PLATFORM else Role.SUPERVISOR)
    if level >= 3:
        roles.add(Role.SUPERVISOR)
    hotline_unit = hotline if Role.HOTLINE_UNIT in roles else None
    return Audience(frozenset(roles), hotline=hotline_unit, units=frozenset({unit_id}))


def _sign_for_overdue(session: Session, settings: CaseSettings, now: datetime, actor: Actor) -> list[SupervisionRaised]:
    """签收超时: each share still pending (not signed for) past its sign-for deadline, once: stamped
    (`sign_for_overdue_at`), a level-1 supervision row of the case without a share (the share's own levels
    are its handling deadline's), audited as `escalate` with `sign_for: true`, and its unit told."""
    rows = session.execute(
        select(Dispatch, Case)
        .join(Case, Dispatch.case_id == Case.id)
        .where(
            Dispatch.status == DispatchStatus.PENDING,
            Dispatch.sign_for_deadline_at < now,
            Dispatch.sign_for_overdue_at.is_(None),
        )
        .order_by(Dispatch.id)
    ).all()
    raised: list[SupervisionRaised] = []
    for d, case in rows:
        assert d.sign_for_deadline_at is not None
        d.sign_for_overdue_at = now
        note = "签收超时"
        session.add(Supervision(case_id=case.id, at=now, by=None, level=1, overdue=True, instructions=note))
        case.supervision_level = max(case.supervision_level, 1)
        transition(
            session, actor, case, Action.ESCALATE, CaseState(case.status), now, unit=d.unit_id, level=1,
            sign_for=True, overdue_hours=round((now - d.sign_for_deadline_at).total_seconds() / 3600, 2),
        )  # fmt: skip
        mode = settings.mode(case.hotline)
        event = SupervisionRaised(
            case.id, case.number, now, _audience(1, mode, case.hotline, d.unit_id), 1, d.unit_id, True, False, note
        )
        emit(session, event)
        raised.append(event)
    return raised


def escalate_overdue(
    session: Session, *, now: datetime | None = None, actor: Actor = SYSTEM
) -> list[SupervisionRaised]:
    """Raise supervision on every overdue share of a case, and tell the unit of every share not signed for
    by its sign-for deadline (once); returns the events raised (also queued on the session like every other
    event). The caller commits."""
    settings = settings_of(session)
    now = settings.now(now)
    unsigned = _sign_for_overdue(session, settings, now, actor)
    overdue = session.execute(
        select(Dispatch, Case)
        .join(Case, Dispatch.case_id == Case.id)
        .where(Dispatch.status.in_(ACTIVE_DISPATCH), Dispatch.deadline_at < now)
        .order_by(Dispatch.id)
    ).all()
    if not overdue:
        session.flush()
        return unsigned
    reached: dict[int, int] = defaultdict(int)
    ids = [d.id for d, _ in overdue]
    for chunk in range(0, len(ids), 500):
        for dispatch_id, level in session.execute(
            select(Supervision.dispatch_id, func.max(Supervision.level))
            .where(Supervision.dispatch_id.in_(ids[chunk : chunk + 500]), Supervision.overdue.is_(True))
            .group_by(Supervision.dispatch_id)
        ):
            if dispatch_id is not None:
                reached[dispatch_id] = level
    raised: list[SupervisionRaised] = unsigned
    for d, case in overdue:
        level = settings.escalation.level(now - d.deadline_at)
        if level <= reached[d.id]:
            continue
        mode = settings.mode(case.hotline)
        session.add(Supervision(case_id=case.id, dispatch_id=d.id, at=now, by=None, level=level, overdue=True))
        case.supervision_level = max(case.supervision_level, level)
        transition(
            session,
            actor,
            case,
            Action.ESCALATE,
            CaseState(case.status),
            now,
            unit=d.unit_id,
            level=level,
            overdue_hours=round((now - d.deadline_at).total_seconds() / 3600, 2),
        )
        event = SupervisionRaised(
            case.id,
            case.number,
            now,
            _audience(level, mode, case.hotline, d.unit_id),
            level,
            d.unit_id,
            True,
            False,
            None,
        )
        emit(session, event)
        raised.append(event)
    session.flush()
    return raised
