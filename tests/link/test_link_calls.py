"""Routing of call events: the screen-pop reaches only the agent being rung; connected, missed, ended and the
wrap-up that follows; a desktop that reconnects mid-call is told about the call."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect

from ari_app import protocol as p
from ari_app.calls.events import CallArrived, CallConnected, CallEnded, CallQueued
from ari_app.cases import queries as cases
from ari_app.config import Agent, Config
from ari_app.link import LinkServer
from ari_app.protocol import AgentState, ErrorId
from schema.calls import CallState, EndReason
from schema.cases import AuditEntry
from schema.users import Role
from tests.support.calls import ringing
from tests.support.clock import T0, Clock
from tests.support.link import Desktop, FakeQueue, link_settings
from tests.support.users import user

CASE = {"request": "小区停水三天", "urgency": "urgent", "language": "zh", "handling": "dispatch", "category": "供水"}


async def two_agents(desktop: Any) -> tuple[Any, Any]:
    a, b = await desktop(), await desktop()
    await a.sign_in("1001")
    await b.sign_in("1002")
    for d in (a, b):
        await d.request(p.Msg.SET_STATE, state="ready")
        await d.nothing_pending()
    return a, b


async def test_screen_pop_goes_only_to_the_rung_agent_with_history(desktop: Any, server: LinkServer) -> None:
    a, b = await two_agents(desktop)
    await a.request(p.Msg.CREATE_CASE, hotline="12319", caller="13800000001", **CASE)
    await server.on_call_event(ringing())
    pop = await a.push(p.Msg.SCREEN_POP)
    assert pop["call"] == {
        "call_id": "1764378000.1",
        "phase": "ringing",
        "hotline": "12319",
        "hotline_name_zh": "城建服务热线",
        "hotline_name_en": "Urban Construction and Public Services Hotline",
        "caller": "13800000001",
        "waited_seconds": 4.5,
        "rung_at": T0.isoformat(),
        "connected_at": None,
        "callback_of": None,
    }
    assert [c["request"] for c in pop["history"]] == ["小区停水三天"]
    assert pop["resumed"] is False
    # the other agent hears nothing of the call (it is told of the new case: a case to dispatch is the centre's)
    assert [m["type"] for m in await b.nothing_pending() if m["type"] != p.Msg.AGENT_STATE] == [p.Msg.CASE_EVENT]


async def test_a_second_withheld_caller_is_not_shown_the_first_ones_case(desktop: Any, server: LinkServer) -> None:
    """Two citizens call with their numbers withheld; a case is taken on the first. The second's screen-pop,
    and a history request for any withheld form, list nothing of it."""
    a, _b = await two_agents(desktop)
    first = {**CASE, "request": "邻居噪音扰民", "address": "解放路 8 号", "citizen_name": "张女士"}
    saved = await a.request(p.Msg.CREATE_CASE, hotline="12319", caller="withheld", contact="anonymous", **first)
    assert saved["type"] == p.Msg.CASE_CREATED and saved["case"]["caller"] == "withheld", saved
    for n, caller in enumerate(["withheld", "anonymous", "<unknown>"]):
        await server.on_call_event(ringing(call_id=f"1764378100.{n}", caller=caller))
        pop = await a.push(p.Msg.SCREEN_POP)
        assert pop["history"] == [], pop
        assert "张女士" not in str(pop) and "解放路" not in str(pop) and "噪音" not in str(pop)
        await server.on_call_event(
            CallEnded(f"1764378100.{n}", T0, CallState.ABANDONED, EndReason.ABANDONED, None, None)
        )
        await a.nothing_pending()
    for caller in ("withheld", "anonymous", "Anonymous", "unknown", "<unknown>", "restricted", "private", ""):
        h = await a.request(p.Msg.CALLER_HISTORY, caller=caller)
        assert h["type"] == p.Msg.HISTORY and h["cases"] == [], (caller, h)


async def test_interface_is_used_when_the_tracker_has_no_agent_id(desktop: Any, server: LinkServer) -> None:
    a, b = await two_agents(desktop)
    await server.on_call_event(ringing(agent=None, interface="PJSIP/1002"))
    assert (await b.push(p.Msg.SCREEN_POP))["call"]["caller"] == "13800000001"
    await server.on_call_event(ringing("x.2", agent="PJSIP/9999", interface="PJSIP/9999"))  # no such agent
    assert [m for m in await a.nothing_pending() if m["type"] != p.Msg.AGENT_STATE] == []


async def test_answered_call_then_wrapup_then_ready(desktop: Any, server: LinkServer, queue: FakeQueue) -> None:
    a, b = await two_agents(desktop)
    await server.on_call_event(ringing())
    await a.push(p.Msg.SCREEN_POP)
    await server.on_call_event(CallConnected("1764378000.1", T0, "1001", "PJSIP/1001", 6.0))
    assert (await a.push(p.Msg.CALL_CONNECTED))["wait_seconds"] == 6.0
    assert (await a.push(p.Msg.AGENT_STATE))["state"] == "on_call"
    assert (await a.request(p.Msg.SET_STATE, state="paused"))["error_id"] == ErrorId.STATE_FORBIDDEN
    await server.on_call_event(CallEnded("1764378000.1", T0, CallState.ENDED, EndReason.CALLER_HANGUP, "1001", 60.0))
    ended = await a.push(p.Msg.CALL_ENDED)
    assert (ended["state"], ended["reason"], ended["talk_seconds"]) == ("ended", "caller_hangup", 60.0)
    wrap = await a.push(p.Msg.AGENT_STATE)
    assert wrap["state"] == "wrapup" and 0 < wrap["wrapup_remaining"] <= 0.2
    assert (await a.push(p.Msg.AGENT_STATE))["state"] == "ready"  # the timer ends the wrap-up
    assert ("pause", "hotline", "PJSIP/1001", True, "wrapup") in queue.calls
    assert queue.calls[-1] == ("pause", "hotline", "PJSIP/1001", False, "")
    assert [m for m in await b.nothing_pending() if m["type"] != p.Msg.AGENT_STATE] == []


async def test_pause_during_wrapup_stops_the_timer(desktop: Any, server: LinkServer, queue: FakeQueue) -> None:
    server.agents.wrapup_seconds = 30
    a, _ = await two_agents(desktop)
    await server.on_call_event(ringing())
    await server.on_call_event(CallConnected("1764378000.1", T0, "1001", "PJSIP/1001", 6.0))
    await server.on_call_event(CallEnded("1764378000.1", T0, CallState.ENDED, EndReason.AGENT_HANGUP, "1001", 9.0))
    assert server.state_of("1001") is AgentState.WRAPUP
    r = await a.request(p.Msg.SET_STATE, state="paused", reason="meal")
    assert (r["state"], r["reason"], r["wrapup_remaining"]) == ("paused", "meal", None)
    assert server.agents.sessions["1001"].timer is None


async def test_unanswered_ring_and_answer_elsewhere_send_call_missed(desktop: Any, server: LinkServer) -> None:
    a, b = await two_agents(desktop)
    await server.on_call_event(ringing("c1", "1001"))
    await a.push(p.Msg.SCREEN_POP)
    await server.on_call_event(CallQueued("c1", T0, "hotline", 0))  # AgentRingNoAnswer: back to the queue
    assert (await a.push(p.Msg.CALL_MISSED))["reason"] == "not_answered"
    # ringall: both rung, 1002 answers, 1001 is told
    await server.on_call_event(ringing("c2", "1001"))
    await server.on_call_event(ringing("c2", "1002"))
    await server.on_call_event(CallConnected("c2", T0, "1002", "PJSIP/1002", 3.0))
    assert (await a.push(p.Msg.CALL_MISSED)) == {"type": "call_missed", "call_id": "c2", "reason": "answered"}
    assert (await b.push(p.Msg.CALL_CONNECTED))["call_id"] == "c2"
    assert server.agents.sessions["1001"].call is None


async def test_caller_hangs_up_while_ringing(desktop: Any, server: LinkServer) -> None:
    a, _ = await two_agents(desktop)
    await server.on_call_event(ringing("c3"))
    await server.on_call_event(CallEnded("c3", T0, CallState.ABANDONED, EndReason.ABANDONED, "1001", None))
    ended = await a.push(p.Msg.CALL_ENDED)
    assert ended["state"] == "abandoned"
    assert server.state_of("1001") is AgentState.READY


async def test_reconnecting_desktop_gets_the_call_in_progress(desktop: Any, server: LinkServer) -> None:
    a = await desktop()
    token = (await a.sign_in())["token"]
    await a.ws.close()
    await server.on_call_event(ringing("c4"))  # rung while the desktop was away
    await server.on_call_event(CallConnected("c4", T0 + timedelta(seconds=3), "1001", "PJSIP/1001", 7.5))
    a2 = await desktop()
    r = await a2.request(p.Msg.RESUME, token=token)
    assert r["state"]["state"] == "on_call"
    pop = await a2.push(p.Msg.SCREEN_POP)
    assert pop["resumed"] is True
    assert (pop["call"]["call_id"], pop["call"]["phase"], pop["call"]["hotline"]) == ("c4", "connected", "12319")


async def test_case_is_linked_to_the_call_and_only_its_agent_may_link_it(desktop: Any, server: LinkServer) -> None:
    a, b = await two_agents(desktop)
    await server.on_call_event(ringing("c5"))
    await server.on_call_event(CallConnected("c5", T0, "1001", "PJSIP/1001", 7.5))
    r = await b.request(p.Msg.CREATE_CASE, call_id="c5", hotline="12319", caller="13800000001", **CASE)
    assert r["error_id"] == ErrorId.CALL_NOT_YOURS
    r = await a.request(p.Msg.CREATE_CASE, call_id="c5", hotline="12319", caller="13800000001", **CASE)
    assert r["type"] == p.Msg.CASE_CREATED
    case = r["case"]
    assert (case["hotline"], case["caller"], case["call_id"], case["category"]) == (
        "12319",
        "13800000001",
        "c5",
        "供水",
    )
    assert case["number"].startswith("12319-") and case["created_by"] == "1001"
    # after the call ended, the agent may still save the case; the other agent still may not
    await server.on_call_event(CallEnded("c5", T0, CallState.ENDED, EndReason.CALLER_HANGUP, "1001", 30.0))
    r = await b.request(p.Msg.CREATE_CASE, call_id="c5", hotline="12319", **CASE)
    assert r["error_id"] == ErrorId.CALL_NOT_YOURS
    assert (await a.request(p.Msg.CREATE_CASE, call_id="c5", hotline="12319", **CASE))["type"] == p.Msg.CASE_CREATED


async def test_case_refusals_carry_the_workflow_error_ids(desktop: Any, server: LinkServer) -> None:
    a = await desktop()
    await a.sign_in()
    r = await a.request(p.Msg.CREATE_CASE, hotline="99999", **{**CASE, "category": None})
    assert r["error_id"] == ErrorId.CASE_UNKNOWN_HOTLINE
    r = await a.request(p.Msg.CREATE_CASE, hotline="12319", **{**CASE, "category": "不存在"})
    assert r["error_id"] == ErrorId.CASE_INVALID_INPUT and r["detail"]["field"] == "category"
    r = await a.request(p.Msg.CREATE_CASE, hotline="12319", **{**CASE, "request": "   "})
    assert r["error_id"] == ErrorId.CASE_INVALID_INPUT
    for login in ("qa", "dept"):
        d = await desktop()
        await d.sign_in(login)
        r = await d.request(p.Msg.CREATE_CASE, hotline="12319", **CASE)
        assert r["error_id"] == ErrorId.CASE_PERMISSION_DENIED, login


async def test_history_and_my_cases_search(desktop: Any, server: LinkServer) -> None:
    a, b = await two_agents(desktop)
    for i in range(3):
        await a.request(p.Msg.CREATE_CASE, hotline="12319", caller="13900000000", **{**CASE, "request": f"第{i}次来电"})
    await b.request(p.Msg.CREATE_CASE, hotline="12345", caller="13900000000", **{**CASE, "category": None})
    h = await a.request(p.Msg.CALLER_HISTORY, caller="13900000000", limit=2)
    assert h["type"] == p.Msg.HISTORY and len(h["cases"]) == 2
    assert h["cases"][0]["request"] == "小区停水三天"  # most recent first
    mine = await a.request(p.Msg.SEARCH_CASES, mine=True)
    assert {c["created_by"] for c in mine["cases"]} == {"1001"} and len(mine["cases"]) == 3
    found = await a.request(p.Msg.SEARCH_CASES, text="第1次")
    assert [c["request"] for c in found["cases"]] == ["第1次来电"]
    d = await desktop()
    await d.sign_in("dept")  # a department sees only cases dispatched to it
    assert (await d.request(p.Msg.SEARCH_CASES))["cases"] == []


async def test_fifty_simultaneous_pops_each_reach_only_their_agent(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock
) -> None:
    many = replace(cfg, agents=tuple(Agent(str(2000 + i), f"agent {i}", str(2000 + i), ("zh",)) for i in range(50)))
    with sessions() as s, s.begin():
        for a in many.agents:
            s.add(user(a.id, Role.AGENT, display_name=a.name))
    link = LinkServer(many, sessions, queue, clock=clock, settings=link_settings())
    await link.start()
    try:
        desks = []
        for a in many.agents:
            d = Desktop(await connect(link.url))
            await d.request(p.Msg.HELLO, version="1.0")
            await d.sign_in(a.id)
            desks.append(d)
        events = [ringing(f"m{i}", a.id, caller=f"1390000{i:04d}") for i, a in enumerate(many.agents)]
        await asyncio.gather(*(link.on_call_event(e) for e in events))
        popped = await asyncio.gather(*(d.push(p.Msg.SCREEN_POP) for d in desks))
        assert [pop["call"]["call_id"] for pop in popped] == [f"m{i}" for i in range(50)]
        for d in desks:
            assert not [m for m in await d.nothing_pending() if m["type"] == p.Msg.SCREEN_POP]
            await d.ws.close()
    finally:
        await link.stop()


async def test_callback_pop_says_which_call_asked_for_it(desktop: Any, server: LinkServer) -> None:
    a, _b = await two_agents(desktop)
    await server.on_call_event(ringing("1764378100.5", callback_of="1764378000.9"))
    pop = await a.push(p.Msg.SCREEN_POP)
    assert pop["call"]["callback_of"] == "1764378000.9" and pop["call"]["hotline"] == "12319"


async def test_the_history_is_read_when_the_call_arrives_and_audited_after_the_pop(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    a, _b = await two_agents(desktop)
    await a.request(p.Msg.CREATE_CASE, hotline="12319", caller="13800000001", **CASE)
    await server.on_call_event(CallArrived("1764378000.1", T0, "12319", "13800000001", "12319"))
    await server.history.wait("1764378000.1", "13800000001")
    reads = server.history.batches
    await server.on_call_event(ringing())
    pop = await a.push(p.Msg.SCREEN_POP)
    assert [c["request"] for c in pop["history"]] == ["小区停水三天"]
    assert server.history.batches == reads  # nothing read at the moment of the pop
    await server.audit.flush()
    with sessions() as s:
        (row,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "caller_history")).all()
    assert (row.login, row.role) == ("1001", "agent")
    assert json.loads(row.detail or "{}") == {
        "source": "screen_pop",
        "call_id": "1764378000.1",
        "caller": "13800000001",
        "found": 1,
    }


async def test_a_pop_waiting_for_its_history_delays_no_other_agent_and_keeps_its_own_order(
    desktop: Any, server: LinkServer, monkeypatch: Any
) -> None:
    """Agent 1001's caller history is slow to read (a database stall); 1002's pop, read when its call
    arrived, goes out at once. 1001's call is answered meanwhile: its desktop still gets the pop first, then
    the call connected, then its state."""
    a, b = await two_agents(desktop)
    stall = threading.Event()
    original = cases.pop_histories

    def slow(sessions: Any, callers: set[str], limit: int) -> Any:
        if "13800000001" in callers:
            stall.wait(5)
        return original(sessions, callers, limit)

    monkeypatch.setattr(cases, "pop_histories", slow)
    await server.on_call_event(CallArrived("fast", T0, "12319", "13900000002", "12319"))
    assert await server.history.wait("fast", "13900000002") == []
    await server.on_call_event(ringing("slow", "1001", caller="13800000001"))
    await server.on_call_event(ringing("fast", "1002", caller="13900000002"))
    await server.on_call_event(CallConnected("slow", T0, "1001", "PJSIP/1001", 2.0))
    assert (await b.push(p.Msg.SCREEN_POP))["call"]["call_id"] == "fast"
    assert await a.nothing_pending() == []  # held behind its pop, in order
    stall.set()
    pop = await a.push(p.Msg.SCREEN_POP)
    assert pop["call"]["call_id"] == "slow" and pop["call"]["phase"] == "connected"
    after = await a.nothing_pending()
    assert [m["type"] for m in after] == [p.Msg.CALL_CONNECTED, p.Msg.AGENT_STATE]
    assert after[1]["state"] == "on_call"
