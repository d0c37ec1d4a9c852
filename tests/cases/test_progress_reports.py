"""阶段性回复: a unit's progress report on its signed-for share (workflow.report_progress), what it is refused
for, who is told, and what the case detail shows the centre, the lead and a co-unit (协办) of a coordinated
case."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from ari_app.cases import Action, CaseState, queries
from ari_app.cases.errors import CaseNotFound, PermissionDenied, ProgressNotSignedFor, ProgressTextInvalid
from ari_app.cases.events import CaseStatusChanged, take_events
from ari_app.cases.workflow import PROGRESS_TEXT_LIMIT, report_progress
from ari_app.config import HotlineMode
from ari_app.protocol import ErrorId
from schema.cases import AuditEntry, ProgressReport
from schema.users import Role
from tests.support.cases import Db
from tests.support.flows import Flow

A = Action


@pytest.fixture
def f(db: Db) -> Flow:
    return Flow(db, HotlineMode.COLLABORATIVE)


def coordinated(f: Flow) -> int:
    """A case dispatched to unit A (lead, 主办) and unit B (co-unit, 协办); only A has signed for it."""
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit1, f.unit2])
    f.do(A.ACCEPT, f.dept1, cid)
    return cid


def test_a_signed_for_share_reports_progress_stored_audited_and_told(db: Db, f: Flow) -> None:
    cid = coordinated(f)
    db.clock.t += timedelta(hours=2)
    with db.session() as s, s.begin():
        case = report_progress(s, f.dept1, cid, text="  已到现场，等待配件  ")
        events = [e for e in take_events(s) if isinstance(e, CaseStatusChanged)]
    assert case.status == CaseState.IN_PROGRESS
    with db.session() as s:
        (row,) = s.scalars(select(ProgressReport).where(ProgressReport.case_id == cid))
        assert (row.unit_id, row.text, row.reported_by, row.reported_by_login) == (
            f.unit1, "已到现场，等待配件", f.dept1.user_id, "deptA"
        )  # fmt: skip
        assert row.reported_at == db.clock.t
        entry = s.scalars(select(AuditEntry).where(AuditEntry.case_id == cid).order_by(AuditEntry.id.desc())).first()
        assert entry is not None and entry.action == "report_progress" and entry.login == "deptA"
        assert json.loads(entry.detail or "{}") == {"unit": f.unit1, "report": row.id, "text": "已到现场，等待配件"}
    (event,) = events
    assert (event.action, event.old, event.new) == ("report_progress", "in_progress", "in_progress")
    audience = event.audience
    assert audience.includes(Role.SUPERVISOR, None, ())
    assert audience.includes(Role.DEPARTMENT, None, {f.unit2})  # the co-unit is told
    assert not audience.includes(Role.DEPARTMENT, None, {db.world.units["S"]})


def test_sub_platform_reports_are_told_to_the_hotline_unit(db: Db) -> None:
    sub = Flow(db, HotlineMode.SUB_PLATFORM)
    cid = sub.create()
    sub.do(A.DISPATCH, sub.dispatcher, cid)
    sub.do(A.ACCEPT, sub.dept1, cid)
    with db.session() as s, s.begin():
        report_progress(s, sub.dept1, cid, text="已约谈企业")
        (event,) = [e for e in take_events(s) if isinstance(e, CaseStatusChanged)]
    assert event.audience.includes(Role.HOTLINE_UNIT, "12350", ())
    assert not event.audience.includes(Role.HOTLINE_UNIT, "12345", ())


@pytest.mark.parametrize("text", ["", "   ", "x" * (PROGRESS_TEXT_LIMIT + 1), None])
def test_empty_or_too_long_text_is_refused_and_nothing_stored(db: Db, f: Flow, text: str | None) -> None:
    cid = coordinated(f)
    with pytest.raises(ProgressTextInvalid) as err, db.session() as s, s.begin():
        report_progress(s, f.dept1, cid, text=text)
    assert err.value.error_id is ErrorId.CASE_PROGRESS_TEXT_INVALID
    assert err.value.detail["field"] == "text"
    with db.session() as s:
        assert s.scalars(select(ProgressReport)).all() == []


def test_the_longest_text_is_taken(db: Db, f: Flow) -> None:
    cid = coordinated(f)
    f.do(A.REPORT_PROGRESS, f.dept1, cid, text="进" * PROGRESS_TEXT_LIMIT)
    with db.session() as s:
        assert [len(r.text) for r in s.scalars(select(ProgressReport))] == [PROGRESS_TEXT_LIMIT]


def test_refusals_another_units_case_an_unsigned_or_handled_share_another_role(db: Db, f: Flow) -> None:
    cid = coordinated(f)
    with pytest.raises(ProgressNotSignedFor) as err:
        f.do(A.REPORT_PROGRESS, f.dept2, cid)  # the co-unit has not signed for its share
    assert err.value.error_id is ErrorId.CASE_PROGRESS_NOT_SIGNED_FOR and err.value.detail["status"] == "pending"
    with pytest.raises(CaseNotFound):  # a unit not on the case does not see it
        f.do(A.REPORT_PROGRESS, db.world.actors["deptS"], cid)
    with pytest.raises(PermissionDenied):
        f.do(A.REPORT_PROGRESS, f.dispatcher, cid)
    f.do(A.HANDLE, f.dept1, cid)
    with pytest.raises(ProgressNotSignedFor) as err:
        f.do(A.REPORT_PROGRESS, f.dept1, cid)  # handled: the result is in
    assert err.value.detail["status"] == "handled"
    other = f.create()
    f.do(A.DISPATCH, f.dispatcher, other)
    with pytest.raises(ProgressNotSignedFor):  # a dispatched case, not signed for yet
        f.do(A.REPORT_PROGRESS, f.dept1, other)
    with db.session() as s:
        assert s.scalars(select(ProgressReport)).all() == []


def test_allowed_actions_offer_it_exactly_to_a_signed_for_share(db: Db, f: Flow) -> None:
    cid = coordinated(f)

    def offered(login: str) -> bool:
        detail = queries.get_case(db.session, db.world.actors[login], cid)  # type: ignore[arg-type]
        return "report_progress" in detail["allowed_actions"]

    assert offered("deptA") and not offered("deptB") and not offered("agent") and not offered("supervisor")
    f.do(A.ACCEPT, f.dept2, cid)
    assert offered("deptB")
    f.do(A.HANDLE, f.dept1, cid)
    assert not offered("deptA") and offered("deptB")


def test_the_case_detail_shows_every_units_share_and_reports_to_the_centre_and_the_co_unit(db: Db, f: Flow) -> None:
    cid = coordinated(f)
    f.do(A.REPORT_PROGRESS, f.dept1, cid, text="主办：已派人勘查")
    f.do(A.ACCEPT, f.dept2, cid)
    f.do(A.REPORT_PROGRESS, f.dept2, cid, text="协办：已清理现场")
    f.do(A.HANDLE, f.dept2, cid, result="协办部分已完成")
    for login in ("agent", "deptA", "deptB"):
        detail = queries.get_case(db.session, db.world.actors[login], cid)  # type: ignore[arg-type]
        reports = [(r["unit_name"], r["lead"], r["text"]) for r in detail["progress_reports"]]
        assert reports == [("市政管理处", True, "主办：已派人勘查"), ("环境卫生处", False, "协办：已清理现场")], login
        shares = [(d["unit_name"], d["lead"], d["status"], d["result"]) for d in detail["dispatches"]]
        assert shares == [("市政管理处", True, "accepted", None), ("环境卫生处", False, "handled", "协办部分已完成")]
    with pytest.raises(CaseNotFound):
        queries.get_case(db.session, db.world.actors["deptS"], cid)  # type: ignore[arg-type]
