"""Keypad survey answers on the case: the citizen's rating at the end of a call becomes the follow-up
satisfaction record of the case taken on that call, so it counts in the satisfaction rate like a follow-up
where the citizen was reached, and exactly once.

Decisions:
- The actor is the platform (`SURVEY`: no user, login `survey`); the follow-up has `by` None, `solved`
  unknown, `notes` saying where it came from and `survey_id` pointing at the answer. It is audited as a
  `follow_up` by `survey` with the call, the answer's id and the rating.
- The survey record does not move the case through the workflow: it rates the call itself, before any unit
  has worked on the request, while the workflow's follow-up (回访) asks whether the unit's handling solved
  it and sends the case to review. A person still makes that follow-up.
- The answer is on the five-level scale (一次一评, `SurveyResponse.level`): the keys' words are the scale's
  (1 满意, 2 基本满意, 3 不满意), so the follow-up's `rating` is that level and its `satisfaction` the same
  words on the three-level record. It is the call's rating, not the case's (一事一评, asked at the follow-up):
  it neither takes the case off the follow-up due list nor sends it back (ari_app.cases.follow_ups).
- One answer, one follow-up: `follow_ups.survey_id` is unique. When several cases are taken on one call,
  the answer goes to the first of them (lowest id).
- A call without a case keeps its answer as a call-level rating (`survey_responses`, shown on the call).
  When a case is taken on that call later, `create_case` links the answer to it; the case runner's pass
  (`link_pending`) links whatever an earlier step could not (a database error, two transactions racing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from schema.cases import Case, FollowUp, Satisfaction
from schema.surveys import Satisfaction as Rating
from schema.surveys import SurveyResponse
from schema.users import Role

SURVEY = Actor(user_id=None, login="survey", role=Role.ADMIN)
"""The platform's keypad survey, as the actor of the follow-ups it writes."""

NOTES = "按键满意度评价 (keypad survey at the end of the call)"

SATISFACTION = {
    Rating.SATISFIED: Satisfaction.SATISFIED,
    Rating.BASICALLY: Satisfaction.BASIC,
    Rating.UNSATISFIED: Satisfaction.UNSATISFIED,
}


def _first_case(session: Session, call_id: str) -> Case | None:
    return session.scalars(select(Case).where(Case.call_id == call_id).order_by(Case.id).limit(1)).one_or_none()


def link_answer(session: Session, answer: SurveyResponse, now: datetime) -> FollowUp | None:
    """The follow-up for `answer` on the first case of its call, written and audited in the current
    transaction (inside a savepoint, so a concurrent link only loses this step). None when the call has no
    case yet or the answer is already on a case."""

    case = _first_case(session, answer.call_id)
    if case is None:
        return None
    if session.scalar(select(exists().where(FollowUp.survey_id == answer.id))):
        return None
    follow_up = FollowUp(
        case_id=case.id,
        at=answer.answered_at,
        by=None,
        reached=True,
        solved=None,
        satisfaction=SATISFACTION[Rating(answer.rating)],
        rating=Rating(answer.rating).level,
        notes=NOTES,
        survey_id=answer.id,
    )
    try:
        with session.begin_nested():
            session.add(follow_up)
            session.flush()
            audit(
                session,
                SURVEY,
                "follow_up",
                case.id,
                now,
                source="keypad_survey",
                call_id=answer.call_id,
                survey_id=answer.id,
                satisfaction=str(follow_up.satisfaction),
            )
            session.flush()
    except IntegrityError:
        return None
    return follow_up


def link_call(session: Session, call_id: str, now: datetime) -> FollowUp | None:
    """Link the survey answer of call `call_id`, if there is one and it is not on a case yet."""
    answer = session.scalars(select(SurveyResponse).where(SurveyResponse.call_id == call_id)).one_or_none()
    return None if answer is None else link_answer(session, answer, now)


def link_pending(session: Session, now: datetime, limit: int = 500) -> int:
    """Link answers whose call has a case but which are on no case yet; how many were linked."""
    pending = session.scalars(
        select(SurveyResponse)
        .where(
            exists().where(Case.call_id == SurveyResponse.call_id),
            ~exists().where(FollowUp.survey_id == SurveyResponse.id),
        )
        .order_by(SurveyResponse.id)
        .limit(limit)
    ).all()
    return sum(1 for answer in pending if link_answer(session, answer, now) is not None)
