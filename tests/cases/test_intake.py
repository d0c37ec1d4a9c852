"""Intake, reading and searching: numbering, caller history, audited reads, refusals with stable error ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ari_app.cases import CaseState, NotConfigured, PermissionDenied, UnknownHotline
from ari_app.cases.errors import CaseNotFound, InvalidInput
from ari_app.cases.events import CaseCreated, take_events
from ari_app.cases.intake import create_case
from ari_app.cases.lookups import caller_history, get_case, search_cases
from schema.cases import AuditAppendOnlyError, AuditEntry
from tests.support.cases import Db, intake, intake_fields


def test_create_numbers_per_hotline_and_local_day(db: Db) -> None:
    a = intake(db)
    b = intake(db)
    c = intake(db, hotline="12319", category="供水")
    assert a.number == "12345-20261129-0001"
    assert b.number == "12345-20261129-0002"
    assert c.number == "12319-20261129-0001"
    assert a.status == CaseState.RECEIVED
    assert a.category is not None and a.category.name == "市政设施"
    assert a.created_at.tzinfo is not None


def test_number_uses_the_centre_timezone(db: Db) -> None:
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    db.settings = replace(db.settings, timezone=ZoneInfo("Asia/Shanghai"))
    # 17:00 UTC on the 29th is 01:00 on the 30th in Urumqi's official (Beijing) time.
    case = intake(db, now=datetime(2026, 11, 29, 17, 0, tzinfo=UTC))
    assert case.number == "12345-20261130-0001"


def test_create_is_audited_and_emits_event(db: Db) -> None:
    with db.session() as s, s.begin():
        fields = intake_fields(caller="1", call_id=None, category=None, request="x", address=None, urgency="urgent")
        fields.update(citizen_name=None, contact=None, language="ug", handling="direct", channel="wechat")
        case = create_case(s, db.world.actors["agent"], **fields)
    events = take_events(s)
    assert [type(e) for e in events] == [CaseCreated]
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id)).all()
        assert [(r.action, r.login, r.role) for r in rows] == [("create", "agent", "agent")]


@pytest.mark.parametrize(
    ("field", "value"),
    [("urgency", "whenever"), ("handling", "magic"), ("channel", "pigeon"), ("request", "  "), ("category", "nope")],
)
def test_create_refuses_bad_input(db: Db, field: str, value: str) -> None:
    with pytest.raises(InvalidInput) as err:
        intake(db, **{field: value})
    assert err.value.error_id == "case_invalid_input"
    assert err.value.detail["field"] == field


def test_create_refuses_unknown_hotline_and_wrong_roles(db: Db) -> None:
    with pytest.raises(UnknownHotline):
        intake(db, hotline="99999")
    for who in ("deptA", "qa"):
        with pytest.raises(PermissionDenied):
            intake(db, actor=who)
    with pytest.raises(PermissionDenied):
        intake(db, actor="hu12350", hotline="12345")
    assert intake(db, actor="hu12350", hotline="12350", category="安全隐患").hotline == "12350"


def test_unconfigured_session_is_refused(db: Db) -> None:
    from sqlalchemy.orm import Session

    with Session(db.engine) as s, pytest.raises(NotConfigured) as err:
        create_case(s, db.world.actors["agent"], **intake_fields())
    assert err.value.error_id == "cases_not_configured"


def test_caller_history_most_recent_first_and_visible_only(db: Db) -> None:
    first = intake(db, caller="139")
    db.clock.advance(minutes=5)
    second = intake(db, caller=None, contact="139")
    db.clock.advance(minutes=5)
    third = intake(db, caller="139", hotline="12350", category="安全隐患")
    intake(db, caller="138")
    with db.session() as s, s.begin():
        got = caller_history(s, db.world.actors["agent"], "139")
        assert [c.id for c in got] == [third.id, second.id, first.id]
        assert [c.id for c in caller_history(s, db.world.actors["agent"], "139", limit=1)] == [third.id]
        assert [c.id for c in caller_history(s, db.world.actors["hu12350"], "139")] == [third.id]
        assert caller_history(s, db.world.actors["deptA"], "139") == []


@pytest.mark.parametrize("second", ["anonymous", "Anonymous", "unknown", "<unknown>", "restricted", "private", ""])
def test_a_withheld_caller_has_no_history_and_is_stored_withheld(db: Db, second: str) -> None:
    """Two citizens who both withhold their number: the second must not be shown the first's case."""
    first = intake(db, caller="anonymous", contact="anonymous", citizen_name="张女士", address="解放路 8 号")
    assert (first.caller, first.contact) == ("withheld", None)
    unknown = intake(db, caller="<unknown>", contact=" ")
    assert (unknown.caller, unknown.contact) == ("withheld", None)
    assert intake(db, caller=None, contact="13900000009").caller is None  # not from a call: no caller at all
    with db.session() as s, s.begin():
        for actor in ("agent", "supervisor"):
            assert caller_history(s, db.world.actors[actor], second) == []
            assert caller_history(s, db.world.actors[actor], "withheld") == []


def test_search_text_mine_and_scope(db: Db) -> None:
    a = intake(db, request="井盖丢失")
    b = intake(db, actor="agent2", request="井盖松动", address="河滩路")
    intake(db, request="噪音扰民")
    with db.session() as s, s.begin():
        agent = db.world.actors["agent"]
        assert {c.id for c in search_cases(s, agent, "井盖")} == {a.id, b.id}
        assert [c.id for c in search_cases(s, agent, "井盖", mine=True)] == [a.id]
        assert [c.id for c in search_cases(s, agent, "河滩")] == [b.id]
        assert [c.id for c in search_cases(s, agent, a.number)] == [a.id]
        assert len(search_cases(s, agent)) == 3
        assert search_cases(s, db.world.actors["hu12350"], "井盖") == []


def test_get_case_is_an_audited_read_and_hides_others(db: Db) -> None:
    case = intake(db)
    with db.session() as s, s.begin():
        assert get_case(s, db.world.actors["qa"], case.id).number == case.number
        assert get_case(s, db.world.actors["agent"], case.number).id == case.id
        for who in ("hu12350", "deptA"):
            with pytest.raises(CaseNotFound) as err:
                get_case(s, db.world.actors[who], case.id)
            assert err.value.error_id == "case_not_found"
    with db.session() as s:
        views = s.scalars(select(AuditEntry.login).where(AuditEntry.action == "view")).all()
        assert sorted(views) == ["agent", "qa"]


def test_audit_log_is_append_only_in_code_and_in_the_database(db: Db) -> None:
    intake(db)
    with db.session() as s:
        entry = s.scalars(select(AuditEntry)).first()
        assert entry is not None
        entry.action = "tampered"
        with pytest.raises(AuditAppendOnlyError):
            s.flush()
        s.rollback()
        s.delete(s.scalars(select(AuditEntry)).first())
        with pytest.raises(AuditAppendOnlyError):
            s.flush()
        s.rollback()
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with db.engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(sql))
            conn.rollback()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "create")) == 1
