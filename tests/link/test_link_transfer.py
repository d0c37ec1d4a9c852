"""Transfers through the link: a real LinkServer, the real call tracker fed AMI events by hand, the real
transfer service, and a fake AMI that records the actions it would send to Asterisk.

Blind to another agent (the pop follows the call with its case, the first agent wraps up, the call record
gets the new agent), attended to a unit's number (answered, completed, or cancelled), and every refusal:
each leaves the call untouched and the connection open."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app import protocol as p
from ari_app.conference import participants
from ari_app.protocol import AgentState, ErrorId
from schema.calls import CallState, EndReason
from schema.cases import AuditEntry
from schema.transfers import CallTransfer
from tests.support.link import Desktop
from tests.support.transfers import AGENT_LEG, CALL, CITIZEN, Rig

CASE = {"request": "小区停水三天", "urgency": "urgent", "language": "zh", "handling": "dispatch", "category": "供水"}


async def agents_on_call(desktop: Any, rig: Rig, second_state: str = "ready") -> tuple[Desktop, Desktop]:
    a, b = await desktop(), await desktop()
    await a.sign_in("1001")
    await b.sign_in("1002")
    await a.request(p.Msg.SET_STATE, state="ready")
    await b.request(p.Msg.SET_STATE, state=second_state)
    await rig.connected_call()
    assert (await a.push(p.Msg.CALL_CONNECTED))["call_id"] == CALL
    await a.nothing_pending()
    await b.nothing_pending()
    return a, b


async def test_blind_transfer_to_an_agent_pops_the_same_call_with_its_case(desktop: Any, rig: Rig) -> None:
    a, b = await agents_on_call(desktop, rig)
    case = (await a.request(p.Msg.CREATE_CASE, call_id=CALL, hotline="12319", caller="13800000001", **CASE))["case"]

    reply = await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, agent_id="1002")
    assert reply["type"] == p.Msg.TRANSFER_STATE and reply["transfer"]["state"] == "ringing"
    assert reply["transfer"]["kind"] == "blind" and reply["transfer"]["target_agent"] == "1002"
    setvars = {(x["Channel"], x["Variable"]): x["Value"] for x in rig.ami.named("Setvar")}
    assert setvars[(CITIZEN, "TRANSFER_DIAL")] == "PJSIP/1002" and setvars[(CITIZEN, "TRANSFER_BACK")] == "PJSIP/1001"
    assert rig.ami.named("Redirect") == [
        {"Action": "Redirect", "Channel": CITIZEN, "Context": "hotline-transfer", "Exten": "s", "Priority": "1"}
    ]
    left = await a.push(p.Msg.CALL_ENDED)
    assert left["call_id"] == CALL and left["reason"] == "transferred"
    assert (await a.push(p.Msg.AGENT_STATE))["state"] == "wrapup"

    pop = await b.push(p.Msg.SCREEN_POP)
    assert pop["call"]["call_id"] == CALL and pop["call"]["hotline"] == "12319"
    assert pop["call"]["transfer"]["from_agent"] == "1001" and pop["call"]["transfer"]["kind"] == "blind"
    assert [c["id"] for c in pop["cases"]] == [case["id"]]
    assert (await b.push(p.Msg.TRANSFER_STATE))["transfer"]["state"] == "ringing"

    # the queue's own leg ends (AgentComplete, the agent's hangup): the call goes on
    await rig.feed(
        {"Event": "AgentComplete", "Reason": "transfer", "Interface": "PJSIP/1001"},
        {"Event": "Hangup", "Uniqueid": "1764378000.2", "Channel": AGENT_LEG},
        {"Event": "DialBegin", "Channel": CITIZEN, "DestChannel": "PJSIP/1002-00000003"},
        {"Event": "DialEnd", "Channel": CITIZEN, "DestChannel": "PJSIP/1002-00000003", "DialStatus": "ANSWER"},
    )
    assert (await b.push(p.Msg.CALL_CONNECTED))["call_id"] == CALL
    assert (await b.push(p.Msg.TRANSFER_STATE))["transfer"]["state"] == "completed"
    assert rig.link.state_of("1002") is AgentState.ON_CALL
    call = rig.tracker.calls[CALL]
    assert call.state == CallState.CONNECTED and call.agent == "1002" and call.agent_channel == "PJSIP/1002-00000003"
    assert rig.sink.saved[CALL].agent == "1002"

    # the second agent continues the case; the first one may no longer act on the call
    more = await b.request(p.Msg.CREATE_CASE, call_id=CALL, hotline="12319", **CASE)
    assert more["type"] == p.Msg.CASE_CREATED
    detail = (await b.request(p.Msg.GET_CASE, case_id=case["id"]))["case"]
    assert [(t["kind"], t["from_agent"], t["target_agent"], t["state"]) for t in detail["transfers"]] == [
        ("blind", "1001", "1002", "completed")
    ]
    assert detail["transfers"][0]["answered_at"] is not None
    refused = await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, agent_id="1002")
    assert refused["error_id"] == ErrorId.CALL_NOT_YOURS

    await rig.feed(
        {"Event": "HangupRequest", "Uniqueid": "1764378000.3", "Channel": "PJSIP/1002-00000003"},
        {"Event": "Hangup", "Uniqueid": "1764378000.3", "Channel": "PJSIP/1002-00000003"},
    )
    ended = await b.push(p.Msg.CALL_ENDED)
    assert ended["reason"] == "agent_hangup"
    stored = rig.sink.saved[CALL]
    assert stored.state == CallState.ENDED and stored.end_reason == EndReason.AGENT_HANGUP and stored.agent == "1002"


async def test_blind_transfer_completes_when_asterisk_reports_the_target_before_the_redirect_response(
    desktop: Any, rig: Rig
) -> None:
    """Under load the target's DialBegin/DialEnd can be read before the Redirect's own response: the transfer
    is already known then, and completes."""
    a, b = await agents_on_call(desktop, rig)

    async def target_answers_at_once() -> None:
        await rig.feed(
            {"Event": "DialBegin", "Channel": CITIZEN, "DestChannel": "PJSIP/1002-00000003"},
            {"Event": "DialEnd", "Channel": CITIZEN, "DestChannel": "PJSIP/1002-00000003", "DialStatus": "ANSWER"},
        )

    rig.ami.before_response["Redirect"] = target_answers_at_once
    await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, agent_id="1002")
    seen: list[str] = []
    while "completed" not in seen:  # a push times out (and fails) if the transfer never completes
        seen.append((await b.push(p.Msg.TRANSFER_STATE))["transfer"]["state"])
    assert seen == ["ringing", "completed"]
    call = rig.tracker.calls[CALL]
    assert call.agent == "1002" and call.agent_channel == "PJSIP/1002-00000003"
    assert rig.link.state_of("1002") is AgentState.ON_CALL


async def test_blind_transfer_not_answered_rings_the_first_agent_again(desktop: Any, rig: Rig) -> None:
    a, b = await agents_on_call(desktop, rig)
    await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, agent_id="1002")
    await b.push(p.Msg.SCREEN_POP)
    await rig.feed(
        {"Event": "DialBegin", "Channel": CITIZEN, "DestChannel": "PJSIP/1002-00000003"},
        {"Event": "DialEnd", "Channel": CITIZEN, "DestChannel": "PJSIP/1002-00000003", "DialStatus": "NOANSWER"},
    )
    missed = await b.push(p.Msg.CALL_MISSED)
    assert missed["reason"] == "transfer_failed"
    again = await a.push(p.Msg.SCREEN_POP)
    assert again["call"]["call_id"] == CALL and again["call"]["transfer"]["state"] == "failed"
    await rig.feed(
        {"Event": "DialBegin", "Channel": CITIZEN, "DestChannel": "PJSIP/1001-00000004"},
        {"Event": "DialEnd", "Channel": CITIZEN, "DestChannel": "PJSIP/1001-00000004", "DialStatus": "ANSWER"},
    )
    await a.push(p.Msg.CALL_CONNECTED)
    assert rig.link.state_of("1001") is AgentState.ON_CALL
    assert rig.tracker.calls[CALL].agent_channel == "PJSIP/1001-00000004"


async def test_attended_transfer_to_a_unit_answered_then_completed(desktop: Any, rig: Rig) -> None:
    a, _ = await agents_on_call(desktop, rig)
    reply = await a.request(p.Msg.TRANSFER, action="attended", call_id=CALL, number="12399000001")
    assert reply["transfer"]["state"] == "ringing" and reply["transfer"]["target_number"] == "12399000001"
    (redirect,) = rig.ami.named("Redirect")
    assert redirect["Channel"] == CITIZEN and redirect["Context"] == "hotline-transfer-hold"
    assert redirect["ExtraChannel"] == AGENT_LEG and redirect["ExtraContext"] == "hotline-transfer-consult"
    setvars = {(x["Channel"], x["Variable"]): x["Value"] for x in rig.ami.named("Setvar")}
    assert setvars[(AGENT_LEG, "TRANSFER_DIAL")] == "PJSIP/12399000001@carrier-telecom"
    assert setvars[(CITIZEN, "CONF_ROOM")] == setvars[(AGENT_LEG, "CONF_ROOM")] == f"hotline-{CALL}"
    unit = "PJSIP/carrier-telecom-00000005"
    await rig.feed({"Event": "DialBegin", "Channel": AGENT_LEG, "DestChannel": unit})
    early = await a.request(p.Msg.TRANSFER, action="complete", call_id=CALL)
    assert early["error_id"] == ErrorId.TRANSFER_NOT_ANSWERED
    again = await a.request(p.Msg.TRANSFER, action="attended", call_id=CALL, number="12399000002")
    assert again["error_id"] == ErrorId.TRANSFER_IN_PROGRESS

    await rig.feed(
        {"Event": "AgentComplete", "Reason": "transfer"},
        {"Event": "DialEnd", "Channel": AGENT_LEG, "DestChannel": unit, "DialStatus": "ANSWER"},
    )
    assert (await a.push(p.Msg.TRANSFER_STATE))["transfer"]["state"] == "ringing"  # every desktop of the agent
    assert (await a.push(p.Msg.TRANSFER_STATE))["transfer"]["state"] == "answered"
    assert rig.tracker.calls[CALL].state == CallState.CONNECTED
    done = await a.request(p.Msg.TRANSFER, action="complete", call_id=CALL)
    assert done["transfer"]["state"] == "completed"
    assert rig.ami.actions[-1] == {
        "Action": "Redirect",
        "Channel": unit,
        "Context": "hotline-conference",
        "Exten": "s",
        "Priority": "1",
    }
    setvars = {(x["Channel"], x["Variable"]): x["Value"] for x in rig.ami.named("Setvar")}
    assert setvars[(AGENT_LEG, "TRANSFER_DONE")] == "1" and setvars[(unit, "CONF_ROLE")] == "unit"
    assert (await a.push(p.Msg.CALL_ENDED))["reason"] == "transferred"
    await rig.feed(
        {"Event": "ConfbridgeJoin", "Conference": f"hotline-{CALL}", "Channel": CITIZEN, "CallerIDNum": "13800000001"},
        {"Event": "ConfbridgeJoin", "Conference": f"hotline-{CALL}", "Channel": unit, "CallerIDNum": "12399000001"},
    )
    with rig.transfers.sessions() as s:
        assert [(r["role"], r["number"]) for r in participants(s, CALL)] == [
            ("citizen", "13800000001"),
            ("unit", "12399000001"),
        ]
    await rig.feed({"Event": "Hangup", "Uniqueid": "1764378000.2", "Channel": AGENT_LEG})  # the agent's leg ends
    assert rig.tracker.calls[CALL].state == CallState.CONNECTED  # citizen and unit talk on
    await rig.feed({"Event": "Hangup", "Uniqueid": CALL, "Channel": CITIZEN})
    assert rig.sink.saved[CALL].state == CallState.ENDED
    assert rig.ami.actions[-1] == {"Action": "ConfbridgeKick", "Conference": f"hotline-{CALL}", "Channel": "all"}


async def test_attended_transfer_cancelled_gives_the_citizen_back(
    desktop: Any, rig: Rig, sessions: sessionmaker[Session]
) -> None:
    a, b = await agents_on_call(desktop, rig)
    await a.request(p.Msg.TRANSFER, action="attended", call_id=CALL, agent_id="1002")
    pop = await b.push(p.Msg.SCREEN_POP)
    assert pop["call"]["transfer"]["kind"] == "attended"
    leg = "PJSIP/1002-00000007"
    await rig.feed(
        {"Event": "DialBegin", "Channel": AGENT_LEG, "DestChannel": leg},
        {"Event": "DialEnd", "Channel": AGENT_LEG, "DestChannel": leg, "DialStatus": "ANSWER"},
    )
    await b.push(p.Msg.CALL_CONNECTED)  # the second agent talks to the first
    cancelled = await a.request(p.Msg.TRANSFER, action="cancel", call_id=CALL)
    assert cancelled["transfer"]["state"] == "cancelled"
    assert rig.ami.actions[-1] == {"Action": "Hangup", "Channel": leg}
    assert (await b.push(p.Msg.CALL_ENDED))["reason"] == "transfer_cancelled"
    await rig.feed({"Event": "Hangup", "Uniqueid": "1764378000.7", "Channel": leg})
    call = rig.tracker.calls[CALL]
    assert call.state == CallState.CONNECTED and call.agent == "1001" and call.agent_channel == AGENT_LEG
    assert call.transfer is None
    assert rig.link.state_of("1001") is AgentState.ON_CALL
    assert all(m["type"] != p.Msg.CALL_ENDED for m in await a.nothing_pending())
    with sessions() as s:
        (row,) = s.scalars(select(CallTransfer))
        assert (row.kind, row.state, row.target_agent) == ("attended", "cancelled", "1002")
    # and a transfer may be tried again; a unit's number as an agent writes it is dialled as the trunk takes it
    again = await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, number="+86 (991) 456-7890")
    assert again["transfer"]["state"] == "ringing" and again["transfer"]["target_number"] == "09914567890"
    dial = [x["Value"] for x in rig.ami.named("Setvar") if x["Variable"] == "TRANSFER_DIAL"]
    assert dial[-1] == "PJSIP/09914567890@carrier-telecom"


async def test_refusals_leave_the_call_untouched_and_the_connection_open(desktop: Any, rig: Rig) -> None:
    a, b = await agents_on_call(desktop, rig, second_state="paused")

    async def refused(d: Desktop, **fields: Any) -> str:
        reply = await d.request(p.Msg.TRANSFER, **fields)
        assert reply["type"] == p.Msg.ERROR, reply
        return str(reply["error_id"])

    assert await refused(a, action="blind", call_id=CALL, agent_id="1002") == ErrorId.AGENT_NOT_READY
    assert await refused(b, action="blind", call_id=CALL, agent_id="1001") == ErrorId.CALL_NOT_YOURS
    assert await refused(a, action="blind", call_id="other", agent_id="1002") == ErrorId.CALL_NOT_YOURS
    assert await refused(a, action="blind", call_id=CALL, agent_id="1001") == ErrorId.TRANSFER_TARGET_INVALID
    assert await refused(a, action="blind", call_id=CALL, agent_id="9999") == ErrorId.TRANSFER_TARGET_INVALID
    assert await refused(a, action="blind", call_id=CALL, number="call the unit") == ErrorId.INVALID_NUMBER
    assert await refused(a, action="blind", call_id=CALL) == ErrorId.INVALID_FIELD
    assert await refused(a, action="blind", call_id=CALL, agent_id="1002", number="123456") == ErrorId.INVALID_FIELD
    assert await refused(a, action="complete", call_id=CALL) == ErrorId.NO_TRANSFER
    assert await refused(a, action="cancel", call_id=CALL) == ErrorId.NO_TRANSFER
    assert await refused(a, action="park", call_id=CALL) == ErrorId.INVALID_FIELD
    assert await refused(a, action="blind", call_id=7, number="123456") == ErrorId.INVALID_FIELD
    rig.ami.fail = True
    assert await refused(a, action="blind", call_id=CALL, number="12399000001") == ErrorId.TRANSFER_FAILED
    rig.ami.fail = False
    assert rig.ami.actions == []
    call = rig.tracker.calls[CALL]
    assert call.transfer is None and call.agent == "1001" and call.agent_channel == AGENT_LEG
    assert rig.link.state_of("1001") is AgentState.ON_CALL
    assert (await a.request(p.Msg.PING))["type"] == p.Msg.PONG

    supervisor = await desktop()
    await supervisor.sign_in("sup")
    assert await refused(supervisor, action="blind", call_id=CALL, agent_id="1002") == ErrorId.NOT_AN_AGENT
    # each refusal that reached the transfer desk is in the audit trail once (malformed frames never did):
    # the desk writes its own with the call, the link those of its own rules (call_not_yours, not_an_agent)
    await rig.link.audit.flush()
    with rig.link.sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "refused")).all()
        trail = [(r.login, json.loads(r.detail or "{}")) for r in rows]
    assert all(d["request"] == "transfer" and d["source"] == "127.0.0.1" for _login, d in trail), trail
    assert sorted((login, d["error_id"], d.get("call_id", "-")) for login, d in trail) == sorted(
        [
            ("1001", ErrorId.AGENT_NOT_READY, CALL),
            ("1002", ErrorId.CALL_NOT_YOURS, "-"),
            ("1001", ErrorId.CALL_NOT_YOURS, "-"),
            ("1001", ErrorId.TRANSFER_TARGET_INVALID, CALL),
            ("1001", ErrorId.TRANSFER_TARGET_INVALID, CALL),
            ("1001", ErrorId.INVALID_NUMBER, CALL),
            ("1001", ErrorId.INVALID_FIELD, CALL),
            ("1001", ErrorId.INVALID_FIELD, CALL),
            ("1001", ErrorId.NO_TRANSFER, CALL),
            ("1001", ErrorId.NO_TRANSFER, CALL),
            ("1001", ErrorId.TRANSFER_FAILED, CALL),
            ("sup", ErrorId.NOT_AN_AGENT, "-"),
        ]
    )


async def test_a_ringing_call_cannot_be_transferred(desktop: Any, rig: Rig) -> None:
    a = await desktop()
    await a.sign_in("1001")
    await a.request(p.Msg.SET_STATE, state="ready")
    await rig.feed(
        {"Event": "UserEvent", "UserEvent": "HotlineCall", "Uniqueid": CALL, "Channel": CITIZEN, "Hotline": "12319"},
        {"Event": "QueueCallerJoin", "Queue": "hotline", "Position": "1"},
        {"Event": "AgentCalled", "Interface": "PJSIP/1001", "DestChannel": AGENT_LEG},
    )
    await a.push(p.Msg.SCREEN_POP)
    reply = await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, number="12399000001")
    assert reply["error_id"] == ErrorId.CALL_NOT_CONNECTED
    assert rig.tracker.calls[CALL].transfer is None


async def test_case_detail_shows_the_calls_conference_participants_and_transfers(
    desktop: Any, rig: Rig, sessions: sessionmaker[Session]
) -> None:
    from datetime import timedelta

    from schema.conferences import ConferenceParticipant
    from tests.support.clock import T0

    a, b = await agents_on_call(desktop, rig)
    case = (await a.request(p.Msg.CREATE_CASE, call_id=CALL, hotline="12319", **CASE))["case"]
    room = f"hotline-{CALL}"
    with sessions.begin() as s:
        for role, number, channel, left in (
            ("citizen", "13800000001", CITIZEN, None),
            ("agent", "1001", AGENT_LEG, T0 + timedelta(minutes=2)),
            ("unit", "09915550123", "PJSIP/carrier-telecom-00000009", T0 + timedelta(minutes=3)),
        ):
            s.add(
                ConferenceParticipant(
                    call_id=CALL,
                    room=room,
                    channel=channel,
                    role=role,
                    number=number,
                    joined_at=T0 + timedelta(minutes=1),
                    left_at=left,
                )
            )
    await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, agent_id="1002")
    detail = (await b.request(p.Msg.GET_CASE, case_id=case["id"]))["case"]
    assert [(x["role"], x["number"]) for x in detail["conference"]] == [
        ("citizen", "13800000001"),
        ("agent", "1001"),
        ("unit", "09915550123"),
    ]
    assert detail["conference"][1]["joined_at"].startswith("2026-11-29T09:01")
    assert detail["conference"][1]["left_at"].startswith("2026-11-29T09:02")
    assert detail["conference"][0]["left_at"] is None
    assert [(t["kind"], t["state"], t["target_agent"]) for t in detail["transfers"]] == [("blind", "ringing", "1002")]
    other = (await a.request(p.Msg.CREATE_CASE, hotline="12319", **CASE))["case"]  # no call: nothing of a call
    plain = (await a.request(p.Msg.GET_CASE, case_id=other["id"]))["case"]
    assert plain["conference"] == [] and plain["transfers"] == []
