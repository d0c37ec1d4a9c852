"""Case events reach their audience after commit, once, and never from a rolled-back transaction
(`events.publish_after_commit`); who is in an audience (`Audience.includes`)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker

from ari_app.cases import configure
from ari_app.cases.errors import CaseError
from ari_app.cases.events import (
    Audience,
    CaseCreated,
    CaseDispatched,
    CaseEvent,
    CaseStatusChanged,
    publish_after_commit,
    take_events,
)
from ari_app.cases.intake import create_case
from ari_app.cases.lookups import get_case
from ari_app.cases.workflow import dispatch
from schema.users import Role
from tests.support.cases import Db, intake_fields

A, A1, B = 1, 2, 3


def _intake(db: Db, s: object) -> int:
    fields = intake_fields(call_id=None, citizen_name=None, contact=None)
    case = create_case(s, db.world.actors["agent"], **fields)  # type: ignore[arg-type]
    return case.id


def test_events_are_published_once_after_commit_and_never_after_a_rollback(db: Db) -> None:
    sessions = sessionmaker(db.engine, expire_on_commit=False)
    configure(sessions, db.settings)
    published: list[CaseEvent] = []
    publish_after_commit(sessions, published.append)
    with sessions() as s:
        with s.begin():
            case_id = _intake(db, s)
            assert published == []  # nothing before the commit
        assert [type(e) for e in published] == [CaseCreated]
        with pytest.raises(CaseError), s.begin():  # a refused request rolls everything back
            dispatch(s, db.world.actors["agent"], case_id, units=[db.world.units["A"]])
            dispatch(s, db.world.actors["deptB"], case_id, units=[db.world.units["B"]])
        assert [type(e) for e in published] == [CaseCreated]  # the rolled-back dispatch was never told
        with s.begin():
            dispatch(s, db.world.actors["agent"], case_id, units=[db.world.units["A"]])
        assert [type(e) for e in published] == [CaseCreated, CaseStatusChanged, CaseDispatched]
        with s.begin():
            get_case(s, db.world.actors["agent"], case_id)  # a read commits nothing new to tell
        assert len(published) == 3
        # whoever reports on a session's events still gets what it committed
        assert [type(e) for e in take_events(s)] == [CaseCreated, CaseStatusChanged, CaseDispatched]
    told = published[2]
    assert isinstance(told, CaseDispatched) and told.audience.units == {db.world.units["A"]}


@pytest.mark.parametrize(
    ("role", "hotline", "units", "expected"),
    [
        (Role.DEPARTMENT, None, {A, A1}, True),  # unit A's own user (A1 is under it)
        (Role.DEPARTMENT, None, {A1}, False),  # a 3rd-level unit's user: not dispatched to them
        (Role.DEPARTMENT, None, {B}, False),
        (Role.DEPARTMENT, None, set(), False),  # a department user without a unit
        (Role.SUPERVISOR, None, set(), True),
        (Role.AGENT, None, set(), False),  # not a role the audience names
        (Role.HOTLINE_UNIT, "12345", set(), False),
    ],
)
def test_a_dispatch_audience_is_the_units_department_users(
    role: Role, hotline: str | None, units: set[int], expected: bool
) -> None:
    audience = Audience(frozenset({Role.DEPARTMENT, Role.SUPERVISOR}), units=frozenset({A}))
    assert audience.includes(role, hotline, units) is expected


def test_a_hotline_units_audience_is_its_own_hotline_only() -> None:
    audience = Audience(frozenset({Role.HOTLINE_UNIT, Role.DEPARTMENT}), hotline="12350")
    assert audience.includes(Role.HOTLINE_UNIT, "12350", set())
    assert not audience.includes(Role.HOTLINE_UNIT, "12345", set())
    assert not audience.includes(Role.HOTLINE_UNIT, None, set())
    assert not audience.includes(Role.DEPARTMENT, None, {A})  # names no unit: no department's
