"""Confidential work orders through the desktop link: a department's desktop (a real websocket client of
a real link server) never receives the citizen of a confidential case, in any frame: not in its case list,
the case detail, search results, caller history, the replies to its own actions or the live pushes. The
centre sees it masked, reveals it by request (one audit entry each), and a department's reveal is refused
and audited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect

from ari_app import protocol as p
from ari_app.link import LinkServer
from ari_app.protocol import ErrorId, Msg
from schema.cases import AuditEntry, CooperatingUnit
from schema.users import Role
from tests.support.link import Desktop, case_fields
from tests.support.users import user

PHONE, CONTACT, NAME = "13812345678", "13987654321", "张三丰"
CALLER_AS_RECEIVED = "+86 138 1234 5678"
HIDDEN = (PHONE, CONTACT, NAME, CALLER_AS_RECEIVED, "+86" + PHONE[1:], "138 1234", PHONE[-8:], CONTACT[-8:])


class RawDesktop(Desktop):
    """A protocol client that keeps every frame exactly as it arrived."""

    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.frames: list[str] = []

    async def recv(self, within: float = 3.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), within)
        self.frames.append(raw if isinstance(raw, str) else raw.decode())
        msg: dict[str, Any] = json.loads(raw)
        return msg


Open = Callable[[str], Awaitable[RawDesktop]]


@pytest.fixture
def water(sessions: sessionmaker[Session]) -> int:
    with sessions() as s, s.begin():
        unit = CooperatingUnit(name="市供水公司", level=2)
        s.add(unit)
        s.flush()
        s.add(user("water", Role.DEPARTMENT, unit_id=unit.id))
        s.add(user("hu12345", Role.HOTLINE_UNIT, hotline="12345"))
        return unit.id


@pytest.fixture
async def as_user(server: LinkServer, water: int) -> AsyncIterator[Open]:
    opened: list[RawDesktop] = []

    async def open_(login: str) -> RawDesktop:
        d = RawDesktop(await connect(server.url, max_size=p.HARD_MAX_FRAME * 2))
        opened.append(d)
        assert (await d.request(Msg.HELLO, version=p.PROTOCOL_VERSION))["type"] == Msg.WELCOME
        r = await d.sign_in(login)
        assert r["type"] == Msg.SIGNED_IN, r
        return d

    yield open_
    for d in opened:
        await d.ws.close()


def leaks(d: RawDesktop) -> list[tuple[str, str]]:
    """Hidden values in the frames the desktop received, but for the echo of what it typed itself (the
    `text` of a `cases` reply, the `caller` of a `history` reply), which is checked to be exactly that."""
    out: list[tuple[str, str]] = []
    for frame in d.frames:
        msg = json.loads(frame)
        echo = {Msg.CASES: "text", Msg.HISTORY: "caller"}.get(msg.get("type"))
        if echo is not None and "re" in msg:
            msg.pop(echo, None)
        text = json.dumps(msg, ensure_ascii=False)
        out += [(value, frame) for value in HIDDEN if value in text]
    return out


async def citizen_case(agent: RawDesktop, caller: str, request: str, **more: Any) -> dict[str, Any]:
    """The reply to the agent's `create_case` of a 12345 case for dispatch, from citizen NAME (contact CONTACT)
    calling from `caller`."""
    return await agent.request(
        Msg.CREATE_CASE, **case_fields(request, caller=caller, contact=CONTACT, citizen_name=NAME, **more)
    )


def audit_rows(sessions: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


async def test_a_department_never_receives_the_citizen_of_a_confidential_case(
    as_user: Open, water: int, sessions: sessionmaker[Session]
) -> None:
    agent, dept, hu = await as_user("1001"), await as_user("water"), await as_user("hu12345")
    created = await citizen_case(agent, CALLER_AS_RECEIVED, "小区停水两天", confidential=True)
    assert created["type"] == Msg.CASE_CREATED, created
    case = created["case"]
    cid = case["id"]
    assert case["confidential"] is True and case["caller"] == "*******5678" and case["citizen_name"] == "张**"
    updated = await agent.request(Msg.DISPATCH_CASE, case_id=cid, units=[water])
    assert updated["type"] == Msg.CASE_UPDATED, updated

    pushed = await dept.push(Msg.CASE_EVENT)
    assert pushed["case_id"] == cid
    listed = await dept.request(Msg.LIST_CASES, open=True)
    assert [c["id"] for c in listed["cases"]] == [cid]
    row = listed["cases"][0]
    assert (row["caller"], row["contact"], row["citizen_name"], row["confidential"]) == (None, None, None, True)
    got = await dept.request(Msg.GET_CASE, case_id=cid)
    assert got["type"] == Msg.CASE and got["case"]["confidential"] is True
    for text in (PHONE, CONTACT, NAME, "5678"):
        found = await dept.request(Msg.SEARCH_CASES, text=text)
        assert found["cases"] == [], text
        found = await dept.request(Msg.LIST_CASES, text=text)
        assert found["cases"] == [], text
    history = await dept.request(Msg.CALLER_HISTORY, caller=PHONE)
    assert history["cases"] == []
    assert (await dept.request(Msg.ACCEPT_CASE, case_id=cid))["type"] == Msg.CASE_UPDATED
    assert (await dept.request(Msg.HANDLE_CASE, case_id=cid, result="已恢复供水"))["type"] == Msg.CASE_UPDATED
    await agent.request(Msg.SUPERVISE_CASE, case_id=cid, instructions="x")  # refused or not: no matter
    for d in (dept, hu):
        for text in (PHONE, NAME):
            assert (await d.request(Msg.SEARCH_CASES, text=text))["cases"] == []
        await d.nothing_pending()

    assert len(dept.frames) > 10 and any('"case_event"' in f for f in dept.frames)
    assert leaks(dept) == [] and leaks(hu) == []
    # the centre's own frames carry it masked, never in clear, until it asks
    centre = await agent.request(Msg.SEARCH_CASES, text=PHONE)
    assert [c["id"] for c in centre["cases"]] == [cid]
    assert leaks(agent) == []


async def test_a_reveal_answers_the_centre_with_one_audit_entry_and_refuses_a_department(
    as_user: Open, water: int, sessions: sessionmaker[Session]
) -> None:
    agent, sup, dept = await as_user("1001"), await as_user("sup"), await as_user("water")
    created = await citizen_case(agent, PHONE, "噪音扰民")
    cid = created["case"]["id"]
    assert created["case"]["confidential"] is False and created["case"]["caller"] == PHONE
    marked = await agent.request(Msg.SET_CONFIDENTIAL, case_id=cid, confidential=True)
    assert marked["type"] == Msg.CASE_UPDATED and marked["case"]["confidential"] is True
    assert marked["case"]["contact"] == "*******4321"
    await agent.request(Msg.DISPATCH_CASE, case_id=cid, units=[water])

    revealed = await sup.request(Msg.REVEAL_CONTACT, case_id=cid)
    assert revealed["type"] == Msg.CONTACT_REVEALED, revealed
    assert revealed["contact"] == {
        "case_id": cid,
        "number": created["case"]["number"],
        "confidential": True,
        "citizen_name": NAME,
        "contact": CONTACT,
        "contact_raw": CONTACT,
        "caller": PHONE,
        "caller_raw": PHONE,
    }
    (entry,) = audit_rows(sessions, "reveal_contact")
    assert (entry.login, entry.role, entry.case_id) == ("sup", "supervisor", cid)

    refused = await dept.request(Msg.REVEAL_CONTACT, case_id=cid)
    assert refused["type"] == Msg.ERROR and refused["error_id"] == ErrorId.CASE_CONTACT_CONFIDENTIAL
    (refusal,) = [e for e in audit_rows(sessions, "refused") if e.login == "water"]
    assert refusal.case_id == cid and json.loads(refusal.detail or "{}")["request"] == "reveal_contact"
    assert len(audit_rows(sessions, "reveal_contact")) == 1
    lift = await dept.request(Msg.SET_CONFIDENTIAL, case_id=cid, confidential=False, reason="x")
    assert lift["type"] == Msg.ERROR and lift["error_id"] == ErrorId.CASE_PERMISSION_DENIED
    await dept.nothing_pending()
    assert leaks(dept) == []
