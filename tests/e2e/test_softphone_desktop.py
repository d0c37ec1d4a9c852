"""The softphone workstation through the desktop's own buttons, against the real Asterisk: the desktop window
(offscreen Qt, on the test's asyncio loop) signs in as agent 1090 and its phone panel starts the real baresip
with the SIP account the server hands out at sign-in; it registers. A SIPp citizen calls 12319: the window
pops the call and the panel rings; the test presses the panel's buttons, never the Softphone API. What the
citizen receives is read off the wire (tests.support.rtp): the agent's 440 Hz tone after Answer; Asterisk's
music on hold after Hold (and no tone), the tone again after Resume; the key pressed on the keypad as an RFC
4733 event Asterisk relayed (the agent's phone sends it to Asterisk, never to the citizen: media is not
direct, `direct_media=no`). Hang up ends the call and its record is right. Then the phone process is killed
(SIGKILL): the banner shows, the phone comes back registered, and the next call is answered with the
button."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from cti_desktop.softphone import CallState, Process, Registration
from tests.support.e2e import ROOT, SOFTPHONE_AGENT, Stack, alone_in_the_queue, call_record, hotline
from tests.support.phones import write_tone
from tests.support.qt import qt_until
from tests.support.rtp import RtpTap, media_port, rms, tone_share
from tests.support.workstation import Workstation

SHOTS = ROOT / "var" / "screenshots"
TONE_HZ = 440
"""What the agent's phone speaks (tests.support.phones.write_tone)."""


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone(tmp_path_factory.mktemp("softphone-desktop") / "tone.wav", seconds=120)


@pytest.fixture
async def desk(stack: Stack, tone: Path, qtbot: QtBot) -> AsyncIterator[Workstation]:
    """Agent 1090's desktop signed in, its phone registered, ready: the hotline queue's only member."""
    with alone_in_the_queue(stack.config, SOFTPHONE_AGENT):
        ws = Workstation(stack.link_url, stack.tmp, tone)
        try:
            await ws.sign_in()
            assert ws.panel.account is not None and ws.panel.account.aor.startswith(f"sip:{SOFTPHONE_AGENT}@")
            ws.window.ready_button.click()
            await qt_until(lambda: ws.window.status_view.state == "ready", 10, "ready")
            yield ws
        finally:
            await ws.close()


def shoot(ws: Workstation, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert ws.window.grab().save(str(SHOTS / f"e2e_softphone_{name}.png"))


async def ringing(stack: Stack, desk: Workstation, citizen: Any) -> None:
    """Wait for the panel to ring; failing, say whether the citizen's SIPp was still calling and what the
    queue looked like (one run on a loaded machine never rang, and left no log to tell why)."""
    try:
        await qt_until(lambda: desk.call_state() is CallState.INCOMING, 20, "the panel ringing")
    except AssertionError as exc:
        queue = hotline(stack.config, "asterisk", "cli", "queue show hotline").stdout
        raise AssertionError(f"{exc}; the citizen's SIPp exit status {citizen.poll()}; {queue}") from exc


async def heard(tap: RtpTap, since: float, seconds: float = 1.0) -> tuple[float, float]:
    """The loudness (RMS) and the tone's share of what reached the citizen in the `seconds` after `since`,
    once that much has arrived."""
    await qt_until(lambda: len(tap.audio(since)) >= 8000 * seconds, 10, f"{seconds} s of audio at the citizen")
    samples = tap.audio(since)[: int(8000 * seconds)]
    return rms(samples), tone_share(samples, TONE_HZ)


async def test_answer_hold_resume_keys_and_hang_up_with_the_panels_buttons(
    stack: Stack, desk: Workstation, qtbot: QtBot
) -> None:
    panel = desk.panel
    shoot(desk, "1_idle")
    caller = "13990902001"
    citizen = stack.sipp.call("12319", caller, talk_ms=60000, wait=False)
    tap = RtpTap(media_port(citizen))
    try:
        await ringing(stack, desk, citizen)
        await qt_until(lambda: desk.window.call_tab.pop.call is not None, 10, "the window's pop")
        pop = next(m for m in desk.received if m["type"] == "screen_pop")
        assert pop["call"]["caller"] == caller
        assert panel.call.text().startswith("来电 ") and panel.answer_button.isEnabled()
        assert not panel.hold_button.isEnabled()
        shoot(desk, "2_ringing")

        answered_at = time.monotonic()
        panel.answer_button.click()
        await qt_until(lambda: desk.call_state() is CallState.ESTABLISHED, 10, "answered")
        loud, share = await heard(tap, answered_at + 0.5)
        print(f"talking: rms {loud:.0f}, 440 Hz share {share:.2f}")
        assert loud > 500 and share > 0.5, "the citizen hears the agent's tone"
        await qt_until(lambda: call_record(stack, caller, "connected"), 15, "the record connected", blocking=True)

        assert panel.hold_button.isEnabled()
        panel.hold_button.click()
        await qt_until(lambda: desk.call_state() is CallState.HELD, 10, "on hold")
        held_at = time.monotonic()
        assert panel.resume_button.isEnabled() and not panel.hold_button.isEnabled()
        shoot(desk, "3_on_hold")
        loud, share = await heard(tap, held_at + 0.5, 2.0)
        print(f"on hold: rms {loud:.0f}, 440 Hz share {share:.2f}")
        assert loud > 200 and share < 0.2, "the citizen hears music on hold, not the agent"

        panel.resume_button.click()
        await qt_until(lambda: desk.call_state() is CallState.ESTABLISHED, 10, "resumed")
        resumed_at = time.monotonic()
        loud, share = await heard(tap, resumed_at + 0.5)
        print(f"resumed: rms {loud:.0f}, 440 Hz share {share:.2f}")
        assert loud > 500 and share > 0.5, "the agent's tone again after Resume"

        panel.keypad_button.click()
        assert panel.keypad.isVisible() and panel.keys["5"].isEnabled()
        keys_at = time.monotonic()
        panel.keys["5"].click()
        await qt_until(lambda: tap.events(keys_at) == "5", 10, "the key relayed by Asterisk to the citizen")
        assert panel.sent.text() == "5"
        shoot(desk, "4_keypad")

        talked = time.monotonic() - answered_at
        panel.hangup_button.click()
        await qt_until(lambda: desk.call_state() is None, 10, "the panel's call ended")
        assert panel.call.text() == "空闲"
        ended = await qt_until(lambda: call_record(stack, caller, "ended"), 30, "the ended record", blocking=True)
        assert ended["direction"] == "inbound" and ended["agent"] == SOFTPHONE_AGENT
        assert ended["end_reason"] == "agent_hangup" and ended["answered_at"]
        assert ended["talk_seconds"] is not None and abs(ended["talk_seconds"] - talked) < 3, (ended, talked)
        # the citizen stays on for the survey: the recording was closed when the agent left, and is sound
        checked = await qt_until(
            lambda: (r := call_record(stack, caller, "ended")) and r["recording_status"] and r,
            30,
            "the recording checked",
            blocking=True,
        )
        assert checked["recording_status"] == "ok", checked["recording_error"]
    finally:
        tap.close()
        if citizen.poll() is None:
            citizen.terminate()


async def test_a_killed_phone_process_is_shown_restarted_and_answers_the_next_call(
    stack: Stack, desk: Workstation, qtbot: QtBot
) -> None:
    panel = desk.panel
    phone = panel.phone
    assert phone is not None and phone._proc is not None
    os.kill(phone._proc.pid, signal.SIGKILL)
    await qt_until(lambda: panel.banner.isVisible(), 10, "the banner")
    assert panel.banner.text() == "电话程序已停止，正在重启…"
    assert not panel.answer_button.isEnabled()
    await qt_until(lambda: not panel.banner.isVisible(), 20, "the phone back")
    assert panel.status.process is Process.RUNNING and panel.status.restarts == 1
    await qt_until(lambda: panel.status.registration is Registration.REGISTERED, 15, "registered again")

    caller = "13990902002"
    citizen = stack.sipp.call("12319", caller, talk_ms=3000, wait=False)
    tap = RtpTap(media_port(citizen))
    try:
        await ringing(stack, desk, citizen)
        answered_at = time.monotonic()
        panel.answer_button.click()
        await qt_until(lambda: desk.call_state() is CallState.ESTABLISHED, 10, "answered")
        loud, share = await heard(tap, answered_at + 0.5)
        assert loud > 500 and share > 0.5, "the citizen hears the restarted phone"
        await qt_until(lambda: desk.call_state() is None, 20, "the citizen hung up")
        ended = await qt_until(lambda: call_record(stack, caller, "ended"), 30, "the ended record", blocking=True)
        assert ended["agent"] == SOFTPHONE_AGENT and ended["answered_at"] and ended["end_reason"] == "caller_hangup"
    finally:
        tap.close()
        if citizen.poll() is None:
            citizen.terminate()
