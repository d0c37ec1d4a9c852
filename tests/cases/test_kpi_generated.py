"""Every KPI of a month against the definitions applied row by row, on a generated set spanning four months:
cases just inside and just outside the period's bounds (local days in Asia/Shanghai), shares in every status
(a unit with two shares in one case), follow-ups reached or not, by a person or from the keypad. Rows outside
the period exist and must not count."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from ari_app.cases.kpi import KpiReport, KpiRow, compute
from schema.cases import Case, CooperatingUnit, Dispatch, FollowUp
from schema.surveys import SurveyResponse
from tests.support.cases import Db

TZ = ZoneInfo("Asia/Shanghai")
START, END = date(2026, 10, 1), date(2026, 11, 1)
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
STATUSES = ("pending", "accepted", "returned", "handled", "withdrawn")
COUNTED = ("pending", "accepted", "handled")


def _local(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ)


def generate(db: Db, rng: random.Random, n: int = 500) -> None:
    with db.session() as s, s.begin():
        base_unit = max(s.scalars(select(CooperatingUnit.id)), default=0)
        units = [{"id": base_unit + i + 1, "name": f"生成单位{i}", "level": 2} for i in range(5)]
        s.execute(insert(CooperatingUnit), units)
        lo, hi = _local(START), _local(END)
        edges = [lo, lo - timedelta(microseconds=1), hi, hi - timedelta(microseconds=1), lo + timedelta(hours=16)]
        first, span = _local(date(2026, 8, 20)), (_local(date(2026, 12, 10)) - _local(date(2026, 8, 20)))
        cases: list[dict[str, Any]] = []
        dispatches: list[dict[str, Any]] = []
        follow_ups: list[dict[str, Any]] = []
        surveys: list[dict[str, Any]] = []
        for i in range(n):
            cid = 500_000 + i
            created = edges[i] if i < len(edges) else first + span * rng.random()
            created = created.astimezone(UTC)
            handled = created + timedelta(hours=rng.randrange(1, 200)) if rng.random() < 0.7 else None
            closed = handled + timedelta(hours=rng.randrange(0, 50)) if handled and rng.random() < 0.8 else None
            hotline = rng.choice(("12345", "12319", "12350"))
            cases.append(
                {
                    "id": cid,
                    "number": f"G-{i:05d}",
                    "channel": "phone",
                    "hotline": hotline,
                    "caller": f"1390000{i % 97:04d}",
                    "contact": None,
                    "request": "生成",
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
                }
            )
            unit_choices = [u["id"] for u in units]
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                status = rng.choice(STATUSES)
                deadline = created + timedelta(hours=rng.randrange(1, 24 * 60))
                done = deadline + timedelta(hours=rng.randrange(-72, 72)) if status == "handled" else None
                dispatches.append(
                    {
                        "case_id": cid,
                        "unit_id": rng.choice(unit_choices[:3]),  # few units: a unit often has two shares
                        "lead": True,
                        "status": status,
                        "dispatched_at": created,
                        "deadline_at": deadline,
                        "handled_at": done,
                    }
                )
            for _ in range(rng.choice((0, 0, 1, 2))):
                survey_id = None
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
                        "solved": None,
                        "satisfaction": rng.choice(("satisfied", "basic", "unsatisfied", None)),
                        "survey_id": survey_id,
                    }
                )
        s.execute(insert(Case), cases)
        if surveys:
            s.execute(insert(SurveyResponse), surveys)
        s.execute(insert(Dispatch), dispatches)
        s.execute(insert(FollowUp), follow_ups)


def expected(db: Db) -> dict[tuple[str, str], tuple[int, ...]]:
    """The figures straight from the definitions, over every row of the tables read back."""
    lo, hi = _local(START), _local(END)
    with db.session() as s:
        cases = {c.id: c for c in s.scalars(select(Case)) if lo <= c.created_at < hi}
        shares = [d for d in s.scalars(select(Dispatch)) if d.case_id in cases and d.status in COUNTED]
        follow_ups = [f for f in s.scalars(select(FollowUp)) if f.case_id in cases]
        names = {uid: name for uid, name in s.execute(select(CooperatingUnit.id, CooperatingUnit.name))}
    out: dict[tuple[str, str], list[int]] = {}

    def keys(c: Case) -> list[tuple[str, str]]:
        return [("total", "all"), ("hotline", c.hotline), ("agent", c.created_by_login)]

    def bump(key: tuple[str, str], i: int) -> None:
        out.setdefault(key, [0] * 7)[i] += 1

    def sat(f: FollowUp) -> bool:
        return f.reached and f.satisfaction in ("satisfied", "basic")

    out[("total", "all")] = [0] * 7
    for c in cases.values():
        for k in keys(c):
            bump(k, 0)
            if c.handled_at is not None:
                bump(k, 1)
            if c.closed_at is not None:
                bump(k, 2)
    for d in shares:
        c = cases[d.case_id]
        on_time = d.handled_at is not None and d.handled_at <= d.deadline_at
        due = d.status == "handled" or d.deadline_at < NOW
        u = ("unit", names[d.unit_id])
        for k in keys(c):
            if on_time:
                bump(k, 3)
            if due:
                bump(k, 4)
        bump(u, 0)
        if d.status == "handled":
            bump(u, 1)
        if c.closed_at is not None:
            bump(u, 2)
        if on_time:
            bump(u, 3)
        if due:
            bump(u, 4)
    pairs = {(d.case_id, d.unit_id) for d in shares}
    for f in follow_ups:
        for k in keys(cases[f.case_id]):
            if f.reached:
                bump(k, 5)
            if sat(f):
                bump(k, 6)
        if f.survey_id is None:
            for case_id, unit_id in pairs:
                if case_id == f.case_id:
                    if f.reached:
                        bump(("unit", names[unit_id]), 5)
                    if sat(f):
                        bump(("unit", names[unit_id]), 6)
    return {k: tuple(v) for k, v in out.items()}


def figures(report: KpiReport) -> dict[tuple[str, str], tuple[int, ...]]:
    def f(r: KpiRow) -> tuple[int, ...]:
        return (r.intake, r.handled, r.closed, r.on_time, r.due, r.reached, r.satisfied)

    return {(r.scope, r.key): f(r) for r in report.rows()}


def test_every_kpi_matches_its_definition_on_a_generated_set(db: Db) -> None:
    generate(db, random.Random(12345))
    with db.session() as s:
        report = compute(s, START, END, tz=TZ, now=NOW)
    want = expected(db)
    assert figures(report) == want
    assert want[("total", "all")][0] < 500  # rows outside the period exist
    assert sum(n for _, n in report.per_day) == want[("total", "all")][0]
    lo = _local(START)
    with db.session() as s:
        days = [c.astimezone(TZ).date() for c in s.scalars(select(Case.created_at)) if lo <= c < _local(END)]
    assert report.per_day == [(START + timedelta(days=i), days.count(START + timedelta(days=i))) for i in range(31)]
