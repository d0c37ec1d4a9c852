"""KPIs over a period (per hotline, unit, agent) with hand-checked figures, and the report writers: text
table, CSV, a PNG chart with Chinese labels, and the `hotline report` command end to end on SQLite, in the
process and as a separate one (the work-order KPIs' columns, a week row, a unit's rank)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from ari_app.cases import Action
from ari_app.cases.kpi import compute
from ari_app.cases.report import csv_text, text_table, write_png
from ari_app.config import HotlineMode
from schema.cases import Case, CooperatingUnit, Dispatch, DispatchReturn, FollowUp
from schema.db import make_engine, upgrade
from tests.support.cases import Db, intake
from tests.support.commands import config_on, hotline
from tests.support.flows import Flow


def scenario(db: Db) -> None:
    c, sp = Flow(db, HotlineMode.COLLABORATIVE), Flow(db, HotlineMode.SUB_PLATFORM)
    a = c.create()  # dispatched, handled on time, followed up satisfied, closed
    c.do(Action.DISPATCH, c.dispatcher, a, hours=10)
    c.do(Action.ACCEPT, c.dept1, a)
    c.do(Action.HANDLE, c.dept1, a)
    c.do(Action.FOLLOW_UP, c.dispatcher, a, satisfaction="satisfied")
    c.do(Action.APPROVE, c.reviewer, a)
    b = c.create()  # dispatched, overdue and still open
    c.do(Action.DISPATCH, c.dispatcher, b, units=[c.unit2], hours=1)
    d = c.create(handling="direct")  # answered on the spot, followed up unsatisfied
    c.do(Action.RESOLVE_DIRECTLY, c.dispatcher, d)
    c.do(Action.FOLLOW_UP, c.dispatcher, d, satisfaction="unsatisfied")
    db.clock.advance(days=1)
    s1 = sp.create()  # next day, sub-platform, handled late
    sp.do(Action.DISPATCH, sp.dispatcher, s1, hours=2)
    sp.do(Action.ACCEPT, sp.dept1, s1)
    db.clock.advance(hours=3)
    sp.do(Action.HANDLE, sp.dept1, s1)


def test_kpis_per_hotline_unit_and_agent(db: Db) -> None:
    scenario(db)
    with db.session() as s:
        r = compute(s, date(2026, 11, 29), date(2026, 12, 1), tz=UTC, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert r.per_day == [(date(2026, 11, 29), 3), (date(2026, 11, 30), 1)]
    t = r.total
    assert (t.intake, t.handled, t.closed) == (4, 3, 2)
    assert (t.on_time, t.due) == (1, 3)
    assert (t.reached, t.satisfied) == (2, 1)
    assert t.satisfaction_rate == 0.5 and t.closure_rate == 0.5
    hot = {x.key: x for x in r.by_hotline}
    assert (hot["12345"].intake, hot["12345"].closed, hot["12350"].intake, hot["12350"].on_time) == (3, 2, 1, 0)
    units = {x.key: x for x in r.by_unit}
    assert (units["市政管理处"].intake, units["市政管理处"].on_time, units["市政管理处"].satisfied) == (1, 1, 1)
    assert (units["环境卫生处"].handled, units["环境卫生处"].due) == (0, 1)
    assert {x.key: x.intake for x in r.by_agent} == {"agent": 4}
    with db.session() as s:
        r2 = compute(s, date(2026, 11, 30), date(2026, 12, 1), tz=UTC, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert r2.total.intake == 1


def test_writers(db: Db, tmp_path: Path) -> None:
    scenario(db)
    with db.session() as s:
        r = compute(s, date(2026, 11, 29), date(2026, 12, 1), tz=UTC, now=datetime(2026, 12, 1, tzinfo=UTC))
    table = text_table(r)
    assert "市政管理处" in table and "50.0%" in table
    lines = csv_text(r).splitlines()
    assert lines[0].startswith("scope,key,intake,handled,closed,handling_rate")
    assert lines[1].startswith("total,all,4,3,2,0.7500,0.5000,0.3333,0.5000")
    png = write_png(r, tmp_path / "k.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ari_app.cli import main

    db_path = tmp_path / "h.db"
    cfg = config_on(tmp_path, db_path)
    out = tmp_path / "reports"
    rc = main(["-c", str(cfg), "report", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    # the days asked for, both included, in the centre's zone (it once printed the exclusive end, 2026-12-01)
    assert "KPI report 2026-11-01 .. 2026-11-30 (both included, days in Asia/Shanghai)" in captured.out
    assert "report: per unit" in captured.err
    assert (out / "kpi-2026-11-01-2026-11-30.csv").exists()
    assert (out / "kpi-2026-11-01-2026-11-30.png").stat().st_size > 1000


def test_keypad_survey_answers_count_in_the_satisfaction_rate_once(db: Db) -> None:
    """A keypad answer on a case's call is that case's follow-up, counted once in the total, per hotline
    and per agent; never for the unit, and not at all when the call has no case."""
    from ari_app.cases.surveys import link_call
    from schema.surveys import SurveyResponse

    scenario(db)  # follow-ups: 2 reached, 1 satisfied
    for call_id, rating in (("call-9", "basically_satisfied"), ("call-10", "unsatisfied"), ("no-case", "satisfied")):
        if call_id != "no-case":
            for _ in range(2):  # two cases taken on one call: the answer goes to the first only
                intake(db, caller="13900000009", call_id=call_id, address="某路", citizen_name=None, contact=None)
        with db.session() as s, s.begin():
            s.add(SurveyResponse(call_id=call_id, rating=rating, answered_at=db.clock.t))
            s.flush()
            link_call(s, call_id, db.clock.t)
            link_call(s, call_id, db.clock.t)  # a second attempt changes nothing
    with db.session() as s:
        r = compute(s, date(2026, 11, 29), date(2026, 12, 2), tz=UTC, now=datetime(2026, 12, 2, tzinfo=UTC))
    assert (r.total.reached, r.total.satisfied) == (4, 2)
    assert r.total.satisfaction_rate == 0.5
    assert {x.key: (x.reached, x.satisfied) for x in r.by_hotline}["12345"] == (4, 2)
    assert {x.key: (x.reached, x.satisfied) for x in r.by_agent}["agent"] == (4, 2)
    units = {x.key: x for x in r.by_unit}
    assert (units["市政管理处"].reached, units["市政管理处"].satisfied) == (1, 1)  # the person's follow-up only


def test_report_command_as_a_separate_process_shows_the_work_order_kpis(tmp_path: Path) -> None:
    """`hotline report --by week` as users start it, on a database with one case of 2026-11-03 (Asia/Shanghai):
    its share signed for in time and handled, a return the centre refused, a follow-up solved and very
    satisfied; the table, CSV and chart carry the new figures, the week row and the unit's rank."""
    db_path = tmp_path / "h.db"
    cfg = config_on(tmp_path, db_path)
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    t = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    with Session(engine) as s, s.begin():
        s.add(CooperatingUnit(id=901, name="报表单位", level=2))
        s.flush()
        fields = {"channel": "phone", "hotline": "12345", "request": "路灯不亮", "urgency": "normal"}
        more = {"language": "zh", "handling": "dispatch", "created_by_login": "agent", "request_type": "complaint"}
        s.add(Case(id=1, number="12345-20261103-0001", status="closed", created_at=t, **fields, **more))
        s.flush()
        s.execute(
            update(Case).where(Case.id == 1).values(handled_at=t + timedelta(hours=5), closed_at=t + timedelta(days=1))
        )
        s.add(
            Dispatch(
                id=1,
                case_id=1,
                unit_id=901,
                status="handled",
                dispatched_at=t,
                deadline_at=t + timedelta(days=5),
                sign_for_deadline_at=t + timedelta(hours=2),
                feedback_deadline_at=t + timedelta(hours=24),
                accepted_at=t + timedelta(hours=1),
                signed_on_time=True,
                handled_at=t + timedelta(hours=5),
            )
        )
        s.flush()
        s.add(
            DispatchReturn(
                case_id=1,
                dispatch_id=1,
                unit_id=901,
                reason_code="not_our_duty",
                reason="非本单位职责",
                requested_at=t + timedelta(minutes=30),
                status="refused",
            )
        )
        s.add(
            FollowUp(
                case_id=1,
                at=t + timedelta(hours=20),
                reached=True,
                solved=True,
                rating="very_satisfied",
                satisfaction="satisfied",
            )
        )
    engine.dispose()
    out = tmp_path / "reports"
    period = ["--from", "2026-11-01", "--to", "2026-11-30", "--by", "week"]
    done = hotline(cfg, "report", *period, "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines[1].split()
    for column in ("sign_for_rate", "response_rate", "resolution_rate", "first_time_rate", "send_back_rate"):
        assert column in header
    assert header[-4:] == ["redispatched", "improper_returns", "problems", "rank"]
    rows = {(r.split()[0], r.split()[1]): r.split()[2:] for r in lines[3:] if len(r.split()) > 2}
    figures = dict(zip(header[2:], rows[("unit", "报表单位")], strict=True))
    assert figures["sign_for_rate"] == "100.0%" and figures["response_rate"] == "100.0%"
    assert figures["improper_returns"] == "1" and figures["rank"] == "1"
    week = dict(zip(header[2:-1], rows[("week", "2026-W45")], strict=True))
    assert week["intake"] == "1" and week["first_time_rate"] == "100.0%" and week["resolution_rate"] == "100.0%"
    assert rows[("type", "complaint")][0] == "1"
    weeks = [k[1] for k in rows if k[0] == "week"]  # Sunday 11-01 ends week 44, Monday 11-30 starts week 49
    assert weeks == ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    csv_lines = (out / "kpi-2026-11-01-2026-11-30.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[0].split(",")[9:18] == [
        "sign_for_rate",
        "response_rate",
        "resolution_rate",
        "first_time_rate",
        "send_back_rate",
        "redispatched",
        "improper_returns",
        "problems",
        "rank",
    ]
    assert (out / "kpi-2026-11-01-2026-11-30.png").stat().st_size > 1000
