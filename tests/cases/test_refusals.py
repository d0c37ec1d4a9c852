"""Refused operations leave a trail: run through `transaction` (ari_app.cases.audit), a refusal rolls the operation back
(its own audit entry included) and leaves exactly one `refused` entry, written in a transaction of its
own, with who, role, the request, the case asked for and the error id; nothing else changes. On SQLite
and on PostgreSQL."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from ari_app.cases import Action, Actor
from ari_app.cases.audit import REFUSED, refusal_audited, refusals_audited, transaction
from ari_app.cases.errors import CaseError, CaseNotFound, InvalidInput, PermissionDenied, TransitionForbidden
from ari_app.cases.intake import create_case
from ari_app.cases.lookups import get_case, search_cases
from ari_app.cases.workflow import accept, return_case, review
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Case, CaseCounter, Dispatch
from tests.support.cases import Db
from tests.support.flows import Flow


def _state(db: Db) -> dict[str, Any]:
    """Everything a refused operation must leave as it was (the audit trail apart from refusals)."""
    with db.session() as s:
        return {
            "cases": [(c.id, c.status, c.handling, c.updated_at) for c in s.scalars(select(Case).order_by(Case.id))],
            "dispatches": s.scalar(select(func.count()).select_from(Dispatch)),
            "counters": [(c.hotline, c.day, c.last) for c in s.scalars(select(CaseCounter))],
            "audit": [
                (a.id, a.action)
                for a in s.scalars(select(AuditEntry).where(AuditEntry.action != REFUSED).order_by(AuditEntry.id))
            ],
        }


def _refusals(db: Db) -> list[tuple[str, str, int | None, dict[str, Any]]]:
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == REFUSED).order_by(AuditEntry.id))
        return [(r.login, r.role, r.case_id, json.loads(r.detail or "{}")) for r in rows]


def _run(db: Db, actor: Actor, request: str, case: int | str | None, op: Any) -> CaseError:
    with pytest.raises(CaseError) as err, transaction(db.session, actor, request, case=case) as s:
        op(s)
    return err.value


def test_each_kind_of_refusal_leaves_one_entry_and_no_change(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create()
    f.do(Action.DISPATCH, f.dispatcher, cid)
    number = f.get(cid).number
    w = db.world.actors
    refusals: list[tuple[Actor, str, int | str, Any, type[CaseError]]] = [
        # the role may not: an agent accepting a unit's share
        (w["agent"], "accept_case", cid, lambda s: accept(s, w["agent"], cid), PermissionDenied),
        # not visible: another unit's department asks for the case, by number
        (w["deptB"], "get_case", number, lambda s: get_case(s, w["deptB"], number), CaseNotFound),
        # no such transition: approving a case that was not handled
        (w["supervisor"], "review_case", cid, lambda s: review(s, w["supervisor"], cid, approved=True),
         TransitionForbidden),
        # out of range, after the share was already changed in the session
        (w["deptA"], "return_case", cid, lambda s: return_case(s, w["deptA"], cid, reason="  "), InvalidInput),
    ]  # fmt: skip
    for actor, request, ref, op, kind in refusals:
        before = _state(db)
        error = _run(db, actor, request, ref, op)
        assert isinstance(error, kind) and refusal_audited(error)
        assert _state(db) == before, request
    trail = _refusals(db)
    assert [(login, role, case_id, d["request"], d["error_id"], d["case"]) for login, role, case_id, d in trail] == [
        ("agent", "agent", cid, "accept_case", "case_permission_denied", cid),
        ("deptB", "department", cid, "get_case", "case_not_found", number),
        ("supervisor", "supervisor", cid, "review_case", "case_transition_forbidden", cid),
        ("deptA", "department", cid, "return_case", "case_invalid_input", cid),
    ]
    assert [d["message"] for *_x, d in trail] == [
        "role agent may not accept a dispatched case of a collaborative hotline",
        f"no case {number} that you may see",
        f"case {number} is dispatched: it cannot be approve",
        "reason is required",
    ]


def test_a_refusal_after_changes_were_flushed_rolls_them_back(db: Db) -> None:
    """create_case numbers the case (the day's counter) before it finds the category unknown: the refusal
    takes the counter back with it, and only the refusal entry stays."""
    before = _state(db)
    agent = db.world.actors["agent"]

    def intake(s: Any) -> None:
        create_case(
            s, agent, hotline="12345", caller="139", call_id=None, category="不存在的类别", request="路灯不亮",
            address=None, urgency="normal", citizen_name=None, contact=None, language="zh", handling="dispatch",
        )  # fmt: skip

    error = _run(db, agent, "create_case", None, intake)
    assert error.error_id == "case_invalid_input"
    assert _state(db) == before
    [(login, role, case_id, detail)] = _refusals(db)
    assert (login, role, case_id, detail["request"], "case" in detail) == ("agent", "agent", None, "create_case", False)


def test_a_case_that_does_not_exist_is_named_in_the_detail(db: Db) -> None:
    dept = db.world.actors["deptA"]
    _run(db, dept, "get_case", 987654, lambda s: get_case(s, dept, 987654))
    _run(db, dept, "get_case", "12345-20991231-0001", lambda s: get_case(s, dept, "12345-20991231-0001"))
    assert [(c, d["case"]) for _l, _r, c, d in _refusals(db)] == [(None, 987654), (None, "12345-20991231-0001")]


def test_what_is_not_a_refusal_is_not_audited_as_one(db: Db) -> None:
    agent = db.world.actors["agent"]
    with pytest.raises(RuntimeError), transaction(db.session, agent, "search_cases") as s:
        search_cases(s, agent, "路灯")
        raise RuntimeError("a bug, not a refusal")
    with transaction(db.session, agent, "search_cases") as s:
        search_cases(s, agent, "路灯")
    assert _refusals(db) == []
    with db.session() as s:  # the failed request's own audit entry was rolled back, the good one kept
        assert s.scalar(select(func.count()).where(AuditEntry.action == "search")) == 1


def test_an_outer_layer_does_not_audit_the_same_refusal_twice(db: Db) -> None:
    agent = db.world.actors["agent"]
    with pytest.raises(CaseNotFound), refusals_audited(db.session, agent, "outer"):
        with transaction(db.session, agent, "get_case", case=5) as s:
            get_case(s, agent, 5)
    assert [d["request"] for *_x, d in _refusals(db)] == ["get_case"]


def test_the_refusal_reaches_the_caller_even_if_it_cannot_be_audited(db: Db, caplog: pytest.LogCaptureFixture) -> None:
    agent = db.world.actors["agent"]
    opened = []

    def sessions() -> Any:
        opened.append(1)
        if len(opened) > 1:  # the refusal's own session: the database is gone
            raise ConnectionError("database gone")
        return db.session()

    with caplog.at_level(logging.ERROR), pytest.raises(CaseNotFound):
        with transaction(sessions, agent, "get_case", case=5) as s:
            get_case(s, agent, 5)
    assert "could not audit the refusal of get_case (case_not_found) for agent" in caplog.text
    assert _refusals(db) == []
