"""并单 (ari_app.cases.merging): candidates by number in any form, address, category and text; a merge and
each refusal with its error id; the duplicate following its master through handling to closure, on the
follow-up due list once the master is handled; moving a master's duplicates along; unmerge; the audit rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from ari_app.cases import Action, CaseState, PermissionDenied, TransitionForbidden
from ari_app.cases.errors import (
    CaseError,
    MergeCycle,
    MergeIntoClosed,
    MergeIntoMerged,
    MergeIntoSelf,
    MergeOpenDispatches,
)
from ari_app.cases.merging import (
    THRESHOLD,
    address_similarity,
    candidates,
    follow_ups_due,
    merge,
    text_similarities,
    unmerge,
    words,
)
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Case
from tests.support.cases import Db, intake
from tests.support.flows import Flow


def _merge(db: Db, case_id: int, master_id: int, who: str = "agent") -> Case:
    with db.session() as s, s.begin():
        return merge(s, db.world.actors[who], case_id, master_id)


def _status(db: Db, case_id: int) -> str:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.status


def _trail(db: Db, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.id))
        return [(r.action, json.loads(r.detail) if r.detail else {}) for r in rows]


def test_segmentation_and_signals() -> None:
    assert "停水" in words("小区停水两天了！") and "了" not in words("小区停水两天了！")
    assert words("ＡＢＣ小区") == words("abc小区")  # full-width folded
    assert address_similarity("天山区幸福路12号", "天山区幸福路12号") == 1.0
    assert address_similarity("天山区幸福路12号", "幸福路12号院门口") > 0.5
    assert address_similarity("幸福路12号", None) == 0.0
    same, other = text_similarities("小区停水两天了，一直没有人来修", ["我们小区已经停水两天，没人来修", "路灯坏了"])
    assert same > 0.4 and other == 0.0


def test_candidates_find_the_same_caller_in_another_form_and_not_another_problem(db: Db) -> None:
    first = intake(
        db, caller="13800000001", contact=None, request="新华北路1号路灯不亮已经三天了", address="新华北路1号"
    )
    db.clock.advance(hours=2)
    other = intake(
        db,
        caller="13800000001",
        contact=None,
        category="环境卫生",
        request="小区门口垃圾没人清运",
        address="新华北路1号",
    )
    db.clock.advance(hours=2)
    again = intake(
        db, caller="+86 138-0000-0001", contact=None, request="新华北路一号的路灯一直不亮", address="新华北路 1 号"
    )
    with db.session() as s:
        found = candidates(s, db.world.actors["agent"], again.id)
        assert [c.case.id for c in found] == [first.id], [(c.case.id, c.signals) for c in found]
        best = found[0]
        assert best.signals.number == 1.0 and best.signals.category == 1.0 and best.mergeable
        assert best.score >= THRESHOLD
        assert other.id not in [c.case.id for c in found]
        with pytest.raises(PermissionDenied):
            candidates(s, db.world.actors["deptA"], again.id)


def test_merge_follows_the_master_through_handling_and_closes_with_it(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    master = f.create(caller="13900000001")
    dup = f.create(caller="13900000002")
    merged = _merge(db, dup, master)
    assert merged.status == CaseState.MERGED and merged.master_case_id == master
    with db.session() as s:
        assert follow_ups_due(s, db.world.actors["agent"]) == []
    with pytest.raises(TransitionForbidden):  # the master is not handled yet
        f.do(Action.FOLLOW_UP, f.dispatcher, dup)
    with pytest.raises(TransitionForbidden):  # a duplicate has no unit work of its own
        f.do(Action.DISPATCH, f.dispatcher, dup)
    f.do(Action.DISPATCH, f.dispatcher, master)
    f.do(Action.ACCEPT, f.dept1, master)
    f.do(Action.HANDLE, f.dept1, master)
    with db.session() as s:
        assert {c.id for c in follow_ups_due(s, db.world.actors["agent"])} == {master, dup}
    f.do(Action.FOLLOW_UP, f.dispatcher, master)
    f.do(Action.FOLLOW_UP, f.dispatcher, dup, reached=False)  # not reached: still due
    with db.session() as s:
        assert [c.id for c in follow_ups_due(s, db.world.actors["agent"])] == [dup]
    f.do(Action.FOLLOW_UP, f.dispatcher, dup)
    assert _status(db, dup) == CaseState.MERGED
    with db.session() as s:
        assert follow_ups_due(s, db.world.actors["agent"]) == []
    f.do(Action.APPROVE, f.reviewer, master)
    assert _status(db, master) == _status(db, dup) == CaseState.CLOSED
    closed = f.get(dup)
    assert closed.closed_at is not None and closed.resolution == f.get(master).resolution
    assert closed.master_case_id == master  # kept
    assert [a for a, _ in _trail(db, dup)] == ["create", "merge", "follow_up", "follow_up", "master_closed"]
    assert ("merged_in", {"duplicate": closed.number}) in _trail(db, master)


def test_refusals_have_their_error_ids_and_are_audited(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    a, b, c = f.create(), f.create(), f.create()
    with pytest.raises(MergeIntoSelf) as e1:
        _merge(db, a, a)
    assert e1.value.error_id == "case_merge_self"
    f.do(Action.DISPATCH, f.dispatcher, b)
    with pytest.raises(MergeOpenDispatches) as e2:
        _merge(db, b, a)
    assert e2.value.error_id == "case_merge_open_dispatches"
    f.do(Action.RESOLVE_DIRECTLY, f.dispatcher, c)
    with pytest.raises(MergeIntoClosed) as e3:
        _merge(db, a, c)
    assert e3.value.error_id == "case_merge_closed_master"
    d = f.create()
    _merge(db, a, d)
    with pytest.raises(MergeCycle) as e4:  # d's duplicate a cannot become its master
        _merge(db, d, a)
    assert e4.value.error_id == "case_merge_cycle"
    e = f.create()
    with pytest.raises(MergeIntoMerged) as e5:
        _merge(db, e, a)
    assert e5.value.error_id == "case_merge_merged_master" and e5.value.detail["root"] == f.get(d).number
    with pytest.raises(TransitionForbidden):  # already merged
        _merge(db, a, e)
    with pytest.raises(PermissionDenied):
        _merge(db, e, d, who="hu12345")
    assert _status(db, d) == CaseState.RECEIVED and _status(db, e) == CaseState.RECEIVED


def test_a_refused_merge_leaves_a_refusal_in_the_trail(db: Db) -> None:
    from ari_app.cases.audit import transaction

    f = Flow(db, HotlineMode.COLLABORATIVE)
    a = f.create()
    with pytest.raises(CaseError), transaction(db.session, db.world.actors["agent"], "merge_cases", case=a) as s:
        merge(s, db.world.actors["agent"], a, a)
    refused = [d for act, d in _trail(db, a) if act == "refused"]
    assert refused and refused[-1]["error_id"] == "case_merge_self"


def test_merging_a_master_moves_its_duplicates_along_and_unmerge(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    m1, m2, dup = f.create(), f.create(), f.create()
    _merge(db, dup, m1)
    _merge(db, m1, m2)
    assert f.get(dup).master_case_id == m2 and f.get(m1).master_case_id == m2
    assert ("remaster", {"master": f.get(m2).number, "previous": f.get(m1).number}) in _trail(db, dup)
    with pytest.raises(PermissionDenied):  # a supervisor's decision
        with db.session() as s, s.begin():
            unmerge(s, db.world.actors["agent"], dup, reason="不是同一件事")
    with db.session() as s, s.begin():
        unmerge(s, db.world.actors["supervisor"], dup, reason="不是同一件事")
    back = f.get(dup)
    assert back.status == CaseState.RECEIVED and back.master_case_id is None
    f.do(Action.RESOLVE_DIRECTLY, f.dispatcher, m2)
    assert _status(db, m1) == CaseState.CLOSED and _status(db, dup) == CaseState.RECEIVED
    with pytest.raises(TransitionForbidden):  # closed with its master: stays closed
        with db.session() as s, s.begin():
            unmerge(s, db.world.actors["supervisor"], m1, reason="x")
