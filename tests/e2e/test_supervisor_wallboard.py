"""The supervisor's live wallboard and actions with the real Asterisk and the real CTI server process: a
supervisor signed in over the link receives pushed snapshots while SIPp calls are answered and abandoned,
and the pushed figures match the call records; a supervisor's pause reaches the agent's desktop and
Asterisk's QueueStatus; a supervisor's phone (a SIPp party reached through the carrier trunk) is brought
into an agent's live call with ChanSpy, seen in AMI CoreShowChannels; each action is in the audit log."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from websockets.asyncio.client import ClientConnection, connect

from ari_app import protocol as p
from ari_app.config import load_config
from ari_app.health import AmiSession
from tests.e2e.conftest import Stack
from tests.e2e.harness import ROOT, calls, hotline, suite_members

PASSWORD = "e2e-班长-pass"
TZ = ZoneInfo("Asia/Shanghai")


def _add_user(stack: Stack, login: str, role: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ari_app.cli",
            "-c",
            str(stack.config),
            "users",
            "add",
            login,
            "--role",
            role,
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0 or "exists" in proc.stderr, proc.stderr


class Client:
    """A link client that keeps every push; requests wait for their reply."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pushes: list[dict[str, Any]] = []
        self.replies: dict[int, dict[str, Any]] = {}
        self.n = 0
        self.changed = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            msg = json.loads(frame)
            if "re" in msg:
                self.replies[msg["re"]] = msg
            else:
                msg["received_at"] = time.monotonic()
                self.pushes.append(msg)
            self.changed.set()

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        n = self.n
        await self.ws.send(json.dumps({"type": kind, "id": n, **fields}))
        return await self.until(lambda: self.replies.pop(n, None), 15, f"the reply to {kind}")

    async def until(self, found: Callable[[], Any], within: float, what: str) -> Any:
        async def wait() -> Any:
            while not (value := found()):
                self.changed.clear()
                await self.changed.wait()
            return value

        try:
            return await asyncio.wait_for(wait(), within)
        except TimeoutError as exc:
            raise AssertionError(f"timed out after {within} s waiting for {what}") from exc

    def boards(self) -> list[dict[str, Any]]:
        return [m for m in self.pushes if m["type"] == p.Msg.WALLBOARD]

    async def board_where(self, test: Callable[[dict[str, Any]], bool], within: float, what: str) -> dict[str, Any]:
        return await self.until(lambda: next((b for b in reversed(self.boards()) if test(b)), None), within, what)

    async def sign_out(self) -> None:
        """Sign out, as a user leaves (a desktop that only disconnects stays signed in, and so does its agent's
        state in the queue); nothing to do when the test signed out already or closed the link."""
        if self.reader.done():
            return
        deadline = time.monotonic() + 30
        done = await self.request(p.Msg.SIGN_OUT)
        # a queue Asterisk has not given back yet (a test restarted it) answers queue_unavailable: try again,
        # as the desktop tells its user to
        while done.get("error_id") == p.ErrorId.QUEUE_UNAVAILABLE and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            done = await self.request(p.Msg.SIGN_OUT)
        assert done["type"] == p.Msg.SIGNED_OUT or done.get("error_id") == p.ErrorId.NOT_SIGNED_IN, done

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


@pytest.fixture
async def link(stack: Stack) -> AsyncIterator[Callable[[str, str], Any]]:
    port = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["server"]["port"]
    opened: list[Client] = []

    async def open_as(login: str, role: str) -> Client:
        _add_user(stack, login, role)
        c = Client(await connect(f"ws://127.0.0.1:{port}"))
        opened.append(c)
        assert (await c.request(p.Msg.HELLO, version=p.PROTOCOL_VERSION))["type"] == p.Msg.WELCOME
        signed = await c.request(p.Msg.SIGN_IN, agent_id=login, password=PASSWORD)
        assert signed["type"] == p.Msg.SIGNED_IN, signed
        return c

    yield open_as
    for c in opened:
        await c.sign_out()
        await c.close()


async def ami(stack: Stack, action: str, complete: str, **fields: str) -> list[dict[str, str]]:
    """One AMI list action on a session of its own: the events up to `complete`."""
    cfg = load_config(stack.config)
    a = cfg.asterisk.ami
    async with AmiSession(a.host, a.port, a.username, a.secret.value() if a.secret else "", timeout=10) as s:
        assert s.reader is not None and s.writer is not None
        lines = [f"Action: {action}", "ActionID: e2e-list", *(f"{k}: {v}" for k, v in fields.items())]
        s.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await s.writer.drain()
        out: list[dict[str, str]] = []
        while True:
            block = await asyncio.wait_for(s.reader.readuntil(b"\r\n\r\n"), 10)
            msg = dict(line.split(": ", 1) for line in block.decode("utf-8", "replace").split("\r\n") if ": " in line)
            if msg.get("ActionID") != "e2e-list":
                continue
            if msg.get("Event") == complete:
                return out
            if "Event" in msg:
                out.append(msg)


def _h(board: dict[str, Any], number: str) -> dict[str, Any]:
    return next(h for h in board["hotlines"] if h["hotline"] == number)


def _audit(stack: Stack) -> list[tuple[str, str, dict[str, Any]]]:
    db = yaml.safe_load(stack.config.read_text(encoding="utf-8"))["database"]["url"].split("///", 1)[1]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select login, action, detail from audit_log where action like 'supervise_%'").fetchall()
    return [(login, action, json.loads(detail)) for login, action, detail in rows]


async def test_pushed_wallboard_follows_answered_and_abandoned_calls_and_matches_the_records(
    stack: Stack, link: Callable[[str, str], Any]
) -> None:
    sup = await link("boss", "supervisor")
    first = await sup.request(p.Msg.WALLBOARD_SUBSCRIBE)
    assert first["type"] == p.Msg.WALLBOARD
    before = _h(first, "12350")
    answered = [f"126{random.randrange(10**8):08d}" for _ in range(2)]
    procs = [stack.sipp.call("12350", caller, talk_ms=3000, wait=False) for caller in answered]
    during = await sup.board_where(lambda b: _h(b, "12350")["talking"] >= 1, 30, "a call in progress pushed")
    assert during["agent_states"]["on_call"] >= 1
    assert any(a["call"] and a["call"]["caller"] in answered for a in during["agents"])
    await sup.board_where(
        lambda b: _h(b, "12350")["answered"] - before["answered"] == 2 and _h(b, "12350")["talking"] == 0,
        30,
        "two answered calls pushed",
    )
    for proc in procs:
        assert proc.wait(timeout=30) == 0
    suite_members(stack.config, present=False)  # nobody to answer: the next caller gives up after 2 s
    try:
        gave_up = f"125{random.randrange(10**8):08d}"
        proc = stack.sipp.call("12350", gave_up, talk_ms=2500, wait=False)
        waiting = await sup.board_where(lambda b: _h(b, "12350")["waiting"] >= 1, 20, "a waiting caller pushed")
        assert _h(waiting, "12350")["longest_wait_seconds"] >= 0
        after = await sup.board_where(
            lambda b: _h(b, "12350")["abandoned"] - before["abandoned"] == 1, 30, "the abandoned call pushed"
        )
        proc.wait(timeout=30)
    finally:
        suite_members(stack.config, present=True)
    pushed = _h(after, "12350")
    today = datetime.fromisoformat(after["at"]).astimezone(TZ).date()
    mine = [
        c
        for c in calls(stack.config, limit=5000)
        if c["hotline"] == "12350" and datetime.fromisoformat(c["arrived_at"]).astimezone(TZ).date() == today
    ]
    answered_rows = [c for c in mine if c["answered_at"]]
    assert pushed["answered"] == len(answered_rows)
    assert pushed["abandoned"] == len(
        [c for c in mine if c["state"] == "abandoned" or c["end_reason"] == "queue_timeout"]
    )
    within = len([c for c in answered_rows if c["wait_seconds"] <= after["threshold_seconds"]])
    assert pushed["service_level"] == round(100 * within / (pushed["answered"] + pushed["abandoned"]), 1)
    assert pushed["average_wait"] == round(sum(c["wait_seconds"] for c in answered_rows) / len(answered_rows), 1)
    assert sum(after["calls_per_15_minutes"]["12350"]) == len(mine)
    # pushed, not polled: several snapshots arrived, none asked for, each at most a few per second
    boards = sup.boards()
    assert len(boards) >= 3
    stamps = [datetime.fromisoformat(b["at"]).timestamp() for b in boards]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.24, gaps  # the server's coalescing: at most one snapshot per 0.25 s
    assert after["health"]["state"] in ("up", "degraded", "unknown")


async def test_supervisor_pause_shows_on_the_agent_and_in_queue_status(
    stack: Stack, link: Callable[[str, str], Any]
) -> None:
    sup = await link("boss", "supervisor")
    agent = await link("1003", "agent")
    try:
        r = await sup.request(p.Msg.SUPERVISE_AGENT, agent_id="1003", action="pause", reason="training")
        assert r["type"] == p.Msg.AGENT_SUPERVISED and r["state"]["state"] == "paused", r
        pushed = await agent.until(
            lambda: next((m for m in agent.pushes if m["type"] == p.Msg.AGENT_STATE and m["state"] == "paused"), None),
            10,
            "the pause on the agent's desktop",
        )
        assert pushed["reason"] == "training"
        members = await ami(stack, "QueueStatus", "QueueStatusComplete", Queue="hotline")
        (member,) = [m for m in members if m.get("Event") == "QueueMember" and "1003" in m.get("StateInterface", "")]
        assert (member["Paused"], member.get("PausedReason")) == ("1", "training")
    finally:
        r = await sup.request(p.Msg.SUPERVISE_AGENT, agent_id="1003", action="resume")
    assert r["state"]["state"] == "ready"
    members = await ami(stack, "QueueStatus", "QueueStatusComplete", Queue="hotline")
    (member,) = [m for m in members if m.get("Event") == "QueueMember" and "1003" in m.get("StateInterface", "")]
    assert member["Paused"] == "0"
    modes = [(a, d["agent"], d["outcome"]) for login, a, d in _audit(stack) if login == "boss"]
    assert ("supervise_pause", "1003", "done") in modes and ("supervise_resume", "1003", "done") in modes


async def test_supervisor_listens_to_a_live_call_with_chanspy(stack: Stack, link: Callable[[str, str], Any]) -> None:
    sup = await link("boss", "supervisor")
    await sup.request(p.Msg.WALLBOARD_SUBSCRIBE)
    caller = f"124{random.randrange(10**8):08d}"
    citizen = stack.sipp.call("12345", caller, talk_ms=60000, wait=False)
    phone = None
    try:
        board = await sup.board_where(
            lambda b: any(
                a["call"] and a["call"]["caller"] == caller and a["call"]["phase"] == "connected" for a in b["agents"]
            ),
            30,
            "the call connected to an agent on the wallboard",
        )
        on_call = next(a for a in board["agents"] if a["call"] and a["call"]["caller"] == caller)
        call_id = on_call["call"]["call_id"]
        idle = next(a["id"] for a in board["agents"] if a["call"] is None)
        r = await sup.request(p.Msg.SUPERVISE_AGENT, agent_id=idle, action="listen", phone="13900000001")
        assert r["error_id"] == p.ErrorId.AGENT_NOT_ON_CALL

        async def spying() -> dict[str, str] | None:
            chans = await ami(stack, "CoreShowChannels", "CoreShowChannelsComplete")
            agent_ch = next(
                c["Channel"]
                for c in chans
                if c.get("Linkedid") == call_id and c["Channel"].startswith(f"PJSIP/{on_call['extension']}-")
            )
            return next(
                (
                    c
                    for c in chans
                    if c.get("Application") == "ChanSpy" and c.get("ApplicationData", "").startswith(agent_ch)
                ),
                None,
            )

        for mode, options in (("listen", "bqES"), ("whisper", "bqwES"), ("barge", "bqBES")):
            # the supervisor's phone, through the carrier trunk; it hangs up after 8 s, which ends the spying
            phone = stack.sipp.citizen_phone(talk_ms=8000)
            r = await sup.request(p.Msg.SUPERVISE_AGENT, agent_id=on_call["id"], action=mode, phone="13900000001")
            assert r["type"] == p.Msg.AGENT_SUPERVISED and r["call_id"] == call_id, r
            deadline = time.monotonic() + 20
            spy = None
            while spy is None and time.monotonic() < deadline:
                spy = await spying()
                if spy is None:
                    await asyncio.sleep(0.3)
            assert spy is not None, f"{mode}: no channel running ChanSpy on the agent's channel"
            assert spy["ApplicationData"].endswith(f",{options}") and spy["Context"] == "hotline-spy"
            assert spy["Channel"].startswith("PJSIP/carrier-telecom-")
            assert await asyncio.to_thread(phone.wait, 30) == 0
            deadline = time.monotonic() + 10
            while await spying() is not None and time.monotonic() < deadline:  # noqa: ASYNC110 - AMI has no event for it here
                await asyncio.sleep(0.3)
            assert await spying() is None, f"{mode}: ChanSpy still running after the supervisor hung up"
        done = [
            (a, d["call_id"], d["phone"])
            for login, a, d in _audit(stack)
            if login == "boss" and d.get("call_id") == call_id and d["outcome"] == "done"
        ]
        assert done == [(f"supervise_{m}", call_id, "13900000001") for m in ("listen", "whisper", "barge")]
        assert citizen.poll() is None  # the citizen's call went on throughout
    finally:
        for proc in (citizen, phone):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        hotline(stack.config, "asterisk", "cli", "channel request hangup all")
