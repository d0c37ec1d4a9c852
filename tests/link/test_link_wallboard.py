"""The supervisor's wallboard over the link: subscription and roles, snapshots pushed on call events, agent
state changes and health changes, coalescing of a storm, the slow tick; supervisor actions (pause / resume,
listen / whisper / barge) with their refusals, each written to the audit log."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app import protocol as p
from ari_app.calls.events import CallArrived, CallConnected, CallEnded, CallRinging
from ari_app.calls.model import Call
from ari_app.calls.store import SqlCallStore
from ari_app.health import Health, HealthReport
from ari_app.link import LinkServer
from ari_app.protocol import AgentState, ErrorId
from ari_app.supervision.desk import WallboardSettings
from ari_app.supervision.spy import SpyError
from schema.calls import CallState, EndReason
from schema.cases import AuditEntry
from tests.support.clock import T0, Clock
from tests.support.link import Desktop, FakeQueue
from tests.support.waiting import until


@dataclass
class FakeSpy:
    calls: list[tuple[str, str, str, str]] = field(default_factory=list)
    error: SpyError | None = None

    async def spy(self, call_id: str, mode: str, phone: str, supervisor: str) -> str:
        if self.error is not None:
            raise self.error
        self.calls.append((call_id, mode, phone, supervisor))
        return f"PJSIP/{phone}"


async def supervisor(desktop: Any, login: str = "sup") -> Desktop:
    d: Desktop = await desktop()
    assert (await d.sign_in(login))["type"] == p.Msg.SIGNED_IN
    return d


async def next_board(d: Desktop, within: float = 3.0) -> dict[str, Any]:
    return await d.push(p.Msg.WALLBOARD, within)


def hotline(board: dict[str, Any], number: str) -> dict[str, Any]:
    return next(h for h in board["hotlines"] if h["hotline"] == number)


def agent(board: dict[str, Any], login: str) -> dict[str, Any]:
    return next(a for a in board["agents"] if a["id"] == login)


def audits(sessions: sessionmaker[Session]) -> list[tuple[str, str, dict[str, Any]]]:
    with sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action.like("supervise_%")).order_by(AuditEntry.id))
        return [(r.login, r.action, json.loads(r.detail or "{}")) for r in rows]


def store_call(sessions: sessionmaker[Session], cid: str, hotline_: str, state: CallState, **kw: Any) -> Call:
    call = Call(id=cid, arrived_at=kw.pop("arrived_at", T0 - timedelta(seconds=20)), hotline=hotline_, caller="139")
    for k, v in kw.items():
        setattr(call, k, v)
    call.state = state
    SqlCallStore(sessions).save(call)
    return call


async def test_only_supervisors_and_admins_may_subscribe_or_supervise(desktop: Any, server: LinkServer) -> None:
    for login in ("1001", "qa", "dept"):
        d = await desktop()
        await d.sign_in(login)
        r = await d.request(p.Msg.WALLBOARD_SUBSCRIBE)
        assert r["error_id"] == ErrorId.NOT_A_SUPERVISOR, login
        r = await d.request(p.Msg.SUPERVISE_AGENT, agent_id="1002", action="listen", phone="1001")
        assert r["error_id"] == ErrorId.NOT_A_SUPERVISOR, login
    d = await desktop()
    assert (await d.request(p.Msg.WALLBOARD_SUBSCRIBE))["error_id"] == ErrorId.NOT_SIGNED_IN
    assert not server.supervisor.subscribers
    refused = [(login, action, d["outcome"]) for login, action, d in audits(server.sessions)]
    assert refused == [(login, "supervise_listen", "not_a_supervisor") for login in ("1001", "qa", "dept")]
    await server.audit.flush()
    with server.sessions() as s:  # a refused subscription is audited as a refusal; a refused action once
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "refused").order_by(AuditEntry.id)).all()
        trail = [(r.login, json.loads(r.detail or "{}")) for r in rows]
    assert [(who, d["request"], d["error_id"]) for who, d in trail] == [
        *((login, "wallboard_subscribe", "not_a_supervisor") for login in ("1001", "qa", "dept")),
        ("", "wallboard_subscribe", "not_signed_in"),  # written by the link itself
    ]


async def test_subscribe_replies_with_a_snapshot_of_figures_agents_and_health(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    store_call(sessions, "c.1", "12319", CallState.QUEUED)
    store_call(
        sessions,
        "c.2",
        "12319",
        CallState.ENDED,
        arrived_at=T0 - timedelta(minutes=40),
        answered_at=T0 - timedelta(minutes=40) + timedelta(seconds=5),
        ended_at=T0 - timedelta(minutes=38),
        agent="1001",
    )
    a = await desktop()
    await a.sign_in("1001")
    s = await supervisor(desktop)
    board = await s.request(p.Msg.WALLBOARD_SUBSCRIBE)
    assert board["type"] == p.Msg.WALLBOARD and board["re"]
    assert board["threshold_seconds"] == 15 and board["service_level_target"] == 80.0
    assert board["queue"] == "hotline" and board["at"] == T0.isoformat()
    h = hotline(board, "12319")
    assert (h["waiting"], h["longest_wait_seconds"], h["answered"], h["service_level"]) == (1, 20.0, 1, 100.0)
    assert h["name_zh"] == "城建服务热线"
    assert [x["hotline"] for x in board["hotlines"]] == ["12345", "12319", "12358", "12350"]
    assert sum(board["calls_per_15_minutes"]["12319"]) == 2 and len(board["calls_per_15_minutes"]["12319"]) == 96
    a1 = agent(board, "1001")
    assert (a1["state"], a1["name"], a1["desktops"], a1["answered"]) == ("paused", "张敏", 1, 1)
    assert agent(board, "1002")["state"] == "signed_out"
    assert board["agent_states"]["paused"] == 1 and board["agent_states"]["signed_out"] == 1
    assert board["health"]["state"] == "unknown"
    assert "sup" not in {x["id"] for x in board["agents"]}  # people without a phone are not agents


async def test_call_events_agent_states_and_health_are_pushed(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session], clock: Clock
) -> None:
    server.supervisor.settings = replace(server.supervisor.settings, min_interval=0.05, tick_seconds=30)
    s = await supervisor(desktop)
    await s.request(p.Msg.WALLBOARD_SUBSCRIBE)
    store_call(sessions, "c.1", "12345", CallState.QUEUED)
    await server.on_call_event(CallArrived("c.1", T0, "12345", "139", "12345"))
    assert hotline(await next_board(s), "12345")["waiting"] == 1

    a = await desktop()
    await a.sign_in("1001")
    await a.request(p.Msg.SET_STATE, state="ready")
    while agent(board := await next_board(s), "1001")["state"] != "ready":
        pass
    assert board["agent_states"]["ready"] == 1

    store_call(sessions, "c.1", "12345", CallState.CONNECTED, answered_at=T0, agent="1001")
    await server.on_call_event(CallRinging("c.1", T0, "1001", "PJSIP/1001", "12345", "139", 20.0))
    await server.on_call_event(CallConnected("c.1", T0, "1001", "PJSIP/1001", 20.0))
    while agent(board := await next_board(s), "1001")["state"] != "on_call":
        pass
    assert agent(board, "1001")["call"] == {"call_id": "c.1", "phase": "connected", "hotline": "12345", "caller": "139"}
    assert hotline(board, "12345")["talking"] == 1

    report = HealthReport(Health.DEGRADED, T0, 3.0, None, 2, 120, ("SIP OPTIONS unanswered",))
    server.supervisor.on_health(report)
    while (board := await next_board(s))["health"]["state"] != "degraded":
        pass
    assert board["health"]["problems"] == ["SIP OPTIONS unanswered"]


async def test_a_storm_of_events_is_coalesced_and_the_last_snapshot_is_complete(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    server.supervisor.settings = replace(server.supervisor.settings, min_interval=0.3, tick_seconds=30)
    s = await supervisor(desktop)
    await s.request(p.Msg.WALLBOARD_SUBSCRIBE)
    before = server.supervisor.snapshots
    started = time.monotonic()
    for i in range(200):
        store_call(sessions, f"storm.{i}", "12350", CallState.QUEUED)
        await server.on_call_event(CallArrived(f"storm.{i}", T0, "12350", "139", "12350"))
    await asyncio.sleep(1.0)  # the quiet spell after the storm: what was pushed meanwhile is measured
    pushed = [m for m in await s.nothing_pending() if m["type"] == p.Msg.WALLBOARD]
    at_most = (time.monotonic() - started) / 0.3 + 2  # one per min_interval, and the first at once
    assert 1 <= len(pushed) <= at_most < 200, (len(pushed), at_most)
    assert server.supervisor.snapshots - before == len(pushed)
    assert hotline(pushed[-1], "12350")["waiting"] == 200
    assert [m["seq"] for m in pushed] == sorted(m["seq"] for m in pushed)


async def test_the_tick_pushes_without_changes_and_waits_grow(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session], clock: Clock
) -> None:
    server.supervisor.settings = replace(server.supervisor.settings, min_interval=0.01, tick_seconds=0.1)
    store_call(sessions, "w.1", "12358", CallState.QUEUED)
    s = await supervisor(desktop)
    first = await s.request(p.Msg.WALLBOARD_SUBSCRIBE)
    clock.advance(seconds=7)
    later = await next_board(s)
    assert hotline(later, "12358")["longest_wait_seconds"] == hotline(first, "12358")["longest_wait_seconds"] + 7


async def test_unsubscribe_sign_out_and_disconnect_stop_the_pushes(desktop: Any, server: LinkServer) -> None:
    s1, s2 = await supervisor(desktop), await supervisor(desktop)
    await s1.request(p.Msg.WALLBOARD_SUBSCRIBE)
    await s2.request(p.Msg.WALLBOARD_SUBSCRIBE)
    assert len(server.supervisor.subscribers) == 2
    assert (await s1.request(p.Msg.WALLBOARD_UNSUBSCRIBE))["type"] == p.Msg.WALLBOARD_UNSUBSCRIBED
    assert len(server.supervisor.subscribers) == 1
    await s2.ws.close()
    await until(lambda: not server.supervisor.subscribers, 1.0, "the closed supervisor's subscription gone")


async def test_supervisor_pauses_and_resumes_an_agent_seen_on_the_agent_desktop_and_audited(
    desktop: Any, server: LinkServer, queue: FakeQueue, sessions: sessionmaker[Session]
) -> None:
    a = await desktop()
    await a.sign_in("1001")
    await a.request(p.Msg.SET_STATE, state="ready")
    await a.nothing_pending()
    s = await supervisor(desktop)
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="pause", reason="training")
    assert r["type"] == p.Msg.AGENT_SUPERVISED
    assert (r["agent_id"], r["action"], r["state"]["state"], r["state"]["reason"]) == (
        "1001",
        "pause",
        "paused",
        "training",
    )
    assert queue.calls[-1] == ("pause", "hotline", "PJSIP/1001", True, "training")
    pushed = await a.push(p.Msg.AGENT_STATE)
    assert (pushed["state"], pushed["reason"]) == ("paused", "training")
    assert server.state_of("1001") is AgentState.PAUSED
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="resume")
    assert r["state"]["state"] == "ready"
    assert queue.calls[-1] == ("pause", "hotline", "PJSIP/1001", False, "")
    assert (await a.push(p.Msg.AGENT_STATE))["state"] == "ready"
    assert audits(sessions) == [
        ("sup", "supervise_pause", {"agent": "1001", "mode": "pause", "reason": "training", "outcome": "done"}),
        ("sup", "supervise_resume", {"agent": "1001", "mode": "resume", "reason": "", "outcome": "done"}),
    ]


async def test_pause_refusals(desktop: Any, server: LinkServer, queue: FakeQueue) -> None:
    s = await supervisor(desktop)
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="9999", action="pause")
    assert (r["error_id"], r["detail"]["field"]) == (ErrorId.UNKNOWN_AGENT, "agent_id")
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="qa", action="pause")  # a user, not a queue agent
    assert r["error_id"] == ErrorId.UNKNOWN_AGENT
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1002", action="pause")
    assert r["error_id"] == ErrorId.AGENT_SIGNED_OUT
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="sleep")
    assert (r["error_id"], r["detail"]["field"]) == (ErrorId.INVALID_FIELD, "action")
    r = await s.request(p.Msg.SUPERVISE_AGENT, action="pause")
    assert (r["error_id"], r["detail"]["field"]) == (ErrorId.INVALID_FIELD, "agent_id")
    a = await desktop()
    await a.sign_in("1001")
    await server.on_call_event(CallRinging("c.9", T0, "1001", "PJSIP/1001", "12345", "139", 1.0))
    await server.on_call_event(CallConnected("c.9", T0, "1001", "PJSIP/1001", 1.0))
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="resume")  # on a call, nothing to cancel
    assert (r["error_id"], r["detail"]["current"]) == (ErrorId.STATE_FORBIDDEN, "on_call")
    await server.on_call_event(CallEnded("c.9", T0, CallState.ENDED, EndReason.CALLER_HANGUP, "1001", 3.0))
    queue.fail = True
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="pause")
    assert r["error_id"] == ErrorId.QUEUE_UNAVAILABLE


async def test_a_pause_on_a_call_waits_for_its_end_and_its_wrapup(
    desktop: Any, server: LinkServer, queue: FakeQueue
) -> None:
    s = await supervisor(desktop)
    a = await desktop()
    await a.sign_in("1001")
    await a.request(p.Msg.SET_STATE, state="ready")
    await server.on_call_event(CallRinging("c.7", T0, "1001", "PJSIP/1001", "12345", "139", 1.0))
    await server.on_call_event(CallConnected("c.7", T0, "1001", "PJSIP/1001", 1.0))
    await a.push(p.Msg.CALL_CONNECTED)
    while (await a.push(p.Msg.AGENT_STATE))["state"] != "on_call":
        pass

    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="pause", reason="training")
    assert r["type"] == p.Msg.AGENT_SUPERVISED
    assert (r["state"]["state"], r["state"]["pause_after"]) == ("on_call", "training")
    assert queue.calls[-1] == ("pause", "hotline", "PJSIP/1001", True, "training")  # no next call is offered
    pushed = await a.push(p.Msg.AGENT_STATE)
    assert (pushed["state"], pushed["pause_after"]) == ("on_call", "training")
    row = next(x for x in (await server.supervisor.snapshot())["agents"] if x["id"] == "1001")
    assert row["pause_after"] == "training"

    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="resume")  # changed their mind
    assert r["state"]["pause_after"] is None
    assert queue.calls[-1] == ("pause", "hotline", "PJSIP/1001", False, "")
    assert (await a.push(p.Msg.AGENT_STATE))["pause_after"] is None
    await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="pause", reason="meal")
    await a.push(p.Msg.AGENT_STATE)

    await server.on_call_event(CallEnded("c.7", T0, CallState.ENDED, EndReason.CALLER_HANGUP, "1001", 3.0))
    wrapup = await a.push(p.Msg.AGENT_STATE)
    assert (wrapup["state"], wrapup["pause_after"]) == ("wrapup", "meal")
    paused = await a.push(p.Msg.AGENT_STATE)  # the wrap-up ends in the supervisor's pause, not ready
    assert (paused["state"], paused["reason"], paused["pause_after"]) == ("paused", "meal", None)
    assert queue.calls[-1] == ("pause", "hotline", "PJSIP/1001", True, "meal")
    assert server.state_of("1001") is AgentState.PAUSED


async def test_listen_whisper_barge_go_to_the_spy_with_the_agents_call_and_are_audited(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    spy = FakeSpy()
    s = await supervisor(desktop)
    a = await desktop()
    await a.sign_in("1001")
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="listen", phone="1002")
    assert r["error_id"] == ErrorId.AGENT_NOT_ON_CALL
    await server.on_call_event(CallRinging("c.5", T0, "1001", "PJSIP/1001", "12345", "139", 1.0))
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="listen", phone="1002")
    assert r["error_id"] == ErrorId.AGENT_NOT_ON_CALL  # ringing is not a call yet
    await server.on_call_event(CallConnected("c.5", T0, "1001", "PJSIP/1001", 1.0))
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="listen", phone="1002")
    assert r["error_id"] == ErrorId.SPY_UNAVAILABLE  # no spy wired in
    server.supervisor.spy = spy
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="listen")
    assert (r["error_id"], r["detail"]["field"]) == (ErrorId.INVALID_FIELD, "phone")
    for mode in ("listen", "whisper", "barge"):
        r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action=mode, phone="13900000000")
        assert r["type"] == p.Msg.AGENT_SUPERVISED
        assert (r["action"], r["call_id"], r["phone"]) == (mode, "c.5", "13900000000")
        assert r["channel"] == "PJSIP/13900000000"
    assert spy.calls == [("c.5", m, "13900000000", "sup") for m in ("listen", "whisper", "barge")]
    spy.error = SpyError("'x' is not dialable", error_id=ErrorId.INVALID_NUMBER)
    r = await s.request(p.Msg.SUPERVISE_AGENT, agent_id="1001", action="barge", phone="x")
    assert r["error_id"] == "invalid_number"
    assert [m for m in await a.nothing_pending() if m["type"] == p.Msg.ERROR] == []  # the agent is not told
    done = [(action, d.get("call_id"), d.get("phone"), d["outcome"]) for _login, action, d in audits(sessions)]
    assert done == [
        ("supervise_listen", None, "1002", "agent_not_on_call"),
        ("supervise_listen", None, "1002", "agent_not_on_call"),
        ("supervise_listen", "c.5", "1002", "spy_unavailable"),
        ("supervise_listen", None, None, "invalid_field"),
        ("supervise_listen", "c.5", "13900000000", "done"),
        ("supervise_whisper", "c.5", "13900000000", "done"),
        ("supervise_barge", "c.5", "13900000000", "done"),
        ("supervise_barge", "c.5", "x", "invalid_number"),
    ]


def test_service_level_settings_come_from_config(cfg: Any) -> None:
    """Bad values are refused with file, line and key when config.yaml is loaded (tests/unit/test_config.py)."""
    good = replace(cfg, server=replace(cfg.server, service_level_seconds=20, service_level_target=95.0))
    settings = WallboardSettings.from_config(good)
    assert (settings.threshold_seconds, settings.target_percent) == (20, 95.0)
    assert WallboardSettings.from_config(cfg).threshold_seconds == 15
