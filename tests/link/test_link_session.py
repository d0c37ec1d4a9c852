"""Handshake, sign-in, token resume, sign-out, and agent states through the (fake) queue."""

from __future__ import annotations

import asyncio
from typing import Any

from ari_app import protocol as p
from ari_app.calls.events import QueueMemberChanged
from ari_app.link import LinkServer
from ari_app.protocol import AgentState, ErrorId
from tests.support.clock import T0, Clock
from tests.support.link import FakeQueue
from tests.support.users import PASSWORD
from tests.support.waiting import until


async def test_hello_is_required_first_and_version_is_checked(desktop: Any, server: LinkServer) -> None:
    d = await desktop(hello=False)
    r = await d.sign_in()
    assert r["error_id"] == ErrorId.HELLO_REQUIRED
    assert (await d.request(p.Msg.PING))["type"] == p.Msg.PONG  # ping works before hello
    r = await d.request(p.Msg.HELLO, version="2.0")
    assert r["error_id"] == ErrorId.VERSION_UNSUPPORTED
    assert r["detail"]["server_version"] == p.PROTOCOL_VERSION
    await asyncio.wait_for(d.ws.wait_closed(), 3)
    assert d.ws.close_code == 1002
    # the server survives: a new desktop with the right version gets in
    d2 = await desktop()
    assert (await d2.sign_in())["type"] == p.Msg.SIGNED_IN
    welcome = await (await desktop(hello=False)).request(p.Msg.HELLO, version="1.7")
    assert welcome["version"] == p.PROTOCOL_VERSION and welcome["max_frame"] == p.MAX_FRAME


async def test_sign_in_joins_the_queue_paused_and_sends_what_the_desktop_needs(
    desktop: Any, server: LinkServer, queue: FakeQueue
) -> None:
    d = await desktop()
    r = await d.sign_in()
    assert r["type"] == p.Msg.SIGNED_IN
    assert r["agent"] == {
        "id": "1001",
        "name": "user 1001",
        "role": "agent",
        "extension": "1001",
        "languages": ["zh", "en"],
    }
    assert [h["number"] for h in r["hotlines"]] == ["12345", "12319", "12358", "12350"]
    assert "供水" in r["hotlines"][1]["categories"]
    assert r["wrapup_seconds"] == 0.2
    assert r["token"] and r["expires_at"]
    assert queue.calls == [("add", "hotline", "PJSIP/1001", "张敏", True)]
    state = await d.push(p.Msg.AGENT_STATE)
    assert state["state"] == AgentState.PAUSED
    assert server.state_of("1001") is AgentState.PAUSED


async def test_sign_in_asks_asterisk_not_the_events_whether_the_agent_is_in_the_queue(
    desktop: Any, server: LinkServer, queue: FakeQueue
) -> None:
    from ari_app.calls.events import QueueMembership

    d = await desktop()
    await d.sign_in()
    await d.request(p.Msg.SET_STATE, state="ready")
    await d.request(p.Msg.SIGN_OUT)
    # Someone else puts 1001's phone in the queue and takes it out again; the server has heard only the add
    # (its events lag): it holds 1001 as ready, but Asterisk's queue has no such member.
    await server.on_call_event(QueueMemberChanged("hotline", "PJSIP/1001", "1001", True, False, "", T0))
    assert server.state_of("1001") is AgentState.READY and "pjsip/1001" not in queue.members
    queue.calls.clear()
    d2 = await desktop()
    await d2.sign_in()
    assert queue.calls == [("add", "hotline", "PJSIP/1001", "张敏", True)]  # added, as Asterisk lacked it
    assert server.state_of("1001") is AgentState.PAUSED
    await d2.request(p.Msg.SIGN_OUT)
    # And the other way: the server has 1001 signed out, Asterisk has them paused for a meal.
    queue.members["pjsip/1001"] = QueueMembership("PJSIP/1001", True, "meal")
    queue.calls.clear()
    d3 = await desktop()
    await d3.sign_in()
    assert queue.calls == []  # nothing asked of Asterisk: the agent takes the state Asterisk has
    assert server.state_of("1001") is AgentState.PAUSED and server.agents.sessions["1001"].reason == "meal"


async def test_wrong_password_unknown_user_and_inactive_user_look_the_same(desktop: Any, server: LinkServer) -> None:
    d = await desktop()
    for agent_id, password in (("1001", "wrong password"), ("nobody", PASSWORD), ("gone", PASSWORD)):
        r = await d.sign_in(agent_id, password)
        assert r["error_id"] == ErrorId.BAD_CREDENTIALS
        assert r["message"] == "wrong agent id or password"
    assert (await d.sign_in())["type"] == p.Msg.SIGNED_IN  # same connection still usable
    assert (await d.sign_in())["error_id"] == ErrorId.ALREADY_SIGNED_IN


async def test_repeated_wrong_passwords_are_throttled(desktop: Any, server: LinkServer, clock: Clock) -> None:
    d = await desktop()
    for _ in range(3):
        assert (await d.sign_in("1002", "nope nope"))["error_id"] == ErrorId.BAD_CREDENTIALS
    r = await d.sign_in("1002", PASSWORD)
    assert r["error_id"] == ErrorId.TOO_MANY_ATTEMPTS and r["detail"]["retry_after"] > 0
    assert (await d.sign_in("1001"))["type"] == p.Msg.SIGNED_IN  # another agent is not affected
    clock.advance(seconds=2)
    d2 = await desktop()
    assert (await d2.sign_in("1002"))["type"] == p.Msg.SIGNED_IN


async def test_requests_before_sign_in_are_refused(desktop: Any) -> None:
    d = await desktop()
    for kind, fields in (
        (p.Msg.SET_STATE, {"state": "ready"}),
        (p.Msg.SIGN_OUT, {}),
        (p.Msg.SEARCH_CASES, {}),
        (p.Msg.CALLER_HISTORY, {"caller": "1"}),
    ):
        r = await d.request(kind, **fields)
        assert r["error_id"] == ErrorId.NOT_SIGNED_IN, kind


async def test_resume_with_token_gets_state_and_expired_or_bad_token_is_refused(
    desktop: Any, server: LinkServer, clock: Clock, queue: FakeQueue
) -> None:
    d = await desktop()
    token = (await d.sign_in())["token"]
    assert (await d.request(p.Msg.SET_STATE, state="ready"))["state"] == AgentState.READY
    await d.ws.close()
    d2 = await desktop()
    r = await d2.request(p.Msg.RESUME, token=token)
    assert r["type"] == p.Msg.SIGNED_IN and r["state"]["state"] == AgentState.READY
    assert [c[0] for c in queue.calls] == ["add", "pause"]  # resuming does not touch the queue again
    d3 = await desktop()
    assert (await d3.request(p.Msg.RESUME, token="x" * 43))["error_id"] == ErrorId.TOKEN_INVALID
    clock.advance(hours=13)
    d4 = await desktop()
    assert (await d4.request(p.Msg.RESUME, token=token))["error_id"] == ErrorId.TOKEN_EXPIRED
    assert (await d4.sign_in())["type"] == p.Msg.SIGNED_IN


async def test_ready_pause_with_reason_and_sign_out(desktop: Any, server: LinkServer, queue: FakeQueue) -> None:
    d = await desktop()
    token = (await d.sign_in())["token"]
    r = await d.request(p.Msg.SET_STATE, state="ready")
    assert r["type"] == p.Msg.AGENT_STATE and r["state"] == "ready"
    r = await d.request(p.Msg.SET_STATE, state="paused", reason="meal")
    assert (r["state"], r["reason"]) == ("paused", "meal")
    r = await d.request(p.Msg.SET_STATE, state="paused")
    assert r["reason"] == "other"
    assert queue.calls[1:] == [
        ("pause", "hotline", "PJSIP/1001", False, ""),
        ("pause", "hotline", "PJSIP/1001", True, "meal"),
        ("pause", "hotline", "PJSIP/1001", True, "other"),
    ]
    assert (await d.request(p.Msg.SIGN_OUT))["type"] == p.Msg.SIGNED_OUT
    assert queue.calls[-1] == ("remove", "hotline", "PJSIP/1001")
    assert server.state_of("1001") is AgentState.SIGNED_OUT
    assert (await d.request(p.Msg.SET_STATE, state="ready"))["error_id"] == ErrorId.NOT_SIGNED_IN
    d2 = await desktop()
    assert (await d2.request(p.Msg.RESUME, token=token))["error_id"] == ErrorId.TOKEN_INVALID


async def test_queue_failure_leaves_state_unchanged(desktop: Any, server: LinkServer, queue: FakeQueue) -> None:
    d = await desktop()
    await d.sign_in()
    queue.fail = True
    r = await d.request(p.Msg.SET_STATE, state="ready")
    assert r["error_id"] == ErrorId.QUEUE_UNAVAILABLE
    assert server.state_of("1001") is AgentState.PAUSED
    queue.fail = False
    assert (await d.request(p.Msg.SET_STATE, state="ready"))["state"] == "ready"


async def test_supervisor_without_a_phone_may_sign_in_but_has_no_queue_state(
    desktop: Any, server: LinkServer, queue: FakeQueue
) -> None:
    d = await desktop()
    r = await d.sign_in("sup")
    assert r["agent"]["role"] == "supervisor" and r["agent"]["extension"] is None
    assert (await d.request(p.Msg.SET_STATE, state="ready"))["error_id"] == ErrorId.NOT_AN_AGENT
    assert queue.calls == []


async def test_changes_made_elsewhere_show_on_every_desktop_of_that_agent_only(
    desktop: Any, server: LinkServer
) -> None:
    a1, a2, b = await desktop(), await desktop(), await desktop()
    token = (await a1.sign_in())["token"]
    assert (await a2.request(p.Msg.RESUME, token=token))["type"] == p.Msg.SIGNED_IN
    await b.sign_in("1002")
    for d in (a1, b):
        await d.push(p.Msg.AGENT_STATE)

    def member(**kw: Any) -> QueueMemberChanged:
        base: dict[str, Any] = dict(
            queue="hotline", interface="PJSIP/1001", agent_id="1001", in_queue=True, paused=False, reason="", at=T0
        )
        base.update(kw)
        return QueueMemberChanged(**base)

    await server.on_call_event(member())  # unpaused from the Asterisk CLI
    for d in (a1, a2):
        assert (await d.push(p.Msg.AGENT_STATE))["state"] == "ready"
    await server.on_call_event(member(paused=True, reason="supervisor"))
    for d in (a1, a2):
        s = await d.push(p.Msg.AGENT_STATE)
        assert (s["state"], s["reason"]) == ("paused", "supervisor")
    await server.on_call_event(member(in_queue=False))
    for d in (a1, a2):
        assert (await d.push(p.Msg.AGENT_STATE))["state"] == "signed_out"
    await server.on_call_event(member(queue="other-queue"))
    assert server.state_of("1001") is AgentState.SIGNED_OUT
    assert await b.nothing_pending() == []
    # an agent known only by interface (tracker could not map it) is still found
    await server.on_call_event(member(agent_id=None, interface="pjsip/1002"))
    assert (await b.push(p.Msg.AGENT_STATE))["state"] == "ready"
    assert await a1.nothing_pending() == []


async def test_offline_desktop_pauses_the_agent_after_a_grace_period(
    desktop: Any, server: LinkServer, queue: FakeQueue
) -> None:
    server.agents.offline_pause_seconds = 0.05
    d = await desktop()
    token = (await d.sign_in())["token"]
    await d.request(p.Msg.SET_STATE, state="ready")
    await d.ws.close()

    await until(lambda: server.state_of("1001") is AgentState.PAUSED)
    assert queue.calls[-1] == ("pause", "hotline", "PJSIP/1001", True, "desktop_offline")
    d2 = await desktop()
    r = await d2.request(p.Msg.RESUME, token=token)
    assert r["state"] == {**r["state"], "state": "paused", "reason": "desktop_offline"}


async def test_agents_missing_from_the_queue_are_put_back_as_they_were(
    desktop: Any, server: LinkServer, queue: FakeQueue
) -> None:
    from ari_app.calls.events import QueueMembership

    a, b, sup = await desktop(), await desktop(), await desktop()
    await a.sign_in("1001")
    await a.request(p.Msg.SET_STATE, state="ready")
    await b.sign_in("1002")
    await b.request(p.Msg.SET_STATE, state="paused", reason="meal")
    await sup.sign_in("sup")  # no phone: never a queue member
    queue.calls.clear()
    assert await server.agents.reconcile_queue({}) == ()  # Asterisk restarted: nobody in the queue
    assert sorted(queue.calls) == [
        ("add", "hotline", "PJSIP/1001", "张敏", False),
        ("add", "hotline", "PJSIP/1002", "艾力·买买提", True),
        ("pause", "hotline", "PJSIP/1002", True, "meal"),
    ]
    assert server.state_of("1001") is AgentState.READY and server.state_of("1002") is AgentState.PAUSED
    queue.calls.clear()
    present = {
        "pjsip/1001": QueueMembership("PJSIP/1001", False, ""),
        "pjsip/1002": QueueMembership("PJSIP/1002", True, "meal"),
    }
    assert await server.agents.reconcile_queue(present) == () and queue.calls == []  # all there: nothing to do
    queue.fail = True
    problems = await server.agents.reconcile_queue({})
    assert len(problems) == 2 and "1001" in problems[0] and server.agents.queue_problems == problems
    queue.fail = False
    await b.request(p.Msg.SIGN_OUT)
    assert await server.agents.reconcile_queue({}) == () and server.agents.queue_problems == ()
    assert [c[2] for c in queue.calls if c[0] == "add"] == ["PJSIP/1001"]  # a signed-out agent stays out
