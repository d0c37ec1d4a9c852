"""The phone panel driven with qtbot over a real baresip (cti_desktop.softphone): a second baresip calls it
directly on loopback, a minimal registrar (tests.support.phones) takes its REGISTER. Ringing with the
caller's number, Answer, the call's timer, Hold, Resume, Mute, keys from the keypad heard by the other side,
Hang up; a killed phone process under the banner until it is back; auto-answer and the devices kept in the
settings; the panel without an account; and the window: the account from `signed_in.phone` starts the
phone, in memory only, sign-out ends it. Screenshots in Chinese and English go to var/screenshots/ (phone_).

On the standard asyncio loop, as most widget tests here (the panel needs no Qt event to show a change): on
qasync's, a loop per test with the phones' subprocess pipes and sockets, the run crashed in Qt's event
processing of a later test about one time in two."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from ari_app.config import Config, Secret
from ari_app.link import LinkServer
from ari_app.link.signin import PHONE_REGISTER_SECONDS
from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient
from cti_desktop.phone_panel import AUTO_ANSWER, SPEAKER, PhonePanel, caller_number, duration, peer_label
from cti_desktop.softphone import (
    AudioDevices,
    CallState,
    PhoneSettings,
    Process,
    Registration,
    SipAccount,
    address_towards,
    alsa_cards,
)
from cti_desktop.tasks import TaskKeeper
from cti_desktop.window import MainWindow
from tests.support.desks import KEEP, dispose, submit_sign_in
from tests.support.phones import OtherSide, Registrar, write_tone
from tests.support.waiting import until

SIP_SECRET = "sip-secret-of-1001"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


class Seconds:
    """The call timer's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tone(tmp_path_factory.mktemp("phone") / "tone.wav")


@pytest.fixture
async def registrar() -> AsyncIterator[Registrar]:
    registrar = await Registrar.open()
    yield registrar
    registrar.close()


@pytest.fixture
async def other(tone: Path) -> AsyncIterator[OtherSide]:
    side = OtherSide(tone)
    await side.start()
    yield side
    await side.phone.stop()


class Rig:
    """A panel with a task keeper as the window has (cti_desktop.tasks): failures are kept; the test fails on them."""

    def __init__(self, tone: Path, settings: QSettings, tr: Tr) -> None:
        self.failures: list[BaseException] = []
        keeper = TaskKeeper(self.failures.append)
        self.tasks, self.spawn = keeper.tasks, keeper.spawn
        self.reports: list[str] = []
        self.clock = Seconds()
        self.tr = tr
        self.panel = PhonePanel(
            tr, self.spawn, settings, lambda _account: PhoneSettings(audio=AudioDevices.files(tone)), self.clock
        )
        self.panel.reported.connect(self.reports.append)
        self.panel.resize(250, 560)
        self.panel.show()

    @property
    def state(self) -> CallState | None:
        status = self.panel.status
        return status.call.state if status is not None and status.call is not None else None

    def uri(self) -> str:
        """Where the other side dials the agent's phone."""
        assert self.panel.phone is not None
        return f"sip:1001@127.0.0.1:{self.panel.phone.sip_port}"


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat)


@pytest.fixture
async def rigs(tone: Path, settings: QSettings) -> AsyncIterator[Callable[[str], Rig]]:
    """`make(lang)`: a panel on the test's settings; each is stopped and deleted after the test, which fails
    on any failure of their tasks."""
    made: list[Rig] = []

    def make(lang: str) -> Rig:
        made.append(Rig(tone, settings, Tr(lang)))
        return made[-1]

    yield make
    for r in made:
        await r.panel.stop()
        await until(lambda r=r: not r.tasks, 5, "the panel's tasks done")  # type: ignore[misc]
        r.panel.close()
        KEEP.append(r.panel)
    assert [f for r in made for f in r.failures] == []


@pytest.fixture
def rig(rigs: Callable[[str], Rig]) -> Rig:
    return rigs("zh")


@pytest.fixture
def shots() -> Iterator[Callable[[Rig, str], None]]:
    """`shoot(rig, name)`: the panel in Chinese and in English, saved to var/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(r: Rig, name: str) -> None:
        lang = r.tr.lang
        for shot_lang in ("zh", "en"):
            r.tr.lang = shot_lang
            r.panel.retranslate()
            QApplication.sendPostedEvents()  # layout and paint requests only (see the conftest's `shot`)
            path = SHOTS / f"phone_{name}_{shot_lang}.png"
            assert r.panel.grab().save(str(path)), path
        r.tr.lang = lang
        r.panel.retranslate()

    yield shoot


def click(qtbot: QtBot, button: QPushButton) -> None:
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def enabled(panel: PhonePanel) -> set[str]:
    buttons: list[QWidget] = [
        panel.answer_button,
        panel.hangup_button,
        panel.hold_button,
        panel.resume_button,
        panel.mute_button,
    ]
    return {b.objectName() for b in buttons if b.isEnabled()}


async def test_ring_answer_hold_resume_mute_keys_and_hang_up_from_the_panel(
    rig: Rig, other: OtherSide, registrar: Registrar, qtbot: QtBot, shots: Any
) -> None:
    panel = rig.panel
    aor = f"sip:1001@127.0.0.1:{registrar.port}"
    panel.signed_in({"aor": aor, "password": SIP_SECRET, "register_seconds": 60})
    await until(lambda: panel.status and panel.status.registration is Registration.REGISTERED, 10, "registered")
    assert registrar.seen >= 1
    assert panel.registration.text() == f"已注册 {aor}"
    assert panel.process.text() == "电话程序：运行中"
    assert panel.call.text() == "空闲" and not panel.banner.isVisible()
    assert enabled(panel) == set() and not panel.keypad.isVisible()
    shots(rig, "1_idle")

    await other.phone.dial(rig.uri())
    await until(lambda: rig.state is CallState.INCOMING, 5, "the panel ringing")
    assert panel.call.text() == "来电 13800000001"
    assert enabled(panel) == {"phoneAnswer", "phoneHangup"}
    shots(rig, "2_ringing")

    click(qtbot, panel.answer_button)
    await until(lambda: rig.state is other.state is CallState.ESTABLISHED, 5, "both sides talking")
    assert panel.call.text() == "通话中 13800000001  0:00"
    assert enabled(panel) == {"phoneHangup", "phoneHold", "phoneMute"}
    rig.clock.now += 65
    panel.ticker.timeout.emit()  # the timer's tick, on the test's clock
    assert panel.call.text() == "通话中 13800000001  1:05"

    click(qtbot, panel.hold_button)
    await until(lambda: rig.state is CallState.HELD, 5, "on hold")
    assert panel.call.text() == "保持中 13800000001  1:05"
    assert enabled(panel) == {"phoneHangup", "phoneResume", "phoneMute"}
    assert not panel.keys["1"].isEnabled()  # keys go to a call that is talking, not one on hold
    shots(rig, "3_on_hold")
    click(qtbot, panel.resume_button)
    await until(lambda: rig.state is CallState.ESTABLISHED, 5, "resumed")

    click(qtbot, panel.mute_button)
    await until(lambda: panel.status and panel.status.call and panel.status.call.muted, 5, "muted")
    assert panel.mute_button.isChecked() and panel.call.text().endswith("（已静音）")
    click(qtbot, panel.mute_button)
    await until(lambda: panel.status and panel.status.call and not panel.status.call.muted, 5, "not muted")
    assert not panel.mute_button.isChecked()

    click(qtbot, panel.keypad_button)
    assert panel.keypad.isVisible()
    for key in "12#":
        click(qtbot, panel.keys[key])
    await until(lambda: other.keys == "12#", 5, "the other side hearing the keys")
    assert panel.sent.text() == "12#"
    shots(rig, "4_keypad")

    click(qtbot, panel.hangup_button)
    await until(lambda: rig.state is None and other.state is None, 5, "the call ended on both sides")
    assert panel.call.text() == "空闲" and panel.sent.text() == "" and enabled(panel) == set()
    assert not panel.ticker.isActive()
    assert rig.reports == []


async def test_a_killed_phone_process_shows_the_banner_until_it_is_back_and_answers_again(
    rig: Rig, other: OtherSide, registrar: Registrar, qtbot: QtBot, shots: Any
) -> None:
    panel = rig.panel
    panel.signed_in({"aor": f"sip:1001@127.0.0.1:{registrar.port}", "password": SIP_SECRET, "register_seconds": 60})
    await until(lambda: panel.status and panel.status.registration is Registration.REGISTERED, 10, "registered")
    phone = panel.phone
    assert phone is not None and phone._proc is not None
    os.kill(phone._proc.pid, signal.SIGKILL)
    await until(lambda: panel.banner.isVisible(), 5, "the banner")
    assert panel.banner.text() == "电话程序已停止，正在重启…"
    assert enabled(panel) == set() and not panel.keypad_button.isEnabled()  # nothing to send keys to
    shots(rig, "5_restarting")
    rig.tr.lang = "en"
    panel.retranslate()
    assert panel.banner.text() == "Phone stopped, restarting…"
    rig.tr.lang = "zh"
    panel.retranslate()
    await until(lambda: not panel.banner.isVisible(), 15, "the banner gone once the phone is back")
    status = panel.status
    assert status is not None and status.process is Process.RUNNING and status.restarts == 1
    await until(lambda: panel.status and panel.status.registration is Registration.REGISTERED, 10, "registered again")

    await other.phone.dial(rig.uri())
    await until(lambda: rig.state is CallState.INCOMING, 5, "the restarted phone ringing")
    click(qtbot, panel.answer_button)
    await until(lambda: rig.state is CallState.ESTABLISHED, 5, "the next call answered")
    click(qtbot, panel.hangup_button)
    await until(lambda: rig.state is None, 5, "hung up")


async def test_hang_up_refuses_a_ringing_call(rig: Rig, other: OtherSide, qtbot: QtBot) -> None:
    rig.panel.signed_in({"aor": "sip:1001@127.0.0.1", "password": None, "register_seconds": 0})
    await until(lambda: rig.panel.status and rig.panel.status.process is Process.RUNNING and not rig.tasks, 10)
    await other.phone.dial(rig.uri())
    await until(lambda: rig.state is CallState.INCOMING, 5, "the panel ringing")
    click(qtbot, rig.panel.hangup_button)
    await until(lambda: rig.state is None and other.state is None, 5, "the call refused on both sides")
    assert rig.panel.call.text() == "空闲" and rig.reports == []


async def test_a_refused_registration_is_shown(rig: Rig, registrar: Registrar) -> None:
    registrar.refuse = True
    aor = f"sip:1001@127.0.0.1:{registrar.port}"
    rig.panel.signed_in({"aor": aor, "password": SIP_SECRET, "register_seconds": 60})
    await until(lambda: rig.panel.status and rig.panel.status.registration is Registration.FAILED, 10, "failed")
    assert rig.panel.registration.text() == f"注册失败 {aor}：403 Forbidden"


async def test_auto_answer_and_the_devices_are_kept_in_the_settings(
    rig: Rig, rigs: Callable[[str], Rig], other: OtherSide, settings: QSettings, qtbot: QtBot
) -> None:
    panel = rig.panel
    panel.signed_in({"aor": "sip:1001@127.0.0.1", "password": None, "register_seconds": 0})
    await until(lambda: panel.status and panel.status.process is Process.RUNNING and panel.phone.account, 10)
    assert panel.registration.text() == "未注册 sip:1001@127.0.0.1"  # an account that does not register
    panel.auto_answer.click()  # as a click on its box does
    assert settings.value(AUTO_ANSWER) in (True, "true")
    await other.phone.dial(rig.uri())
    await until(lambda: rig.state is other.state is CallState.ESTABLISHED, 5, "answered without a click")
    click(qtbot, panel.hangup_button)
    await until(lambda: rig.state is None, 5, "hung up")

    panel.speaker.addItem("USB headset", "usb-headset")  # as alsa_cards lists a plugged-in card
    panel.speaker.setCurrentIndex(panel.speaker.findData("usb-headset"))
    await until(lambda: not rig.tasks, 5, "the device switched")
    assert panel.phone is not None and panel.phone.settings.audio.player == "aubridge,usb-headset"
    assert settings.value(SPEAKER) == "usb-headset"
    assert rig.reports == []

    again = rigs("en")  # the next start of the desktop
    assert again.panel.auto_answer.isChecked()
    assert again.panel.speaker.currentData() == "usb-headset"


async def test_without_a_phone_account_the_panel_is_inert(rig: Rig, qtbot: QtBot) -> None:
    panel = rig.panel
    panel.signed_in(None)
    await until(lambda: not rig.tasks, 5, "nothing to do")
    assert panel.phone is None and panel.status is None
    assert panel.registration.text() == "无电话（本次登录没有软电话账号）"
    assert enabled(panel) == set() and not panel.keypad_button.isEnabled()
    assert not panel.banner.isVisible() and panel.call.text() == ""


async def test_a_phone_that_cannot_start_says_why(rigs: Callable[[str], Rig], tone: Path) -> None:
    r = rigs("en")
    r.panel.make_settings = lambda _a: PhoneSettings(audio=AudioDevices.files(tone), executable="no-such-baresip")
    r.panel.signed_in({"aor": "sip:1001@127.0.0.1", "password": "x", "register_seconds": 0})
    await until(lambda: not r.tasks, 5, "the start tried")
    assert r.panel.phone is None and r.panel.banner.isVisible()
    assert r.panel.banner.text().startswith("The phone program did not start: no-such-baresip is not installed")
    assert r.reports == [r.panel.banner.text()]


def test_numbers_times_and_cards() -> None:
    assert caller_number("sip:13800000001@127.0.0.1:5060") == "13800000001"
    assert caller_number("<sip:1002@pbx>") == "1002"
    assert caller_number("sip:pbx.example") == "sip:pbx.example"
    assert peer_label("sip:13800000001@127.0.0.1:5060", "号码未显示") == "13800000001"
    assert peer_label('"Anonymous" <sip:anonymous@anonymous.invalid>', "号码未显示") == "号码未显示"
    assert (duration(0), duration(65), duration(3725)) == ("0:00", "1:05", "1:02:05")


def test_the_phone_listens_on_the_address_towards_the_pbx() -> None:
    assert address_towards("sip:1001@127.0.0.1:5060") == "127.0.0.1"
    assert address_towards("sip:1001@no-such-host.invalid:5060") == "127.0.0.1"  # unresolvable: loopback
    assert address_towards("not sip") == "127.0.0.1"


def test_alsa_cards_read_the_kernels_list(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.write_text(
        " 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n"
        "                      HDA Intel PCH at 0xf7f10000 irq 33\n"
        " 1 [Headset        ]: USB-Audio - Jabra EVOLVE 20\n"
        "                      GN Netcom A/S Jabra EVOLVE 20 at usb-0000:00:14.0-1, full speed\n"
    )
    assert alsa_cards(cards) == [("plughw:CARD=PCH", "HDA Intel PCH"), ("plughw:CARD=Headset", "Jabra EVOLVE 20")]
    assert alsa_cards(tmp_path / "none") == []


# --- the window --------------------------------------------------------------------------------------------
@pytest.fixture
def cfg(cfg: Config, registrar: Registrar, monkeypatch: pytest.MonkeyPatch) -> Config:
    """Agent 1001's phone registers (no contact, a secret), at the test's registrar as Asterisk; 1002 keeps
    its fixed contact (no softphone)."""
    monkeypatch.setenv("TEST_SIP_SECRET_1001", SIP_SECRET)
    agents = tuple(
        replace(a, contact=None, secret=Secret(env="TEST_SIP_SECRET_1001", file=None)) if a.id == "1001" else a
        for a in cfg.agents
    )
    asterisk = replace(cfg.asterisk, sip=replace(cfg.asterisk.sip, host="127.0.0.1", port=registrar.port))
    return replace(cfg, agents=agents, asterisk=asterisk)


def secret_in(path: Path) -> bool:
    return path.exists() and SIP_SECRET in path.read_text(errors="replace")


async def open_window(server: LinkServer, tmp_path: Path, tone: Path, login: str, qtbot: QtBot) -> MainWindow:
    settings = QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        Tr("zh"),
        DraftStore(tmp_path / "draft.json"),
        server=server.url,
        settings=settings,
        phone_settings=lambda _account: PhoneSettings(audio=AudioDevices.files(tone)),
    )
    link = LinkClient(server.url, window.handle_message, window.set_link_status, backoff_base=0.02)
    window.link = link
    link.start()
    window.signin.show()
    await link.wait_online(3)
    submit_sign_in(window, qtbot, login)
    await until(lambda: window.isVisible(), 5, "signed in")
    return window


async def test_the_window_starts_the_phone_with_the_account_from_sign_in_and_ends_it_at_sign_out(
    server: LinkServer, registrar: Registrar, tone: Path, tmp_path: Path, qtbot: QtBot, shot: Any
) -> None:
    window = await open_window(server, tmp_path, tone, "1001", qtbot)
    try:
        panel = window.phone
        await until(lambda: panel.status and panel.status.registration is Registration.REGISTERED, 10, "registered")
        phone = panel.phone
        assert phone is not None and phone.account is not None
        aor = f"sip:1001@127.0.0.1:{registrar.port}"
        assert phone.account == SipAccount(aor, password=SIP_SECRET, register=PHONE_REGISTER_SECONDS)
        assert panel.registration.text() == f"已注册 sip:1001@127.0.0.1:{registrar.port}"
        window.resize(1280, 760)
        shot(window, "phone_panel_in_window")
        # the password in memory only: not in the settings, not in the phone's own folder
        window.settings.sync()
        assert not secret_in(Path(window.settings.fileName()))
        assert phone._dir is not None
        folder = phone._dir
        for path in folder.iterdir():
            assert not secret_in(path), path.name
        proc = phone._proc
        assert proc is not None

        window.sign_out_button.click()
        await until(lambda: window.signin.isVisible() and not window.tasks, 5, "signed out, the phone ended")
        assert panel.phone is None
        assert proc.returncode is not None and not folder.exists()
        assert panel.registration.text() == "无电话（本次登录没有软电话账号）"
    finally:
        await dispose(window)


async def test_a_person_without_a_softphone_gets_an_inert_panel(
    server: LinkServer, tone: Path, tmp_path: Path, qtbot: QtBot
) -> None:
    window = await open_window(server, tmp_path, tone, "1002", qtbot)  # a fixed phone: signed_in.phone is null
    try:
        await until(lambda: not window.tasks, 5, "the sign-in's work done")
        panel = window.phone
        assert panel.phone is None and panel.registration.text() == "无电话（本次登录没有软电话账号）"
        assert enabled(panel) == set() and not panel.keypad_button.isEnabled()
    finally:
        await dispose(window)
