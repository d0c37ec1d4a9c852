"""The read-mostly views (ari_app.cases.oversight): who may read them, each read audited; the overdue and
problem work orders in the reader's scope; the KPI report cut to a hotline unit's hotline and own units,
equal to kpi.compute's rows for them; the unit ranking's order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ari_app.cases import Action, PermissionDenied
from ari_app.cases.kpi import KpiRow, compute
from ari_app.cases.oversight import kpi_report, oversight_cases, ranking
from ari_app.config import HotlineMode
from schema.cases import AuditEntry
from tests.support.cases import T0, Db
from tests.support.flows import Flow

DAY = T0.date()


def scenario(db: Db) -> tuple[int, int]:
    """A collaborative case overdue with unit B; a sub-platform case made a problem work order (three
    accepted returns, re-dispatched each time) and one handled by its unit S."""
    c, sp = Flow(db, HotlineMode.COLLABORATIVE), Flow(db, HotlineMode.SUB_PLATFORM)
    late = c.create()
    c.do(Action.DISPATCH, c.dispatcher, late, units=[c.unit2], hours=1)
    problem = sp.create()
    for _ in range(3):
        sp.do(Action.DISPATCH, sp.dispatcher, problem, units=[sp.unit2], hours=72)
        sp.do(Action.RETURN, sp.dept2, problem, reason="不归我们")
        sp.do(Action.ACCEPT_RETURN, sp.reviewer, problem)
    sp.do(Action.DISPATCH, sp.dispatcher, problem, units=[sp.unit2], hours=72)
    done = sp.create()
    sp.do(Action.DISPATCH, sp.dispatcher, done, units=[sp.unit1], hours=72)
    sp.do(Action.ACCEPT, sp.dept1, done)
    sp.do(Action.HANDLE, sp.dept1, done)
    db.clock.advance(hours=2)
    return late, problem


def audited(db: Db, action: str, login: str) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action, AuditEntry.login == login)))


def test_the_overdue_and_problem_lists_in_the_readers_scope(db: Db) -> None:
    late, problem = scenario(db)
    w = db.world.actors
    overdue = oversight_cases(db.session, w["supervisor"], "overdue")
    assert [(r.case["id"], r.units) for r in overdue] == [(late, ["环境卫生处"])]
    problems = oversight_cases(db.session, w["supervisor"], "problem")
    assert [(r.case["id"], r.redispatch_count, r.case["supervision_level"]) for r in problems] == [(problem, 3, 1)]
    assert problems[0].problem_at is not None and problems[0].units == ["应急管理局危化处"]
    assert oversight_cases(db.session, w["hu12350"], "overdue") == []  # 12345's case is not its hotline's
    assert [r.case["id"] for r in oversight_cases(db.session, w["hu12350"], "problem")] == [problem]
    assert oversight_cases(db.session, w["hu12345"], "problem") == []
    for who in ("agent", "qa", "deptA"):
        with pytest.raises(PermissionDenied):
            oversight_cases(db.session, w[who], "overdue")
        assert len(audited(db, "refused", who)) == 1
    assert [e.detail for e in audited(db, "oversight", "supervisor")] == [
        '{"found": 1, "kind": "overdue"}',
        '{"found": 1, "kind": "problem"}',
    ]


def test_a_hotline_units_kpis_are_its_hotlines_rows_of_kpi_compute(db: Db) -> None:
    scenario(db)
    w = db.world.actors
    tz = db.settings.timezone
    end = DAY + timedelta(days=1)
    with db.session() as s:
        full = compute(s, DAY, end, tz=tz, now=db.clock.t)
    everything = kpi_report(db.session, w["supervisor"], DAY, end, tz)
    assert [vars(r) for r in everything.rows()] == [vars(r) for r in full.rows()]

    mine = kpi_report(db.session, w["hu12350"], DAY, end, tz)
    line = next(r for r in full.by_hotline if r.key == "12350")
    assert [vars(r) for r in mine.by_hotline] == [vars(line)]
    assert (mine.total.intake, mine.total.handled, mine.total.on_time, mine.total.due) == (
        line.intake,
        line.handled,
        line.on_time,
        line.due,
    )
    own = {"应急管理局执法支队", "应急管理局一大队", "应急管理局危化处"}
    assert [vars(r) for r in mine.by_unit] == [vars(r) for r in full.by_unit if r.key in own]
    assert {r.key for r in mine.by_unit} == {"应急管理局执法支队", "应急管理局危化处"}
    assert mine.by_agent == [] and mine.per_day == []
    with pytest.raises(PermissionDenied):
        kpi_report(db.session, w["deptS"], DAY, end, tz)
    details = [e.detail or "" for e in audited(db, "kpi", "hu12350")]
    assert len(details) == 1 and '"hotline": "12350"' in details[0] and f'"start": "{DAY}"' in details[0]


def test_the_ranking_is_by_on_time_rate_then_shares_due_then_name() -> None:
    rows = [
        KpiRow("unit", "丙", on_time=1, due=2),
        KpiRow("unit", "甲", on_time=0, due=0),
        KpiRow("unit", "乙", on_time=2, due=2),
        KpiRow("unit", "丁", on_time=2, due=4),
        KpiRow("unit", "戊", on_time=1, due=1),
    ]
    assert [r.key for r in ranking(rows)] == ["乙", "戊", "丁", "丙", "甲"]
    assert ranking([]) == []
