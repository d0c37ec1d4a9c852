"""The 12345 work-order rules on a controlled clock: the four deadlines per request type and urgency across a
weekend, National Day 2026 (10-01..10-07 in chinese-calendar's data) and the adjusted working Saturday
2026-10-10; sign-for on time or late; returns reviewed by the centre; the three strikes of a problem work
order; extensions and the citizen's notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ari_app.cases import Action, CaseState
from ari_app.cases.errors import CaseError, InvalidInput, PermissionDenied, TransitionForbidden
from ari_app.cases.workflow import improper_returns
from ari_app.config import HotlineMode
from schema.cases import (
    AuditEntry,
    CaseNotice,
    DispatchReturn,
    DispatchStatus,
    Extension,
    RequestStatus,
    ReturnReason,
    Supervision,
)
from tests.support.cases import Db, with_work_order_rules
from tests.support.flows import Flow

A, S = Action, CaseState
SH = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def at(db: Db, moment: datetime) -> None:
    db.clock.t = moment.astimezone(UTC)


def actions_of(db: Db, cid: int) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == cid).order_by(AuditEntry.id)))


@pytest.fixture
def f(db: Db) -> Flow:
    with_work_order_rules(db)
    return Flow(db, HotlineMode.COLLABORATIVE)


# --- deadlines -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_type", "handling_due"),
    [
        ("consultation", local(2026, 10, 9, 17, 30)),  # 2 wd: 10-08, 10-09
        ("help", local(2026, 10, 20, 17, 30)),  # 10 wd: 10-08, 09, 10 (Saturday worked), 12..16, 19, 20
        ("complaint", local(2026, 10, 27, 17, 30)),  # 15 wd
    ],
)
def test_the_four_deadlines_cross_national_day(db: Db, f: Flow, request_type: str, handling_due: datetime) -> None:
    at(db, local(2026, 9, 30, 15))  # Wednesday before National Day
    cid = f.create(request_type=request_type)
    assert f.get(cid).dispatch_deadline_at == local(2026, 10, 1, 15)  # 24 clock hours: holidays do not stop it
    case = f.do(A.DISPATCH, f.dispatcher, cid)
    d = f.get(cid).dispatches[0]
    assert d.deadline_at == handling_due
    assert case.deadline_at == handling_due
    assert d.sign_for_deadline_at == local(2026, 10, 8, 17, 30)  # 1 working day: the first after the holiday
    assert d.feedback_deadline_at == local(2026, 10, 1, 15)


def test_urgent_limits_run_in_clock_hours(db: Db, f: Flow) -> None:
    at(db, local(2026, 10, 3, 22))  # Saturday night in the holiday
    cid = f.create(urgency="critical")
    assert f.get(cid).dispatch_deadline_at == local(2026, 10, 3, 23)
    f.do(A.DISPATCH, f.dispatcher, cid)
    d = f.get(cid).dispatches[0]
    assert d.sign_for_deadline_at == local(2026, 10, 3, 23)
    urgent = f.create(urgency="urgent")
    f.do(A.DISPATCH, f.dispatcher, urgent)
    assert f.get(urgent).dispatches[0].sign_for_deadline_at == local(2026, 10, 4, 0)


def test_a_weekend_and_the_adjusted_saturday(db: Db, f: Flow) -> None:
    at(db, local(2026, 11, 29, 9))  # Sunday
    cid = f.create(request_type="consultation")
    f.do(A.DISPATCH, f.dispatcher, cid)
    d = f.get(cid).dispatches[0]
    assert d.sign_for_deadline_at == local(2026, 11, 30, 17, 30)  # Monday
    assert d.deadline_at == local(2026, 12, 1, 17, 30)  # Tuesday
    at(db, local(2026, 10, 9, 10))  # Friday; Saturday 10-10 is worked (国庆节调休)
    fri = f.create(request_type="consultation")
    f.do(A.DISPATCH, f.dispatcher, fri)
    d = f.get(fri).dispatches[0]
    assert d.sign_for_deadline_at == local(2026, 10, 10, 17, 30)
    assert d.deadline_at == local(2026, 10, 12, 17, 30)  # 10-11 is a Sunday off


def test_a_hotline_has_its_own_limits_and_an_explicit_deadline_wins(db: Db) -> None:
    from dataclasses import replace

    from ari_app.config import DeadlineTable, TimeLimit

    own = DeadlineTable()
    own = replace(own, handling={**own.handling, "help": TimeLimit(1, "working_days")})
    with_work_order_rules(db, hotline_deadlines={"12350": own})
    at(db, local(2026, 11, 30, 10))  # Monday
    sub, centre = Flow(db, HotlineMode.SUB_PLATFORM), Flow(db, HotlineMode.COLLABORATIVE)
    a, b = sub.create(), centre.create()
    sub.do(A.DISPATCH, sub.dispatcher, a)
    centre.do(A.DISPATCH, centre.dispatcher, b)
    assert sub.get(a).dispatches[0].deadline_at == local(2026, 12, 1, 17, 30)
    assert centre.get(b).dispatches[0].deadline_at == local(2026, 12, 14, 17, 30)  # 10 wd
    c = centre.create()
    centre.do(A.DISPATCH, centre.dispatcher, c, hours=8)
    assert centre.get(c).deadline_at == db.clock.t + timedelta(hours=8)


def test_without_limits_shares_keep_the_category_hours_and_no_sign_for_deadline(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    assert f.get(cid).dispatch_deadline_at is None
    f.do(A.DISPATCH, f.dispatcher, cid)
    d = f.get(cid).dispatches[0]
    assert d.deadline_at == db.clock.t + timedelta(hours=48)
    assert d.sign_for_deadline_at is None
    f.do(A.ACCEPT, f.dept1, cid)
    assert f.get(cid).dispatches[0].signed_on_time is None


# --- sign-for ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signed", "on_time"), [(local(2026, 10, 8, 17, 29), True), (local(2026, 10, 8, 17, 31), False)]
)
def test_sign_for_is_recorded_on_time_or_late(db: Db, f: Flow, signed: datetime, on_time: bool) -> None:
    at(db, local(2026, 9, 30, 15))
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid)
    at(db, signed)
    f.do(A.ACCEPT, f.dept1, cid)
    d = f.get(cid).dispatches[0]
    assert d.accepted_at == signed
    assert d.signed_on_time is on_time
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.case_id == cid, AuditEntry.action == "accept")).one()
    assert f'"on_time": {str(on_time).lower()}' in (entry.detail or "")


# --- returns -----------------------------------------------------------------------------------------------


def test_a_return_waits_for_review_and_a_rejected_one_stays_with_the_unit(db: Db, f: Flow) -> None:
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid)
    f.do(A.ACCEPT, f.dept1, cid)
    case = f.do(A.RETURN, f.dept1, cid, code="wrong_area", reason="属地为邻区")
    assert case.status == S.IN_PROGRESS
    d = f.get(cid).dispatches[0]
    assert d.status == DispatchStatus.RETURN_REQUESTED
    assert f.get(cid).deadline_at == d.deadline_at  # the clock still runs
    with pytest.raises(TransitionForbidden):
        f.do(A.RETURN, f.dept1, cid)  # one request at a time
    with pytest.raises(InvalidInput):
        f.do(A.REJECT_RETURN, f.reviewer, cid, note=" ")  # a rejection says why
    f.do(A.REJECT_RETURN, f.reviewer, cid, note="属本单位辖区")
    d = f.get(cid).dispatches[0]
    assert d.status == DispatchStatus.ACCEPTED and f.get(cid).status == S.IN_PROGRESS
    with db.session() as s:
        req = s.scalars(select(DispatchReturn)).one()
        assert (req.reason_code, req.reason, req.status) == (ReturnReason.WRONG_AREA, "属地为邻区", "refused")
        assert req.decided_by == f.reviewer.user_id
        assert improper_returns(s, f.unit1) == 1
        assert improper_returns(s, f.unit2) == 0
    with pytest.raises(TransitionForbidden):
        f.do(A.ACCEPT_RETURN, f.reviewer, cid)  # nothing waits
    assert actions_of(db, cid)[-2:] == ["return", "reject_return"]


def test_a_pending_return_rejected_goes_back_to_pending_and_an_accepted_one_ends_the_share(db: Db, f: Flow) -> None:
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid)
    f.do(A.RETURN, f.dept1, cid, code="not_our_duty")
    f.do(A.REJECT_RETURN, f.reviewer, cid)
    assert f.get(cid).dispatches[0].status == DispatchStatus.PENDING
    f.do(A.RETURN, f.dept1, cid, code="duplicate", reason="与 0001 重复")
    case = f.do(A.ACCEPT_RETURN, f.reviewer, cid)
    assert case.status == S.RETURNED and case.deadline_at is None
    d = f.get(cid).dispatches[0]
    assert (d.status, d.return_reason) == (DispatchStatus.RETURNED, "与 0001 重复")
    assert f.get(cid).redispatch_count == 0
    f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit2])
    assert f.get(cid).redispatch_count == 1


def test_a_return_needs_a_listed_reason_and_text(db: Db, f: Flow) -> None:
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid)
    with pytest.raises(InvalidInput) as err:
        f.do(A.RETURN, f.dept1, cid, code="bored")
    assert err.value.detail["field"] == "reason_code"
    with pytest.raises(InvalidInput):
        f.do(A.RETURN, f.dept1, cid, reason="  ")
    with pytest.raises(InvalidInput):
        f.do(A.RETURN, f.dept1, cid, reason="x" * 4001)
    assert f.get(cid).dispatches[0].status == DispatchStatus.PENDING
    f.do(A.RETURN, f.dept1, cid)
    with pytest.raises(PermissionDenied):  # the unit does not review its own return
        f.do(A.ACCEPT_RETURN, f.dept1, cid)


def test_a_coordinated_case_keeps_its_other_unit_when_one_return_is_accepted(db: Db, f: Flow) -> None:
    cid = f.create(handling="coordinated")
    f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit1, f.unit2])
    f.do(A.ACCEPT, f.dept2, cid)
    f.do(A.RETURN, f.dept1, cid)
    case = f.do(A.ACCEPT_RETURN, f.reviewer, cid)
    assert case.status == S.IN_PROGRESS
    shares = f.get(cid).dispatches
    assert [(d.status, d.lead) for d in shares] == [(DispatchStatus.RETURNED, False), (DispatchStatus.ACCEPTED, True)]


# --- three strikes -----------------------------------------------------------------------------------------


def test_three_redispatches_make_a_problem_work_order_raised_once(db: Db, f: Flow) -> None:
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid)
    for n in range(1, 5):
        f.do(A.RETURN, f.dept1 if n % 2 else f.dept2, cid)
        f.do(A.ACCEPT_RETURN, f.reviewer, cid)
        db.clock.advance(hours=1)
        f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit2 if n % 2 else f.unit1])
        case = f.get(cid)
        assert case.redispatch_count == n
        assert (case.problem_at is not None) is (n >= 3)
    case = f.get(cid)
    assert case.supervision_level == 1
    with db.session() as s:
        rows = s.scalars(select(Supervision).where(Supervision.case_id == cid)).all()
    assert [(v.level, v.overdue, v.dispatch_id) for v in rows] == [(1, False, None)]
    assert "问题工单" in (rows[0].instructions or "")
    assert actions_of(db, cid).count("problem") == 1


def test_three_send_backs_raise_supervision_a_level_above_the_overdue_one(db: Db, f: Flow) -> None:
    from ari_app.cases.deadlines import escalate_overdue

    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid, hours=1)
    f.do(A.ACCEPT, f.dept1, cid)
    db.clock.advance(hours=2)
    with db.session() as s, s.begin():
        escalate_overdue(s)
    assert f.get(cid).supervision_level == 1
    for n in range(1, 4):
        f.do(A.HANDLE, f.dept1, cid)
        f.do(A.FOLLOW_UP, f.dispatcher, cid, solved=False, satisfaction="unsatisfied")
        f.do(A.SEND_BACK, f.reviewer, cid)
        assert f.get(cid).send_back_count == n
    case = f.get(cid)
    assert case.problem_at is not None and case.supervision_level == 2


def test_the_threshold_is_configurable(db: Db) -> None:
    with_work_order_rules(db, problem_threshold=1)
    f = Flow(db, HotlineMode.SUB_PLATFORM)
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid)
    f.do(A.RETURN, f.dept1, cid)
    f.do(A.ACCEPT_RETURN, f.reviewer, cid)  # the hotline unit reviews on a sub-platform
    f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit2])
    assert f.get(cid).problem_at is not None


# --- extensions --------------------------------------------------------------------------------------------


def test_an_extension_approved_moves_the_deadline_and_a_notice_is_due(db: Db, f: Flow) -> None:
    at(db, local(2026, 9, 30, 15))
    cid = f.create(request_type="consultation", confidential=True)
    f.do(A.DISPATCH, f.dispatcher, cid)
    f.do(A.ACCEPT, f.dept1, cid)
    before = f.get(cid).deadline_at
    assert before == local(2026, 10, 9, 17, 30)
    asked = local(2026, 10, 16, 17, 30)
    at(db, local(2026, 10, 9, 17))
    with pytest.raises(InvalidInput):
        f.do(A.REQUEST_EXTENSION, f.dept1, cid, deadline_at=local(2026, 10, 9, 12))  # earlier than now's
    f.do(A.REQUEST_EXTENSION, f.dept1, cid, deadline_at=asked, reason="需第三方检测")
    with pytest.raises(TransitionForbidden):
        f.do(A.REQUEST_EXTENSION, f.dept1, cid, deadline_at=asked)  # one waits already
    assert f.get(cid).deadline_at == before  # nothing moves until the centre decides
    at(db, local(2026, 10, 10, 9))  # decided after the old deadline: the request was in time
    f.do(A.APPROVE_EXTENSION, f.reviewer, cid)
    case = f.get(cid)
    assert case.deadline_at == asked and case.dispatches[0].deadline_at == asked
    with db.session() as s:
        ext = s.scalars(select(Extension)).one()
        notice = s.scalars(select(CaseNotice)).one()
    assert (ext.status, ext.deadline_before, ext.decided_by) == ("approved", before, f.reviewer.user_id)
    assert (notice.case_id, notice.kind, notice.sent_at) == (cid, "extension", None)
    assert notice.due_at == local(2026, 10, 10, 9)
    assert actions_of(db, cid)[-2:] == ["request_extension", "approve_extension"]


def test_an_extension_is_asked_before_the_deadline_and_a_refusal_moves_nothing(db: Db, f: Flow) -> None:
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid, hours=4)
    deadline = f.get(cid).deadline_at
    assert deadline is not None
    f.do(A.REQUEST_EXTENSION, f.dept1, cid, deadline_at=deadline + timedelta(days=2))
    with pytest.raises(InvalidInput):
        f.do(A.REFUSE_EXTENSION, f.reviewer, cid, note="")
    with pytest.raises(PermissionDenied):  # a unit does not decide its own extension
        f.do(A.APPROVE_EXTENSION, f.dept1, cid)
    f.do(A.REFUSE_EXTENSION, f.reviewer, cid, note="可按期办结")
    assert f.get(cid).deadline_at == deadline
    with db.session() as s:
        assert s.scalars(select(Extension.status)).one() == RequestStatus.REFUSED
        assert s.scalars(select(CaseNotice)).all() == []
    db.clock.advance(hours=5)
    with pytest.raises(TransitionForbidden):
        f.do(A.REQUEST_EXTENSION, f.dept1, cid, deadline_at=deadline + timedelta(days=2))
    assert f.get(cid).status == S.DISPATCHED


# --- properties --------------------------------------------------------------------------------------------

RULE_ACTIONS = [
    A.DISPATCH,
    A.ACCEPT,
    A.RETURN,
    A.ACCEPT_RETURN,
    A.REJECT_RETURN,
    A.HANDLE,
    A.FOLLOW_UP,
    A.SEND_BACK,
    A.REQUEST_EXTENSION,
    A.APPROVE_EXTENSION,
    A.REFUSE_EXTENSION,
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(RULE_ACTIONS), st.booleans(), st.booleans(), st.integers(0, 30)), max_size=30
    )
)
def test_no_sequence_breaks_a_rule_moves_a_counter_back_or_loses_an_audit_entry(
    db: Db, steps: list[tuple[Action, bool, bool, int]]
) -> None:
    """Any sequence of the rules' actions, by the right or the wrong people, over a clock that runs across a
    weekend: refused actions change nothing; the counters and the supervision level never go back; every
    audit entry stays; a case is a problem work order exactly when a counter reached the threshold; a share
    waits for review exactly when its return request does; at most one extension waits per share."""
    db.reset()
    with_work_order_rules(db)
    at(db, local(2026, 10, 9, 9))  # Friday before the adjusted Saturday and a Sunday
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create(handling="coordinated")
    seen: list[int] = []
    counters = (0, 0, 0)
    for action, second, wrong, hours in steps:
        db.clock.advance(hours=hours)
        unit, dept = (f.unit2, f.dept2) if second else (f.unit1, f.dept1)
        actor = {
            A.DISPATCH: f.dispatcher,
            A.FOLLOW_UP: f.dispatcher,
            A.ACCEPT: dept,
            A.RETURN: dept,
            A.HANDLE: dept,
            A.REQUEST_EXTENSION: dept,
        }.get(action, f.reviewer)
        if wrong:
            actor = f.dept2 if actor is f.reviewer else f.db.world.actors["qa"]
        before = f.get(cid)
        try:
            f.do(action, actor, cid, units=[unit], solved=False, satisfaction="unsatisfied")
        except CaseError:
            after = f.get(cid)
            assert after.status == before.status
            assert [d.status for d in after.dispatches] == [d.status for d in before.dispatches]
        case = f.get(cid)
        now = (case.redispatch_count, case.send_back_count, case.supervision_level)
        assert all(n >= o for n, o in zip(now, counters, strict=True)), (now, counters)
        counters = now
        assert (case.problem_at is not None) is (max(now[:2]) >= 3)
        with db.session() as s:
            ids = list(s.scalars(select(AuditEntry.id).where(AuditEntry.case_id == cid).order_by(AuditEntry.id)))
            assert ids[: len(seen)] == seen
            seen = ids
            waiting = set(
                s.scalars(select(DispatchReturn.dispatch_id).where(DispatchReturn.status == RequestStatus.PENDING))
            )
            assert waiting == {d.id for d in case.dispatches if d.status == DispatchStatus.RETURN_REQUESTED}
            pending = list(s.scalars(select(Extension.dispatch_id).where(Extension.status == RequestStatus.PENDING)))
            assert len(pending) == len(set(pending))
        assert CaseState(case.status) in (S.RECEIVED, S.DISPATCHED, S.RETURNED, S.IN_PROGRESS, S.HANDLED, S.FOLLOWED_UP)


def test_a_share_waiting_for_return_review_still_counts_for_its_unit(db: Db, f: Flow) -> None:
    from datetime import date

    from ari_app.cases.kpi import compute

    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid, hours=1)
    f.do(A.RETURN, f.dept1, cid)
    with db.session() as s:
        r = compute(s, date(2026, 11, 29), date(2026, 12, 1), tz=UTC, now=db.clock.t + timedelta(hours=2))
    unit = {x.key: x for x in r.by_unit}["市政管理处"]
    assert (unit.intake, unit.due, unit.on_time) == (1, 1, 0)  # overdue while the centre reviews


def test_a_share_unsigned_past_its_sign_for_deadline_is_told_once(db: Db, f: Flow) -> None:
    from ari_app.cases.deadlines import escalate_overdue

    at(db, local(2026, 9, 30, 15))
    late, signed = f.create(), f.create()
    for cid in (late, signed):
        f.do(A.DISPATCH, f.dispatcher, cid)
    f.do(A.ACCEPT, f.dept1, signed)
    at(db, local(2026, 10, 8, 17, 29))  # the holiday does not count: not yet due
    with db.session() as s, s.begin():
        assert escalate_overdue(s) == []
    at(db, local(2026, 10, 8, 17, 31))
    with db.session() as s, s.begin():
        raised = escalate_overdue(s)
    assert [(e.case_id, e.level, e.unit_id, e.instructions) for e in raised] == [(late, 1, f.unit1, "签收超时")]
    with db.session() as s, s.begin():
        assert escalate_overdue(s) == []  # once
    case = f.get(late)
    assert case.supervision_level == 1 and case.dispatches[0].sign_for_overdue_at == local(2026, 10, 8, 17, 31)
    assert [(v.level, v.overdue, v.dispatch_id) for v in case.supervisions] == [(1, True, None)]
    assert f.get(signed).supervisions == []
    f.do(A.ACCEPT, f.dept1, late)
    assert f.get(late).dispatches[0].signed_on_time is False


def test_the_kpis_read_what_the_rules_record(db: Db, f: Flow) -> None:
    """The sign-for, response and improper-return figures from cases the workflow ran: one share signed for at
    once, one two days late, one returned (the return refused) and never signed for."""
    from datetime import date

    from ari_app.cases.kpi import compute

    at(db, local(2026, 10, 12, 9))  # Monday: signed for by 10-13 17:30 (1 working day), first word by 10-13 09:00
    quick, slow, returned = f.create(), f.create(), f.create()
    for cid in (quick, slow, returned):
        f.do(A.DISPATCH, f.dispatcher, cid)
    f.do(A.ACCEPT, f.dept1, quick)
    f.do(A.RETURN, f.dept1, returned, code="not_our_duty")
    f.do(A.REJECT_RETURN, f.reviewer, returned, note="属本单位职责")
    at(db, local(2026, 10, 14, 9))
    f.do(A.ACCEPT, f.dept1, slow)
    with db.session() as s:
        r = compute(s, date(2026, 10, 12), date(2026, 10, 13), tz=SH, now=db.clock.t, by="week")
    for row in (r.total, {x.key: x for x in r.by_unit}["市政管理处"], r.by_period[0]):
        assert (row.signed_on_time, row.sign_for_due) == (1, 3), row.scope  # the unsigned one is late too
        assert (row.responded, row.response_due) == (1, 3), row.scope
        assert row.improper_returns == 1, row.scope
    assert r.by_period[0].key == "2026-W42"
