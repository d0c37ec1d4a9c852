"""The centre's headline figures over a period, per hotline, request type, unit and agent, and per day, week
or month, computed in the database (grouped counts on indexed columns), so a month at a national centre's
scale stays quick.

Every figure belongs to the day the case was taken (`cases.created_at`, a local day of the centre's zone):
a report of October counts October's cases, whatever month their shares, returns and follow-ups happened
in. Definitions (docs/cases.md, "KPIs and report", has them as numerator, denominator and day):
- intake: cases taken, also per local day;
- handling rate (办理率): cases with a result (a unit handled it, it was answered directly, or the hotline's
  own system closed it) / intake;
- closure rate (办结率): cases closed / intake;
- on-time rate (按时办结率): units' shares handled by their deadline / shares handled or overdue now (returned
  and superseded shares do not count);
- on-time sign-for rate (按时签收率): shares signed for by their sign-for deadline (`signed_on_time`) / shares
  with a sign-for deadline that were signed for, or are still unsigned (pending or return requested) past
  it now; a share that ended (returned, withdrawn) unsigned does not count;
- response rate (响应率): shares whose first response (the earlier of sign-for and result) came by their
  first-feedback deadline / shares with a first-feedback deadline that responded, or are past it now
  without a response, in any status;
- resolution rate (解决率): follow-ups where the citizen was reached and said it was solved / follow-ups
  where the citizen was reached and answered the question (`solved` known; the keypad never asks it);
- satisfaction rate (满意率): follow-ups where the citizen was reached and said satisfied or basically
  satisfied (非常满意, 满意, 基本满意 on the five levels) / follow-ups where the citizen was reached. A keypad
  survey answer given at the end of the case's call is one of these follow-ups (ari_app.cases.surveys), so
  it counts once; an answer on a call without a case is a call-level rating and is not in the case figures;
- first-time resolution rate (一次办结率): cases closed never sent back (发回重办) and never re-dispatched
  (改派) / cases closed;
- send-back rate (发回重办率): cases sent back at least once / cases handled at least once (handled now, or
  sent back);
- re-dispatches (改派): the sum of the cases' `redispatch_count`;
- improper returns (不当退单): returns the centre refused, per unit that asked;
- problem work orders (问题工单): cases marked `problem_at`.
Per unit, intake counts the shares dispatched to the unit, and every case figure is over those shares'
cases (a unit with two shares of one case counts it twice, as intake does); its re-dispatches are its
returns the centre accepted (each sends the case to be re-dispatched), its improper returns those refused.
The unit's satisfaction and resolution leave out the keypad survey, which rates the call, taken before any
unit worked on it. Units are ranked (`rank`, 1 best) by on-time rate, then satisfaction rate, then on-time
sign-for rate, each higher first (a unit without a figure after those with one), then by name.

Cost: every statement starts from the period's cases (a range of `ix_cases_created_at`) and reaches their
shares, returns and follow-ups by `case_id` (`ix_dispatches_case_id`, `ix_dispatch_returns_case_id`,
`ix_follow_ups_case_id`, also bounded by the period's lowest and highest case id), so a report costs in
proportion to the period's cases, not to the history. One count per day (intake per day), then five
statements: the cases, their shares, their returns, their follow-ups (each grouped by hotline, agent,
request type and period) and the per-unit follow-ups; the total, per-period, per-hotline, per-type and
per-agent rows are sums of those groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from schema.cases import (
    Case,
    CooperatingUnit,
    Dispatch,
    DispatchReturn,
    DispatchStatus,
    FollowUp,
    RequestStatus,
    Satisfaction,
)

_COUNTED = (
    DispatchStatus.PENDING,
    DispatchStatus.ACCEPTED,
    DispatchStatus.RETURN_REQUESTED,  # still the unit's while the centre reviews its return
    DispatchStatus.HANDLED,
)
_UNSIGNED = (DispatchStatus.PENDING, DispatchStatus.RETURN_REQUESTED)
"""The statuses of a share its unit holds without having signed for it (a return may be asked unsigned)."""

Grouping = Literal["day", "week", "month"]
GROUPINGS: tuple[Grouping, ...] = ("day", "week", "month")


@dataclass
class KpiRow:
    scope: str  # total | day | week | month | hotline | type | unit | agent
    key: str
    intake: int = 0
    handled: int = 0
    closed: int = 0
    on_time: int = 0
    due: int = 0
    reached: int = 0
    satisfied: int = 0
    signed_on_time: int = 0
    sign_for_due: int = 0
    responded: int = 0
    response_due: int = 0
    solved: int = 0
    solved_known: int = 0
    first_time: int = 0
    sent_back: int = 0
    send_back_base: int = 0
    redispatched: int = 0
    improper_returns: int = 0
    problems: int = 0
    rank: int | None = None
    """Units only: the place in the unit ranking (1 best; module docstring)."""

    @staticmethod
    def _rate(num: int, den: int) -> float | None:
        return num / den if den else None

    def add(self, other: KpiRow) -> None:
        """Add `other`'s counts to this row's (the rows of a sum)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def handling_rate(self) -> float | None:
        return self._rate(self.handled, self.intake)

    @property
    def closure_rate(self) -> float | None:
        return self._rate(self.closed, self.intake)

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率."""
        return self._rate(self.on_time, self.due)

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率."""
        return self._rate(self.satisfied, self.reached)

    @property
    def sign_for_rate(self) -> float | None:
        """按时签收率."""
        return self._rate(self.signed_on_time, self.sign_for_due)

    @property
    def response_rate(self) -> float | None:
        """响应率."""
        return self._rate(self.responded, self.response_due)

    @property
    def resolution_rate(self) -> float | None:
        """解决率."""
        return self._rate(self.solved, self.solved_known)

    @property
    def first_time_rate(self) -> float | None:
        """一次办结率."""
        return self._rate(self.first_time, self.closed)

    @property
    def send_back_rate(self) -> float | None:
        """发回重办率."""
        return self._rate(self.sent_back, self.send_back_base)


COUNTS: tuple[str, ...] = tuple(f.name for f in fields(KpiRow) if f.type == "int")
"""The names of a row's counts (every figure a rate is made of), in order."""


@dataclass
class KpiReport:
    start: date
    end: date  # exclusive
    per_day: list[tuple[date, int]]
    total: KpiRow
    by_hotline: list[KpiRow] = field(default_factory=list)
    by_unit: list[KpiRow] = field(default_factory=list)
    """In ranking order (`KpiRow.rank`)."""
    by_agent: list[KpiRow] = field(default_factory=list)
    timezone: str = ""
    """The zone whose days `start` and `end` are (config `centre.timezone`), for people reading the report."""
    by_type: list[KpiRow] = field(default_factory=list)
    by_period: list[KpiRow] = field(default_factory=list)
    """With a grouping: one row per day, week or month of the period, in order (scope `day`, `week` or
    `month`; key `2026-10-01`, `2026-W40` or `2026-10`); the first and last week or month are cut at the
    period's bounds."""

    @property
    def last_day(self) -> date:
        """The last day the report includes (`end` is exclusive): what a person asked for with `--to`."""
        return self.end - timedelta(days=1)

    def rows(self) -> list[KpiRow]:
        return [self.total, *self.by_period, *self.by_hotline, *self.by_type, *self.by_unit, *self.by_agent]


def _bounds(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _n(value: Any) -> int:
    return int(value or 0)


def periods(start: date, end: date, by: Grouping) -> list[tuple[str, date, date]]:
    """The days, ISO weeks (Monday to Sunday) or calendar months from `start` to `end` (exclusive), as
    (key, first day, day after the last), cut at the bounds."""
    out: list[tuple[str, date, date]] = []
    day = start
    while day < end:
        if by == "day":
            nxt, key = day + timedelta(days=1), day.isoformat()
        elif by == "week":
            year, week, _ = day.isocalendar()
            nxt, key = day + timedelta(days=7 - day.weekday()), f"{year}-W{week:02d}"
        else:
            nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            key = f"{day.year}-{day.month:02d}"
        nxt = min(nxt, end)
        out.append((key, day, nxt))
        day = nxt
    return out


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


_Key = tuple[str, str, str, int]
"""(hotline, agent login, request type, period index): the groups the statements count in."""


def compute(
    session: Session,
    start: date,
    end: date,
    *,
    tz: tzinfo,
    now: datetime,
    by: Grouping | None = None,
    progress: Callable[[str], None] | None = None,
) -> KpiReport:
    """The KPIs for cases taken from `start` to `end` (exclusive) in time zone `tz`, also per day, week or
    month with `by`; `now` decides which open shares are overdue and which sign-for and first-feedback
    deadlines have passed. Definitions, statements and their cost: the module docstring."""
    say = progress or (lambda _msg: None)
    lo, hi = _bounds(start, tz), _bounds(end, tz)
    spans = periods(start, end, by) if by else []

    say("intake per day")
    per_day = _intake_per_day(session, start, end, tz)

    say("totals")
    # The period's cases with the group each belongs to; the period index is a CASE over the periods' local
    # bounds (portable: no time-zone arithmetic in SQL), a constant without a grouping.
    bucket: ColumnElement[Any] = literal_column("0")
    if len(spans) > 1:
        bucket = case(
            *[
                (Case.created_at < _bounds(nxt, tz), literal_column(str(i)))
                for i, (_k, _d, nxt) in enumerate(spans[:-1])
            ],
            else_=literal_column(str(len(spans) - 1)),
        )
    pc = (
        select(
            Case.id,
            Case.hotline,
            Case.created_by_login.label("login"),
            Case.request_type.label("rtype"),
            bucket.label("bucket"),
            Case.handled_at,
            Case.closed_at,
            Case.send_back_count,
            Case.redispatch_count,
            Case.problem_at,
        )
        .where(Case.created_at >= lo, Case.created_at < hi)
        .subquery("pc")
    )
    keys = (pc.c.hotline, pc.c.login, pc.c.rtype, pc.c.bucket)
    groups: dict[_Key, KpiRow] = {}

    def group(row: Iterable[Any]) -> KpiRow:
        h, login, rtype, b = row
        key = (str(h), str(login), str(rtype), int(b))
        return groups.setdefault(key, KpiRow("", ""))

    first_time = and_(pc.c.closed_at.is_not(None), pc.c.send_back_count == 0, pc.c.redispatch_count == 0)
    sent_back = pc.c.send_back_count > 0
    handled_once = or_(pc.c.handled_at.is_not(None), pc.c.send_back_count > 0)
    problem = pc.c.problem_at.is_not(None)
    q = select(
        *keys,
        func.count(),
        _count_if(pc.c.handled_at.is_not(None)),
        _count_if(pc.c.closed_at.is_not(None)),
        _count_if(first_time),
        _count_if(sent_back),
        _count_if(handled_once),
        func.sum(pc.c.redispatch_count),
        _count_if(problem),
        func.min(pc.c.id),
        func.max(pc.c.id),
    ).group_by(*keys)
    first_id, last_id = None, None
    for *k, n, hd, cl, ft, sb, sbb, rd, pr, low, high in session.execute(q):
        row = group(k)
        row.intake, row.handled, row.closed, row.first_time = _n(n), _n(hd), _n(cl), _n(ft)
        row.sent_back, row.send_back_base, row.redispatched, row.problems = _n(sb), _n(sbb), _n(rd), _n(pr)
        first_id = low if first_id is None else min(first_id, low)
        last_id = high if last_id is None else max(last_id, high)
    if first_id is None:  # no case in the period
        first_id = last_id = 0
    # The ids of the period's cases lie in [first_id, last_id]: a range of the `case_id` indexes that bounds
    # the shares, returns and follow-ups read, whatever join the planner picks (ids grow with time, so the
    # range is about the period's; the join on the period's cases keeps the figures exact either way).
    ids = (first_id, last_id)

    say("per unit")
    names: dict[int, str] = {
        uid: name for uid, name in session.execute(select(CooperatingUnit.id, CooperatingUnit.name))
    }
    units: dict[int, KpiRow] = {}

    def unit(uid: int) -> KpiRow:
        return units.setdefault(uid, KpiRow("unit", names.get(uid, str(uid))))

    counted = Dispatch.status.in_(_COUNTED)
    q = (
        select(
            *keys,
            Dispatch.unit_id,
            _count_if(counted),
            _count_if(Dispatch.status == DispatchStatus.HANDLED),
            _count_if(and_(counted, pc.c.closed_at.is_not(None))),
            _count_if(and_(counted, _on_time())),
            _due(now),
            _count_if(Dispatch.signed_on_time.is_(True)),
            _count_if(_sign_for_due(now)),
            _count_if(_responded()),
            _count_if(_response_due(now)),
            _count_if(and_(counted, first_time)),
            _count_if(and_(counted, sent_back)),
            _count_if(and_(counted, handled_once)),
            _count_if(and_(counted, problem)),
        )
        .select_from(pc)
        .join(Dispatch, Dispatch.case_id == pc.c.id)
        .where(Dispatch.case_id.between(*ids))
        .group_by(*keys, Dispatch.unit_id)
    )
    for *k, uid, n, hd, cl, ot, du, so, sd, rs, rsd, ft, sb, sbb, pr in session.execute(q):
        row = group(k)
        row.on_time += _n(ot)
        row.due += _n(du)
        row.signed_on_time += _n(so)
        row.sign_for_due += _n(sd)
        row.responded += _n(rs)
        row.response_due += _n(rsd)
        u = unit(uid)
        u.intake += _n(n)
        u.handled += _n(hd)
        u.closed += _n(cl)
        u.on_time += _n(ot)
        u.due += _n(du)
        u.signed_on_time += _n(so)
        u.sign_for_due += _n(sd)
        u.responded += _n(rs)
        u.response_due += _n(rsd)
        u.first_time += _n(ft)
        u.sent_back += _n(sb)
        u.send_back_base += _n(sbb)
        u.problems += _n(pr)

    q = (
        select(
            *keys,
            DispatchReturn.unit_id,
            _count_if(DispatchReturn.status == RequestStatus.REFUSED),
            _count_if(DispatchReturn.status == RequestStatus.APPROVED),
        )
        .select_from(pc)
        .join(DispatchReturn, DispatchReturn.case_id == pc.c.id)
        .where(DispatchReturn.case_id.between(*ids))
        .group_by(*keys, DispatchReturn.unit_id)
    )
    for *k, uid, refused, approved in session.execute(q):
        group(k).improper_returns += _n(refused)
        u = unit(uid)
        u.improper_returns += _n(refused)
        u.redispatched += _n(approved)

    say("follow-ups")
    q = (
        select(*keys, *_follow_up_counts())
        .select_from(pc)
        .join(FollowUp, FollowUp.case_id == pc.c.id)
        .where(FollowUp.case_id.between(*ids))
        .group_by(*keys)
    )
    for *k, rc, sa, so, sk in session.execute(q):
        row = group(k)
        row.reached, row.satisfied, row.solved, row.solved_known = _n(rc), _n(sa), _n(so), _n(sk)
    # Per unit, the person-made follow-ups of the cases it has a share in, once per (case, unit) however
    # many shares the unit has in the case: the pairs come from the period's cases only (this statement once
    # read every share ever dispatched).
    shares = (
        select(Dispatch.case_id, Dispatch.unit_id)
        .select_from(pc)
        .join(Dispatch, Dispatch.case_id == pc.c.id)
        .where(Dispatch.case_id.between(*ids), counted)
        .distinct()
        .subquery()
    )
    q = (
        select(shares.c.unit_id, *_follow_up_counts())
        .select_from(shares)
        .join(FollowUp, FollowUp.case_id == shares.c.case_id)
        .where(FollowUp.case_id.between(*ids), FollowUp.survey_id.is_(None))
        .group_by(shares.c.unit_id)
    )
    for uid, rc, sa, so, sk in session.execute(q):
        u = unit(uid)
        u.reached, u.satisfied, u.solved, u.solved_known = _n(rc), _n(sa), _n(so), _n(sk)
    by_unit = rank_units(units.values())

    def rows(scope: str, key_of: Callable[[_Key], str]) -> list[KpiRow]:
        out: dict[str, KpiRow] = {}
        for key, vals in groups.items():
            k = key_of(key)
            out.setdefault(k, KpiRow(scope, k)).add(vals)
        return sorted(out.values(), key=lambda r: r.key)

    total = (rows("total", lambda _k: "all") or [KpiRow("total", "all")])[0]
    by_period: list[KpiRow] = []
    if by:
        said = {r.key: r for r in rows(by, lambda k: spans[k[3]][0])}
        by_period = [said.get(k, KpiRow(by, k)) for k, _d, _e in spans]
    say("per hotline")
    by_hotline = rows("hotline", lambda k: k[0])
    by_type = rows("type", lambda k: k[2])
    say("per agent")
    by_agent = rows("agent", lambda k: k[1])
    return KpiReport(
        start,
        end,
        per_day,
        total,
        by_hotline,
        by_unit,
        by_agent,
        timezone=str(tz),
        by_type=by_type,
        by_period=by_period,
    )


def rank_units(rows: Iterable[KpiRow]) -> list[KpiRow]:
    """The unit rows in ranking order, each given its `rank` (1 best): by on-time rate (按时办结率), then
    satisfaction rate (满意率), then on-time sign-for rate (按时签收率), higher first and a missing figure
    last, then by name."""

    def order(r: KpiRow) -> tuple[Any, ...]:
        key: list[Any] = []
        for rate in (r.on_time_rate, r.satisfaction_rate, r.sign_for_rate):
            key += [rate is None, -(rate or 0.0)]
        return (*key, r.key)

    ranked = sorted(rows, key=order)
    for i, r in enumerate(ranked, 1):
        r.rank = i
    return ranked


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


def _sign_for_due(now: datetime) -> Any:
    """Shares that count for the on-time sign-for rate: signed for with a sign-for deadline
    (`signed_on_time` known), or still unsigned past it."""
    return or_(
        Dispatch.signed_on_time.is_not(None),
        and_(
            Dispatch.sign_for_deadline_at.is_not(None),
            Dispatch.accepted_at.is_(None),
            Dispatch.status.in_(_UNSIGNED),
            Dispatch.sign_for_deadline_at < now,
        ),
    )


def _first_response() -> Any:
    """A share's first response: the earlier of its sign-for (`accepted_at`) and its result (`handled_at`);
    null while it has neither."""
    return case(
        (
            and_(
                Dispatch.accepted_at.is_not(None),
                or_(Dispatch.handled_at.is_(None), Dispatch.accepted_at <= Dispatch.handled_at),
            ),
            Dispatch.accepted_at,
        ),
        else_=Dispatch.handled_at,
    )


def _responded() -> Any:
    """A share that responded by its first-feedback deadline."""
    return and_(Dispatch.feedback_deadline_at.is_not(None), _first_response() <= Dispatch.feedback_deadline_at)


def _response_due(now: datetime) -> Any:
    """Shares that count for the response rate: with a first-feedback deadline, and a response or the
    deadline passed."""
    return and_(
        Dispatch.feedback_deadline_at.is_not(None),
        or_(_first_response().is_not(None), Dispatch.feedback_deadline_at < now),
    )


def _follow_up_counts() -> list[Any]:
    """Reached, satisfied, solved, solved known: the follow-up counts of a group."""
    reached = FollowUp.reached.is_(True)
    return [
        _count_if(reached),
        _count_if(and_(reached, FollowUp.satisfaction.in_([Satisfaction.SATISFIED, Satisfaction.BASIC]))),
        _count_if(and_(reached, FollowUp.solved.is_(True))),
        _count_if(and_(reached, FollowUp.solved.is_not(None))),
    ]
