"""漏接回拨 through the desktop link (protocol 1.8): a missed call reaches every signed-in agent and supervisor
as a `missed_call` push (not QA); one agent lists and claims it, the other is refused while the claim holds
and sees every change live; attempts close it; each read, change and refusal is in the audit trail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.bus import EventBus
from ari_app.link import LinkServer
from ari_app.missed import MissedCalls, MissedSettings
from ari_app.protocol import ErrorId, Msg
from schema.cases import AuditEntry
from tests.support.clock import Clock
from tests.support.link import Desktop
from tests.support.missed import store_answered, store_miss


async def test_list_claim_attempt_and_the_live_push_to_a_second_agent(
    server: LinkServer, desktop: object, sessions: sessionmaker[Session], clock: Clock, case_bus: EventBus
) -> None:
    settings = MissedSettings()
    missed = MissedCalls(sessions, settings, case_bus.publish, clock)
    people: dict[str, Desktop] = {}
    for login in ("1001", "1002", "sup", "qa"):
        d = await desktop()  # type: ignore[operator]
        assert (await d.sign_in(login))["type"] == Msg.SIGNED_IN
        people[login] = d
    a, b, sup, qa = people["1001"], people["1002"], people["sup"], people["qa"]

    await missed.on_event(store_miss(sessions, "9.1", "13900000001", clock()))
    await missed.on_event(store_miss(sessions, "9.2", "13900000002", clock() + timedelta(minutes=1)))
    for d in (a, b, sup):
        first, second = await d.push(Msg.MISSED_CALL), await d.push(Msg.MISSED_CALL)
        assert (first["change"], first["task"]["caller"]) == ("missed", "13900000001")
        assert (second["change"], second["task"]["caller"]) == ("missed", "13900000002")
    assert [m for m in await qa.nothing_pending() if m["type"] == Msg.MISSED_CALL] == []

    listed = await a.request(Msg.LIST_MISSED_CALLS, filter="open", limit=1)
    assert listed["type"] == Msg.MISSED_CALLS and listed["total"] == 2 and listed["offset"] == 0
    (task,) = listed["tasks"]
    assert task["caller"] == "13900000001" and task["status"] == "open" and task["claimed_by"] is None
    assert task["due_at"] == (clock() + timedelta(minutes=30)).isoformat()  # 17:00 in Shanghai: in hours
    page = await a.request(Msg.LIST_MISSED_CALLS, limit=1, offset=1)
    assert [t["caller"] for t in page["tasks"]] == ["13900000002"]

    claimed = await a.request(Msg.CLAIM_MISSED_CALL, task_id=task["id"])
    assert claimed["type"] == Msg.MISSED_CALL and claimed["task"]["claimed_by"] == "1001"
    pushed = await b.push(Msg.MISSED_CALL)
    assert (pushed["change"], pushed["task"]["claimed_by"]) == ("claimed", "1001")

    refused = await b.request(Msg.CLAIM_MISSED_CALL, task_id=task["id"])
    assert refused["error_id"] == ErrorId.MISSED_CALL_CLAIMED and refused["detail"]["claimed_by"] == "1001"
    refused = await b.request(Msg.MISSED_CALL_ATTEMPT, task_id=task["id"], outcome="reached")
    assert refused["error_id"] == ErrorId.MISSED_CALL_CLAIMED

    tried = await a.request(Msg.MISSED_CALL_ATTEMPT, task_id=task["id"], outcome="not_reached", notes="无人接听")
    assert tried["change"] == "attempt" and tried["task"]["attempts"] == 1 and tried["task"]["claimed_by"] is None
    pushed = await b.push(Msg.MISSED_CALL)
    assert (pushed["change"], pushed["task"]["last_outcome"]) == ("attempt", "not_reached")

    done = await b.request(Msg.MISSED_CALL_ATTEMPT, task_id=task["id"], outcome="reached")
    assert done["change"] == "closed" and done["task"]["status"] == "called_back"
    own = [await a.push(Msg.MISSED_CALL) for _ in range(3)]  # the requester's desktops are told too
    assert [(m["change"], m["task"]["status"]) for m in own] == [
        ("claimed", "open"),
        ("attempt", "open"),
        ("closed", "called_back"),
    ]
    again = await a.request(Msg.MISSED_CALL_ATTEMPT, task_id=task["id"], outcome="reached")
    assert again["error_id"] == ErrorId.MISSED_CALL_CLOSED
    unknown = await a.request(Msg.CLAIM_MISSED_CALL, task_id=999)
    assert unknown["error_id"] == ErrorId.MISSED_CALL_NOT_FOUND

    # the citizen of the other task calls again and an agent answers: closed for everyone, live
    await missed.on_event(store_answered(sessions, "9.3", "13900000002", clock() + timedelta(minutes=3)))
    pushed = await sup.push(Msg.MISSED_CALL)
    while pushed["task"]["caller"] != "13900000002":  # the supervisor also had the earlier changes
        pushed = await sup.push(Msg.MISSED_CALL)
    assert (pushed["change"], pushed["task"]["status"]) == ("closed", "closed_by_contact")
    assert pushed["task"]["closed_by_call"] == "9.3"
    everything = await sup.request(Msg.LIST_MISSED_CALLS, filter="all")
    assert {t["caller"]: t["status"] for t in everything["tasks"]} == {
        "13900000001": "called_back",
        "13900000002": "closed_by_contact",
    }
    assert (await sup.request(Msg.LIST_MISSED_CALLS))["tasks"] == []

    no = await qa.request(Msg.LIST_MISSED_CALLS)
    assert no["error_id"] == ErrorId.MISSED_CALL_PERMISSION_DENIED

    with sessions() as s:
        trail = [(r.login, r.action) for r in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]

    expected = [
        ("1001", "missed_calls_listed"),
        ("1001", "missed_calls_listed"),
        ("1001", "missed_call_claimed"),
        ("1002", "refused"),
        ("1002", "refused"),
        ("1001", "missed_call_attempt"),
        ("1002", "missed_call_attempt"),
        ("1001", "refused"),
        ("1001", "refused"),
        ("sup", "missed_calls_listed"),
        ("sup", "missed_calls_listed"),
        ("qa", "refused"),
    ]
    # each desk request's row is committed before its reply (a refusal's in its own transaction)
    assert [(who, what) for who, what in trail if who != "system" and ("missed" in what or what == "refused")] == (
        expected
    )
