"""回访 timing and the five-level ratings (ari_app.cases.follow_ups): the follow-up is due by the end of the
configured working day after handling, on a controlled clock across a weekend, National Day 2026 (1-7 Oct
off, 8 Oct worked) and the adjusted working Saturday 2026-10-10; the due list (order, overdue, paging,
visibility, merged duplicates due with their master); the rating of a case (一事一评) with its channel, and
an unsatisfied rating leaving the case to the reviewer's send back (发回重办); the keypad survey's keys on
the five levels (一次一评); migration 0020 filling older rows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ari_app.cases import Action, CaseState
from ari_app.cases.errors import FollowUpUnsatisfied, InvalidInput
from ari_app.cases.follow_ups import due_at
from ari_app.cases.merging import follow_ups_due, merge, unmerge
from ari_app.cases.settings import CaseSettings
from ari_app.cases.surveys import link_call
from ari_app.cases.workflow import allowed_actions, follow_up, review
from ari_app.config import HotlineMode
from ari_app.prompts import PROMPTS
from ari_app.protocol import RATING_LABELS, RATINGS, ErrorId
from schema.cases import AuditEntry, Case, Rating, Satisfaction
from schema.surveys import KEYS, SurveyResponse
from tests.support.cases import HOTLINES, Db, intake
from tests.support.flows import Flow

Z = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of 2026, Beijing time, as the centre's clock shows it."""
    return datetime(2026, month, day, hour, minute, tzinfo=Z)


def _handled(db: Db, f: Flow, when: datetime, caller: str = "13900000000") -> int:
    """A case dispatched to unit A and handled at `when` (the clock stays there)."""
    db.clock.t = when.astimezone(UTC)
    cid = f.create(caller=caller)
    f.do(Action.DISPATCH, f.dispatcher, cid)
    f.do(Action.ACCEPT, f.dept1, cid)
    f.do(Action.HANDLE, f.dept1, cid)
    return cid


def _due(db: Db, who: str = "agent", now: datetime | None = None, **kw: object) -> list[int]:
    with db.session() as s:
        return [c.id for c in follow_ups_due(s, db.world.actors[who], now, **kw)]  # type: ignore[arg-type]


def _follow_up(db: Db, cid: int, who: str = "agent", **kw: object) -> Case:
    with db.session() as s, s.begin():
        return follow_up(s, db.world.actors[who], cid, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("handled", "days", "due"),
    [
        (at(10, 16, 15), 1, at(10, 19, 17, 30)),  # Friday: the weekend does not count
        (at(11, 27, 18), 1, at(11, 30, 17, 30)),  # Friday after office hours: still Monday
        (at(9, 30, 15), 1, at(10, 8, 17, 30)),  # the eve of National Day: the holiday does not count
        (at(9, 30, 23, 30), 1, at(10, 8, 17, 30)),  # late in the evening (15:30 UTC: the local day counts)
        (at(10, 3, 10), 1, at(10, 8, 17, 30)),  # handled during the holiday
        (at(10, 9, 15), 1, at(10, 10, 17, 30)),  # Friday before the adjusted working Saturday: due that Saturday
        (at(10, 10, 11), 1, at(10, 12, 17, 30)),  # handled on the adjusted Saturday: its Sunday does not count
        (at(9, 30, 15), 2, at(10, 9, 17, 30)),
        (at(9, 30, 15), 3, at(10, 10, 17, 30)),  # the adjusted Saturday counts as the third working day
        (at(9, 30, 15), 4, at(10, 12, 17, 30)),
    ],
)
def test_the_follow_up_is_due_at_the_end_of_the_nth_working_day_after_handling(
    db: Db, handled: datetime, days: int, due: datetime
) -> None:
    db.settings = replace(db.settings, follow_up_due_working_days=days)
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = _handled(db, f, handled)
    case = f.get(cid)
    assert case.status == CaseState.HANDLED and case.handled_at == handled
    assert case.follow_up_due_at == due
    assert _due(db) == [cid]
    assert _due(db, now=due - timedelta(minutes=1), overdue_only=True) == []
    assert _due(db, now=due + timedelta(minutes=1), overdue_only=True) == [cid]


def test_the_due_list_is_ordered_paged_visible_and_follows_the_workflow(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    a = _handled(db, f, at(9, 30, 15), "13900000001")  # due Thu 10-08 17:30
    c = _handled(db, f, at(10, 16, 15), "13900000003")  # due Mon 10-19 17:30
    b = _handled(db, f, at(10, 9, 15), "13900000002")  # due Sat 10-10 17:30 (adjusted working day)
    assert _due(db) == [a, b, c]  # the earliest due first, whatever the order of handling
    assert _due(db, now=at(10, 10, 12), overdue_only=True) == [a]
    assert _due(db, now=at(10, 10, 17, 31), overdue_only=True) == [a, b]
    assert _due(db, limit=2) == [a, b] and _due(db, limit=2, offset=2) == [c] and _due(db, offset=3) == []
    assert _due(db, "deptA") == [a, b, c]  # its unit's cases
    assert _due(db, "deptB") == []  # another unit sees none of them

    db.clock.t = at(10, 12, 9).astimezone(UTC)
    _follow_up(db, a, reached=False, channel="phone")  # not reached: still waiting, still due when it was
    assert f.get(a).follow_up_due_at == at(10, 8, 17, 30) and _due(db) == [a, b, c]
    case = _follow_up(db, a, reached=True, solved=False, rating="unsatisfied", channel="sms")
    assert case.status == CaseState.FOLLOWED_UP and case.follow_up_due_at is None and _due(db) == [b, c]

    # 发回重办: the reviewer cannot approve, only send back; the case is due again after its next handling
    with db.session() as s:
        case = s.get(Case, a)
        assert case is not None
        assert "approve" not in allowed_actions(s, f.reviewer, case)
        assert "send_back" in allowed_actions(s, f.reviewer, case)
    with pytest.raises(FollowUpUnsatisfied) as refused, db.session() as s, s.begin():
        review(s, f.reviewer, a, approved=True)
    assert refused.value.error_id == ErrorId.CASE_FOLLOW_UP_UNSATISFIED
    assert refused.value.detail == {"case": f.get(a).number, "rating": "unsatisfied"}
    assert f.get(a).status == CaseState.FOLLOWED_UP  # refused: nothing changed
    assert f.do(Action.SEND_BACK, f.reviewer, a, reason="市民不满意").status == CaseState.IN_PROGRESS
    assert f.get(a).follow_up_due_at is None and _due(db) == [b, c]
    db.clock.t = at(10, 12, 10).astimezone(UTC)
    f.do(Action.HANDLE, f.dept1, a, result="再次处理")
    assert f.get(a).follow_up_due_at == at(10, 13, 17, 30)
    assert _due(db) == [b, a, c]
    case = _follow_up(db, a, reached=True, solved=True, rating="very_satisfied")
    assert case.follow_up_rating == Rating.VERY_SATISFIED
    assert f.do(Action.APPROVE, f.reviewer, a).status == CaseState.CLOSED


def test_merged_duplicates_are_due_with_their_master(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    db.clock.t = at(9, 29, 10).astimezone(UTC)
    master = f.create(caller="13900000001")
    early = f.create(caller="13900000002")
    gone = f.create(caller="13900000004")
    with db.session() as s, s.begin():
        merge(s, db.world.actors["agent"], early, master)
        merge(s, db.world.actors["agent"], gone, master)
    assert _due(db) == []  # the master is not handled yet
    f.do(Action.DISPATCH, f.dispatcher, master)
    f.do(Action.ACCEPT, f.dept1, master)
    db.clock.t = at(9, 30, 15).astimezone(UTC)
    f.do(Action.HANDLE, f.dept1, master)
    due = at(10, 8, 17, 30)
    assert f.get(early).follow_up_due_at == due and f.get(gone).follow_up_due_at == due
    late = f.create(caller="13900000003")  # merged after the master was handled: due with it all the same
    with db.session() as s, s.begin():
        merge(s, db.world.actors["agent"], late, master)
    assert f.get(late).follow_up_due_at == due
    assert _due(db) == sorted([master, early, gone, late])
    with db.session() as s, s.begin():  # taken out again: handled on its own, not due with the master
        unmerge(s, db.world.actors["supervisor"], gone, reason="不是同一问题")
    assert f.get(gone).follow_up_due_at is None and gone not in _due(db)
    _follow_up(db, early, reached=True, solved=True, rating="satisfied")
    assert _due(db) == sorted([master, late])
    # the master sent back: the duplicates not reached yet wait for its next handling
    _follow_up(db, master, reached=True, solved=False, rating="very_unsatisfied")
    f.do(Action.SEND_BACK, f.reviewer, master)
    assert _due(db) == [] and f.get(late).follow_up_due_at is None
    db.clock.t = at(10, 9, 11).astimezone(UTC)
    f.do(Action.HANDLE, f.dept1, master)
    again = at(10, 10, 17, 30)
    assert f.get(master).follow_up_due_at == f.get(late).follow_up_due_at == again
    assert f.get(early).follow_up_due_at is None  # reached already
    assert _due(db) == [master, late]


def test_the_follow_up_records_the_five_level_rating_and_its_channel(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = _handled(db, f, at(11, 30, 10))
    with pytest.raises(InvalidInput) as missing:
        _follow_up(db, cid, reached=True, solved=True)
    assert missing.value.detail["field"] == "rating"
    with pytest.raises(InvalidInput) as bad:
        _follow_up(db, cid, reached=True, solved=True, rating="great")
    assert bad.value.detail["field"] == "rating"
    with pytest.raises(InvalidInput) as disagree:
        _follow_up(db, cid, reached=True, solved=True, rating="very_unsatisfied", satisfaction="satisfied")
    assert disagree.value.detail["field"] == "satisfaction"
    with pytest.raises(InvalidInput) as channel:
        _follow_up(db, cid, reached=False, channel="letter")
    assert channel.value.detail["field"] == "channel"
    assert f.get(cid).follow_ups == []  # each refusal left nothing

    _follow_up(db, cid, reached=False, channel="sms")
    case = _follow_up(db, cid, reached=True, solved=False, rating="very_unsatisfied", channel="phone")
    assert case.follow_up_rating == Rating.VERY_UNSATISFIED
    rows = f.get(cid).follow_ups
    assert [(r.reached, r.rating, r.satisfaction, r.channel) for r in rows] == [
        (False, None, None, "sms"),
        (True, "very_unsatisfied", "unsatisfied", "phone"),  # the three-level record beside it
    ]
    with db.session() as s:
        details = [
            json.loads(e.detail or "{}")
            for e in s.scalars(
                select(AuditEntry)
                .where(AuditEntry.case_id == cid, AuditEntry.action == "follow_up")
                .order_by(AuditEntry.id)
            )
        ]
    assert details[-1] | {"from": None, "to": None} == {
        "reached": True,
        "satisfaction": "unsatisfied",
        "rating": "very_unsatisfied",
        "channel": "phone",
        "send_back": True,
        "from": None,
        "to": None,
    }
    assert "send_back" not in details[0] and details[0]["channel"] == "sms"

    # a three-level answer alone (clients before 1.7) is the level of the same words
    other = _handled(db, f, at(11, 30, 11), "13900000009")
    case = _follow_up(db, other, reached=True, solved=True, satisfaction="basic")
    assert case.follow_up_rating == Rating.BASICALLY_SATISFIED and f.get(other).follow_ups[0].channel == "phone"
    assert f.do(Action.APPROVE, f.reviewer, other).status == CaseState.CLOSED  # 基本满意 is not sent back


def test_the_keypad_keys_are_the_prompts_words_on_the_five_levels() -> None:
    """一次一评: the survey prompt offers three keys (满意请按1，基本满意请按2，不满意请按3); each key is the level
    of the same words, so no answer is moved up or down the scale and 非常满意 / 非常不满意 never come from it."""
    assert {key: answer.level for key, answer in KEYS.items()} == {
        "1": Rating.SATISFIED,
        "2": Rating.BASICALLY_SATISFIED,
        "3": Rating.UNSATISFIED,
    }
    question = PROMPTS["survey-question"]["zh"]
    for key, answer in KEYS.items():
        assert f"，{answer.level.zh}请按{key}" in f"，{question.split('：', 1)[1]}"
    assert [str(r) for r in Rating] == list(RATINGS)
    assert {str(r): r.zh for r in Rating} == dict(RATING_LABELS)
    assert [r for r in Rating if r.unsatisfied] == [Rating.UNSATISFIED, Rating.VERY_UNSATISFIED]


def test_the_calls_keypad_rating_neither_answers_the_follow_up_nor_sends_the_case_back(db: Db) -> None:
    """一次一评 is not 一事一评: an unsatisfied keypad answer on the case's call leaves the case due for its
    follow-up, and the reviewer may approve once the follow-up found the citizen satisfied."""
    f = Flow(db, HotlineMode.COLLABORATIVE)
    db.clock.t = at(10, 9, 9).astimezone(UTC)
    cid = intake(db, call_id="1795930000.9").id
    with db.session() as s, s.begin():
        s.add(
            SurveyResponse(
                call_id="1795930000.9", rating="unsatisfied", digit="3", level="unsatisfied", answered_at=db.clock.t
            )
        )
        s.flush()
        assert link_call(s, "1795930000.9", db.clock.t) is not None
    f.do(Action.DISPATCH, f.dispatcher, cid)
    f.do(Action.ACCEPT, f.dept1, cid)
    db.clock.t = at(10, 9, 15).astimezone(UTC)
    f.do(Action.HANDLE, f.dept1, cid)
    case = f.get(cid)
    assert [(r.rating, r.survey_id is not None) for r in case.follow_ups] == [("unsatisfied", True)]
    assert case.follow_up_due_at == at(10, 10, 17, 30) and case.follow_up_rating is None
    assert _due(db) == [cid]
    _follow_up(db, cid, reached=True, solved=True, rating="satisfied")
    assert f.do(Action.APPROVE, f.reviewer, cid).status == CaseState.CLOSED


@given(st.sampled_from(list(Rating)))
def test_each_level_keeps_a_three_level_record_of_the_same_sense(level: Rating) -> None:
    sat = level.satisfaction
    assert level.unsatisfied == (sat is Satisfaction.UNSATISFIED)
    assert Rating.of_satisfaction(sat).satisfaction is sat
    if level not in (Rating.VERY_SATISFIED, Rating.VERY_UNSATISFIED):
        assert Rating.of_satisfaction(sat) is level


SETTINGS = CaseSettings(hotlines=HOTLINES)
handled_moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 15), timezones=st.just(Z)
).map(lambda d: d.replace(second=0, microsecond=0))


@settings(max_examples=200, deadline=None)
@given(handled_moments, st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=600))
def test_due_times_end_a_working_day_count_n_and_never_come_earlier_for_a_later_handling(
    handled: datetime, days: int, later_minutes: int
) -> None:
    rules = replace(SETTINGS, follow_up_due_working_days=days)
    cal = rules.calendar
    due = due_at(rules, handled)
    local = due.astimezone(Z)
    assert due.tzinfo is UTC and local.timetz() == time(17, 30, tzinfo=Z)
    assert cal.is_working_day(local.date()) and local.date() > handled.date()
    assert cal.working_days_between(handled, due) == days
    assert due_at(rules, handled + timedelta(minutes=later_minutes)) >= due
