"""回访 through the desktop link (protocol 1.7): `follow_ups_due` with its due times, pages and overdue
filter; `follow_up_case` with the five-level `rating` and the `channel`; an unsatisfied citizen's case
refused for approval with `case_follow_up_unsatisfied` (audited, nothing changed) and sent back instead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases.calendar import WorkCalendar
from ari_app.protocol import ErrorId, Msg
from schema.cases import AuditEntry, CooperatingUnit
from schema.users import Role
from tests.support.link import Desktop, case_fields, signed_in_once
from tests.support.users import user

Open = Callable[[str], Awaitable[Desktop]]
Z = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def water(sessions: sessionmaker[Session]) -> int:
    with sessions() as s, s.begin():
        unit = CooperatingUnit(name="市供水公司", level=2)
        other = CooperatingUnit(name="市政工程处", level=2)
        s.add_all([unit, other])
        s.flush()
        s.add(user("water", Role.DEPARTMENT, unit_id=unit.id))
        s.add(user("roads", Role.DEPARTMENT, unit_id=other.id))
        return unit.id


@pytest.fixture
async def as_user(desktop: Any, water: int) -> Open:
    return signed_in_once(desktop)


async def ok(d: Desktop, kind: str, **fields: Any) -> dict[str, Any]:
    r = await d.request(kind, **fields)
    assert r["type"] in (Msg.CASE_UPDATED, Msg.CASE_CREATED), r
    case: dict[str, Any] = r["case"]
    return case


async def due(d: Desktop, **fields: Any) -> list[dict[str, Any]]:
    r = await d.request(Msg.FOLLOW_UPS_DUE, **fields)
    assert r["type"] == Msg.CASES and r["follow_ups_due"] is True, r
    assert (r["offset"], r["overdue"]) == (fields.get("offset", 0), fields.get("overdue", False))
    cases: list[dict[str, Any]] = r["cases"]
    return cases


async def handled_case(agent: Desktop, unit: Desktop, water: int, request: str) -> int:
    created = await ok(agent, Msg.CREATE_CASE, **case_fields(request))
    cid = int(created["id"])
    await ok(agent, Msg.DISPATCH_CASE, case_id=cid, units=[water])
    await ok(unit, Msg.ACCEPT_CASE, case_id=cid)
    await ok(unit, Msg.HANDLE_CASE, case_id=cid, result="已处理")
    return cid


async def test_the_due_list_and_the_five_level_follow_up_over_the_link(
    as_user: Open, water: int, sessions: sessionmaker[Session]
) -> None:
    agent, sup, unit, roads = (
        await as_user("1001"),
        await as_user("sup"),
        await as_user("water"),
        await as_user("roads"),
    )
    first = await handled_case(agent, unit, water, "小区停水两天")
    second = await handled_case(agent, unit, water, "路灯不亮")

    rows = await due(agent)
    assert [c["id"] for c in rows] == [first, second]
    cal = WorkCalendar()
    for row in rows:  # the server's own clock: due at the end of a later working day, not yet overdue
        moment = datetime.fromisoformat(row["follow_up_due_at"]).astimezone(Z)
        assert moment.timetz() == time(17, 30, tzinfo=Z) and cal.is_working_day(moment.date())
        assert row["follow_up_overdue"] is False and row["send_back_required"] is False
        assert row["follow_up_rating"] is None
    assert [c["id"] for c in await due(agent, limit=1, offset=1)] == [second]
    assert await due(agent, overdue=True) == []
    assert [c["id"] for c in await due(unit)] == [first, second]
    assert await due(roads) == []

    for bad in ({"rating": "great"}, {"rating": "satisfied", "channel": "fax"}):
        r = await agent.request(Msg.FOLLOW_UP_CASE, case_id=first, reached=True, solved=True, **bad)
        assert r["type"] == Msg.ERROR and r["error_id"] == ErrorId.INVALID_FIELD, r
    r = await agent.request(Msg.FOLLOW_UP_CASE, case_id=first, reached=True, solved=True)
    assert r["error_id"] == ErrorId.CASE_INVALID_INPUT and r["detail"]["field"] == "rating", r

    case = await ok(
        agent, Msg.FOLLOW_UP_CASE, case_id=first, reached=True, solved=False, rating="very_unsatisfied", channel="sms"
    )
    assert case["status"] == "followed_up" and case["follow_up_due_at"] is None
    assert (case["follow_up_rating"], case["send_back_required"]) == ("very_unsatisfied", True)
    (fu,) = case["follow_ups"]
    assert (fu["rating"], fu["satisfaction"], fu["channel"]) == ("very_unsatisfied", "unsatisfied", "sms")
    assert [c["id"] for c in await due(agent)] == [second]

    r = await sup.request(Msg.GET_CASE, case_id=first)
    before = r["case"]
    assert "approve" not in before["allowed_actions"] and "send_back" in before["allowed_actions"]
    r = await sup.request(Msg.REVIEW_CASE, case_id=first, approved=True)
    assert r["type"] == Msg.ERROR and r["error_id"] == ErrorId.CASE_FOLLOW_UP_UNSATISFIED, r
    assert r["detail"]["rating"] == "very_unsatisfied"
    assert (await sup.request(Msg.GET_CASE, case_id=first))["case"] == before
    with sessions() as s:
        refusals = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "refused", AuditEntry.case_id == first)
        )
        assert sum("case_follow_up_unsatisfied" in (d or "") for d in refusals) == 1
    case = await ok(sup, Msg.REVIEW_CASE, case_id=first, approved=False, reason="市民非常不满意，重新办理")
    assert case["status"] == "in_progress" and case["send_back_required"] is False

    # a client before 1.7 sends the three-level satisfaction: read as the level of the same words
    case = await ok(agent, Msg.FOLLOW_UP_CASE, case_id=second, reached=True, solved=True, satisfaction="basic")
    assert case["follow_up_rating"] == "basically_satisfied" and case["follow_ups"][0]["channel"] == "phone"
    assert (await ok(sup, Msg.REVIEW_CASE, case_id=second, approved=True))["status"] == "closed"
