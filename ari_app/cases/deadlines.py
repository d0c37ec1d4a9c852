"""Deadlines (限期办结) and supervision (督办): time left, overdue, and escalation by the clock.

Every unit's share of a case (a Dispatch) has a deadline. `escalate_overdue` is run periodically by the
server (any interval; it is idempotent): each share still pending or being worked on past its deadline is
raised to the supervision level the policy gives for how long it has been overdue, one record per share and
level (a unique constraint keeps two runs, or two servers, from doubling them), audited as the system actor,
with an event for the people who must act at that level.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ari_app.cases.access import ACTIVE_DISPATCH, transition
from ari_app.cases.actor import SYSTEM, Actor
from ari_app.cases.events import Audience, SupervisionRaised, emit
from ari_app.cases.machine import Action, CaseState
from ari_app.cases.settings import settings_of
from ari_app.config import HotlineMode
from schema.cases import Case, Dispatch, Supervision
from schema.users import Role


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


def escalate_overdue(
    session: Session, *, now: datetime | None = None, actor: Actor = SYSTEM
) -> list[SupervisionRaised]:
    """Raise supervision on every overdue share of a case; returns the events raised (also queued on the
    session like every other event). The caller commits."""
    settings = settings_of(session)
    now = settings.now(now)
    overdue = session.execute(
        select(Dispatch, Case)
        .join(Case, Dispatch.case_id == Case.id)
        .where(Dispatch.status.in_(ACTIVE_DISPATCH), Dispatch.deadline_at < now)
        .order_by(Dispatch.id)
    ).all()
    if not overdue:
        return []
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
    raised: list[SupervisionRaised] = []
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
