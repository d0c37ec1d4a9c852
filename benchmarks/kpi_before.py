"""The KPI computation as it was before its statements were bounded by the period (ari_app.cases.kpi at
dd084b4), kept for benchmarks/bench_cases.py: it times this beside the current one in the same run and checks
that both give the same figures. The intake per day, which the bounding left as it was, is the current
module's. Not used by the application.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ari_app.cases.kpi import KpiReport, KpiRow, _bounds, _intake_per_day, _n
from schema.cases import Case, CooperatingUnit, Dispatch, DispatchStatus, FollowUp, Satisfaction

_COUNTED = (DispatchStatus.PENDING, DispatchStatus.ACCEPTED, DispatchStatus.HANDLED)


def compute(
    session: Session,
    start: date,
    end: date,
    *,
    tz: tzinfo,
    now: datetime,
    progress: Callable[[str], None] | None = None,
) -> KpiReport:
    """The KPIs for cases taken from `start` to `end` (exclusive) in time zone `tz`; `now` decides which
    open shares are overdue."""
    say = progress or (lambda _msg: None)
    lo, hi = _bounds(start, tz), _bounds(end, tz)
    in_period = and_(Case.created_at >= lo, Case.created_at < hi)

    say("intake per day")
    per_day = _intake_per_day(session, start, end, tz)

    handled = func.sum(case((Case.handled_at.is_not(None), 1), else_=0))
    closed = func.sum(case((Case.closed_at.is_not(None), 1), else_=0))
    on_time = func.sum(
        case((and_(Dispatch.handled_at.is_not(None), Dispatch.handled_at <= Dispatch.deadline_at), 1), else_=0)
    )
    due = func.sum(
        case(
            (Dispatch.status == DispatchStatus.HANDLED, 1),
            (and_(Dispatch.status.in_(_COUNTED[:2]), Dispatch.deadline_at < now), 1),
            else_=0,
        )
    )
    reached = func.sum(case((FollowUp.reached.is_(True), 1), else_=0))
    satisfied = func.sum(
        case(
            (
                and_(
                    FollowUp.reached.is_(True), FollowUp.satisfaction.in_([Satisfaction.SATISFIED, Satisfaction.BASIC])
                ),
                1,
            ),
            else_=0,
        )
    )

    def grouped(scope: str, col: Any) -> dict[str, KpiRow]:
        rows: dict[str, KpiRow] = {}
        key_of: Callable[[Any], str] = lambda k: "all" if col is None else str(k)  # noqa: E731
        group = [] if col is None else [col]
        base = select(*([col] if col is not None else []), func.count(), handled, closed).where(in_period)
        for r in session.execute(base.group_by(*group)):
            k = key_of(r[0] if col is not None else None)
            vals = r[1:] if col is not None else r
            rows[k] = KpiRow(scope, k, _n(vals[0]), _n(vals[1]), _n(vals[2]))
        q = (
            select(*group, on_time, due)
            .select_from(Dispatch)
            .join(Case, Dispatch.case_id == Case.id)
            .where(in_period, Dispatch.status.in_(_COUNTED))
        )
        for r in session.execute(q.group_by(*group)):
            k = key_of(r[0] if col is not None else None)
            vals = r[1:] if col is not None else r
            row = rows.setdefault(k, KpiRow(scope, k))
            row.on_time, row.due = _n(vals[0]), _n(vals[1])
        q = (
            select(*group, reached, satisfied)
            .select_from(FollowUp)
            .join(Case, FollowUp.case_id == Case.id)
            .where(in_period)
        )
        for r in session.execute(q.group_by(*group)):
            k = key_of(r[0] if col is not None else None)
            vals = r[1:] if col is not None else r
            row = rows.setdefault(k, KpiRow(scope, k))
            row.reached, row.satisfied = _n(vals[0]), _n(vals[1])
        return rows

    say("totals")
    total = grouped("total", None).get("all", KpiRow("total", "all"))
    say("per hotline")
    by_hotline = sorted(grouped("hotline", Case.hotline).values(), key=lambda r: r.key)
    say("per agent")
    by_agent = sorted(grouped("agent", Case.created_by_login).values(), key=lambda r: r.key)
    say("per unit")
    by_unit = _per_unit(session, in_period, now)
    return KpiReport(start, end, per_day, total, by_hotline, by_unit, by_agent, timezone=str(tz))


def _per_unit(session: Session, in_period: Any, now: datetime) -> list[KpiRow]:
    names: dict[int, str] = {
        uid: name for uid, name in session.execute(select(CooperatingUnit.id, CooperatingUnit.name))
    }
    rows: dict[int, KpiRow] = {}
    q = (
        select(
            Dispatch.unit_id,
            func.count(),
            func.sum(case((Dispatch.status == DispatchStatus.HANDLED, 1), else_=0)),
            func.sum(case((Case.closed_at.is_not(None), 1), else_=0)),
            func.sum(
                case((and_(Dispatch.handled_at.is_not(None), Dispatch.handled_at <= Dispatch.deadline_at), 1), else_=0)
            ),
            func.sum(
                case(
                    (Dispatch.status == DispatchStatus.HANDLED, 1),
                    (and_(Dispatch.status.in_(_COUNTED[:2]), Dispatch.deadline_at < now), 1),
                    else_=0,
                )
            ),
        )
        .join(Case, Dispatch.case_id == Case.id)
        .where(in_period, Dispatch.status.in_(_COUNTED))
        .group_by(Dispatch.unit_id)
    )
    for uid, n, hd, cl, ot, du in session.execute(q):
        rows[uid] = KpiRow("unit", names.get(uid, str(uid)), _n(n), _n(hd), _n(cl), _n(ot), _n(du))
    shares = select(Dispatch.case_id, Dispatch.unit_id).where(Dispatch.status.in_(_COUNTED)).distinct().subquery()
    q2 = (
        select(
            shares.c.unit_id,
            func.sum(case((FollowUp.reached.is_(True), 1), else_=0)),
            func.sum(
                case(
                    (
                        and_(
                            FollowUp.reached.is_(True),
                            FollowUp.satisfaction.in_([Satisfaction.SATISFIED, Satisfaction.BASIC]),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
        )
        .select_from(FollowUp)
        .join(Case, FollowUp.case_id == Case.id)
        .join(shares, shares.c.case_id == Case.id)
        .where(in_period, FollowUp.survey_id.is_(None))
        .group_by(shares.c.unit_id)
    )
    for uid, rc, sa in session.execute(q2):
        row = rows.setdefault(uid, KpiRow("unit", names.get(uid, str(uid))))
        row.reached, row.satisfied = _n(rc), _n(sa)
    return sorted(rows.values(), key=lambda r: r.key)
