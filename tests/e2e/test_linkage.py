"""联动 with the real Asterisk, the real CTI server and SIPp: a citizen calls, an agent (the suite's SIPp agent
phone) answers, and the agent's link asks for a one-key transfer to 110 (then, on another call, a three-way
call with 110). A SIPp phone behind the carrier trunk plays 110: it receives the INVITE for 110 and the
citizen is bridged with it (or the three of them are in the call's conference room). The case's work order
reaches the local Open311 receiver configured for 110 once, though the receiver fails the first two
attempts (HTTP 503); the receipt is on the case."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases import CaseSettings, configure
from ari_app.cases.exchange import deliver_due
from ari_app.config import load_config
from schema.cases import ExchangeMessage, OutboxStatus
from schema.db import make_engine, make_sessionmaker
from tests.support.cases import Receiver
from tests.support.e2e import POLICE_SERVICE_CODE, Client, Stack, add_user, ami, hotline, suite_members
from tests.support.waiting import until

PASSWORD = "linkage-pass"
CASE = {"urgency": "urgent", "language": "zh", "handling": "dispatch", "address": "某区某路 8 号"}


def _police_url(stack: Stack) -> str:
    data = yaml.safe_load(stack.config.read_text(encoding="utf-8"))
    police = next(x for x in data["linkage"]["partners"] if x["key"] == "110")
    return str(police["receiver"]["url"])


@pytest.fixture
def police(stack: Stack) -> Iterator[Receiver]:
    """The police system's Open311 receiver, on the port the suite's config names for 110."""
    port = urlparse(_police_url(stack)).port
    assert port is not None
    with Receiver(port=port) as receiver:
        yield receiver


@pytest.fixture
def outbox(stack: Stack) -> Iterator[sessionmaker[Session]]:
    """The suite's case database, as the CTI server's case runner reads it."""
    cfg = load_config(stack.config)
    engine = make_engine(cfg.database_url)
    sessions = make_sessionmaker(engine)
    configure(sessions, CaseSettings.from_config(cfg))
    yield sessions
    engine.dispose()


@dataclass
class OnCall:
    agent: Client
    call_id: str
    caller: str


@asynccontextmanager
async def on_call(stack: Stack, login: str, dialed: str) -> AsyncIterator[OnCall]:
    """Agent `login` signed in (the suite's other members out of the queue) and connected to a citizen's call to
    `dialed`; afterwards the citizen and the 110 phone are hung up and the members put back."""
    await asyncio.to_thread(add_user, stack.config, login, "agent", PASSWORD)
    await asyncio.to_thread(suite_members, stack.config, False)
    agent = await Client.connect(stack)
    citizen = None
    try:
        await agent.sign_in(login, PASSWORD)
        assert (await agent.request("set_state", state="ready"))["state"] == "ready"
        caller = f"129{random.randrange(10**8):08d}"
        citizen = stack.sipp.call(dialed, caller, talk_ms=40000, wait=False)
        pop = await agent.until(lambda: next((m for m in agent.pushes if m["type"] == "screen_pop"), None), 30, "pop")
        call_id = pop["call"]["call_id"]
        await agent.until(lambda: any(m["type"] == "call_connected" for m in agent.pushes), 30, "call_connected")
        yield OnCall(agent, call_id, caller)
    finally:
        await agent.sign_out()
        await agent.close()
        if citizen is not None and citizen.poll() is None:
            citizen.kill()
        for proc in stack.sipp.procs:
            if proc.poll() is None and "citizen_phone" in str(proc.args):
                proc.kill()
        await asyncio.to_thread(suite_members, stack.config, True)


async def channels(stack: Stack) -> list[dict[str, str]]:
    return await ami(stack, "CoreShowChannels", "CoreShowChannelsComplete")


async def bridged_with_citizen(stack: Stack, call_id: str, prefix: str, within: float = 20) -> dict[str, str]:
    """The channel named `prefix`* that shares a bridge with the citizen's channel of `call_id`, once it does."""

    async def find() -> dict[str, str] | None:
        live = await channels(stack)
        citizen = next((c for c in live if c.get("Uniqueid") == call_id), None)
        if citizen is None or not citizen.get("BridgeId"):
            return None
        return next(
            (
                c
                for c in live
                if c.get("Channel", "").startswith(prefix)
                and c.get("Uniqueid") != call_id
                and c.get("BridgeId") == citizen["BridgeId"]
            ),
            None,
        )

    return await until(find, within, f"{prefix} bridged with the citizen of {call_id}", interval=0.3)


def invites_for(messages: Path, number: str) -> list[str]:
    """The INVITEs for `number` the 110 phone's SIPp received (its message trace)."""
    text = messages.read_text(encoding="utf-8", errors="replace") if messages.exists() else ""
    return re.findall(rf"^INVITE sip:{number}@\S+ SIP/2\.0", text, re.M)


def deliver(sessions: sessionmaker[Session], url: str, key: str) -> ExchangeMessage:
    """Run the outbox as the CTI server's case runner does, on a clock moved on 20 s per pass (past each
    backoff), until the work order `key` is delivered; the message as it ends."""
    start = datetime.now(UTC)
    for n in range(8):
        deliver_due(sessions, {}, partners={"110": url}, now=start + timedelta(seconds=20 * n), timeout=5)
        with sessions() as s:
            msg = s.scalars(select(ExchangeMessage).where(ExchangeMessage.key == key)).one()
        if msg.status != OutboxStatus.PENDING:
            return msg
    raise AssertionError(f"work order {key} not delivered: {msg.status} {msg.attempts} {msg.last_error}")


async def work_order_key(agent: Client, case_id: int) -> str:
    detail = (await agent.request("get_case", case_id=case_id))["case"]
    return f"{detail['number']}:linkage:110"


async def test_one_key_transfer_to_110_bridges_the_citizen_and_pushes_the_work_order_once(
    stack: Stack, police: Receiver, outbox: sessionmaker[Session]
) -> None:
    police.plan = ["503", "503"]
    messages = stack.tmp / f"police-{random.randrange(10**6)}.log"
    async with on_call(stack, "1007", "12319") as call:
        agent = call.agent
        created = await agent.request(
            "create_case", call_id=call.call_id, hotline="12319", caller=call.caller, request="有人持刀威胁邻居", **CASE
        )
        case_id = created["case"]["id"]
        stack.sipp.citizen_phone(talk_ms=30000, messages=messages)  # 110, reached through the carrier trunk
        reply = await agent.request("transfer", action="blind", call_id=call.call_id, partner="110")
        assert reply["type"] == "transfer_state" and reply["transfer"]["target_number"] == "110", reply
        await agent.until(
            lambda: any(m["type"] == "call_ended" and m["reason"] == "transferred" for m in agent.pushes),
            20,
            "the call leaving the agent",
        )
        peer = await bridged_with_citizen(stack, call.call_id, "PJSIP/carrier-telecom-")
        assert peer["Linkedid"] == call.call_id
        assert len(invites_for(messages, "110")) == 1

        key = await work_order_key(agent, case_id)
        msg = await asyncio.to_thread(deliver, outbox, _police_url(stack), key)
        assert msg.status == OutboxStatus.DELIVERED and msg.service_request_id == "SR-1"
        assert police.attempts == [key] * 3  # two 503s, then accepted
        assert len(police.requests) == 1  # made once
        body = dict(parse_qsl(police.bodies[-1].decode("ascii"), encoding="utf-8"))
        assert body["service_code"] == POLICE_SERVICE_CODE and body["attribute[call_id]"] == call.call_id
        assert body["description"] == "有人持刀威胁邻居" and body["attribute[handoff]"] == "blind"
        detail = (await agent.request("get_case", case_id=case_id))["case"]
        (linkage,) = detail["linkage"]
        assert (linkage["partner"], linkage["kind"], linkage["agent"]) == ("110", "blind", "1007")
        assert (linkage["work_order"], linkage["service_request_id"], linkage["attempts"]) == ("delivered", "SR-1", 3)
        # never sent again
        await asyncio.to_thread(
            deliver_due, outbox, {}, partners={"110": _police_url(stack)}, now=datetime.now(UTC) + timedelta(days=1)
        )
        assert len(police.attempts) == 3


def _members(stack: Stack, room: str) -> list[str]:
    out = hotline(stack.config, "asterisk", "cli", f"confbridge list {room}").stdout
    return re.findall(r"^(PJSIP/\S+)", out, re.M)


async def test_three_way_with_110_brings_the_partner_into_the_call(
    stack: Stack, police: Receiver, outbox: sessionmaker[Session]
) -> None:
    messages = stack.tmp / f"police3-{random.randrange(10**6)}.log"
    async with on_call(stack, "1008", "12345") as call:
        agent = call.agent
        stack.sipp.citizen_phone(talk_ms=30000, messages=messages)
        reply = await agent.request("conference", action="start", call_id=call.call_id, partner="110")
        assert reply["type"] == "conference_state", reply
        room = f"hotline-{call.call_id}"
        await until(
            lambda: len(_members(stack, room)) == 3 or None, 40, "three in the room", blocking=True, interval=0.3
        )
        assert len(invites_for(messages, "110")) == 1

        async def unit_in() -> list[dict[str, Any]] | None:
            found = [m for m in agent.pushes if m["type"] == "conference_state"]
            members = found[-1]["members"] if found else []
            return members if any(x["role"] == "unit" and x["number"] == "110" for x in members) else None

        await until(unit_in, 20, "110 in the room as the agent's desktop is told", interval=0.2)
        # the case saved after the handoff takes it, and its work order goes once
        created = await agent.request(
            "create_case", call_id=call.call_id, hotline="12345", caller=call.caller, request="家中老人摔倒昏迷", **CASE
        )
        case_id = created["case"]["id"]
        key = await work_order_key(agent, case_id)
        msg = await asyncio.to_thread(deliver, outbox, _police_url(stack), key)
        assert msg.status == OutboxStatus.DELIVERED and police.attempts == [key] and len(police.requests) == 1
        detail = (await agent.request("get_case", case_id=case_id))["case"]
        assert [(x["partner"], x["kind"], x["work_order"]) for x in detail["linkage"]] == [
            ("110", "three_way", "delivered")
        ]
        await agent.request("conference", action="end", call_id=call.call_id)
        await until(lambda: not _members(stack, room) or None, 15, "the room gone", blocking=True, interval=0.3)
