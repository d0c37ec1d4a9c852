"""The desktop's softphone (cti_desktop/softphone.py: a real baresip process) as agent 1090's phone on the
real Asterisk: it registers with the account the server hands out at sign-in, a SIPp citizen's call to
12319 rings it, it answers, holds (Asterisk plays the citizen music on hold), resumes, sends keys and hangs
up, and the call's record is right; a killed phone process comes back registered and takes the next call."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from ari_app import protocol as p
from cti_desktop.softphone import AudioDevices, CallState, PhoneSettings, Registration, SipAccount, Softphone
from tests.support.e2e import PASSWORD, SOFTPHONE_AGENT, Stack, alone_in_the_queue, call_record, hotline
from tests.support.link import Desktop
from tests.support.phones import write_tone
from tests.support.waiting import until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the agent says: 60 s of a 440 Hz tone, 8 kHz mono."""
    return write_tone(tmp_path_factory.mktemp("softphone") / "tone.wav")


@pytest.fixture
async def agent_phone(stack: Stack, tone: Path) -> AsyncIterator[tuple[Desktop, Softphone]]:
    """Agent 1090 signed in and ready, the hotline queue's only member, with its softphone registered on the
    account from `signed_in`."""
    with alone_in_the_queue(stack.config, SOFTPHONE_AGENT):
        phone = Softphone(PhoneSettings(audio=AudioDevices.files(tone)))
        try:
            async with connect(stack.link_url) as ws:
                desk = Desktop(ws)
                hello = await desk.request(p.Msg.HELLO, version=p.PROTOCOL_VERSION, client="e2e")
                assert hello["type"] == "welcome"
                signed = await desk.request(p.Msg.SIGN_IN, agent_id=SOFTPHONE_AGENT, password=PASSWORD)
                assert signed["type"] == p.Msg.SIGNED_IN and signed["phone"], signed
                account = signed["phone"]
                await phone.start()
                await phone.set_account(
                    SipAccount(account["aor"], password=account["password"], register=account["register_seconds"])
                )
                await until(lambda: phone.status.registration is Registration.REGISTERED, 10, "the phone registered")
                assert (await desk.request(p.Msg.SET_STATE, state="ready"))["state"] == "ready"
                yield desk, phone
                await desk.request(p.Msg.SIGN_OUT)
        finally:
            await phone.stop()


def citizen_channel(stack: Stack, caller: str) -> list[str] | None:
    """The citizen's channel as `core show channels concise` lists it (fields split), None if not there."""
    out = hotline(stack.config, "asterisk", "cli", "core show channels concise", timeout=30).stdout
    rows = [line.split("!") for line in out.splitlines()]
    return next((f for f in rows if len(f) > 7 and f[7] == caller and f[0].startswith("PJSIP/carrier")), None)


def hearing_music(stack: Stack, caller: str) -> bool:
    """Whether Asterisk plays the citizen's channel its music on hold now. The AMI user's event filter lets
    no hold events through (dialplan/manager.conf.template), so this reads `core show channel`: the music
    on hold's files are GSM (Debian's asterisk-moh-opsound-gsm), and while they play Asterisk writes GSM to
    the channel, whose calls otherwise carry G.711 (the endpoints allow ulaw and alaw only)."""
    channel = citizen_channel(stack, caller)
    if channel is None:
        return False
    out = hotline(stack.config, "asterisk", "cli", f"core show channel {channel[0]}", timeout=30).stdout
    return any(line.split(":", 1)[0].strip() == "WriteFormat" and "gsm" in line for line in out.splitlines())


async def test_the_softphone_answers_holds_resumes_and_hangs_up_a_hotline_call(
    stack: Stack, agent_phone: tuple[Desktop, Softphone]
) -> None:
    desk, phone = agent_phone
    caller = "13990901001"
    citizen = stack.sipp.call("12319", caller, talk_ms=30000, wait=False)
    try:
        await until(
            lambda: phone.status.call and phone.status.call.state is CallState.INCOMING, 15, "the phone ringing"
        )
        pop = await desk.push(p.Msg.SCREEN_POP, within=10)
        assert pop["call"]["caller"] == caller
        await phone.answer()
        await until(lambda: phone.status.call and phone.status.call.state is CallState.ESTABLISHED, 10, "answered")
        await until(lambda: phone.status.call and phone.status.call.media, 10, "the citizen's audio reaching the phone")
        await until(lambda: call_record(stack, caller, "connected"), 15, "the call's record connected", blocking=True)

        assert not await asyncio.to_thread(hearing_music, stack, caller)  # talking, no music before the hold
        await phone.hold()
        await until(
            lambda: hearing_music(stack, caller), 10, "Asterisk playing the citizen music on hold", blocking=True
        )
        await phone.resume()
        await until(
            lambda: not hearing_music(stack, caller), 10, "the music stopped when the agent resumed", blocking=True
        )
        await phone.dtmf("1")
        await phone.hangup()
        await until(lambda: phone.status.call is None, 10, "the phone's call ended")
        ended = await until(lambda: call_record(stack, caller, "ended"), 30, "the ended record", blocking=True)
        assert ended["agent"] == SOFTPHONE_AGENT and ended["answered_at"] and ended["end_reason"] == "agent_hangup"
    finally:
        if citizen.poll() is None:
            citizen.terminate()


async def test_a_killed_phone_comes_back_registered_and_takes_the_next_call(
    stack: Stack, agent_phone: tuple[Desktop, Softphone]
) -> None:
    _, phone = agent_phone
    assert phone._proc is not None
    os.kill(phone._proc.pid, signal.SIGKILL)
    await until(lambda: phone.status.restarts == 1, 20, "the phone restarted")
    await until(lambda: phone.status.registration is Registration.REGISTERED, 15, "registered again")
    caller = "13990901002"
    citizen = stack.sipp.call("12319", caller, talk_ms=3000, wait=False)
    try:
        await until(
            lambda: phone.status.call and phone.status.call.state is CallState.INCOMING, 15, "the phone ringing"
        )
        await phone.answer()
        await until(lambda: phone.status.call and phone.status.call.state is CallState.ESTABLISHED, 10, "answered")
        await until(lambda: phone.status.call is None, 20, "the citizen hung up")
        ended = await until(lambda: call_record(stack, caller, "ended"), 30, "the ended record", blocking=True)
        assert ended["agent"] == SOFTPHONE_AGENT and ended["answered_at"]
    finally:
        if citizen.poll() is None:
            citizen.terminate()
