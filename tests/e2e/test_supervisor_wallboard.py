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
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from ari_app import protocol as p
from tests.support.e2e import Stack, ami, calls, hotline, suite_members

TZ = ZoneInfo("Asia/Shanghai")


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
