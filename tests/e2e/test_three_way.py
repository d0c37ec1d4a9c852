"""Three-way calls with the real Asterisk and three SIPp parties (citizen, agent, cooperating unit): the
server-side conference service (ari_app.conference.ThreeWay, on its own AMI connection here) moves the
citizen and the agent into a ConfBridge room and calls the unit in; the CTI server's FastAGI script
`conference` announces the legs and enters them; the agent steps out and the citizen and the unit stay
together, told so; every participant is recorded with times."""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from ari_app.ami import AmiLink
from ari_app.calls.events import ConferenceChanged
from ari_app.calls.model import Call
from ari_app.calls.tracker import CallTracker
from ari_app.conference import ThreeWay, participants
from ari_app.config import load_config
from ari_app.server import ConfigAgents
from schema.calls import CallState
from schema.cases import Case
from schema.db import make_engine, make_sessionmaker
from tests.support.e2e import Stack, hotline, suite_members
from tests.support.rtp import RtpTap, media_port, rms
from tests.support.waiting import until


class Memory:
    def save(self, call: Call) -> None:
        pass


def _members(stack: Stack, room: str) -> list[str]:
    out = hotline(stack.config, "asterisk", "cli", f"confbridge list {room}").stdout
    return re.findall(r"^(PJSIP/\S+)", out, re.M)


async def _until_members(stack: Stack, room: str, count: int, within: float, what: str) -> None:
    """Wait until the conference `room` has `count` members (0: the room is gone)."""
    await until(lambda: len(_members(stack, room)) == count or None, within, what, blocking=True, interval=0.2)


@dataclass
class Direct:
    """The conference service on its own AMI connection, with a tracker to follow the calls."""

    tracker: CallTracker
    three_way: ThreeWay
    sessions: sessionmaker[Session]

    async def connected_call(self, caller: str) -> Call:
        def find() -> Call | None:
            return next(
                (
                    c
                    for c in self.tracker.calls.values()
                    if c.caller == caller and c.state == CallState.CONNECTED and c.agent_channel
                ),
                None,
            )

        return await until(find, 20, "the citizen connected to an agent", blocking=True, interval=0.2)


@asynccontextmanager
async def _three_in(
    stack: Stack, direct: Direct, dialed: str, caller_prefix: str, unit_talk_ms: int, unit_number: str
) -> AsyncIterator[tuple[Call, subprocess.Popen[bytes], str]]:
    """A citizen (a caller starting `caller_prefix`) calls `dialed` and is connected to an agent, who brings
    in the unit at `unit_number` (a SIPp phone behind the carrier trunk that talks `unit_talk_ms` and hangs
    up): the call, the unit's phone and the room once the three are in; the citizen is hung up after."""
    caller = f"{caller_prefix}{random.randrange(10**8):08d}"
    citizen = stack.sipp.call(dialed, caller, talk_ms=40000, wait=False)
    try:
        call = await direct.connected_call(caller)
        unit = stack.sipp.citizen_phone(talk_ms=unit_talk_ms)
        room = await direct.three_way.start(call.id, unit_number)
        await _until_members(stack, room, 3, 40, "three parties in the conference")  # after the unit's announcement
        yield call, unit, room
    finally:
        citizen.kill()


@pytest.fixture
async def direct(stack: Stack) -> AsyncIterator[Direct]:
    cfg = load_config(stack.config)
    tracker = CallTracker(Memory(), ConfigAgents(cfg), [h.number for h in cfg.hotlines])
    ami = AmiLink(cfg, tracker)
    await ami.start()
    engine = make_engine(yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"])
    sessions = make_sessionmaker(engine)
    three_way = ThreeWay(tracker, ami, sessions, cfg.callback.trunk)
    tracker.bus.subscribe(three_way.on_event, ConferenceChanged)
    try:
        await asyncio.wait_for(ami.connected.wait(), 20)
        yield Direct(tracker, three_way, sessions)
    finally:
        for proc in stack.sipp.procs:  # units' phones still up
            if proc.poll() is None and "citizen_phone" in " ".join(map(str, proc.args)):
                proc.kill()
        await ami.stop()
        engine.dispose()


async def test_agent_brings_a_unit_in_then_leaves_citizen_and_unit_together(stack: Stack, direct: Direct) -> None:
    async with _three_in(stack, direct, "12345", "127", 30000, "12399000001") as (call, _unit, room):
        members = _members(stack, room)
        assert call.channel in members and call.agent_channel in members
        await direct.three_way.agent_leaves(call.id)
        await _until_members(stack, room, 2, 15, "the agent gone")
        left = _members(stack, room)
        assert call.channel in left and call.agent_channel not in left  # citizen and unit together
        assert direct.tracker.calls[call.id].state == CallState.CONNECTED  # the call goes on
        with direct.sessions() as s:
            people = await asyncio.to_thread(participants, s, call.id)
        assert sorted(p["role"] for p in people) == ["agent", "citizen", "unit"]
        agent = next(p for p in people if p["role"] == "agent")
        assert agent["left_at"] is not None and agent["joined_at"] <= agent["left_at"]
        assert all(p["left_at"] is None for p in people if p["role"] != "agent")
        await direct.three_way.end(call.id)
        await _until_members(stack, room, 0, 15, "the conference ended")


LOUD = 500.0
"""RMS (16-bit scale) above which what a party received is a spoken prompt: the synthesised prompts are in
the thousands; a room where nobody talks sends silence, in the tens at most."""


async def test_the_script_tells_the_unit_the_case_and_the_others_who_left(stack: Stack, direct: Direct) -> None:
    joined: dict[str, float] = {}  # channel -> when its ConfbridgeJoin reached the test (monotonic)

    def seen(event: ConferenceChanged) -> None:
        if event.joined:
            joined.setdefault(event.channel, time.monotonic())

    direct.tracker.bus.subscribe(seen, ConferenceChanged)
    caller = f"124{random.randrange(10**8):08d}"
    citizen = stack.sipp.call("12345", caller, talk_ms=60000, wait=False)
    unit_port = 5060  # the unit's phone behind the carrier trunk (Sipp.citizen_phone), RTP on 7060
    try:
        with RtpTap(media_port(citizen)) as citizen_ear, RtpTap(7000 + unit_port % 1000) as unit_ear:
            call = await direct.connected_call(caller)
            with direct.sessions.begin() as s:  # the agent took the case on this call
                s.add(
                    Case(number="12345-20261202-0042", channel="phone", hotline="12345", call_id=call.id,
                         request="路灯不亮", urgency="normal", language="zh", handling="dispatch",
                         status="received", created_by_login="1001")
                )  # fmt: skip
            stack.sipp.citizen_phone(talk_ms=60000, port=unit_port)
            room = await direct.three_way.start(call.id, "12399000004")
            await _until_members(stack, room, 3, 60, "three parties in the conference")
            unit = next(c for c in _members(stack, room) if c not in (call.channel, call.agent_channel))

            # the unit's person heard who calls and the case's number before entering the room
            first = await until(lambda: unit_ear.packets[0].at if unit_ear.packets else None, 5, "RTP at the unit")
            intro = unit_ear.audio(first, joined[unit])
            assert len(intro) / 8000 >= 6.0, f"the unit heard {len(intro) / 8000:.1f} s before joining"
            assert rms(intro) > LOUD
            log = stack.cti.log.read_text(errors="replace")  # the legs came through the FastAGI script
            for leg, role in ((call.channel, "citizen"), (call.agent_channel, "agent"), (unit, "unit")):
                assert f"three-way call {room}: {role} {leg} joins (hotline_{role})" in log

            # in the room nobody talks (agent and unit send no audio); the agent steps out and the others hear it
            quiet = citizen_ear.audio(joined[call.channel] + 0.5)
            assert rms(quiet) < LOUD / 5, f"the room was not quiet before the agent left: {rms(quiet):.0f}"
            left_at = time.monotonic()
            await direct.three_way.agent_leaves(call.id)
            await until(
                lambda: rms(citizen_ear.audio(left_at)) > LOUD or None,
                15,
                "the citizen hearing that the agent left",
                blocking=True,
                interval=0.2,
            )
            assert sorted(_members(stack, room)) == sorted([call.channel, unit])  # the announcer came and went
            with direct.sessions() as s:
                people = await asyncio.to_thread(participants, s, call.id)
            assert sorted(p["role"] for p in people) == ["agent", "citizen", "unit"]
            await direct.three_way.end(call.id)
            await _until_members(stack, room, 0, 15, "the conference ended")
    finally:
        citizen.kill()


async def test_unit_leaves_and_citizen_and_agent_stay_connected(stack: Stack, direct: Direct) -> None:
    # the unit hears its announcement (about 12 s), says its piece in the room and hangs up, 20 s after answering
    async with _three_in(stack, direct, "12319", "126", 20000, "12399000002") as (call, unit, room):
        assert await asyncio.to_thread(unit.wait, 40) == 0
        await _until_members(stack, room, 2, 15, "the unit gone")
        assert sorted(_members(stack, room)) == sorted([call.channel, call.agent_channel])
        with direct.sessions() as s:
            people = await asyncio.to_thread(participants, s, call.id)
        unit_row = next(p for p in people if p["role"] == "unit")
        assert unit_row["left_at"] is not None and unit_row["number"] == "12399000002"
        await direct.three_way.end(call.id)


async def test_desktop_command_starts_the_three_way_call_and_sees_who_is_in(stack: Stack) -> None:
    """The same through the real CTI server: the agent's desktop (a protocol client) sends `conference`
    start, gets the members pushed, steps out with `leave`; citizen and unit stay in the room."""
    import json

    import websockets

    from tests.support.e2e import add_user

    password = "three-way-pass"
    await asyncio.to_thread(add_user, stack.config, "1005", "agent", password)
    await asyncio.to_thread(suite_members, stack.config, False)
    port = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["server"]["port"]
    citizen = None
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:
            pushes: list[dict[str, object]] = []

            async def request(msg: dict[str, object]) -> dict[str, object]:
                await ws.send(json.dumps(msg))
                while True:
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    if reply.get("re") == msg["id"]:
                        return reply  # type: ignore[no-any-return]
                    pushes.append(reply)

            async def push(kind: str, ok: Callable[[dict[str, object]], bool] = lambda m: True) -> dict[str, object]:
                while True:
                    for i, m in enumerate(pushes):
                        if m["type"] == kind and ok(m):
                            return pushes.pop(i)
                    pushes.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))

            await request({"type": "hello", "id": 1, "version": "1.0"})
            assert (await request({"type": "sign_in", "id": 2, "agent_id": "1005", "password": password}))[
                "type"
            ] == "signed_in"
            assert (await request({"type": "set_state", "id": 3, "state": "ready"}))["state"] == "ready"
            caller = f"125{random.randrange(10**8):08d}"
            citizen = stack.sipp.call("12358", caller, talk_ms=40000, wait=False)
            pop = await push("screen_pop")
            call_id = pop["call"]["call_id"]  # type: ignore[index]
            await push("call_connected")
            refused = await request(
                {"type": "conference", "id": 4, "action": "start", "call_id": "nope", "number": "12399000003"}
            )
            assert refused["type"] == "error" and refused["error_id"] == "call_not_yours"
            bad = await request(
                {"type": "conference", "id": 5, "action": "start", "call_id": call_id, "number": "call the unit"}
            )
            assert bad["type"] == "error" and bad["error_id"] == "invalid_number"
            stack.sipp.citizen_phone(talk_ms=30000)  # the unit's phone
            started = await request(
                {"type": "conference", "id": 6, "action": "start", "call_id": call_id, "number": "12399000003"}
            )
            assert started["type"] == "conference_state"
            full = await push("conference_state", lambda m: len(m["members"]) == 3)  # type: ignore[arg-type]
            assert sorted(m["role"] for m in full["members"]) == ["agent", "citizen", "unit"]  # type: ignore[union-attr]
            room = f"hotline-{call_id}"
            assert len(await asyncio.to_thread(_members, stack, room)) == 3  # what ConfbridgeList says
            await request({"type": "conference", "id": 7, "action": "leave", "call_id": call_id})

            def agent_gone(m: dict[str, object]) -> bool:  # earlier states (while joining) are skipped
                return sorted(x["role"] for x in m["members"]) == ["citizen", "unit"]  # type: ignore[attr-defined]

            after = await push("conference_state", agent_gone)
            left = [p_ for p_ in after["participants"] if p_["role"] == "agent"]  # type: ignore[attr-defined]
            assert left and left[0]["left_at"] is not None
            await _until_members(stack, room, 2, 15, "citizen and unit together")
    finally:
        if citizen is not None:
            citizen.kill()
        for proc in stack.sipp.procs:
            if proc.poll() is None and "citizen_phone" in " ".join(map(str, proc.args)):
                proc.kill()
        await asyncio.to_thread(suite_members, stack.config, True)
