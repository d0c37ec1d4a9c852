"""The satisfaction survey with the real Asterisk and the CTI server's FastAGI script: the agent hangs up
first, the citizen hears the question and answers on the keypad (RFC 2833); the answer is stored with the
call. A key that is not a choice is asked again and, unanswered, leaves no rating; the call still ends."""

from __future__ import annotations

import random
import signal
from typing import Any

import pytest

from tests.support.e2e import Stack, calls, hotline
from tests.support.waiting import wait_for


@pytest.fixture
def hanging_up_agent(stack: Stack) -> Any:
    """Agent phones that end the call themselves after 2 s (instead of the usual phones, which wait)."""
    usual = [p for p in stack.sipp.procs if "agent-5080" in " ".join(map(str, p.args)) and p.poll() is None]
    for proc in usual:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    yield lambda: stack.sipp.citizen_phone(talk_ms=2000, address="127.0.0.1", port=5080)
    for proc in stack.sipp.procs:
        if "citizen_phone" in " ".join(map(str, proc.args)) and proc.poll() is None:
            proc.kill()
            proc.wait()
    stack.sipp.agent_phone(5080, ring_ms=800)


def _ended(stack: Stack, caller: str) -> dict[str, Any] | None:
    return next((c for c in calls(stack.config) if c["caller"] == caller and c["state"] == "ended"), None)


def test_survey_answer_is_stored_with_the_call(stack: Stack, hanging_up_agent: Any) -> None:
    agent = hanging_up_agent()
    caller = f"131{random.randrange(10**8):08d}"
    citizen = stack.sipp.dtmf_call("12345", caller, key="1", after_ms=5000)
    assert citizen.wait(timeout=60) == 0, "the citizen was not thanked and hung up by Asterisk"
    assert agent.wait(timeout=30) == 0
    call = wait_for(lambda: _ended(stack, caller), 20, "the surveyed call's record")
    assert call["end_reason"] == "agent_hangup"
    assert wait_for(lambda: (_ended(stack, caller) or {}).get("satisfaction"), 10, "the rating") == "satisfied"
    assert f"survey for call {call['id']}: satisfied" in stack.cti.log.read_text(errors="replace")


def test_wrong_key_then_silence_leaves_no_rating_and_ends_the_call(stack: Stack, hanging_up_agent: Any) -> None:
    hanging_up_agent()
    caller = f"131{random.randrange(10**8):08d}"
    citizen = stack.sipp.dtmf_call("12345", caller, key="9", after_ms=5000)
    assert citizen.wait(timeout=90) == 0, "the call was left open after the survey gave up"
    call = wait_for(lambda: _ended(stack, caller), 20, "the call's record")
    assert call["satisfaction"] is None
    log = stack.cti.log.read_text(errors="replace")
    assert f"survey for call {call['id']}: key '9'" in log and f"survey for call {call['id']}: no valid answer" in log


def test_survey_without_the_server_thanks_and_hangs_up(stack: Stack, hanging_up_agent: Any) -> None:
    """The FastAGI script cannot be reached (the CTI server is down): the dialplan thanks the citizen and
    ends the call instead of leaving them in silence."""
    assert stack.cti.proc is not None
    synced = stack.cti.resyncs()
    stack.cti.stop()
    try:
        # while it is down, `hotline status` says so: calls are still answered, but nothing tracks them
        down = hotline(stack.config, "status")
        assert down.returncode == 1 and "the CTI server is not running" in down.stdout, down.stdout
        assert down.stdout.splitlines()[-1] == "Hotline platform: degraded", down.stdout
        hanging_up_agent()
        caller = f"131{random.randrange(10**8):08d}"
        citizen = stack.sipp.dtmf_call("12345", caller, key="1", after_ms=500)  # then waits for the hang-up
        assert citizen.wait(timeout=40) == 0, "the citizen was left on an open line"
    finally:
        stack.cti.start()
        stack.cti.wait_synced(synced + 1)
    cdr = (stack.asterisk_log / "cdr-csv" / "Master.csv").read_text()
    assert any(caller in row and "hotline=12345" in row for row in cdr.splitlines())


def test_citizen_hanging_up_mid_survey(stack: Stack, hanging_up_agent: Any) -> None:
    """The citizen hangs up while the question plays: no rating, the script ends cleanly with the call id
    in the log, and the call is recorded as ended."""
    hanging_up_agent()
    caller = f"131{random.randrange(10**8):08d}"
    citizen = stack.sipp.call("12345", caller, talk_ms=6000, wait=False)  # agent leaves at 2 s, citizen at 6 s
    assert citizen.wait(timeout=60) == 0
    call = wait_for(lambda: _ended(stack, caller), 20, "the call's record")
    assert call["satisfaction"] is None
    wait_for(
        lambda: f"survey for call {call['id']}: the caller hung up" in stack.cti.log.read_text(errors="replace"),
        15,
        "the script's log line",
    )
    log = stack.cti.log.read_text(errors="replace")
    assert f"survey for call {call['id']}: unexpected error" not in log
    assert "FastAGI: script 'survey' failed" not in log
