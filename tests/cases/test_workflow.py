"""Every transition of the table, made by every role (allowed exactly for the roles the table names), every
forbidden (action, status) pair refused, and the whole paths of the source document, in each hotline mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from ari_app.cases import Action, CaseState, PermissionDenied, TransitionForbidden
from ari_app.cases import machine as m
from ari_app.cases.errors import CaseError, CaseNotFound, InvalidInput, MergeOpenDispatches
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, DispatchStatus, Handling, Satisfaction
from schema.users import Role
from tests.support.cases import Db
from tests.support.flows import Flow

A = Action
S = CaseState
C, X, SP = HotlineMode.COLLABORATIVE, HotlineMode.EXCHANGE, HotlineMode.SUB_PLATFORM


def prepare(f: Flow, action: Action, source: CaseState) -> tuple[int, dict[str, object], bool]:
    """A fresh case in `source`, set up so that `action` is meaningful; returns (case id, arguments for the
    action, whether the acting department is the second unit). A merge gets a fresh master of its own; a
    merged case follows a fresh master, handled when the action is its follow-up."""
    if source is S.MERGED:
        master = f.create()
        if action is A.FOLLOW_UP:
            f.do(A.DISPATCH, f.dispatcher, master, units=[f.unit1])
            f.do(A.ACCEPT, f.dept1, master)
            f.do(A.HANDLE, f.dept1, master)
        cid = f.create()
        f.do(A.MERGE, f.db.world.actors["agent"], cid, master=master)
        return cid, {}, False
    cid, args, second = _prepare(f, action, source)
    if action in (A.ACCEPT_RETURN, A.REJECT_RETURN):  # a unit's return waiting for review
        f.do(A.RETURN, f.dept1, cid)
    if action in (A.APPROVE_EXTENSION, A.REFUSE_EXTENSION):  # a unit's extension waiting for a decision
        f.do(A.REQUEST_EXTENSION, f.dept1, cid)
    if action is A.MERGE:
        args = {**args, "master": f.create(handling="direct" if f.mode is X else "dispatch")}
    return cid, args, second


def _prepare(f: Flow, action: Action, source: CaseState) -> tuple[int, dict[str, object], bool]:
    if f.mode is X:
        if source is S.RECEIVED:
            return f.create(handling="direct"), {}, False
        if source is S.CLOSED:
            cid = f.create(handling="direct")
            f.do(A.RESOLVE_DIRECTLY, f.dispatcher, cid)
            return cid, {}, False
        if source is S.EXCHANGED:
            return f.create(), {}, False
        if source is S.RETURNED:  # refused by the hotline's own system
            cid = f.create()
            f.do(A.EXCHANGE_REFUSED, f.db.world.actors["admin"], cid)
            return cid, {}, False
        raise AssertionError(source)
    cid = f.create()
    if source is S.RECEIVED:
        return cid, {}, False
    if source is S.CLOSED:
        f.do(A.RESOLVE_DIRECTLY, f.dispatcher, cid)
        return cid, {}, False
    two_units = (action, source) in {
        (A.ACCEPT, S.IN_PROGRESS),
        (A.RETURN, S.IN_PROGRESS),
        (A.ESCALATE_TO_LEADER, S.DISPATCHED),
        (A.ESCALATE_TO_LEADER, S.IN_PROGRESS),
    }
    f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit1, f.unit2] if two_units else [f.unit1])
    args: dict[str, object] = {"units": [f.unit2]} if action is A.DISPATCH else {}
    if source is S.DISPATCHED:
        return cid, args, False
    if source is S.RETURNED:
        f.do(A.RETURN, f.dept1, cid)
        f.do(A.ACCEPT_RETURN, f.reviewer, cid)
        return cid, args, False
    f.do(A.ACCEPT, f.dept1, cid)
    if source is S.IN_PROGRESS:
        return cid, args, two_units and action in (A.ACCEPT, A.RETURN)
    f.do(A.HANDLE, f.dept1, cid)
    if source is S.HANDLED:
        return cid, args, False
    f.do(A.FOLLOW_UP, f.dispatcher, cid)
    if source is S.FOLLOWED_UP:
        return cid, args, False
    raise AssertionError(source)


DRIVEN = [
    r for r in m.RULES if r.action not in (A.ESCALATE, A.EXCHANGE_UPDATE, A.EXCHANGE_REFUSED, A.MASTER_CLOSED)
]  # made by the platform (a master's closing closes its duplicates: tests/cases/test_merging.py)
CASES = [
    pytest.param(rule, mode, id=f"{rule.action}-from-{rule.source}-{mode}")
    for rule in DRIVEN
    for mode in (C, SP, X)
    if mode is not X or rule.source in (S.RECEIVED, S.CLOSED, S.EXCHANGED, S.RETURNED)
]


def audit_count(db: Db, case_id: int) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.case_id == case_id)) or 0)


@pytest.mark.parametrize(("rule", "mode"), CASES)
def test_each_transition_by_each_role(db: Db, rule: m.Rule, mode: HotlineMode) -> None:
    f = Flow(db, mode)
    allowed = rule.roles[mode]
    for role in Role:
        cid, args, second = prepare(f, rule.action, rule.source)
        actor = f.actor_for(role, f.dept2 if second else f.dept1)
        before = f.get(cid)
        audits = audit_count(db, cid)
        if role in allowed:
            f.do(rule.action, actor, cid, **args)
            after = f.get(cid)
            assert CaseState(after.status) in rule.targets, (role, after.status)
            assert audit_count(db, cid) == audits + 1
        else:
            with pytest.raises((PermissionDenied, CaseNotFound)) as err:
                f.do(rule.action, actor, cid, **args)
            assert err.value.error_id in ("case_permission_denied", "case_not_found")
            after = f.get(cid)
            assert after.status == before.status
            assert audit_count(db, cid) == audits


REACHABLE = {
    C: [S.RECEIVED, S.DISPATCHED, S.RETURNED, S.IN_PROGRESS, S.HANDLED, S.FOLLOWED_UP, S.CLOSED],
    SP: [S.RECEIVED, S.DISPATCHED, S.RETURNED, S.IN_PROGRESS, S.HANDLED, S.FOLLOWED_UP, S.CLOSED],
    X: [S.RECEIVED, S.EXCHANGED, S.RETURNED, S.CLOSED],
}
FORBIDDEN = [
    pytest.param(action, source, mode, id=f"{action}-from-{source}-{mode}")
    for mode, states in REACHABLE.items()
    for source in states
    for action in Action
    if action not in (A.ESCALATE, A.MASTER_CLOSED)
    if m.rule_for(action, source) is None
]


REVIEWER_ACTIONS = (
    A.APPROVE,
    A.SEND_BACK,
    A.SUPERVISE,
    A.ESCALATE_TO_LEADER,
    A.ACCEPT_RETURN,
    A.REJECT_RETURN,
    A.APPROVE_EXTENSION,
    A.REFUSE_EXTENSION,
)


def _privileged(f: Flow, action: Action) -> Callable[[], object]:
    """Someone whose role may make `action` somewhere, so that a refusal is about the status."""
    if action in (A.ACCEPT, A.RETURN, A.HANDLE, A.REQUEST_EXTENSION):
        return lambda: f.dept1
    if action in REVIEWER_ACTIONS:
        return lambda: f.reviewer
    if action in (A.EXCHANGE_UPDATE, A.EXCHANGE_REFUSED):
        return lambda: f.db.world.actors["admin"]
    if action in (A.MERGE, A.UNMERGE):
        return lambda: f.db.world.actors["supervisor"]
    return lambda: f.dispatcher if f.mode is not X else f.db.world.actors["agent"]


@pytest.mark.parametrize(("action", "source", "mode"), FORBIDDEN)
def test_forbidden_transitions_are_refused(db: Db, action: Action, source: CaseState, mode: HotlineMode) -> None:
    f = Flow(db, mode)
    cid, _, _ = prepare(f, A.DISPATCH if source is not S.EXCHANGED else A.EXCHANGE_UPDATE, source)
    actor = _privileged(f, action)()
    before = f.get(cid)
    audits = audit_count(db, cid)
    visible_to_dept = bool(before.dispatches)
    if action is A.EXCHANGE_UPDATE and source is S.CLOSED and mode is X:
        f.do(action, actor, cid)  # a repeated closing update is harmless: nothing changes
        assert f.get(cid).status == S.CLOSED and audit_count(db, cid) == audits
        return
    with pytest.raises(CaseError) as err:
        f.do(action, actor, cid)  # type: ignore[arg-type]
    if action in (A.ACCEPT, A.RETURN, A.HANDLE, A.REQUEST_EXTENSION) and not visible_to_dept:
        assert err.value.error_id == "case_not_found"
    elif action is A.EXCHANGE_UPDATE and source is not S.EXCHANGED:
        assert isinstance(err.value, (TransitionForbidden, CaseNotFound))
    elif action is A.MERGE and source.open and before.dispatches:  # its open unit work is why
        assert isinstance(err.value, MergeOpenDispatches), err.value
    else:
        assert isinstance(err.value, TransitionForbidden), err.value
        assert err.value.error_id == "case_transition_forbidden"
    assert f.get(cid).status == before.status
    assert audit_count(db, cid) == audits


def test_machine_check_refuses_unknown_pairs_and_targets() -> None:
    with pytest.raises(TransitionForbidden):
        m.check(A.APPROVE, S.RECEIVED, S.CLOSED, Role.SUPERVISOR, C)
    with pytest.raises(TransitionForbidden):
        m.check(A.DISPATCH, S.RECEIVED, S.CLOSED, Role.AGENT, C)
    with pytest.raises(PermissionDenied):
        m.check(A.DISPATCH, S.RECEIVED, S.DISPATCHED, Role.AGENT, SP)
    m.check(A.DISPATCH, S.RECEIVED, S.DISPATCHED, Role.HOTLINE_UNIT, SP)
    assert m.actions_for(S.FOLLOWED_UP, Role.SUPERVISOR, C) == [A.APPROVE, A.SEND_BACK]
    assert m.actions_for(S.CLOSED, Role.DEPARTMENT, C) == []


@pytest.mark.parametrize("mode", [C, SP])
def test_full_path_with_return_redispatch_send_back_and_close(db: Db, mode: HotlineMode) -> None:
    f = Flow(db, mode)
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit2])
    assert f.do(A.RETURN, f.dept2, cid).status == S.DISPATCHED  # a request, reviewed by the centre
    assert f.do(A.ACCEPT_RETURN, f.reviewer, cid).status == S.RETURNED
    f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit1], hours=8)
    case = f.get(cid)
    assert case.status == S.DISPATCHED
    assert case.deadline_at == db.clock.t.replace() + __import__("datetime").timedelta(hours=8)
    f.do(A.ACCEPT, f.dept1, cid)
    f.do(A.HANDLE, f.dept1, cid, result="第一次处理")
    f.do(A.FOLLOW_UP, f.dispatcher, cid, reached=False)
    assert f.get(cid).status == S.HANDLED
    f.do(A.FOLLOW_UP, f.dispatcher, cid, reached=True, solved=False, satisfaction="unsatisfied")
    assert f.do(A.SEND_BACK, f.reviewer, cid).status == S.IN_PROGRESS
    case = f.get(cid)
    assert [d.status for d in case.dispatches] == [DispatchStatus.RETURNED, DispatchStatus.WITHDRAWN, "accepted"]
    f.do(A.HANDLE, f.dept1, cid, result="第二次处理")
    f.do(A.FOLLOW_UP, f.dispatcher, cid, satisfaction="basic")
    case = f.do(A.APPROVE, f.reviewer, cid)
    assert case.status == S.CLOSED and case.closed_at is not None
    case = f.get(cid)
    assert [fu.satisfaction for fu in case.follow_ups] == [None, Satisfaction.UNSATISFIED, Satisfaction.BASIC]
    assert [r.approved for r in case.reviews] == [False, True]
    with db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == cid).order_by(AuditEntry.id)).all()
    assert actions == [
        "create",
        "dispatch",
        "return",
        "accept_return",
        "dispatch",
        "accept",
        "handle",
        "follow_up",
        "follow_up",
        "send_back",
        "handle",
        "follow_up",
        "approve",
    ]


def test_coordinated_case_moves_when_the_last_unit_does(db: Db) -> None:
    f = Flow(db, C)
    cid = f.create(handling="coordinated")
    f.do(A.DISPATCH, f.dispatcher, cid, units=[f.unit1, f.unit2])
    case = f.get(cid)
    assert case.handling == Handling.COORDINATED
    assert [d.lead for d in case.dispatches] == [True, False]
    f.do(A.ACCEPT, f.dept1, cid)
    f.do(A.ACCEPT, f.dept2, cid)
    assert f.do(A.HANDLE, f.dept1, cid).status == S.IN_PROGRESS
    case = f.do(A.ESCALATE_TO_LEADER, f.reviewer, cid)
    assert case.leader_escalated
    assert f.do(A.HANDLE, f.dept2, cid, result="配合完成").status == S.HANDLED
    assert f.get(cid).resolution == "已修复\n配合完成"


def test_department_scope_covers_its_third_level_units(db: Db) -> None:
    f = Flow(db, C)
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid, units=[db.world.units["A1"]])
    f.do(A.ACCEPT, db.world.actors["deptA"], cid)  # the 2nd-level unit acts for its 3rd-level unit
    with pytest.raises(CaseNotFound):
        f.do(A.HANDLE, db.world.actors["deptB"], cid)
    f.do(A.HANDLE, db.world.actors["deptA1"], cid)


def test_dispatch_checks_units_and_deadlines(db: Db) -> None:
    f = Flow(db, C)
    cid = f.create()
    with pytest.raises(InvalidInput):
        f.do(A.DISPATCH, f.dispatcher, cid, units=[db.world.units["S"]])  # a sub-platform hotline's unit
    with pytest.raises(InvalidInput):
        f.do(A.DISPATCH, f.dispatcher, cid, units=[9999])
    with pytest.raises(InvalidInput):
        f.do(A.DISPATCH, f.dispatcher, cid, hours=-1)
    sub = Flow(db, SP)
    sid = sub.create()
    with pytest.raises(InvalidInput):
        sub.do(A.DISPATCH, sub.dispatcher, sid, units=[db.world.units["A"]])  # not the hotline's unit
    with db.session() as s, s.begin():
        from ari_app.cases.workflow import allowed_actions, dispatch

        case = dispatch(s, f.dispatcher, cid)  # the category's default unit and deadline (48 h)
        assert case.dispatches[0].unit_id == db.world.units["A"]
        assert case.deadline_at is not None
        assert (case.deadline_at - db.clock.t).total_seconds() == 48 * 3600
        assert allowed_actions(s, db.world.actors["deptA"], case) == ["accept", "return", "request_extension"]


def test_a_unit_may_return_work_it_accepted(db: Db) -> None:
    f = Flow(db, C)
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid)
    f.do(A.ACCEPT, f.dept1, cid)
    assert f.do(A.RETURN, f.dept1, cid).status == S.IN_PROGRESS
    assert f.do(A.ACCEPT_RETURN, f.reviewer, cid).status == S.RETURNED
    assert f.get(cid).deadline_at is None


def test_a_refusal_leaves_the_session_untouched_for_a_caller_that_carries_on(db: Db) -> None:
    from ari_app.cases.workflow import handle, review

    f = Flow(db, C)
    cid = f.create()
    f.do(A.DISPATCH, f.dispatcher, cid)
    with db.session() as s:
        with pytest.raises(CaseError):
            handle(s, f.dept1, cid, result="未接收就办理")  # not accepted yet
        with pytest.raises(CaseError):
            review(s, f.reviewer, cid, approved=True)
        s.commit()  # a careless caller commits anyway: nothing half-done may be in the session
    case = f.get(cid)
    assert case.status == S.DISPATCHED
    assert [d.status for d in case.dispatches] == ["pending"]
    assert case.reviews == []
