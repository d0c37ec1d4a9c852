"""Keypad survey answers on the case: the answer becomes the follow-up of the first case taken on the call,
written by the platform (no user) and audited, once, whichever comes first, the answer or the case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ari_app.cases.runner import CaseRunner
from ari_app.cases.surveys import NOTES, link_call, link_pending
from ari_app.cases.workflow import follow_up, resolve_directly
from schema.cases import AuditEntry, Case, FollowUp
from schema.surveys import SurveyResponse
from tests.support.cases import Db, intake


def _case(db: Db, call_id: str | None, handling: str = "dispatch") -> int:
    case = intake(
        db, caller="13900000001", call_id=call_id, address="某路", citizen_name=None, contact=None, handling=handling
    )
    return case.id


def _answer(db: Db, call_id: str, rating: str = "satisfied") -> int:
    with db.session() as s, s.begin():
        answer = SurveyResponse(call_id=call_id, rating=rating, answered_at=db.clock.t)
        s.add(answer)
        s.flush()
        return answer.id


def _follow_ups(db: Db) -> list[FollowUp]:
    with db.session() as s:
        return list(s.scalars(select(FollowUp).order_by(FollowUp.id)))


def test_answer_after_the_case_is_its_follow_up_by_the_platform(db: Db) -> None:
    case_id = _case(db, "1795930000.1")
    answer_id = _answer(db, "1795930000.1", "basically_satisfied")
    with db.session() as s, s.begin():
        made = link_call(s, "1795930000.1", db.clock.t)
        assert made is not None
    [fu] = _follow_ups(db)
    assert (fu.case_id, fu.by, fu.reached, fu.solved, fu.satisfaction) == (case_id, None, True, None, "basic")
    assert (fu.survey_id, fu.notes) == (answer_id, NOTES)
    assert (fu.rating, fu.channel) == ("basically_satisfied", None)  # the call's five-level rating (一次一评)
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.login == "survey")).one()
        case = s.get(Case, case_id)
        assert case is not None and case.status == "received"  # the workflow's 回访 is still a person's
    assert entry.user_id is None and entry.action == "follow_up"
    assert json.loads(entry.detail or "{}") == {
        "call_id": "1795930000.1",
        "satisfaction": "basic",
        "source": "keypad_survey",
        "survey_id": answer_id,
    }


def test_answer_before_the_case_is_linked_when_the_case_is_taken(db: Db) -> None:
    answer_id = _answer(db, "1795930000.2", "unsatisfied")
    assert _follow_ups(db) == []  # a call-level rating until then
    case_id = _case(db, "1795930000.2")
    second = _case(db, "1795930000.2")  # another request on the same call
    fus = _follow_ups(db)
    assert [(f.case_id, f.survey_id, f.satisfaction) for f in fus] == [(case_id, answer_id, "unsatisfied")]
    assert second != case_id


def test_call_without_a_case_keeps_its_call_level_rating(db: Db) -> None:
    _answer(db, "1795930000.3")
    _case(db, None)
    with db.session() as s, s.begin():
        assert link_pending(s, db.clock.t) == 0
        assert s.scalars(select(SurveyResponse.rating)).all() == ["satisfied"]
    assert _follow_ups(db) == []


def test_the_case_runner_links_what_was_left(db: Db) -> None:
    """An answer stored while the case was being saved in another transaction (or whose linking failed) is
    linked by the runner's next pass, exactly once."""
    case_id = _case(db, "1795930000.4")
    with db.session() as s, s.begin():  # stored without linking, as a racing or failed step would leave it
        s.add(SurveyResponse(call_id="1795930000.4", rating="satisfied", answered_at=db.clock.t))
    runner = CaseRunner(db.session, {})
    assert runner.run_once().surveys == 1
    assert runner.run_once().surveys == 0
    assert [(f.case_id, f.satisfaction) for f in _follow_ups(db)] == [(case_id, "satisfied")]


def test_a_person_can_still_follow_up_and_close(db: Db, tmp_path: Path) -> None:
    case_id = _case(db, "1795930000.5", handling="direct")
    _answer(db, "1795930000.5")
    with db.session() as s, s.begin():
        link_call(s, "1795930000.5", db.clock.t)
        resolve_directly(s, db.world.actors["agent"], case_id, resolution="已答复")
        follow_up(s, db.world.actors["agent"], case_id, reached=True, solved=True, satisfaction="satisfied")
    fus: list[Any] = _follow_ups(db)
    assert [(f.survey_id is not None, f.by is None) for f in fus] == [(True, True), (False, False)]


async def test_the_survey_script_puts_the_answer_on_the_case(db: Db) -> None:
    from sqlalchemy.orm import sessionmaker

    from agi_scripts.survey import Survey
    from tests.support.calls import VARS, ScriptedAgi, store_call

    case_id = _case(db, "1795930000.7")
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=1"]})
    survey = Survey(sessionmaker(db.engine, expire_on_commit=False), clock=db.clock, on_answer=link_call)
    store_call(survey, "1795930000.7", db.clock.t)  # the call is at its survey
    await survey(agi)
    assert [(f.case_id, f.satisfaction, f.by) for f in _follow_ups(db)] == [(case_id, "satisfied", None)]
