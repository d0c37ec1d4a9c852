"""The phone panel: the agent's softphone (cti_desktop.softphone, a baresip child process) in the window.

It shows the registration (registering / registered / failed, with the account's address), the phone
process (a red banner while a crashed process is being restarted, gone once it is back with its account),
the call (ringing with the caller's number, connected with its time, on hold, muted) and has the buttons
Answer, Hang up, Hold, Resume and Mute, each enabled only when the call's state allows it; a DTMF keypad
(shown on demand) that sends keys while connected; auto-answer; and the headset and microphone (ALSA
devices, switched on a running phone with baresip's `auplay` / `ausrc`).

The window hands it the SIP account from `signed_in.phone` (`signed_in`) and stops it at sign-out and on
close (`stop`). The account, password included, lives only in memory (SipAccount, Softphone.account);
what is kept in the desktop's settings (QSettings, group `phone`) is auto-answer and the two device names.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cti_desktop.i18n import Tr
from cti_desktop.qtutil import Texts, named, refill
from cti_desktop.softphone import (
    AudioDevices,
    CallState,
    PhoneError,
    PhoneSettings,
    PhoneStatus,
    Process,
    Registration,
    SipAccount,
    Softphone,
    address_towards,
    alsa_cards,
)
from cti_desktop.tab import Spawn

log = logging.getLogger(__name__)

KEYS = "123456789*0#"
"""The keypad, row by row (three a row, as on a telephone)."""

AUTO_ANSWER = "phone/auto_answer"
SPEAKER = "phone/speaker"
MICROPHONE = "phone/microphone"
"""The desktop settings the panel keeps (QSettings keys). Never the account or its password."""

CALL_BACKGROUNDS = {CallState.INCOMING: " background: #fff3cd;", CallState.HELD: " background: #ffe0b2;"}
"""The call line's colour while it rings here and while it is on hold."""

MakeSettings = Callable[[SipAccount], PhoneSettings]
"""The phone process's settings for an account (its audio devices and the address it listens on)."""


def system_phone_settings(settings: QSettings) -> MakeSettings:
    """The PC's phone: the chosen ALSA devices (`default` unless chosen), listening on the PC's address
    towards the PBX named in the account."""

    def make(account: SipAccount) -> PhoneSettings:
        speaker = str(settings.value(SPEAKER, "default") or "default")
        microphone = str(settings.value(MICROPHONE, "default") or "default")
        audio = AudioDevices(f"alsa,{speaker}", f"alsa,{microphone}", f"alsa,{speaker}", ("alsa.so",))
        return PhoneSettings(audio=audio, host=address_towards(account.aor))

    return make


def caller_number(uri: str) -> str:
    """The number (user part) of a SIP URI, `sip:13800000001@pbx:5060` → `13800000001`; the URI itself
    when it has none."""
    m = re.match(r"(?:sips?:)?([^@;>]+)@", uri.strip("<>"))
    return m.group(1) if m else uri


def peer_label(uri: str, withheld: str) -> str:
    """What the panel says of the other party: the number of `uri`, or `withheld` for a caller id without a
    digit (`sip:anonymous@…`: the server's rule for a withheld caller, docs/protocol.md `call.caller`)."""
    number = caller_number(uri)
    return number if any(ch.isdigit() for ch in number) else withheld


def duration(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class PhonePanel(QWidget):
    """The softphone's controls (see the module docstring). `reported(text)` puts a line on the window's
    status bar (a refused action). `clock` gives the call timer's seconds (monotonic)."""

    reported = Signal(str)

    def __init__(
        self,
        tr: Tr,
        spawn: Spawn,
        settings: QSettings,
        make_settings: MakeSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.spawn = spawn
        self.settings = settings
        self.make_settings = make_settings or system_phone_settings(settings)
        self.clock = clock
        self.phone: Softphone | None = None
        self.account: SipAccount | None = None  # the one from sign-in (in memory only)
        self.start_error = ""
        self.connected_since: float | None = None
        self._down_at: int | None = None  # `restarts` when the process went down; None while it is up
        self._answered: str | None = None  # the call auto-answer took (once per call)
        self._lock = asyncio.Lock()
        self.setObjectName("phonePanel")
        self._build()
        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self.show_status)
        self.retranslate()

    # --- layout ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.texts = texts = Texts()
        self.title = texts.named(QLabel(), "phoneTitle", "phone_title")
        self.title.setStyleSheet("font-weight: bold;")
        self.banner = named(QLabel(), "phoneBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #b00020; color: white; padding: 6px; font-weight: bold;")
        self.banner.setVisible(False)
        self.registration = named(QLabel(), "phoneRegistration")
        self.registration.setWordWrap(True)
        self.process = named(QLabel(), "phoneProcess")
        self.process.setStyleSheet("color: #666;")
        self.call = named(QLabel(), "phoneCall")
        self.call.setWordWrap(True)
        self.call.setMinimumHeight(44)
        self.answer_button = texts.named(QPushButton(), "phoneAnswer", "phone_answer")
        self.answer_button.setStyleSheet("QPushButton:enabled { background: #2e7d32; color: white; }")
        self.hangup_button = texts.named(QPushButton(), "phoneHangup", "phone_hangup")
        self.hangup_button.setStyleSheet("QPushButton:enabled { background: #b00020; color: white; }")
        self.hold_button = texts.named(QPushButton(), "phoneHold", "phone_hold")
        self.resume_button = texts.named(QPushButton(), "phoneResume", "phone_resume")
        self.mute_button = texts.named(QPushButton(), "phoneMute", "phone_mute")
        self.mute_button.setCheckable(True)
        self.keypad_button = texts.named(QPushButton(), "phoneKeypadToggle", "phone_keypad")
        self.keypad_button.setCheckable(True)
        self.answer_button.clicked.connect(lambda: self._act(lambda p: p.answer()))
        self.hangup_button.clicked.connect(lambda: self._act(lambda p: p.hangup()))
        self.hold_button.clicked.connect(lambda: self._act(lambda p: p.hold()))
        self.resume_button.clicked.connect(lambda: self._act(lambda p: p.resume()))
        self.mute_button.clicked.connect(lambda on: self._act(lambda p: p.mute(bool(on))))
        self.keypad_button.toggled.connect(self._show_keypad)
        buttons = QGridLayout()
        buttons.addWidget(self.answer_button, 0, 0)
        buttons.addWidget(self.hangup_button, 0, 1)
        buttons.addWidget(self.hold_button, 1, 0)
        buttons.addWidget(self.resume_button, 1, 1)
        buttons.addWidget(self.mute_button, 2, 0)
        buttons.addWidget(self.keypad_button, 2, 1)

        self.keypad = named(QWidget(), "phoneKeypad")
        grid = QGridLayout(self.keypad)
        grid.setContentsMargins(0, 0, 0, 0)
        self.sent = named(QLabel(), "phoneKeysSent")
        self.sent.setStyleSheet("font-family: monospace; font-size: 14px;")
        grid.addWidget(self.sent, 0, 0, 1, 3)
        self.keys: dict[str, QPushButton] = {}
        for i, key in enumerate(KEYS):
            button = named(QPushButton(key), f"phoneKey{'star' if key == '*' else 'hash' if key == '#' else key}")
            button.setMinimumHeight(30)
            button.clicked.connect(lambda _=False, k=key: self._send_key(k))
            grid.addWidget(button, 1 + i // 3, i % 3)
            self.keys[key] = button
        self.keypad.setVisible(False)

        self.auto_answer = texts.named(QCheckBox(), "phoneAutoAnswer", "phone_auto_answer")
        self.auto_answer.setChecked(self._setting_bool(AUTO_ANSWER))
        self.auto_answer.toggled.connect(self._auto_answer_toggled)
        self.speaker = named(QComboBox(), "phoneSpeaker")
        self.microphone = named(QComboBox(), "phoneMicrophone")
        self.speaker_label = texts.add(QLabel(), "phone_speaker")
        self.microphone_label = texts.add(QLabel(), "phone_microphone")
        for combo, key in ((self.speaker, SPEAKER), (self.microphone, MICROPHONE)):
            combo.currentIndexChanged.connect(lambda _=0, c=combo, k=key: self._device_chosen(c, k))
        devices = QFormLayout()
        devices.addRow(self.speaker_label, self.speaker)
        devices.addRow(self.microphone_label, self.microphone)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        for widget in (self.title, self.banner, self.registration, self.process, self.call):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        layout.addWidget(self.keypad)
        layout.addWidget(self.auto_answer)
        layout.addLayout(devices)
        layout.addStretch(1)
        self.setFixedWidth(250)

    def retranslate(self) -> None:
        self.texts.say(self.tr_)
        self._fill_devices()
        self.show_status()

    def _fill_devices(self) -> None:
        for combo, key in ((self.speaker, SPEAKER), (self.microphone, MICROPHONE)):
            chosen = str(self.settings.value(key, "default") or "default")
            items = [(self.tr_("phone_default_device"), "default"), *((text, dev) for dev, text in alsa_cards())]
            if chosen not in (dev for _, dev in items):
                items.append((chosen, chosen))  # a device chosen before, not present now
            blocked = combo.blockSignals(True)
            refill(combo, items)
            combo.setCurrentIndex(max(0, combo.findData(chosen)))
            combo.blockSignals(blocked)

    # --- the phone's life ------------------------------------------------------------------------------
    def signed_in(self, phone: dict[str, Any] | None) -> None:
        """`signed_in.phone` (protocol 1.7): start the phone with that account, or, without one (a person
        with no softphone, an older server), show "no phone" and stop any phone still running."""
        if phone and phone.get("aor"):
            account = SipAccount(
                str(phone["aor"]),
                password=phone.get("password") or None,
                register=int(phone.get("register_seconds", 600)),
            )
            self.spawn(self.start(account))
        else:
            self.spawn(self.stop())

    async def start(self, account: SipAccount) -> None:
        """Run the phone with `account`: start its process unless it runs, and (re)set the account unless it
        has this one already (a desktop back after a dropped link signs in again with the same account)."""
        async with self._lock:
            phone = self.phone
            if phone is not None and phone.account == account and phone.status.process is not Process.STOPPED:
                return
            self.account = account
            try:
                if phone is None:
                    self.start_error = ""
                    phone = self.phone = Softphone(self.make_settings(account), on_change=self._changed)
                    await phone.start()
                await phone.set_account(account)
            except PhoneError as exc:
                log.warning("the phone did not start: %s", exc)
                self.start_error = str(exc)
                if self.phone is not None:
                    await self.phone.stop()
                self.phone = self.account = None
                self.show_status()
                self.reported.emit(self.tr_("phone_start_failed", reason=str(exc)))

    async def stop(self) -> None:
        """End the phone (hanging up a call) and forget its account; the panel says "no phone"."""
        async with self._lock:
            phone, self.phone, self.account = self.phone, None, None
            self.start_error = ""
            if phone is not None:
                phone.on_change = None
                await phone.stop()
            self._down_at = None
            self.connected_since = None
            self.show_status()

    # --- what the phone says ---------------------------------------------------------------------------
    def _changed(self, status: PhoneStatus) -> None:
        if status.process is Process.CRASHED and self._down_at is None:
            self._down_at = status.restarts
        elif self._down_at is not None and (status.restarts > self._down_at or status.process is Process.STOPPED):
            self._down_at = None  # back, with its account set again
        call = status.call
        if call is None or call.state not in (CallState.ESTABLISHED, CallState.HELD):
            self.connected_since = None
        elif self.connected_since is None:
            self.connected_since = self.clock()
        if (
            call is not None
            and call.state is CallState.INCOMING
            and self.auto_answer.isChecked()
            and self._answered != call.id
        ):
            self._answered = call.id
            self._act(lambda p: p.answer())
        self.show_status()

    @property
    def status(self) -> PhoneStatus | None:
        return self.phone.status if self.phone is not None else None

    @property
    def restarting(self) -> bool:
        """The phone process ended by itself and is not back yet (the banner shows)."""
        return self.phone is not None and self._down_at is not None

    def show_status(self) -> None:
        """Show the phone's state; enable what its call allows."""
        t, status = self.tr_, self.status
        self.banner.setVisible(self.restarting or bool(self.start_error))
        self.banner.setText(t("phone_start_failed", reason=self.start_error) if self.start_error else t("phone_down"))
        account = self.account
        if status is None:
            self.registration.setText(t("phone_none"))
            self.registration.setStyleSheet("color: #666;")
            self.process.setText("")
        else:
            aor = account.aor if account else ""
            reg = status.registration
            text = t(f"phone_reg_{reg}", aor=aor, reason=status.reason)
            colour = {Registration.REGISTERED: "#2e7d32", Registration.FAILED: "#b00020"}.get(reg, "#8a6d00")
            self.registration.setText(text)
            self.registration.setStyleSheet(f"color: {colour}; font-weight: bold;")
            self.process.setText(t("phone_process", state=t(f"phone_proc_{status.process}")))
        call = status.call if status is not None else None
        self.call.setText(self._call_text(status))
        self.call.setStyleSheet(
            "font-size: 15px; font-weight: bold; padding: 4px;" + (CALL_BACKGROUNDS.get(call.state, "") if call else "")
        )
        state = call.state if call is not None else None
        running = status is not None and status.process is Process.RUNNING
        self.answer_button.setEnabled(running and state is CallState.INCOMING)
        self.hangup_button.setEnabled(running and call is not None)
        self.hold_button.setEnabled(running and state is CallState.ESTABLISHED)
        self.resume_button.setEnabled(running and state is CallState.HELD)
        talking = state in (CallState.ESTABLISHED, CallState.HELD)
        self.mute_button.setEnabled(running and talking)
        blocked = self.mute_button.blockSignals(True)
        self.mute_button.setChecked(bool(call and call.muted))
        self.mute_button.blockSignals(blocked)
        for button in self.keys.values():
            button.setEnabled(running and state is CallState.ESTABLISHED)
        self.keypad_button.setEnabled(running or self.keypad_button.isChecked())  # an open keypad can be closed
        if call is None:
            self.sent.setText("")
        if talking and not self.ticker.isActive():
            self.ticker.start()
        elif not talking and self.ticker.isActive():
            self.ticker.stop()

    def _call_text(self, status: PhoneStatus | None) -> str:
        t = self.tr_
        if status is None or status.process is not Process.RUNNING:
            return ""
        call = status.call
        if call is None:
            return t("phone_idle")
        number = peer_label(call.peer, t("caller_withheld"))
        since = self.connected_since
        elapsed = duration(self.clock() - since) if since is not None else ""
        key = {
            CallState.INCOMING: "phone_ringing",
            CallState.OUTGOING: "phone_dialling",
            CallState.RINGING: "phone_dialling",
            CallState.ESTABLISHED: "phone_connected",
            CallState.HELD: "phone_held",
        }[call.state]
        text = t(key, number=number, time=elapsed)
        return text + (" " + t("phone_muted") if call.muted else "")

    # --- the agent's actions ---------------------------------------------------------------------------
    def _act(self, action: Callable[[Softphone], Any]) -> None:
        phone = self.phone
        if phone is not None:
            self.spawn(self._run(phone, action))

    async def _run(self, phone: Softphone, action: Callable[[Softphone], Any]) -> None:
        try:
            await action(phone)
        except PhoneError as exc:
            self.reported.emit(self.tr_("phone_refused", message=str(exc)))
        self.show_status()

    def _send_key(self, key: str) -> None:
        self.sent.setText(self.sent.text() + key)
        self._act(lambda p: p.dtmf(key))

    def _show_keypad(self, shown: bool) -> None:
        self.keypad.setVisible(shown)

    def _auto_answer_toggled(self, on: bool) -> None:
        self.settings.setValue(AUTO_ANSWER, on)
        status = self.status
        if on and status is not None and status.call is not None and status.call.state is CallState.INCOMING:
            self._changed(status)  # a call ringing now is answered too

    def _device_chosen(self, combo: QComboBox, key: str) -> None:
        device = str(combo.currentData() or "default")
        self.settings.setValue(key, device)
        phone = self.phone
        if phone is None or phone.status.process is not Process.RUNNING:
            return  # used when the phone next starts
        audio = phone.settings.audio
        driver = (audio.player if key == SPEAKER else audio.source).split(",", 1)[0]  # the same driver, another device
        choice = f"{driver},{device}"
        if key == SPEAKER:
            self._act(lambda p: p.switch_audio(player=choice))
        else:
            self._act(lambda p: p.switch_audio(source=choice))

    def _setting_bool(self, key: str) -> bool:
        value = self.settings.value(key, False)
        return value is True or str(value).lower() in ("true", "1")
