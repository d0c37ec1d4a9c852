"""The desktop's softphone against real baresip processes: one as the agent's phone, one as the other side
of the call, reaching each other directly over SIP on loopback (the e2e suite places calls through
Asterisk). Answer, hold, resume, mute, DTMF, hang up and dial; a killed phone process restarted with its
account; the SIP password never on disk; refusals of bad input."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cti_desktop.softphone import (
    AudioDevices,
    CallState,
    PhoneError,
    PhoneSettings,
    PhoneStatus,
    Process,
    SipAccount,
    Softphone,
)
from tests.support.phones import write_tone
from tests.support.waiting import until

SECRET = "phone-secret-7f3a"


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s of a 440 Hz tone, 8 kHz mono: what each phone speaks (baresip hangs up at the end of the file)."""
    return write_tone(tmp_path_factory.mktemp("audio") / "tone.wav")


class Phone:
    def __init__(self, tone: Path, name: str) -> None:
        self.name = name
        self.seen: list[PhoneStatus] = []
        self.phone = Softphone(PhoneSettings(audio=AudioDevices.files(tone)), on_change=self.seen.append)

    @property
    def uri(self) -> str:
        return f"sip:{self.name}@127.0.0.1:{self.phone.sip_port}"

    @property
    def call_state(self) -> CallState | None:
        call = self.phone.status.call
        return call.state if call else None

    async def start(self, password: str | None = None) -> None:
        await self.phone.start()
        await self.phone.set_account(SipAccount(self.uri, password=password, register=0))


@pytest.fixture
async def phones(tone: Path) -> AsyncIterator[tuple[Phone, Phone]]:
    agent, citizen = Phone(tone, "1001"), Phone(tone, "citizen")
    try:
        await agent.start(password=SECRET)
        await citizen.start()
        yield agent, citizen
    finally:
        await agent.phone.stop()
        await citizen.phone.stop()


async def ring(agent: Phone, citizen: Phone) -> None:
    await citizen.phone.dial(agent.uri)
    await until(lambda: agent.call_state is CallState.INCOMING, 5, "the agent's phone ringing")
    assert agent.phone.status.call is not None and agent.phone.status.call.peer == citizen.uri


async def test_answer_hold_resume_mute_dtmf_hang_up(phones: tuple[Phone, Phone]) -> None:
    agent, citizen = phones
    await ring(agent, citizen)
    assert citizen.call_state is CallState.RINGING  # the citizen hears it ring (180)
    await agent.phone.answer()
    await until(lambda: agent.call_state is citizen.call_state is CallState.ESTABLISHED, 5, "both sides talking")

    await agent.phone.hold()
    assert agent.call_state is CallState.HELD
    with pytest.raises(PhoneError, match="the call is held"):
        await agent.phone.dtmf("1")  # keys go to a call that is talking, not one on hold
    await agent.phone.resume()
    assert agent.call_state is CallState.ESTABLISHED

    await agent.phone.mute(True)
    assert agent.phone.status.call is not None and agent.phone.status.call.muted
    await agent.phone.mute(False)
    assert agent.phone.status.call is not None and not agent.phone.status.call.muted
    await agent.phone.dtmf("12#")
    await until(lambda: citizen.phone.status.call and citizen.phone.status.call.keys == "12#", 5, "the keys heard")
    assert agent.phone.status.call is not None and agent.phone.status.call.media  # the citizen's audio arrived

    await agent.phone.hangup()
    await until(lambda: agent.call_state is None and citizen.call_state is None, 5, "the call ended on both sides")
    states = [s.call.state for s in agent.seen if s.call]
    assert states[:2] == [CallState.INCOMING, CallState.ESTABLISHED] and CallState.HELD in states


async def test_the_agent_dials_out(phones: tuple[Phone, Phone]) -> None:
    agent, citizen = phones
    await agent.phone.dial(citizen.uri)
    await until(lambda: citizen.call_state is CallState.INCOMING, 5, "the citizen's phone ringing")
    assert agent.call_state in (CallState.OUTGOING, CallState.RINGING)
    with pytest.raises(PhoneError, match="already in a call"):
        await agent.phone.dial(citizen.uri)
    await citizen.phone.answer()
    await until(lambda: agent.call_state is CallState.ESTABLISHED, 5, "the citizen answered")
    await citizen.phone.hangup()
    await until(lambda: agent.call_state is None, 5, "the agent's call ended when the citizen hung up")


async def test_a_killed_phone_is_restarted_with_its_account(phones: tuple[Phone, Phone]) -> None:
    agent, citizen = phones
    proc = agent.phone._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    await until(lambda: agent.phone.status.process is Process.CRASHED, 5, "the crash reported")
    assert "ended" in agent.phone.status.reason
    await until(
        lambda: agent.phone.status.process is Process.RUNNING and agent.phone.status.restarts == 1,
        15,
        "the phone restarted",
    )
    await ring(agent, citizen)  # the restarted phone has its account again and takes calls
    await agent.phone.answer()
    await until(lambda: agent.call_state is CallState.ESTABLISHED, 5, "the next call answered")
    await agent.phone.hangup()


async def test_the_password_is_never_on_disk(phones: tuple[Phone, Phone]) -> None:
    agent, _ = phones
    folder = agent.phone._dir
    assert folder is not None
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert SECRET not in path.read_text(errors="replace"), path.name
    assert SECRET not in repr(agent.phone.account)
    await agent.phone.stop()
    assert not folder.exists()


async def test_bad_input_is_refused_and_changes_nothing(phones: tuple[Phone, Phone]) -> None:
    agent, _ = phones
    with pytest.raises(PhoneError, match="not there"):
        await agent.phone.answer()
    with pytest.raises(PhoneError, match="not DTMF"):
        await agent.phone.dtmf("12x")
    with pytest.raises(PhoneError, match="not a SIP address"):
        await agent.phone.dial("http://example.org")
    with pytest.raises(PhoneError, match="not a SIP address"):
        await agent.phone.set_account(SipAccount("1001@host"))
    with pytest.raises(PhoneError, match="cannot carry"):
        await agent.phone.set_account(SipAccount("sip:1001@127.0.0.1", password="a;b"))
    with pytest.raises(PhoneError, match="no such audio-player"):
        await agent.phone.switch_audio(player="oss,/dev/dsp")  # a driver this phone has not loaded
    with pytest.raises(PhoneError, match="not an audio device"):
        await agent.phone.switch_audio(source="no driver")
    assert agent.phone.settings.audio.player == "aubridge,heard"
    assert agent.phone.status.call is None and agent.phone.status.process is Process.RUNNING


async def test_a_missing_executable_is_a_clear_error(tone: Path) -> None:
    phone = Softphone(PhoneSettings(audio=AudioDevices.files(tone), executable="no-such-baresip"))
    with pytest.raises(PhoneError, match="not installed"):
        await phone.start()
