"""Desktop windows on the real stack (the e2e suite and benchmarks/bench_softphone.py), each with its own
link and signed in through the sign-in form; the softphone workstation: the desktop window of the softphone
agent (tests.support.e2e.SOFTPHONE_AGENT), its phone panel running the real baresip that speaks a WAV file
instead of a microphone. Offscreen Qt on a plain asyncio loop: waits go through `qt_until`, which processes
Qt's events."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient, LinkError
from cti_desktop.phone_panel import PhonePanel
from cti_desktop.softphone import AudioDevices, CallState, PhoneSettings, Registration
from cti_desktop.window import MainWindow
from tests.support.e2e import PASSWORD, SOFTPHONE_AGENT
from tests.support.qt import qt_until


class LinkedWindow:
    """A desktop `window` and its link to the server at `url`, started; every message the window handled is
    kept in `received` for the assertions."""

    def __init__(self, window: MainWindow, url: str) -> None:
        self.window = window
        self.received: list[dict[str, Any]] = []

        def handle(msg: dict[str, Any]) -> None:
            self.received.append(msg)
            self.window.handle_message(msg)

        self.link = LinkClient(url, handle, self.window.set_link_status, backoff_base=0.1, backoff_max=0.5)
        self.window.link = self.link
        self.link.start()

    async def sign_in_as(self, agent: str, password: str) -> None:
        """Sign in through the form; wait for the window to show, paused."""
        await self.link.wait_online(10)
        self.window.signin.agent_id.setText(agent)
        self.window.signin.password.setText(password)
        self.window.signin.button.click()
        await qt_until(lambda: self.window.isVisible() and self.window.status_view.state == "paused", 10, "signed in")

    async def close(self) -> None:
        """Sign out, as a user leaves (the agent leaves the queue; a desktop that only disconnects stays signed
        in, its agent paused in the queue), end the phone, close the window."""
        if self.link.token is not None:
            with contextlib.suppress(LinkError):
                await self.link.sign_out()
        self.window.shutdown()
        await self.window.stop_phone()
        await self.link.stop()
        self.window.signin.close()
        self.window.close()


class Workstation(LinkedWindow):
    """The desktop window of the softphone agent on the server at `url`, its phone speaking `tone`; desktop
    settings (auto-answer, devices) in `folder`, so the PC's own are never read."""

    def __init__(self, url: str, folder: Path, tone: Path) -> None:
        window = MainWindow(
            Tr("zh"),
            DraftStore(folder / "draft-softphone.json"),
            server=url,
            settings=QSettings(str(folder / "softphone-desktop.ini"), QSettings.Format.IniFormat),
            phone_settings=lambda _account: PhoneSettings(audio=AudioDevices.files(tone)),
        )
        super().__init__(window, url)

    @property
    def panel(self) -> PhonePanel:
        return self.window.phone

    def call_state(self) -> CallState | None:
        status = self.panel.status
        return status.call.state if status is not None and status.call is not None else None

    async def sign_in(self, password: str = PASSWORD) -> None:
        """Sign in through the form as the softphone agent; wait for the phone to register with Asterisk."""
        await self.sign_in_as(SOFTPHONE_AGENT, password)
        await qt_until(
            lambda: self.panel.status and self.panel.status.registration is Registration.REGISTERED,
            15,
            "the panel's phone registered with Asterisk",
        )
