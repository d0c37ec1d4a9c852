"""Cases store numbers in their canonical form beside the form received or typed, so a citizen calling or
typed in any form finds the same history; a contact that is no phone number is refused; the exchange sends
the citizen's number in E.164."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from ari_app.calls.numbers import NumberPlan, NumberRules
from ari_app.cases.errors import InvalidInput
from ari_app.cases.lookups import caller_history, search_cases
from ari_app.config import HotlineMode
from schema.cases import Case, ExchangeMessage
from tests.support.cases import Db, intake
from tests.support.flows import Flow


@pytest.fixture
def urumqi(db: Db, monkeypatch: pytest.MonkeyPatch) -> Db:
    """The centre's rules as config.yaml has them: region CN, area code 991."""
    monkeypatch.setattr(db, "settings", replace(db.settings, numbers=NumberPlan(NumberRules(area_code="991"))))
    return db


def _history(db: Db, number: str, actor: str = "agent") -> list[int]:
    with db.session() as s, s.begin():
        return [c.id for c in caller_history(s, db.world.actors[actor], number)]


def test_a_citizen_in_any_form_finds_the_same_history(urumqi: Db) -> None:
    db = urumqi
    by_call = intake(db, caller="+8613812345678", contact=None)
    assert (by_call.caller, by_call.caller_raw) == ("13812345678", "+8613812345678")
    db.clock.advance(minutes=5)
    typed = intake(db, caller=None, contact="+86 138 1234 5678")
    assert (typed.contact, typed.contact_raw) == ("13812345678", "+86 138 1234 5678")
    for form in ("13812345678", "+8613812345678", "008613812345678", "8613812345678", "138-1234-5678"):
        assert _history(db, form) == [typed.id, by_call.id], form
    assert _history(db, "13812345679") == []


def test_a_local_landline_without_area_code_is_the_centres_area(urumqi: Db) -> None:
    db = urumqi
    case = intake(db, caller="09914567890", contact="4567890")
    assert (case.caller, case.contact, case.contact_raw) == ("09914567890", "09914567890", "4567890")
    assert _history(db, "+869914567890") == [case.id]
    assert _history(db, "4567890") == [case.id]
    with db.session() as s, s.begin():
        assert [c.id for c in search_cases(s, db.world.actors["agent"], "+86 991 456 7890")] == [case.id]


@pytest.mark.parametrize(
    ("contact", "reason"),
    [("call after 5pm", "only digits"), ("+86+138", "a + may only stand"), ("+99912345", "country")],
)
def test_a_contact_that_is_not_a_phone_number_is_refused(db: Db, contact: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        intake(db, contact=contact)
    assert info.value.error_id == "case_invalid_input" and reason in str(info.value) and "contact" in str(info.value)
    with db.session() as s:
        assert s.scalars(select(Case)).all() == []


def _request(db: Db, **kw: Any) -> dict[str, Any]:
    flow = Flow(db, HotlineMode.EXCHANGE)
    flow.create(**kw)
    with db.session() as s:
        msg = s.scalars(select(ExchangeMessage).order_by(ExchangeMessage.id.desc())).first()
        assert msg is not None
        body: dict[str, Any] = json.loads(msg.payload)
        return body


def test_the_exchange_sends_the_citizens_number_in_e164(urumqi: Db) -> None:
    assert _request(urumqi, caller="13900000000")["phone"] == "+8613900000000"
    assert _request(urumqi, caller="4567890")["phone"] == "+869914567890"
    assert "phone" not in _request(urumqi, caller="anonymous")  # withheld: no number to send
