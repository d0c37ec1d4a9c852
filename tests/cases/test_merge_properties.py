"""Property: over random sequences of merges, unmerges and workflow actions by anyone, on cases of a
collaborative and a sub-platform hotline, no case reaches a state the rules forbid (every change of status,
including a duplicate closed with its master, is a move of the table), a merged case always follows an open
master that is not itself merged (so no cycle exists), nothing is deleted, and the audit trail only grows."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ari_app.cases import Action, CaseState
from ari_app.cases import machine as m
from ari_app.cases.access import OPEN_DISPATCH
from ari_app.cases.errors import CaseError
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Case, Dispatch, FollowUp
from schema.users import Role
from tests.support.cases import Db
from tests.support.flows import Flow

ACTIONS = [
    Action.MERGE,
    Action.MERGE,
    Action.UNMERGE,
    Action.DISPATCH,
    Action.ACCEPT,
    Action.RETURN,
    Action.HANDLE,
    Action.FOLLOW_UP,
    Action.APPROVE,
    Action.SEND_BACK,
    Action.RESOLVE_DIRECTLY,
]
ROLES = [Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT, Role.HOTLINE_UNIT]
N = 5
step = st.tuples(
    st.integers(0, N - 1), st.sampled_from(ACTIONS), st.sampled_from(ROLES), st.integers(0, N - 1), st.booleans()
)


def snapshot(db: Db) -> tuple[dict[int, tuple[str, int | None]], int, int, int]:
    with db.session() as s:
        cases = {c.id: (c.status, c.master_case_id) for c in s.scalars(select(Case))}
        audits = int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)
        shares = int(s.scalar(select(func.count()).select_from(Dispatch)) or 0)
        calls = int(s.scalar(select(func.count()).select_from(FollowUp)) or 0)
        return cases, audits, shares, calls


def check_invariants(db: Db) -> None:
    with db.session() as s:
        by_id = {c.id: c for c in s.scalars(select(Case))}
        for case in by_id.values():
            state = CaseState(case.status)
            if state is CaseState.MERGED:
                assert case.master_case_id is not None and case.merged_at is not None
                master = by_id[case.master_case_id]
                assert master.status not in (CaseState.MERGED, CaseState.CLOSED), (case.number, master.status)
                assert not [d for d in case.dispatches if d.status in OPEN_DISPATCH]
            if state is CaseState.CLOSED:
                assert case.closed_at is not None
            seen = {case.id}  # no cycle through master_case_id
            current = case
            while current.master_case_id is not None:
                assert current.master_case_id not in seen, f"cycle through {case.number}"
                seen.add(current.master_case_id)
                current = by_id[current.master_case_id]


def moves(before: str, after: str) -> bool:
    """Some rule of the table leads from `before` to `after`."""
    return any(r.source == before and after in r.targets for r in m.RULES)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sub=st.booleans(), steps=st.lists(step, max_size=30))
def test_merges_and_workflow_never_break_the_rules(
    db: Db, sub: bool, steps: list[tuple[int, Action, Role, int, bool]]
) -> None:
    db.reset()
    f = Flow(db, HotlineMode.SUB_PLATFORM if sub else HotlineMode.COLLABORATIVE)
    ids = [f.create(caller=f"1390000000{i}") for i in range(N)]
    cases, audits, shares, calls = snapshot(db)
    for which, action, role, target, second in steps:
        actor = f.actor_for(role, f.dept2 if second else f.dept1)
        kw: dict[str, object] = {"units": [f.unit2 if second else f.unit1], "reached": not second}
        if action is Action.MERGE:
            kw["master"] = ids[target]
        try:
            f.do(action, actor, ids[which], **kw)
            ok = True
        except CaseError:
            ok = False
        now, now_audits, now_shares, now_calls = snapshot(db)
        assert set(now) == set(cases), "nothing is deleted"
        assert now_shares >= shares and now_calls >= calls
        assert now_audits > audits if ok else now_audits == audits, (action, ok)
        if not ok:
            assert now == cases, "a refused request changes nothing"
        for cid, (status, _) in now.items():
            old = cases[cid][0]
            if status != old:
                assert moves(old, status), (old, status, action)
                if cid != ids[which]:  # only a master's closing moves another case: its duplicates close
                    assert (old, status) == (CaseState.MERGED, CaseState.CLOSED), (old, status, action)
        check_invariants(db)
        cases, audits, shares, calls = now, now_audits, now_shares, now_calls
