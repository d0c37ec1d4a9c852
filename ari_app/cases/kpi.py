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

Cost: the figures come from one statement (`_statement`) that reads the period's cases once (a range of
`ix_cases_created_at`) and reaches their shares, returns and follow-ups by `case_id` (`ix_dispatches_case_id`,
`ix_dispatch_returns_case_id`, `ix_follow_ups_case_id`, also bounded by the period's lowest and highest case
id), so a report costs in proportion to the period's cases, not to the history; it sums them per hotline,
agent, request type, period and unit in the database, so the rows it returns do not grow with the cases
either. Besides it: the intake per day (one statement, a range count a day; with `by="day"`, the statement's
own day rows), the period's lowest and highest case id, the unit names. The total row is the sum of the
per-hotline rows.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, overload

from sqlalchemy import ColumnElement, String, and_, case, cast, func, literal_column, or_, select, union_all
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


class _Rate:
    """A rate of a row: one of its counts over another (the module docstring defines each), a float in
    [0, 1], or None where the denominator is 0."""

    def __init__(self, numerator: str, denominator: str, label: str) -> None:
        self.numerator, self.denominator = numerator, denominator
        self.label = label
        """Its name in Chinese and English, as charts and tables show it."""

    @overload
    def __get__(self, row: None, owner: type) -> _Rate: ...
    @overload
    def __get__(self, row: KpiRow, owner: type) -> float | None: ...
    def __get__(self, row: KpiRow | None, owner: type) -> _Rate | float | None:
        if row is None:
            return self
        den: int = getattr(row, self.denominator)
        return getattr(row, self.numerator) / den if den else None


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

    def add(self, other: KpiRow) -> None:
        """Add `other`'s counts to this row's (the rows of a sum)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    handling_rate = _Rate("handled", "intake", "办理率 handling")
    closure_rate = _Rate("closed", "intake", "办结率 closure")
    on_time_rate = _Rate("on_time", "due", "按时办结率 on time")
    satisfaction_rate = _Rate("satisfied", "reached", "满意率 satisfaction")
    sign_for_rate = _Rate("signed_on_time", "sign_for_due", "按时签收率 sign-for")
    response_rate = _Rate("responded", "response_due", "响应率 response")
    resolution_rate = _Rate("solved", "solved_known", "解决率 resolution")
    first_time_rate = _Rate("first_time", "closed", "一次办结率 first time")
    send_back_rate = _Rate("sent_back", "send_back_base", "发回重办率 send-back")


RATES: tuple[str, ...] = tuple(name for name, v in vars(KpiRow).items() if isinstance(v, _Rate))
"""The names of a row's rates, in the order `KpiRow` declares them."""
COUNTS: tuple[str, ...] = tuple(f.name for f in fields(KpiRow) if f.name not in ("scope", "key", "rank"))
"""The names of a row's counts (every figure a rate is made of), in order: `KpiRow(scope, key, *counts)`."""
_AT = {name: i for i, name in enumerate(COUNTS)}


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
    """Cases taken on each local day from `start` to `end` (exclusive): a count a day, each a range of
    `ix_cases_created_at`, all in one statement (one round trip, where a statement a day took 31 for a month:
    about 140 ms of a month's report on PostgreSQL)."""
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    if not days:
        return []
    counts: Any = union_all(
        *(
            select(literal_column(str(i)).label("day"), func.count().label("n"))
            .select_from(Case)
            .where(Case.created_at >= _bounds(day, tz), Case.created_at < _bounds(day + timedelta(days=1), tz))
            for i, day in enumerate(days)
        )
    )
    n: dict[int, int] = {i: count for i, count in session.execute(counts)}
    return [(day, _n(n.get(i))) for i, day in enumerate(days)]


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

    say("totals")
    in_period = and_(Case.created_at >= lo, Case.created_at < hi)
    first_id, last_id = session.execute(select(func.min(Case.id), func.max(Case.id)).where(in_period)).one()
    # The ids of the period's cases lie in [first_id, last_id]: a range of the `case_id` indexes that bounds
    # the shares, returns and follow-ups read, whatever join the planner picks (ids grow with time, so the
    # range is about the period's; the join on the period's cases keeps the figures exact either way).
    ids = (first_id or 0, last_id or 0)
    names: dict[int, str] = {
        uid: name for uid, name in session.execute(select(CooperatingUnit.id, CooperatingUnit.name))
    }
    figures = session.execute(_statement(in_period, ids, spans, tz, now)).all()

    say("per hotline, type and agent")
    sums: dict[tuple[int, str], list[int]] = {}
    for dim, key, *counts in figures:
        acc = sums.setdefault((int(dim), str(key)), [0] * len(COUNTS))
        acc[:] = map(operator.add, acc, (v or 0 for v in counts))

    def rows(dim: str, scope: str) -> list[KpiRow]:
        at = _DIMS.index(dim)
        return sorted((KpiRow(scope, k, *v) for (d, k), v in sums.items() if d == at), key=lambda r: r.key)

    by_hotline = rows("hotline", "hotline")
    total = KpiRow("total", "all")
    for r in by_hotline:
        total.add(r)
    by_period: list[KpiRow] = []
    if by:
        said = {spans[int(r.key)][0]: r for r in rows("period", by)}
        for k, _d, _e in spans:
            r = said.get(k, KpiRow(by, k))
            r.key = k
            by_period.append(r)
    say("intake per day")
    if by == "day":  # the statement's day rows already count it
        per_day = [(first, r.intake) for (_k, first, _e), r in zip(spans, by_period, strict=True)]
    else:
        per_day = _intake_per_day(session, start, end, tz)
    say("per unit")
    units = rows("unit", "unit")
    for r in units:
        r.key = names.get(int(r.key), r.key)
    return KpiReport(
        start,
        end,
        per_day,
        total,
        by_hotline,
        rank_units(units),
        rows("agent", "agent"),
        timezone=str(tz),
        by_type=rows("type", "type"),
        by_period=by_period,
    )


_DIMS = ("hotline", "agent", "type", "period", "unit")
"""What a row of `_statement` is per, by its first column: an index in this tuple."""


def _statement(
    in_period: Any, ids: tuple[int, int], spans: list[tuple[str, date, date]], tz: tzinfo, now: datetime
) -> Any:
    """One statement for every figure: (dimension index in `_DIMS`, key as text, the counts in `COUNTS` order).

    The period's cases (`pc`, with their hotline, agent, request type, period index and 0/1 flags) are read
    once, by `ix_cases_created_at`; their shares (`sh`), returns (`rt`) and follow-ups (`fu`) by `case_id`
    within `ids`; each is grouped once by hotline, agent and request type together (a few hundred rows, then
    summed again per dimension: one sort or hash of the source's rows where a GROUP BY per dimension took
    three; measured at 1 000 000 cases, PostgreSQL's statement about 20 % quicker) and once per period (and
    the shares and returns per unit), in a UNION ALL, so the rows that come back are a few per hotline,
    agent, type, period and unit, however many cases the period has. SQLite (3.35 on) and PostgreSQL (12 on) materialise
    a common table expression read more than once, so `pc` and `sh` are computed once."""
    # The period index is a CASE over the periods' local bounds (portable: no time-zone arithmetic in SQL).
    period: ColumnElement[Any] = literal_column("0")
    if len(spans) > 1:
        period = case(
            *[
                (Case.created_at < _bounds(nxt, tz), literal_column(str(i)))
                for i, (_k, _d, nxt) in enumerate(spans[:-1])
            ],
            else_=literal_column(str(len(spans) - 1)),
        )
    first_time = and_(Case.closed_at.is_not(None), Case.send_back_count == 0, Case.redispatch_count == 0)
    pc = (
        select(
            Case.id.label("case_id"),
            Case.hotline.label("hotline"),
            Case.created_by_login.label("agent"),
            Case.request_type.label("type"),
            period.label("period"),
            _flag(Case.handled_at.is_not(None)).label("handled"),
            _flag(Case.closed_at.is_not(None)).label("closed"),
            _flag(first_time).label("first_time"),
            _flag(Case.send_back_count > 0).label("sent_back"),
            _flag(or_(Case.handled_at.is_not(None), Case.send_back_count > 0)).label("send_back_base"),
            Case.redispatch_count.label("redispatched"),
            _flag(Case.problem_at.is_not(None)).label("problems"),
        )
        .where(in_period)
        .cte("pc")
    )
    keys = [pc.c.hotline, pc.c.agent, pc.c.type, pc.c.period]
    counted = Dispatch.status.in_(_COUNTED)

    def of_counted(flag: Any) -> Any:
        return _flag(and_(counted, flag == 1))

    sh = (
        select(
            *keys,
            pc.c.case_id,
            Dispatch.unit_id.label("unit"),
            _flag(counted).label("counted"),
            _flag(Dispatch.status == DispatchStatus.HANDLED).label("handled"),
            of_counted(pc.c.closed).label("closed"),
            _flag(and_(counted, _on_time())).label("on_time"),
            _flag(_due(now)).label("due"),
            _flag(Dispatch.signed_on_time.is_(True)).label("signed_on_time"),
            _flag(_sign_for_due(now)).label("sign_for_due"),
            _flag(_responded()).label("responded"),
            _flag(_response_due(now)).label("response_due"),
            of_counted(pc.c.first_time).label("first_time"),
            of_counted(pc.c.sent_back).label("sent_back"),
            of_counted(pc.c.send_back_base).label("send_back_base"),
            of_counted(pc.c.problems).label("problems"),
        )
        .select_from(pc)
        .join(Dispatch, Dispatch.case_id == pc.c.case_id)
        .where(Dispatch.case_id.between(*ids))
        .cte("sh")
    )
    rt = (
        select(
            *keys,
            DispatchReturn.unit_id.label("unit"),
            _flag(DispatchReturn.status == RequestStatus.REFUSED).label("improper_returns"),
            _flag(DispatchReturn.status == RequestStatus.APPROVED).label("redispatched"),
        )
        .select_from(pc)
        .join(DispatchReturn, DispatchReturn.case_id == pc.c.case_id)
        .where(DispatchReturn.case_id.between(*ids))
        .cte("rt")
    )
    fu = select(*keys, *_follow_up_flags()).select_from(pc).join(FollowUp, FollowUp.case_id == pc.c.case_id)
    fu_c = fu.where(FollowUp.case_id.between(*ids)).cte("fu")
    # Per unit, the person-made follow-ups of the cases it has a share in, once per (case, unit) however
    # many shares the unit has in the case.
    pairs = select(sh.c.case_id, sh.c.unit).where(sh.c.counted == 1).distinct().subquery("pairs")
    ufu = (
        select(pairs.c.unit, *_follow_up_flags())
        .select_from(pairs)
        .join(FollowUp, FollowUp.case_id == pairs.c.case_id)
        .where(FollowUp.case_id.between(*ids), FollowUp.survey_id.is_(None))
        .subquery("ufu")
    )
    of_pc = {name: func.sum(pc.c[name]) for name in _CASE_FIGURES if name != "intake"} | {"intake": func.count()}
    of_sh = {name: func.sum(sh.c[name]) for name in _SHARE_FIGURES}
    of_sh_unit = {name: func.sum(sh.c[name]) for name in _SHARE_FIGURES + _UNIT_CASE_FIGURES}
    of_sh_unit["intake"] = func.sum(sh.c.counted)
    of_fu = {name: func.sum(fu_c.c[name]) for name in _FOLLOW_UP_FIGURES}
    of_ufu = {name: func.sum(ufu.c[name]) for name in _FOLLOW_UP_FIGURES}
    parts: list[Any] = []
    for source, figures in (
        (pc, of_pc),
        (sh, of_sh),
        (rt, {"improper_returns": func.sum(rt.c.improper_returns)}),
        (fu_c, of_fu),
    ):
        # One sort of the source's rows for the hotline, agent and type figures together (grouped by all
        # three: a few hundred rows), summed again per dimension; the period's figures need a sort of their
        # own (a day's rows are spread over every hotline, agent and type).
        grouped = (
            select(*(source.c[dim] for dim in _DIMS[:3]), *(f.label(name) for name, f in figures.items()))
            .group_by(*(source.c[dim] for dim in _DIMS[:3]))
            .cte(f"{source.name}_g")
        )
        for dim in _DIMS[:3]:
            parts.append(_part(dim, grouped.c[dim], {name: func.sum(grouped.c[name]) for name in figures}))
        if spans:
            parts.append(_part("period", source.c.period, figures))
    parts.append(_part("unit", sh.c.unit, of_sh_unit))
    parts.append(
        _part("unit", rt.c.unit, {name: func.sum(rt.c[name]) for name in ("improper_returns", "redispatched")})
    )
    parts.append(_part("unit", ufu.c.unit, of_ufu))
    return union_all(*parts)


_CASE_FIGURES = ("intake", "handled", "closed", "first_time", "sent_back", "send_back_base", "redispatched", "problems")
_SHARE_FIGURES = ("on_time", "due", "signed_on_time", "sign_for_due", "responded", "response_due")
_UNIT_CASE_FIGURES = ("handled", "closed", "first_time", "sent_back", "send_back_base", "problems")
_FOLLOW_UP_FIGURES = ("reached", "satisfied", "solved", "solved_known")


def _part(dim: str, key: Any, figures: dict[str, Any]) -> Any:
    """One GROUP BY of the statement: (dimension index, key as text, every count, 0 where `figures` has none)."""
    return select(
        literal_column(str(_DIMS.index(dim))).label("dim"),
        cast(key, String).label("key"),
        *[figures.get(name, literal_column("0")).label(name) for name in COUNTS],
    ).group_by(key)


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


def _flag(cond: Any) -> Any:
    """1 where `cond` holds, else 0."""
    return case((cond, 1), else_=0)


def _on_time() -> Any:
    """A share handled by its deadline."""
    return and_(Dispatch.handled_at.is_not(None), Dispatch.handled_at <= Dispatch.deadline_at)


def _due(now: datetime) -> Any:
    """Shares that count for the on-time rate: handled, or still open (pending, accepted, return requested)
    past the deadline."""
    return or_(
        Dispatch.status == DispatchStatus.HANDLED,
        and_(Dispatch.status.in_(_COUNTED[:3]), Dispatch.deadline_at < now),
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


def _follow_up_flags() -> list[Any]:
    """Reached, satisfied, solved, solved known: a follow-up's 0/1 flags, labelled."""
    reached = FollowUp.reached.is_(True)
    return [
        _flag(reached).label("reached"),
        _flag(and_(reached, FollowUp.satisfaction.in_([Satisfaction.SATISFIED, Satisfaction.BASIC]))).label(
            "satisfied"
        ),
        _flag(and_(reached, FollowUp.solved.is_(True))).label("solved"),
        _flag(and_(reached, FollowUp.solved.is_not(None))).label("solved_known"),
    ]
