"""Deadlines and supervision on a controlled clock: time left, overdue, escalation levels, idempotent runs,
events for the people who must act."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ari_app.cases import Action
from ari_app.cases.deadlines import escalate_overdue, is_overdue, time_left
from ari_app.cases.events import SupervisionRaised, take_events
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Supervision
from schema.users import Role
from tests.support.cases import Db
from tests.support.flows import Flow


def run_escalation(db: Db) -> list[SupervisionRaised]:
    with db.session() as s, s.begin():
        raised = escalate_overdue(s)
    assert [e for e in take_events(s) if isinstance(e, SupervisionRaised)] == raised
    return raised


def test_time_left_and_overdue_follow_the_clock(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    f.do(Action.DISPATCH, f.dispatcher, cid, hours=10)
    case = f.get(cid)
    assert time_left(case, db.clock.t) == timedelta(hours=10)
    assert not is_overdue(case, db.clock.advance(hours=10))
    assert is_overdue(case, db.clock.advance(seconds=1))
    assert time_left(case, db.clock.t) == timedelta(seconds=-1)


def test_overdue_work_escalates_level_by_level_once(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    late = f.create()
    on_time = f.create()
    f.do(Action.DISPATCH, f.dispatcher, late, hours=4)
    f.do(Action.DISPATCH, f.dispatcher, on_time, hours=4)
    f.do(Action.ACCEPT, f.dept1, on_time)
    assert run_escalation(db) == []
    db.clock.advance(hours=3)
    f.do(Action.HANDLE, f.dept1, on_time)
    db.clock.advance(hours=1, minutes=1)
    first = run_escalation(db)
    assert [(e.case_id, e.level, e.unit_id, e.overdue) for e in first] == [(late, 1, f.unit1, True)]
    assert first[0].audience.roles == frozenset({Role.DEPARTMENT}) and first[0].audience.units == {f.unit1}
    assert run_escalation(db) == []  # the same level is not raised twice
    db.clock.advance(hours=24)
    second = run_escalation(db)
    assert [e.level for e in second] == [2]
    assert Role.SUPERVISOR in second[0].audience.roles
    db.clock.advance(hours=100)
    assert [e.level for e in run_escalation(db)] == [3]
    assert run_escalation(db) == []
    case = f.get(late)
    assert case.supervision_level == 3
    assert [(s.level, s.overdue, s.by) for s in case.supervisions] == [
        (1, True, None),
        (2, True, None),
        (3, True, None),
    ]
    with db.session() as s:
        logins = s.scalars(select(AuditEntry.login).where(AuditEntry.action == "escalate")).all()
    assert logins == ["system"] * 3


def test_sub_platform_escalation_goes_to_the_hotline_unit(db: Db) -> None:
    f = Flow(db, HotlineMode.SUB_PLATFORM)
    cid = f.create()
    f.do(Action.DISPATCH, f.dispatcher, cid)  # category default: 24 h
    db.clock.advance(hours=49)
    (event,) = run_escalation(db)
    assert event.level == 2
    assert event.audience.roles == frozenset({Role.DEPARTMENT, Role.HOTLINE_UNIT})
    assert event.audience.hotline == "12350"


def test_handled_or_returned_work_is_not_escalated(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    a, b = f.create(), f.create()
    for cid in (a, b):
        f.do(Action.DISPATCH, f.dispatcher, cid, hours=1)
    f.do(Action.ACCEPT, f.dept1, a)
    f.do(Action.HANDLE, f.dept1, a)
    f.do(Action.RETURN, f.dept1, b)
    f.do(Action.ACCEPT_RETURN, f.reviewer, b)
    db.clock.advance(hours=200)
    assert run_escalation(db) == []
    with db.session() as s:
        assert s.scalars(select(Supervision)).all() == []


def test_manual_supervision_is_recorded_with_an_event_for_the_unit(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    f.do(Action.DISPATCH, f.dispatcher, cid)
    with db.session() as s, s.begin():
        from ari_app.cases.workflow import supervise

        supervise(s, f.reviewer, cid, instructions="今日内答复")
    (event,) = [e for e in take_events(s) if isinstance(e, SupervisionRaised)]
    assert (event.overdue, event.level, event.unit_id, event.instructions) == (False, 1, f.unit1, "今日内答复")
