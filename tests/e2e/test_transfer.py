"""Transfers with the real Asterisk, the real CTI server and SIPp parties, driven from two agents' link
connections as their desktops would: a blind transfer from one agent to another (the second agent's phone
rings and answers, their desktop pops with the same call and case, citizen and second agent are bridged,
the recording goes on, the call record ends with the second agent), and an attended transfer to a unit's
number that the agent completes (citizen and unit bridged)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import websockets
import yaml

from ari_app.ami import AmiLink
from ari_app.calls.model import Call
from ari_app.calls.tracker import CallTracker
from ari_app.config import load_config
from ari_app.server import ConfigAgents
from tests.support.e2e import Stack, add_user, calls, suite_members
from tests.support.waiting import until

PASSWORD = "transfer-pass"


class Memory:
    def save(self, call: Call) -> None:
        pass


class Agent:
    """One agent's link connection: requests wait for their reply, pushes are kept in order."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pushes: list[dict[str, Any]] = []
        self._id = 0

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        self._id += 1
        await self.ws.send(json.dumps({"type": kind, "id": self._id, **fields}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
            if msg.get("re") == self._id:
                return msg  # type: ignore[no-any-return]
            self.pushes.append(msg)

    async def push(
        self, kind: str, ok: Callable[[dict[str, Any]], bool] = lambda m: True, within: float = 30
    ) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                for i, m in enumerate(self.pushes):
                    if m["type"] == kind and ok(m):
                        return self.pushes.pop(i)
                self.pushes.append(json.loads(await self.ws.recv()))

        try:
            return await asyncio.wait_for(wait(), within)
        except TimeoutError as exc:
            raise AssertionError(f"no {kind} push within {within} s; got {self.pushes}") from exc


@pytest.fixture
async def ami(stack: Stack) -> AsyncIterator[AmiLink]:
    """A second AMI connection, to look at Asterisk's channels and bridges directly."""
    cfg = load_config(stack.config)
    link = AmiLink(cfg, CallTracker(Memory(), ConfigAgents(cfg), [h.number for h in cfg.hotlines]))
    await link.start()
    await asyncio.wait_for(link.connected.wait(), 20)
    yield link
    await link.stop()


async def channels(ami: AmiLink) -> list[dict[str, str]]:
    assert ami.manager is not None
    reply = await ami.manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
    return [dict(m) for m in (reply if isinstance(reply, list) else [reply]) if m.get("Event") == "CoreShowChannel"]


async def bridged_with_citizen(ami: AmiLink, call_id: str, prefix: str, within: float = 20) -> dict[str, str]:
    """Wait until a channel named `prefix`* shares a bridge with the citizen's channel of `call_id`."""

    async def poll() -> dict[str, str]:
        while True:
            live = await channels(ami)
            citizen = next((c for c in live if c.get("Uniqueid") == call_id), None)
            peer = next(
                (
                    c
                    for c in live
                    if c.get("Channel", "").startswith(prefix)
                    and c.get("Uniqueid") != call_id  # the citizen's own channel may match the prefix too
                    and citizen is not None
                    and citizen.get("BridgeId")
                    and c.get("BridgeId") == citizen.get("BridgeId")
                ),
                None,
            )
            if peer is not None:
                return peer
            await asyncio.sleep(0.2)

    try:
        return await asyncio.wait_for(poll(), within)
    except TimeoutError as exc:
        raise AssertionError(f"{prefix} never bridged with the citizen of {call_id}: {await channels(ami)}") from exc


@asynccontextmanager
async def desks(stack: Stack, *logins: str) -> AsyncIterator[list[Agent]]:
    """Signed-in link connections for `logins` (in the queue, paused), with the other members out of the
    queue so that the test's call reaches the agent it means; the members come back afterwards."""
    for login in logins:
        await asyncio.to_thread(add_user, stack.config, login, "agent", PASSWORD)
    await asyncio.to_thread(suite_members, stack.config, False)
    port = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["server"]["port"]
    sockets = [await websockets.connect(f"ws://127.0.0.1:{port}") for _ in logins]
    try:
        agents = [Agent(ws) for ws in sockets]
        for agent, login in zip(agents, logins, strict=True):
            await agent.request("hello", version="1.0")
            assert (await agent.request("sign_in", agent_id=login, password=PASSWORD))["type"] == "signed_in"
        yield agents
    finally:
        for agent in agents:
            await agent.request("sign_out")
        for ws in sockets:
            await ws.close()
        for proc in stack.sipp.procs:
            if proc.poll() is None and "citizen_phone" in str(proc.args):
                proc.kill()
        await asyncio.to_thread(suite_members, stack.config, True)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def test_blind_transfer_to_another_agent_pops_their_desktop_with_the_same_case(
    stack: Stack, ami: AmiLink
) -> None:
    caller = f"124{random.randrange(10**8):08d}"
    citizen = None
    async with desks(stack, "1011", "1012") as (first, second):
        try:
            assert (await first.request("set_state", state="ready"))["state"] == "ready"
            citizen = stack.sipp.call("12319", caller, talk_ms=20000, wait=False)
            pop = await first.push("screen_pop")
            call_id = pop["call"]["call_id"]
            await first.push("call_connected")
            created = await first.request(
                "create_case",
                call_id=call_id,
                hotline="12319",
                caller=caller,
                request="路灯不亮，转交另一位坐席继续受理",
                urgency="normal",
                language="zh",
                handling="dispatch",
            )
            case_id = created["case"]["id"]
            assert (await second.request("set_state", state="ready"))["state"] == "ready"

            refused = await second.request("transfer", action="blind", call_id=call_id, agent_id="1011")
            assert refused["error_id"] == "call_not_yours"
            reply = await first.request("transfer", action="blind", call_id=call_id, agent_id="1012")
            assert reply["type"] == "transfer_state" and reply["transfer"]["state"] == "ringing", reply
            assert (await first.push("call_ended"))["reason"] == "transferred"

            popped = await second.push("screen_pop")
            assert popped["call"]["call_id"] == call_id  # the same Linkedid
            assert popped["call"]["transfer"]["from_agent"] == "1011"
            assert popped["call"]["transfer"]["kind"] == "blind"
            assert [c["id"] for c in popped["cases"]] == [case_id]
            await second.push("call_connected")
            assert (await second.push("transfer_state", lambda m: m["transfer"]["state"] == "completed"))[
                "call_id"
            ] == call_id

            peer = await bridged_with_citizen(ami, call_id, "PJSIP/1012-")
            assert peer["Linkedid"] == call_id
            assert not any(c.get("Channel", "").startswith("PJSIP/1011-") for c in await channels(ami))

            record = next(c for c in await asyncio.to_thread(calls, stack.config) if c["id"] == call_id)
            assert record["agent"] == "1012" and record["state"] == "connected"
            recording = Path(record["recording"])
            size = _size(recording)
            await until(
                lambda: _size(recording) > size + 8000,
                15,
                "the recording growing after the transfer",
                blocking=True,
                interval=0.3,
            )

            assert await asyncio.to_thread(citizen.wait, 40) == 0
            ended = await second.push("call_ended")
            assert ended["call_id"] == call_id
            done = await until(
                lambda: next(
                    (c for c in calls(stack.config) if c["id"] == call_id and c["state"] == "ended"),
                    None,
                ),
                20,
                "the call record ended",
                blocking=True,
                interval=0.3,
            )
            assert done["agent"] == "1012" and done["end_reason"] == "caller_hangup"
            assert done["talk_seconds"] and done["talk_seconds"] > 10
            detail = (await second.request("get_case", case_id=case_id))["case"]
            assert [(t["kind"], t["from_agent"], t["target_agent"], t["state"]) for t in detail["transfers"]] == [
                ("blind", "1011", "1012", "completed")
            ]
        finally:
            if citizen is not None and citizen.poll() is None:
                citizen.kill()


@asynccontextmanager
async def consulting(
    stack: Stack, login: str, dialed: str, caller_prefix: str, unit_number: str
) -> AsyncIterator[tuple[Agent, str]]:
    """Agent `login` (signed in and ready) answers a citizen's call to `dialed` (from a caller starting
    `caller_prefix`) and starts an attended transfer to `unit_number`, a SIPp phone behind the carrier trunk:
    the agent and the call's id once the unit has answered; the citizen is hung up after."""
    caller = f"{caller_prefix}{random.randrange(10**8):08d}"
    citizen = None
    async with desks(stack, login) as (agent,):
        try:
            assert (await agent.request("set_state", state="ready"))["state"] == "ready"
            citizen = stack.sipp.call(dialed, caller, talk_ms=25000, wait=False)
            call_id = (await agent.push("screen_pop"))["call"]["call_id"]
            await agent.push("call_connected")
            stack.sipp.citizen_phone(talk_ms=30000)  # the unit's phone, reached through the carrier trunk
            reply = await agent.request("transfer", action="attended", call_id=call_id, number=unit_number)
            assert reply["type"] == "transfer_state" and reply["transfer"]["state"] == "ringing", reply
            await agent.push("transfer_state", lambda m: m["transfer"]["state"] == "answered")
            yield agent, call_id
        finally:
            if citizen is not None and citizen.poll() is None:
                citizen.kill()


async def test_attended_transfer_to_a_unit_number_completes(stack: Stack, ami: AmiLink) -> None:
    async with consulting(stack, "1013", "12345", "123", "12399000009") as (agent, call_id):
        done = await agent.request("transfer", action="complete", call_id=call_id)
        assert done["transfer"]["state"] == "completed", done
        assert (await agent.push("call_ended"))["reason"] == "transferred"
        unit = await bridged_with_citizen(ami, call_id, "PJSIP/carrier-telecom-")
        assert unit["Uniqueid"] != call_id

        async def agent_gone() -> bool:
            return not any(c.get("Channel", "").startswith("PJSIP/1013-") for c in await channels(ami))

        await until(agent_gone, 15, "the agent's channel gone", interval=0.2)
        record = next(c for c in await asyncio.to_thread(calls, stack.config) if c["id"] == call_id)
        assert record["state"] == "connected"  # citizen and unit talk on


async def test_attended_transfer_cancelled_gives_the_agent_the_citizen_back(stack: Stack, ami: AmiLink) -> None:
    async with consulting(stack, "1014", "12358", "122", "12399000010") as (agent, call_id):
        live = await channels(ami)
        agent_leg = next(c for c in live if c.get("Channel", "").startswith("PJSIP/1014-"))
        # consulting: the agent's leg shares a bridge with a carrier leg that is not the citizen's own (other
        # tests' carrier legs may still be up, so the unit's is the one found in the agent's bridge)
        unit_leg = next(
            (
                c
                for c in live
                if c.get("Channel", "").startswith("PJSIP/carrier-telecom-")
                and c["Uniqueid"] != call_id
                and c.get("BridgeId") == agent_leg.get("BridgeId")
            ),
            None,
        )
        assert agent_leg["BridgeId"] and unit_leg is not None, live
        cancelled = await agent.request("transfer", action="cancel", call_id=call_id)
        assert cancelled["transfer"]["state"] == "cancelled", cancelled
        await bridged_with_citizen(ami, call_id, "PJSIP/1014-")  # the agent has the citizen back
        record = next(c for c in await asyncio.to_thread(calls, stack.config) if c["id"] == call_id)
        assert record["state"] == "connected" and record["agent"] == "1014"
        assert all(m["type"] != "call_ended" for m in agent.pushes)
