"""Real SIP calls into the real Asterisk running the project's dialplan, tracked by the real CTI server."""

from __future__ import annotations

import random
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ari_app.asterisk_ctl import AsteriskHost
from ari_app.config import load_config
from tests.support.e2e import AGENTS, Stack, calls, free_members, hotline
from tests.support.waiting import wait_for

HOTLINES = ("12345", "12319", "12358", "12350")


def _caller() -> str:
    return "139" + "".join(random.choice("0123456789") for _ in range(8))


def _ended(config: Path, callers: set[str], n: int | None = None) -> list[dict[str, Any]] | None:
    mine = [c for c in calls(config) if c["caller"] in callers]
    terminal = [c for c in mine if c["state"] in ("ended", "abandoned", "rejected")]
    want = n if n is not None else len(callers)
    return mine if len(terminal) >= want else None


def test_each_hotline_is_tracked_once_with_recording(stack: Stack) -> None:
    placed = {number: _caller() for number in HOTLINES}
    started = time.time()
    procs = [stack.sipp.call(number, caller, talk_ms=2500, wait=False) for number, caller in placed.items()]
    for p in procs:
        assert p.wait(timeout=60) == 0, "SIPp caller failed"
    records = wait_for(lambda: _ended(stack.config, set(placed.values())), 30, "four ended calls")
    assert len(records) == 4, records  # exactly once each
    for number, caller in placed.items():
        (call,) = [c for c in records if c["caller"] == caller]
        assert call["hotline"] == number
        assert call["queue"] == "hotline"
        assert call["state"] == "ended" and call["end_reason"] == "caller_hangup"
        assert call["agent"] is not None and call["agent"].startswith("10")
        arrived = datetime.fromisoformat(call["arrived_at"])
        answered = datetime.fromisoformat(call["answered_at"])
        ended = datetime.fromisoformat(call["ended_at"])
        assert arrived.tzinfo is not None
        assert started - 2 <= arrived.timestamp() <= answered.timestamp() <= ended.timestamp() <= time.time()
        # Asterisk answers the caller at once; the agent phone rings 0.8 s; the caller hangs up 2.5 s
        # after Asterisk answered, so wait + talk is about 2.5 s
        assert 0.7 <= call["wait_seconds"] <= 2.0, call
        assert 0.5 <= call["talk_seconds"], call
        assert abs(call["wait_seconds"] + call["talk_seconds"] - 2.5) < 0.7, call
        rec = Path(call["recording"])
        assert rec.is_file() and rec.stat().st_size > 8000, rec
        assert f"/{number}/" in str(rec) and rec.name == f"{call['id']}.wav"
        for side in ("caller", "agent"):
            part = rec.with_name(f"{call['id']}-{side}.wav")
            assert part.is_file() and part.stat().st_size > 8000, part


def test_unconfigured_number_is_rejected_and_logged(stack: Stack) -> None:
    caller = _caller()
    stack.sipp.call("99999", caller, talk_ms=500)
    (call,) = wait_for(lambda: _ended(stack.config, {caller}), 20, "the rejected call")
    assert call["state"] == "rejected" and call["end_reason"] == "not_a_hotline"
    assert call["hotline"] is None and call["agent"] is None
    cdr = stack.asterisk_log / "cdr-csv" / "Master.csv"
    wait_for(lambda: caller in cdr.read_text() or None, 20, "the CDR of the rejected call")
    (line,) = [row for row in cdr.read_text().splitlines() if caller in row]
    assert "rejected=99999" in line


def test_twenty_concurrent_calls_are_all_tracked(stack: Stack) -> None:
    # twenty callers for twenty agents: each is answered at once only if every agent is free and unpaused
    try:
        wait_for(lambda: free_members(stack.config) == AGENTS or None, 30, f"all {AGENTS} agents free")
    except AssertionError as exc:
        queue = hotline(stack.config, "asterisk", "cli", "queue show hotline").stdout
        raise AssertionError(f"{exc}; the queue:\n{queue}") from None
    placed = [(HOTLINES[i % 4], _caller()) for i in range(20)]
    procs = [stack.sipp.call(number, caller, talk_ms=4000, wait=False) for number, caller in placed]
    for p in procs:
        assert p.wait(timeout=90) == 0, "a SIPp caller failed"
    callers = {c for _, c in placed}
    records = wait_for(lambda: _ended(stack.config, callers), 60, "twenty ended calls")
    assert len(records) == 20
    assert len({c["id"] for c in records}) == 20
    for number, caller in placed:
        (call,) = [c for c in records if c["caller"] == caller]
        assert call["hotline"] == number
        assert call["state"] == "ended", call
        assert call["talk_seconds"] is not None and call["talk_seconds"] >= 2
    assert len({c["agent"] for c in records}) >= 10  # spread over the agents, not queued behind one


def test_asterisk_crash_and_restart_leaves_no_call_stuck_or_doubled(stack: Stack) -> None:
    placed = [(HOTLINES[i], _caller()) for i in range(3)]
    procs = [stack.sipp.call(number, caller, talk_ms=60000, wait=False, timeout=90) for number, caller in placed]
    callers = {c for _, c in placed}

    def connected() -> bool | None:
        mine = [c for c in calls(stack.config) if c["caller"] in callers]
        return (len(mine) == 3 and all(c["state"] == "connected" for c in mine)) or None

    wait_for(connected, 30, "three connected calls")
    synced = stack.cti.resyncs()
    host = AsteriskHost.for_config(load_config(stack.config))
    assert host.pid() is not None
    host.kill()  # a crash: no Hangup events reach the server
    for p in procs:
        p.kill()
        p.wait()
    up = hotline(stack.config, "asterisk", "up", timeout=300)
    assert up.returncode == 0, up.stderr
    stack.cti.wait_synced(synced + 1, timeout=60)  # reconnected by itself and resynchronised
    records = wait_for(lambda: _ended(stack.config, callers), 20, "the three calls ended after the restart")
    assert len(records) == 3
    assert all(c["state"] == "ended" and c["end_reason"] == "lost" for c in records), records
    assert not [c for c in calls(stack.config) if c["state"] not in ("ended", "abandoned", "rejected")]
    # and the platform takes calls again
    for i in range(20):
        hotline(
            stack.config, "asterisk", "cli", f"queue add member PJSIP/{1001 + i} to hotline penalty 0 as {1001 + i}"
        )
    caller = _caller()
    stack.sipp.call("12345", caller, talk_ms=1500)
    (after,) = wait_for(lambda: _ended(stack.config, {caller}), 30, "a call after the restart")
    assert after["state"] == "ended" and after["hotline"] == "12345"


def test_fifth_hotline_is_a_config_change_only(stack: Stack) -> None:
    data = yaml.safe_load(stack.config.read_text(encoding="utf-8"))
    if not any(h["number"] == "12369" for h in data["hotlines"]):
        data["hotlines"].append(
            {
                "number": "12369",
                "name_zh": "环保举报热线",
                "name_en": "Environmental Hotline",
                "unit": "市生态环境局",
                "mode": "collaborative",
            }
        )
        stack.config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert hotline(stack.config, "config", "check").returncode == 0
    up = hotline(stack.config, "asterisk", "up", timeout=120)  # Asterisk is running: installs and reloads
    assert up.returncode == 0, up.stderr
    caller = _caller()
    stack.sipp.call("12369", caller, talk_ms=1500)
    (call,) = wait_for(lambda: _ended(stack.config, {caller}), 30, "the call to the fifth hotline")
    assert call["hotline"] == "12369" and call["state"] == "ended" and call["agent"] is not None
    assert "/12369/" in call["recording"]


def test_cti_server_crash_loses_no_call(stack: Stack) -> None:
    """The server is killed while calls are up and started again: the calls it had are taken back from the
    database, reconciled with Asterisk, and end normally when the callers hang up."""
    placed = [(HOTLINES[i], _caller()) for i in range(3)]
    procs = [stack.sipp.call(number, caller, talk_ms=9000, wait=False) for number, caller in placed]
    callers = {c for _, c in placed}

    def connected() -> bool | None:
        mine = [c for c in calls(stack.config) if c["caller"] in callers]
        return (len(mine) == 3 and all(c["state"] == "connected" for c in mine)) or None

    wait_for(connected, 30, "three connected calls")
    assert stack.cti.proc is not None
    stack.cti.proc.kill()
    stack.cti.proc.wait()
    synced = stack.cti.resyncs()
    stack.cti.start()
    stack.cti.wait_synced(synced + 1, timeout=60)
    for p in procs:
        assert p.wait(timeout=60) == 0
    records = wait_for(lambda: _ended(stack.config, callers), 30, "the three calls ended")
    assert len(records) == 3
    for c in records:
        assert c["state"] == "ended" and c["end_reason"] == "caller_hangup", c
        assert abs(c["wait_seconds"] + c["talk_seconds"] - 9.0) < 1.0, c
