"""Property tests: no sequence of actions, by anyone, on cases of any mode, reaches an illegal state or loses
an audit entry. Refused actions change nothing and leave no trace; allowed ones leave exactly one."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ari_app.cases import Action, CaseState
from ari_app.cases import machine as m
from ari_app.cases.errors import CaseError
from ari_app.cases.workflow import _aggregate
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Case, DispatchStatus
from schema.users import Role
from tests.support.cases import Db
from tests.support.flows import Flow

MODES = [HotlineMode.COLLABORATIVE, HotlineMode.SUB_PLATFORM, HotlineMode.EXCHANGE]
ACTIONS = [a for a in Action if a not in (Action.ESCALATE, Action.MERGE, Action.UNMERGE, Action.MASTER_CLOSED)]
"""Merging takes two cases: its own properties are in tests/cases/test_merge_properties.py."""
step = st.tuples(
    st.integers(0, 2),  # which case
    st.sampled_from(ACTIONS),
    st.sampled_from(list(Role)),
    st.booleans(),  # second unit / second department
)


def check_invariants(db: Db, mode_of: dict[int, HotlineMode], successes: Counter[int]) -> None:
    with db.session() as s:
        for case in s.scalars(select(Case)):
            state = CaseState(case.status)
            mode = mode_of[case.id]
            live = [d for d in case.dispatches if d.status in ("pending", "accepted", "return_requested", "handled")]
            if state in (CaseState.DISPATCHED, CaseState.RETURNED, CaseState.IN_PROGRESS, CaseState.HANDLED):
                assert _aggregate(case) is state, (state, [d.status for d in case.dispatches])
            if state is CaseState.FOLLOWED_UP:
                assert live and all(d.status == DispatchStatus.HANDLED for d in live)
            if state is CaseState.EXCHANGED:
                assert mode is HotlineMode.EXCHANGE
            if mode is HotlineMode.EXCHANGE:
                assert not case.dispatches
                assert state in (CaseState.RECEIVED, CaseState.EXCHANGED, CaseState.RETURNED, CaseState.CLOSED)
                assert (case.exchange_refusal is not None) == (state is CaseState.RETURNED)
            if state is CaseState.CLOSED:
                assert case.closed_at is not None
            assert sum(1 for d in live if d.lead) <= 1
            entries = s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case.id)).all()
            audits = sum(1 for a in entries if a != "problem")  # the platform's own mark, with the 3rd strike
            assert audits == successes[case.id], (case.number, audits, successes[case.id])
            assert entries.count("problem") == (case.problem_at is not None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(modes=st.lists(st.sampled_from(MODES), min_size=3, max_size=3), steps=st.lists(step, max_size=25))
def test_no_sequence_reaches_an_illegal_state_or_loses_an_audit_entry(
    db: Db, modes: list[HotlineMode], steps: list[tuple[int, Action, Role, bool]]
) -> None:
    db.reset()
    flows = [Flow(db, mode) for mode in modes]
    ids = [f.create(handling="dispatch" if i % 2 == 0 else "direct") for i, f in enumerate(flows)]
    mode_of = {cid: f.mode for cid, f in zip(ids, flows, strict=True)}
    successes: Counter[int] = Counter(
        {
            cid: 1 + (f.mode is HotlineMode.EXCHANGE and i % 2 == 0)
            for i, (cid, f) in enumerate(zip(ids, flows, strict=True))
        }
    )
    for which, action, role, second in steps:
        f, cid = flows[which], ids[which]
        actor = f.actor_for(role, f.dept2 if second else f.dept1)
        before = f.get(cid).status
        units = [f.unit2 if second else f.unit1]
        try:
            f.do(action, actor, cid, units=units, reached=not second)
        except CaseError:
            assert f.get(cid).status == before
        else:
            after = CaseState(f.get(cid).status)
            if action is not Action.EXCHANGE_UPDATE or before != CaseState.CLOSED:
                successes[cid] += 1
                rule = m.rule_for(action, CaseState(before))
                assert rule is not None and after in rule.targets
                if action not in (Action.EXCHANGE_UPDATE, Action.EXCHANGE_REFUSED):  # made by the platform
                    assert role in rule.roles[f.mode]
        check_invariants(db, mode_of, successes)
