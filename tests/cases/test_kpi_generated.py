"""Every KPI of a month against its definition applied row by row in Python, on a generated set spanning four
months (a few thousand cases, seeded): cases just inside and just outside the period's bounds (local days in
Asia/Shanghai), every request type, shares in every status with sign-for and first-feedback deadlines met,
missed or still running (a unit with two shares in one case), returns accepted, refused and waiting,
counters, problem work orders, follow-ups reached or not, solved or not, on five levels, by a person or from
the keypad. Rows outside the period exist and must not count. The expected figures come from the rows read
back with plain selects, never from the report's statements."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from ari_app.cases.kpi import COUNTS, Grouping, KpiReport, KpiRow, compute
from schema.cases import Case, CooperatingUnit, Dispatch, DispatchReturn, FollowUp, Rating, RequestType
from schema.surveys import SurveyResponse
from tests.support.cases import Db

TZ = ZoneInfo("Asia/Shanghai")
START, END = date(2026, 10, 1), date(2026, 11, 1)
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
STATUSES = ("pending", "accepted", "returned", "return_requested", "handled", "withdrawn")
COUNTED = ("pending", "accepted", "return_requested", "handled")
N_CASES = int(os.environ.get("HOTLINE_KPI_CASES", "3000"))
"""Cases generated: a few thousand in the suite; `HOTLINE_KPI_CASES=100000` for the month at a centre's scale."""


def _local(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ)


def _maybe(rng: random.Random, p: float, value: Any) -> Any:
    return value if rng.random() < p else None


def generate(db: Db, rng: random.Random, n: int = N_CASES) -> None:
    with db.session() as s, s.begin():
        base_unit = max(s.scalars(select(CooperatingUnit.id)), default=0)
        units = [{"id": base_unit + i + 1, "name": f"生成单位{i}", "level": 2} for i in range(5)]
        s.execute(insert(CooperatingUnit), units)
        lo, hi = _local(START), _local(END)
        edges = [lo, lo - timedelta(microseconds=1), hi, hi - timedelta(microseconds=1), lo + timedelta(hours=16)]
        first, span = _local(date(2026, 8, 20)), (_local(date(2026, 12, 10)) - _local(date(2026, 8, 20)))
        cases: list[dict[str, Any]] = []
        dispatches: list[dict[str, Any]] = []
        returns: list[dict[str, Any]] = []
        follow_ups: list[dict[str, Any]] = []
        surveys: list[dict[str, Any]] = []
        unit_ids = [u["id"] for u in units]
        for i in range(n):
            cid = 500_000 + i
            created = edges[i] if i < len(edges) else first + span * rng.random()
            created = created.astimezone(UTC)
            handled = created + timedelta(hours=rng.randrange(1, 200)) if rng.random() < 0.7 else None
            closed = handled + timedelta(hours=rng.randrange(0, 50)) if handled and rng.random() < 0.8 else None
            send_backs = rng.choice((0, 0, 0, 1, 2, 3))
            redispatches = rng.choice((0, 0, 0, 1, 3))
            cases.append(
                {
                    "id": cid,
                    "number": f"G-{i:05d}",
                    "channel": "phone",
                    "hotline": rng.choice(("12345", "12319", "12350")),
                    "caller": f"1390000{i % 97:04d}",
                    "contact": None,
                    "request": "生成",
                    "request_type": rng.choice(list(RequestType)).value,
                    "urgency": "normal",
                    "language": "zh",
                    "handling": "dispatch",
                    "status": "closed" if closed else "in_progress",
                    "created_at": created,
                    "updated_at": created,
                    "handled_at": handled,
                    "closed_at": closed,
                    "supervision_level": 0,
                    "leader_escalated": False,
                    "created_by_login": rng.choice(("agent_a", "agent_b", "agent_c")),
                    "send_back_count": send_backs,
                    "redispatch_count": redispatches,
                    "problem_at": created + timedelta(days=2) if max(send_backs, redispatches) >= 3 else None,
                }
            )
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                did = 700_000 + len(dispatches)
                status = rng.choice(STATUSES)
                deadline = created + timedelta(hours=rng.randrange(1, 24 * 60))
                done = deadline + timedelta(hours=rng.randrange(-72, 72)) if status == "handled" else None
                sign_for = _maybe(rng, 0.8, created + timedelta(hours=rng.randrange(1, 48)))
                feedback = _maybe(rng, 0.8, created + timedelta(hours=rng.randrange(1, 72)))
                accepted = None
                if status in ("accepted", "handled", "withdrawn") or rng.random() < 0.3:
                    accepted = created + timedelta(hours=rng.randrange(0, 96), minutes=rng.randrange(60))
                    if done is not None and accepted > done:
                        accepted = _maybe(rng, 0.5, done)  # signed for with the result, or never stamped
                dispatches.append(
                    {
                        "id": did,
                        "case_id": cid,
                        "unit_id": rng.choice(unit_ids[:3]),  # few units: a unit often has two shares
                        "lead": True,
                        "status": status,
                        "dispatched_at": created,
                        "deadline_at": deadline,
                        "accepted_at": accepted,
                        "handled_at": done,
                        "sign_for_deadline_at": sign_for,
                        "signed_on_time": None if accepted is None or sign_for is None else accepted <= sign_for,
                        "feedback_deadline_at": feedback,
                    }
                )
                for _ in range(rng.choice((0, 0, 1, 2))):
                    returns.append(
                        {
                            "case_id": cid,
                            "dispatch_id": did,
                            "unit_id": dispatches[-1]["unit_id"],
                            "reason_code": "not_our_duty",
                            "reason": "非本单位职责",
                            "requested_at": created + timedelta(hours=3),
                            "status": rng.choice(("pending", "approved", "refused")),
                        }
                    )
            for _ in range(rng.choice((0, 0, 1, 2))):
                survey_id = None
                rating = rng.choice([*Rating, None])
                if rng.random() < 0.3:
                    survey_id = len(surveys) + 1
                    surveys.append(
                        {"id": survey_id, "call_id": f"g-{survey_id}", "rating": "satisfied", "answered_at": created}
                    )
                follow_ups.append(
                    {
                        "case_id": cid,
                        "at": created + timedelta(hours=30),
                        "reached": rng.random() < 0.8,
                        "solved": None if survey_id else rng.choice((True, False, None)),
                        "rating": rating,
                        "satisfaction": rating.satisfaction.value if rating else None,
                        "survey_id": survey_id,
                    }
                )
        s.execute(insert(Case), cases)
        if surveys:
            s.execute(insert(SurveyResponse), surveys)
        s.execute(insert(Dispatch), dispatches)
        s.execute(insert(DispatchReturn), returns)
        s.execute(insert(FollowUp), follow_ups)


def _period_key(day: date, by: Grouping | None) -> str | None:
    if by == "day":
        return day.isoformat()
    if by == "week":
        return f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"
    if by == "month":
        return f"{day.year}-{day.month:02d}"
    return None


def expected(db: Db, by: Grouping | None) -> dict[tuple[str, str], dict[str, int]]:
    """The figures straight from the definitions (docs/cases.md), over every row of the tables read back."""
    lo, hi = _local(START), _local(END)
    with db.session() as s:
        cases = {c.id: c for c in s.scalars(select(Case)) if lo <= c.created_at < hi}
        shares = [d for d in s.scalars(select(Dispatch)) if d.case_id in cases]
        returns = [r for r in s.scalars(select(DispatchReturn)) if r.case_id in cases]
        follow_ups = [f for f in s.scalars(select(FollowUp)) if f.case_id in cases]
        names = {uid: name for uid, name in s.execute(select(CooperatingUnit.id, CooperatingUnit.name))}
    out: dict[tuple[str, str], dict[str, int]] = {("total", "all"): dict.fromkeys(COUNTS, 0)}

    def keys(c: Case) -> list[tuple[str, str]]:
        ks = [("total", "all"), ("hotline", c.hotline), ("agent", c.created_by_login), ("type", c.request_type)]
        period = _period_key(c.created_at.astimezone(TZ).date(), by)
        if by and period:
            ks.append((by, period))
        return ks

    def bump(key: tuple[str, str], name: str, n: int = 1) -> None:
        out.setdefault(key, dict.fromkeys(COUNTS, 0))[name] += n

    def first_time(c: Case) -> bool:
        return c.closed_at is not None and c.send_back_count == 0 and c.redispatch_count == 0

    def handled_once(c: Case) -> bool:
        return c.handled_at is not None or c.send_back_count > 0

    for c in cases.values():
        for k in keys(c):
            bump(k, "intake")
            bump(k, "handled", c.handled_at is not None)
            bump(k, "closed", c.closed_at is not None)
            bump(k, "first_time", first_time(c))
            bump(k, "sent_back", c.send_back_count > 0)
            bump(k, "send_back_base", handled_once(c))
            bump(k, "redispatched", c.redispatch_count)
            bump(k, "problems", c.problem_at is not None)
    for d in shares:
        c = cases[d.case_id]
        counted = d.status in COUNTED
        on_time = counted and d.handled_at is not None and d.handled_at <= d.deadline_at
        due = d.status == "handled" or (d.status in ("pending", "accepted", "return_requested") and d.deadline_at < NOW)
        signed = d.sign_for_deadline_at is not None and d.accepted_at is not None
        signed_in_time = signed and d.accepted_at <= d.sign_for_deadline_at
        unsigned_late = (
            d.sign_for_deadline_at is not None
            and d.accepted_at is None
            and d.status in ("pending", "return_requested")
            and d.sign_for_deadline_at < NOW
        )
        answers = [t for t in (d.accepted_at, d.handled_at) if t is not None]
        response = min(answers) if answers else None
        has_feedback = d.feedback_deadline_at is not None
        responded = has_feedback and response is not None and response <= d.feedback_deadline_at
        response_due = has_feedback and (response is not None or d.feedback_deadline_at < NOW)
        share_figures = {
            "on_time": on_time,
            "due": due,
            "signed_on_time": signed_in_time,
            "sign_for_due": signed or unsigned_late,
            "responded": responded,
            "response_due": response_due,
        }
        for k in keys(c):
            for name, yes in share_figures.items():
                bump(k, name, yes)
        u = ("unit", names[d.unit_id])
        for name, yes in share_figures.items():
            bump(u, name, yes)
        bump(u, "intake", counted)
        bump(u, "handled", d.status == "handled")
        if counted:
            bump(u, "closed", c.closed_at is not None)
            bump(u, "first_time", first_time(c))
            bump(u, "sent_back", c.send_back_count > 0)
            bump(u, "send_back_base", handled_once(c))
            bump(u, "problems", c.problem_at is not None)
    for r in returns:
        for k in keys(cases[r.case_id]):
            bump(k, "improper_returns", r.status == "refused")
        bump(("unit", names[r.unit_id]), "improper_returns", r.status == "refused")
        bump(("unit", names[r.unit_id]), "redispatched", r.status == "approved")
    units_of: dict[int, set[int]] = {}  # case -> the units with a counted share in it
    for d in shares:
        if d.status in COUNTED:
            units_of.setdefault(d.case_id, set()).add(d.unit_id)

    def follow_up_figures(f: FollowUp) -> dict[str, bool]:
        return {
            "reached": f.reached,
            "satisfied": f.reached and f.rating in ("very_satisfied", "satisfied", "basically_satisfied"),
            "solved": f.reached and f.solved is True,
            "solved_known": f.reached and f.solved is not None,
        }

    for f in follow_ups:
        figs = follow_up_figures(f)
        for k in keys(cases[f.case_id]):
            for name, yes in figs.items():
                bump(k, name, yes)
        if f.survey_id is None:
            for unit_id in units_of.get(f.case_id, ()):
                for name, yes in figs.items():
                    bump(("unit", names[unit_id]), name, yes)
    return out


def figures(report: KpiReport) -> dict[tuple[str, str], dict[str, int]]:
    return {(r.scope, r.key): {name: getattr(r, name) for name in COUNTS} for r in report.rows()}


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


@pytest.mark.parametrize("by", [None, "day", "week", "month"])
def test_every_kpi_matches_its_definition_on_a_generated_set(db: Db, by: Grouping | None) -> None:
    generate(db, random.Random(12345))
    with db.session() as s:
        report = compute(s, START, END, tz=TZ, now=NOW, by=by)
    want = expected(db, by)
    got = figures(report)
    assert got.keys() == want.keys()
    for key, counts in want.items():
        assert got[key] == counts, key
    total = want[("total", "all")]
    assert 0 < total["intake"] < N_CASES  # rows outside the period exist
    for name in COUNTS:  # every figure is exercised: none is zero for the whole month
        assert total[name] > 0, name
    assert sum(n for _, n in report.per_day) == total["intake"]
    lo = _local(START)
    with db.session() as s:
        days = [c.astimezone(TZ).date() for c in s.scalars(select(Case.created_at)) if lo <= c < _local(END)]
    assert report.per_day == [(START + timedelta(days=i), days.count(START + timedelta(days=i))) for i in range(31)]
    keys = {
        None: [],
        "day": [(START + timedelta(days=i)).isoformat() for i in range(31)],
        "week": ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"],  # Thu 10-01..Sun 10-04, .., Mon 10-26..
        "month": ["2026-10"],
    }[by]
    assert [(r.scope, r.key) for r in report.by_period] == [(by, k) for k in keys]
    for name in COUNTS:  # the periods add up to the month
        assert sum(getattr(r, name) for r in report.by_period) == (getattr(report.total, name) if by else 0)


def test_rates_and_unit_ranking(db: Db) -> None:
    """Each rate is its numerator over its denominator; the units are ranked by on-time rate, then
    satisfaction rate, then on-time sign-for rate (higher first), each unit's rank its place."""
    generate(db, random.Random(7))
    with db.session() as s:
        report = compute(s, START, END, tz=TZ, now=NOW)
    rates: dict[str, Callable[[KpiRow], float | None]] = {
        "sign_for_rate": lambda r: _rate(r.signed_on_time, r.sign_for_due),
        "response_rate": lambda r: _rate(r.responded, r.response_due),
        "resolution_rate": lambda r: _rate(r.solved, r.solved_known),
        "satisfaction_rate": lambda r: _rate(r.satisfied, r.reached),
        "first_time_rate": lambda r: _rate(r.first_time, r.closed),
        "send_back_rate": lambda r: _rate(r.sent_back, r.send_back_base),
        "on_time_rate": lambda r: _rate(r.on_time, r.due),
    }
    for r in report.rows():
        for name, rate in rates.items():
            assert getattr(r, name) == rate(r), (r.scope, r.key, name)
    units = report.by_unit
    assert len(units) == 3
    assert [u.rank for u in units] == [1, 2, 3]
    best_first = sorted(
        units, key=lambda u: (-(u.on_time or 0) / (u.due or 1), -(u.satisfied / (u.reached or 1)), u.key)
    )
    assert [u.key for u in units] == [u.key for u in best_first]
    assert all(r.rank is None for r in report.rows() if r.scope != "unit")
