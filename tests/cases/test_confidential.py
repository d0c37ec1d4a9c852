"""Confidential work orders (保密工单, GB/T 33358-2016): the citizen's name, contact and calling number of a
confidential case are seen only by the centre's roles, masked in every ordinary view and in clear only by an
audited reveal; units and departments see none of them and cannot find the case by them; marking after
intake and lifting are audited. A property test over random viewers and cases checks the one function that
builds every outward view (`disclosure.citizen_fields`, through `queries.summary` and the Open311 request)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ari_app.cases import Action, CaseNotFound, InvalidInput, PermissionDenied
from ari_app.cases.disclosure import CONTACT_ROLES, OUTSIDE, Viewer, citizen_fields
from ari_app.cases.errors import ContactConfidential
from ari_app.cases.exchange import open311_request
from ari_app.cases.lookups import caller_history
from ari_app.cases.queries import get_case, list_cases, list_item, pop_histories, reveal, search_cases, summary
from ari_app.cases.workflow import set_confidential
from ari_app.config import HotlineMode
from ari_app.protocol import ErrorId
from schema.cases import AuditEntry, Case, Channel, Handling, Urgency
from schema.users import Role
from tests.support.cases import Db
from tests.support.flows import Flow

PHONE, CONTACT, NAME = "13812345678", "13987654321", "张三丰"


def audits(db: Db, action: str) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def count(db: Db, action: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(AuditEntry.action == action)) or 0)


def confidential_case(f: Flow) -> int:
    cid = f.create(caller=PHONE, contact=CONTACT, citizen_name=NAME, confidential=True)
    f.do(Action.DISPATCH, f.dispatcher, cid, units=[f.unit1])
    return cid


def hidden_anywhere(view: object) -> list[str]:
    text = json.dumps(view, ensure_ascii=False)
    return [v for v in (PHONE, CONTACT, NAME, "+86" + PHONE[1:]) if v in text]


def test_units_see_no_citizen_of_a_confidential_case_and_the_centre_sees_it_masked(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = confidential_case(f)
    open_case = f.create(caller="13700001111", citizen_name="李四")
    f.do(Action.DISPATCH, f.dispatcher, open_case, units=[f.unit1])
    sessions: Callable[[], Session] = db.session
    for login in ("deptA", "hu12345"):
        actor = db.world.actors[login]
        detail = get_case(sessions, actor, cid)  # type: ignore[arg-type]
        assert detail["confidential"] is True
        assert (detail["caller"], detail["contact"], detail["citizen_name"]) == (None, None, None), login
        assert hidden_anywhere(detail) == [], login
        rows = list_cases(sessions, actor)  # type: ignore[arg-type]
        assert hidden_anywhere(rows) == [], login
        plain = next(r for r in rows if r["id"] == open_case)
        assert (plain["caller"], plain["citizen_name"], plain["confidential"]) == ("13700001111", "李四", False)
    for login in ("agent", "supervisor", "qa", "admin"):
        detail = get_case(sessions, db.world.actors[login], cid)  # type: ignore[arg-type]
        assert detail["confidential"] is True
        assert (detail["caller"], detail["contact"], detail["citizen_name"]) == ("*******5678", "*******4321", "张**")
        assert hidden_anywhere(detail) == [], login


def test_a_unit_cannot_find_a_confidential_case_by_the_citizens_number_or_name(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = confidential_case(f)
    sessions: Callable[[], Session] = db.session
    dept, hu, agent = (db.world.actors[n] for n in ("deptA", "hu12345", "agent"))
    for text in (PHONE, "+86 138 1234 5678", CONTACT, "5678", NAME, "三丰"):
        for actor in (dept, hu):
            assert search_cases(sessions, actor, text, False) == [], (actor.login, text)  # type: ignore[arg-type]
            assert list_cases(sessions, actor, text=text) == [], (actor.login, text)  # type: ignore[arg-type]
        found = search_cases(sessions, agent, text, False)  # type: ignore[arg-type]
        assert [c["id"] for c in found] == [cid] and hidden_anywhere(found) == [], text
    assert [c["id"] for c in search_cases(sessions, dept, "请处理", False)] == [cid]  # type: ignore[arg-type]
    with db.session() as s, s.begin():
        assert caller_history(s, dept, PHONE) == [] and caller_history(s, hu, CONTACT) == []
        assert [c.id for c in caller_history(s, agent, PHONE)] == [cid]


def test_a_reveal_gives_the_centre_the_fields_and_writes_exactly_one_audit_entry(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = confidential_case(f)
    sessions: Callable[[], Session] = db.session
    before = count(db, "reveal_contact")
    got = reveal(sessions, db.world.actors["agent"], cid)  # type: ignore[arg-type]
    assert (got["caller"], got["contact"], got["citizen_name"], got["confidential"]) == (PHONE, CONTACT, NAME, True)
    assert got["caller_raw"] == PHONE and got["contact_raw"] == CONTACT
    (entry,) = audits(db, "reveal_contact")[before:]
    assert (entry.login, entry.role, entry.case_id) == ("agent", "agent", cid)
    assert entry.at == db.clock.t and json.loads(entry.detail or "{}") == {"confidential": True}


@pytest.mark.parametrize("login", ["deptA", "hu12345"])
def test_a_unit_asking_to_reveal_is_refused_and_the_refusal_audited(db: Db, login: str) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = confidential_case(f)
    sessions: Callable[[], Session] = db.session
    with pytest.raises(ContactConfidential) as refused:
        reveal(sessions, db.world.actors[login], cid)  # type: ignore[arg-type]
    assert refused.value.error_id == ErrorId.CASE_CONTACT_CONFIDENTIAL
    assert count(db, "reveal_contact") == 0
    (entry,) = audits(db, "refused")
    detail = json.loads(entry.detail or "{}")
    assert (entry.login, entry.case_id) == (login, cid)
    assert detail["request"] == "reveal_contact" and detail["error_id"] == "case_contact_confidential"
    assert hidden_anywhere(detail) == []


def test_marking_after_intake_and_lifting_are_audited_and_never_silent(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create(caller=PHONE, contact=CONTACT, citizen_name=NAME)
    f.do(Action.DISPATCH, f.dispatcher, cid, units=[f.unit1])
    w = db.world.actors
    with pytest.raises(PermissionDenied), db.session() as s, s.begin():
        set_confidential(s, w["deptA"], cid, True)
    with db.session() as s, s.begin():
        assert set_confidential(s, w["agent"], cid, True).confidential is True
    with db.session() as s, s.begin():
        set_confidential(s, w["agent"], cid, True)  # already: nothing changes, nothing audited
    assert [json.loads(e.detail or "{}") for e in audits(db, "confidential_set")] == [{"reason": None}]
    sessions: Callable[[], Session] = db.session
    assert get_case(sessions, w["deptA"], cid)["caller"] is None  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied), db.session() as s, s.begin():
        set_confidential(s, w["agent"], cid, False, reason="市民同意公开")
    with pytest.raises(InvalidInput), db.session() as s, s.begin():
        set_confidential(s, w["supervisor"], cid, False)
    with pytest.raises(CaseNotFound), db.session() as s, s.begin():
        set_confidential(s, w["supervisor"], 10**9, False, reason="x")
    assert count(db, "confidential_unset") == 0
    with db.session() as s, s.begin():
        assert set_confidential(s, w["supervisor"], cid, False, reason="市民同意公开").confidential is False
    (entry,) = audits(db, "confidential_unset")
    assert entry.login == "supervisor" and json.loads(entry.detail or "{}") == {"reason": "市民同意公开"}
    assert get_case(sessions, w["deptA"], cid)["caller"] == PHONE  # type: ignore[arg-type]


def test_the_screen_pop_history_shows_a_confidential_case_masked(db: Db) -> None:
    """The agent on the live call hears the citizen and sees the call's number on the pop; the earlier cases
    listed under it come masked like any centre view."""
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = confidential_case(f)
    found = pop_histories(db.session, ["+86 138 1234 5678"], 5)  # type: ignore[arg-type]
    (row,) = found["+86 138 1234 5678"]
    assert row["id"] == cid and row["confidential"] is True and row["caller"] == "*******5678"
    assert hidden_anywhere(row) == []


def test_intake_records_the_request_in_the_audit(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create(confidential=True)
    (entry,) = [e for e in audits(db, "create") if e.case_id == cid]
    assert json.loads(entry.detail or "{}")["confidential"] is True


# --- property: the outward view for a viewer outside the centre never holds a hidden value -------------

VIEWERS: list[Viewer] = [*Role, OUTSIDE]
phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
names = st.text(alphabet="张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高", min_size=2, max_size=6)
T = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def detached_case(confidential: bool, caller: str | None, contact: str | None, name: str | None) -> Case:
    return Case(
        id=7,
        number="12345-20261129-0001",
        channel=Channel.PHONE,
        hotline="12345",
        citizen_name=name,
        contact=contact,
        contact_raw=contact,
        caller=caller,
        caller_raw=caller,
        call_id=None,
        request="路灯不亮",
        address="新华北路",
        urgency=Urgency.NORMAL,
        language="zh",
        handling=Handling.DISPATCH,
        status="dispatched",
        created_at=T,
        updated_at=T,
        created_by_login="agent",
        supervision_level=0,
        confidential=confidential,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    viewer=st.sampled_from(VIEWERS),
    confidential=st.booleans(),
    caller=st.none() | phones,
    contact=st.none() | phones,
    name=st.none() | names,
)
def test_outward_views_never_hold_a_hidden_value_outside_the_centre(
    viewer: Viewer, confidential: bool, caller: str | None, contact: str | None, name: str | None
) -> None:
    case = detached_case(confidential, caller, contact, name)
    hidden = [v for v in (caller, contact, name) if v is not None]
    hidden += ["+86" + v[1:] for v in (caller, contact) if v is not None]  # E.164, as the exchange writes it
    views: list[Any] = [citizen_fields(case, viewer), summary(case, viewer), list_item(case, viewer, T, {})]
    if viewer is OUTSIDE:
        views.append(open311_request(case))
    text = json.dumps(views, ensure_ascii=False)
    if confidential and viewer not in CONTACT_ROLES:
        assert [v for v in hidden if v in text] == []
        assert all(view.get(k) is None for view in views[:3] for k in ("caller", "contact", "citizen_name"))
        if viewer is OUTSIDE:
            assert not {"first_name", "last_name", "phone", "email", "device_id", "account_id"} & set(views[3])
    elif confidential:
        assert [v for v in hidden if v in text] == []  # the centre's ordinary view: masked
        assert views[0]["confidential"] is True
    else:
        assert views[0] == {"caller": caller, "contact": contact, "citizen_name": name, "confidential": False}
