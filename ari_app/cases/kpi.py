"""The centre's headline figures over a period, per hotline, per unit and per agent, computed in the
database (grouped counts on indexed columns), so a month at a national centre's scale stays quick.

Definitions (for cases taken in the period, [start, end) in the centre's time zone):
- intake: cases taken, also per local day;
- handling rate (办理率): cases with a result (a unit handled it, it was answered directly, or the hotline's
  own system closed it) / intake;
- closure rate (办结率): cases closed / intake;
- on-time rate: units' shares handled by their deadline / shares handled or overdue now (returned and
  superseded shares do not count);
- satisfaction rate (满意率): follow-ups where the citizen was reached and said satisfied or basically
  satisfied / follow-ups where the citizen was reached. A keypad survey answer given at the end of the
  case's call is one of these follow-ups (ari_app.cases.surveys), so it counts once; an answer on a call
  without a case is a call-level rating and is not in the case figures.
Per unit, intake counts the shares dispatched to the unit, and rates are over those shares' cases; the
unit's satisfaction leaves out the keypad survey, which rates the call, taken before any unit worked on it.

Cost: every statement starts from the period's cases (a range of `ix_cases_created_at`) and reaches their
shares and follow-ups by `case_id` (`ix_dispatches_case_id`, `ix_follow_ups_case_id`, also bounded by the
period's lowest and highest case id), so a report costs in proportion to the period's cases, not to the
history. One count per day (intake per day), then four statements: the cases (intake, handled, closed),
their counted shares (on time, due, and the per-unit figures), their follow-ups (reached, satisfied) and
the per-unit follow-ups, the first three grouped by (hotline, agent) once; the total, per-hotline and
per-agent rows are sums of those groups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from schema.cases import Case, CooperatingUnit, Dispatch, DispatchStatus, FollowUp, Satisfaction

_COUNTED = (
    DispatchStatus.PENDING,
    DispatchStatus.ACCEPTED,
    DispatchStatus.RETURN_REQUESTED,  # still the unit's while the centre reviews its return
    DispatchStatus.HANDLED,
)


@dataclass
class KpiRow:
    scope: str  # total | hotline | unit | agent
    key: str
    intake: int = 0
    handled: int = 0
    closed: int = 0
    on_time: int = 0
    due: int = 0
    reached: int = 0
    satisfied: int = 0

    @staticmethod
    def _rate(num: int, den: int) -> float | None:
        return num / den if den else None

    @property
    def handling_rate(self) -> float | None:
        return self._rate(self.handled, self.intake)

    @property
    def closure_rate(self) -> float | None:
        return self._rate(self.closed, self.intake)

    @property
    def on_time_rate(self) -> float | None:
        return self._rate(self.on_time, self.due)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._rate(self.satisfied, self.reached)


@dataclass
class KpiReport:
    start: date
    end: date  # exclusive
    per_day: list[tuple[date, int]]
    total: KpiRow
    by_hotline: list[KpiRow] = field(default_factory=list)
    by_unit: list[KpiRow] = field(default_factory=list)
    by_agent: list[KpiRow] = field(default_factory=list)
    timezone: str = ""
    """The zone whose days `start` and `end` are (config `centre.timezone`), for people reading the report."""

    @property
    def last_day(self) -> date:
        """The last day the report includes (`end` is exclusive): what a person asked for with `--to`."""
        return self.end - timedelta(days=1)

    def rows(self) -> list[KpiRow]:
        return [self.total, *self.by_hotline, *self.by_unit, *self.by_agent]


def _bounds(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _n(value: Any) -> int:
    return int(value or 0)


def _intake_per_day(session: Session, start: date, end: date, tz: tzinfo) -> list[tuple[date, int]]:
    """Cases taken on each local day from `start` to `end` (exclusive), one count a day."""
    per_day: list[tuple[date, int]] = []
    day = start
    while day < end:
        n = session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.created_at >= _bounds(day, tz), Case.created_at < _bounds(day + timedelta(days=1), tz))
        )
        per_day.append((day, _n(n)))
        day += timedelta(days=1)
    return per_day


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
    open shares are overdue. Its statements and their cost: the module docstring."""
    say = progress or (lambda _msg: None)
    lo, hi = _bounds(start, tz), _bounds(end, tz)
    in_period = and_(Case.created_at >= lo, Case.created_at < hi)

    say("intake per day")
    per_day = _intake_per_day(session, start, end, tz)

    say("totals")
    groups: dict[tuple[str, str], list[int]] = {}
    """(hotline, agent) -> [intake, handled, closed, on_time, due, reached, satisfied]"""

    def add(key: tuple[str, str], first: int, values: Any) -> None:
        row = groups.setdefault(key, [0] * 7)
        for i, v in enumerate(values):
            row[first + i] += _n(v)

    by = (Case.hotline, Case.created_by_login)
    q = select(
        *by,
        func.count(),
        _count_if(Case.handled_at.is_not(None)),
        _count_if(Case.closed_at.is_not(None)),
        func.min(Case.id),
        func.max(Case.id),
    )
    first_id, last_id = None, None
    for hotline, login, n, hd, cl, low, high in session.execute(q.where(in_period).group_by(*by)):
        add((str(hotline), str(login)), 0, (n, hd, cl))
        first_id = low if first_id is None else min(first_id, low)
        last_id = high if last_id is None else max(last_id, high)
    if first_id is None:  # no case in the period
        first_id = last_id = 0
    # The ids of the period's cases lie in [first_id, last_id]: a range of the `case_id` indexes that bounds
    # the shares and follow-ups read, whatever join the planner picks (ids grow with time, so the range is
    # about the period's; the join on the period's cases keeps the figures exact either way).
    ids = (first_id, last_id)

    say("per unit")
    names: dict[int, str] = {
        uid: name for uid, name in session.execute(select(CooperatingUnit.id, CooperatingUnit.name))
    }
    units: dict[int, KpiRow] = {}
    q = (
        select(
            *by,
            Dispatch.unit_id,
            func.count(),
            _count_if(Dispatch.status == DispatchStatus.HANDLED),
            _count_if(Case.closed_at.is_not(None)),
            _count_if(_on_time()),
            _due(now),
        )
        .select_from(Case)
        .join(Dispatch, Dispatch.case_id == Case.id)
        .where(in_period, Dispatch.case_id.between(*ids), Dispatch.status.in_(_COUNTED))
        .group_by(*by, Dispatch.unit_id)
    )
    for hotline, login, uid, n, hd, cl, ot, du in session.execute(q):
        add((str(hotline), str(login)), 3, (ot, du))
        row = units.setdefault(uid, KpiRow("unit", names.get(uid, str(uid))))
        row.intake += _n(n)
        row.handled += _n(hd)
        row.closed += _n(cl)
        row.on_time += _n(ot)
        row.due += _n(du)
    q = (
        select(*by, _count_if(_reached()), _count_if(_satisfied()))
        .select_from(Case)
        .join(FollowUp, FollowUp.case_id == Case.id)
        .where(in_period, FollowUp.case_id.between(*ids))
    )
    for hotline, login, *vals in session.execute(q.group_by(*by)):
        add((str(hotline), str(login)), 5, vals)
    # Per unit, the person-made follow-ups of the cases it has a share in, once per (case, unit) however
    # many shares the unit has in the case: the pairs come from the period's cases only (this statement once
    # read every share ever dispatched).
    shares = (
        select(Dispatch.case_id, Dispatch.unit_id)
        .select_from(Case)
        .join(Dispatch, Dispatch.case_id == Case.id)
        .where(in_period, Dispatch.case_id.between(*ids), Dispatch.status.in_(_COUNTED))
        .distinct()
        .subquery()
    )
    q = (
        select(shares.c.unit_id, _count_if(_reached()), _count_if(_satisfied()))
        .select_from(shares)
        .join(FollowUp, FollowUp.case_id == shares.c.case_id)
        .where(FollowUp.case_id.between(*ids), FollowUp.survey_id.is_(None))
        .group_by(shares.c.unit_id)
    )
    for uid, rc, sa in session.execute(q):
        row = units.setdefault(uid, KpiRow("unit", names.get(uid, str(uid))))
        row.reached, row.satisfied = _n(rc), _n(sa)
    by_unit = sorted(units.values(), key=lambda r: r.key)

    def rows(scope: str, key_of: Callable[[tuple[str, str]], str]) -> list[KpiRow]:
        out: dict[str, KpiRow] = {}
        for key, vals in groups.items():
            k = key_of(key)
            row = out.setdefault(k, KpiRow(scope, k))
            row.intake += vals[0]
            row.handled += vals[1]
            row.closed += vals[2]
            row.on_time += vals[3]
            row.due += vals[4]
            row.reached += vals[5]
            row.satisfied += vals[6]
        return sorted(out.values(), key=lambda r: r.key)

    total = (rows("total", lambda _k: "all") or [KpiRow("total", "all")])[0]
    say("per hotline")
    by_hotline = rows("hotline", lambda k: k[0])
    say("per agent")
    by_agent = rows("agent", lambda k: k[1])
    return KpiReport(start, end, per_day, total, by_hotline, by_unit, by_agent, timezone=str(tz))


def _count_if(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


def _on_time() -> Any:
    """A share handled by its deadline."""
    return and_(Dispatch.handled_at.is_not(None), Dispatch.handled_at <= Dispatch.deadline_at)


def _due(now: datetime) -> Any:
    """Shares that count for the on-time rate: handled, or still open (pending, accepted, return requested)
    past the deadline."""
    return func.sum(
        case(
            (Dispatch.status == DispatchStatus.HANDLED, 1),
            (and_(Dispatch.status.in_(_COUNTED[:3]), Dispatch.deadline_at < now), 1),
            else_=0,
        )
    )


def _reached() -> Any:
    return FollowUp.reached.is_(True)


def _satisfied() -> Any:
    return and_(FollowUp.reached.is_(True), FollowUp.satisfaction.in_([Satisfaction.SATISFIED, Satisfaction.BASIC]))
