"""Three-way calls with the real Asterisk and three SIPp parties (citizen, agent, cooperating unit): the
server-side conference service (ari_app.conference.ThreeWay, on its own AMI connection here) moves the
citizen and the agent into a ConfBridge room and calls the unit in; the agent steps out and the citizen
and the unit stay together; every participant is recorded with times."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from typing import TypeVar

import yaml

from ari_app.ami import AmiLink
from ari_app.calls.model import Call, CallState
from ari_app.calls.tracker import CallTracker
from ari_app.conference import ThreeWay, participants
from ari_app.config import load_config
from ari_app.server import ConfigAgents
from schema.db import make_engine, make_sessionmaker
from tests.e2e.conftest import Stack
from tests.e2e.harness import hotline

T = TypeVar("T")


class Memory:
    def save(self, call: Call) -> None:
        pass


def _members(stack: Stack, room: str) -> list[str]:
    out = hotline(stack.config, "asterisk", "cli", f"confbridge list {room}").stdout
    return re.findall(r"^(PJSIP/\S+)", out, re.M)


async def _until(predicate: Callable[[], T | None], within: float, what: str) -> T:
    """Poll a blocking condition (a CLI call, the tracker) with a deadline, off the event loop."""

    async def poll() -> T:
        while not (value := await asyncio.to_thread(predicate)):  # noqa: ASYNC110 - Asterisk has no event for it
            await asyncio.sleep(0.2)
        return value

    try:
        return await asyncio.wait_for(poll(), within)
    except TimeoutError as exc:
        raise AssertionError(f"timed out after {within} s waiting for {what}") from exc


async def test_agent_brings_a_unit_in_then_leaves_citizen_and_unit_together(stack: Stack) -> None:
    cfg = load_config(stack.config)
    tracker = CallTracker(Memory(), ConfigAgents(cfg), [h.number for h in cfg.hotlines])
    ami = AmiLink(cfg, tracker)
    await ami.start()
    db_url = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"]
    engine = make_engine(db_url)
    three_way = ThreeWay(tracker, ami, make_sessionmaker(engine), cfg.callback.trunk)
    tracker.subscribe(three_way.on_event)
    try:
        await asyncio.wait_for(ami.connected.wait(), 20)
        caller = f"127{random.randrange(10**8):08d}"
        citizen = stack.sipp.call("12345", caller, talk_ms=40000, wait=False)
        call = await _until(
            lambda: next(
                (
                    c
                    for c in tracker.calls.values()
                    if c.caller == caller and c.state == CallState.CONNECTED and c.agent_channel
                ),
                None,
            ),
            20,
            "the citizen connected to an agent",
        )
        unit = stack.sipp.citizen_phone(talk_ms=30000)  # the unit's phone, reached through the carrier trunk
        room = await three_way.start(call.id, "12399000001")
        await _until(lambda: len(_members(stack, room)) == 3 or None, 20, "three parties in the conference")
        members = _members(stack, room)
        assert call.channel in members and call.agent_channel in members
        await three_way.agent_leaves(call.id)
        await _until(lambda: len(_members(stack, room)) == 2 or None, 15, "the agent gone")
        left = _members(stack, room)
        assert call.channel in left and call.agent_channel not in left  # citizen and unit together
        assert tracker.calls[call.id].state == CallState.CONNECTED  # the call goes on
        with make_sessionmaker(engine)() as s:
            people = await asyncio.to_thread(participants, s, call.id)
        assert sorted(p["role"] for p in people) == ["agent", "citizen", "unit"]
        agent = next(p for p in people if p["role"] == "agent")
        assert agent["left_at"] is not None and agent["joined_at"] <= agent["left_at"]
        assert all(p["left_at"] is None for p in people if p["role"] != "agent")
        await three_way.end(call.id)
        await _until(lambda: not _members(stack, room) or None, 15, "the conference ended")
    finally:
        for proc in stack.sipp.procs:
            if proc.poll() is None and "citizen_phone" in " ".join(map(str, proc.args)):
                proc.kill()
        if "citizen" in locals():
            citizen.kill()
        await ami.stop()
        engine.dispose()


async def test_unit_leaves_and_citizen_and_agent_stay_connected(stack: Stack) -> None:
    cfg = load_config(stack.config)
    tracker = CallTracker(Memory(), ConfigAgents(cfg), [h.number for h in cfg.hotlines])
    ami = AmiLink(cfg, tracker)
    await ami.start()
    engine = make_engine(yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"])
    three_way = ThreeWay(tracker, ami, make_sessionmaker(engine), cfg.callback.trunk)
    tracker.subscribe(three_way.on_event)
    citizen = None
    try:
        await asyncio.wait_for(ami.connected.wait(), 20)
        caller = f"126{random.randrange(10**8):08d}"
        citizen = stack.sipp.call("12319", caller, talk_ms=40000, wait=False)
        call = await _until(
            lambda: next(
                (
                    c
                    for c in tracker.calls.values()
                    if c.caller == caller and c.state == CallState.CONNECTED and c.agent_channel
                ),
                None,
            ),
            20,
            "the citizen connected to an agent",
        )
        unit = stack.sipp.citizen_phone(talk_ms=4000)  # the unit says its piece and hangs up
        room = await three_way.start(call.id, "12399000002")
        await _until(lambda: len(_members(stack, room)) == 3 or None, 20, "three parties in the conference")
        assert await asyncio.to_thread(unit.wait, 30) == 0
        await _until(lambda: len(_members(stack, room)) == 2 or None, 15, "the unit gone")
        assert sorted(_members(stack, room)) == sorted([call.channel, call.agent_channel])
        with make_sessionmaker(engine)() as s:
            people = await asyncio.to_thread(participants, s, call.id)
        unit_row = next(p for p in people if p["role"] == "unit")
        assert unit_row["left_at"] is not None and unit_row["number"] == "12399000002"
        await three_way.end(call.id)
    finally:
        if citizen is not None:
            citizen.kill()
        await ami.stop()
        engine.dispose()
