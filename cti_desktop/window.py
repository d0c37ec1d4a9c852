"""MainWindow: the agent's desktop. It signs in and out, sets the agent's state, keeps the link, and routes
each pushed message to the tabs that handle its type; the tabs send their own requests. Every request runs
as a task the window keeps and whose failure it reports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from PySide6.QtCore import QMargins, QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ari_app.protocol import PAUSE_REASONS, Msg
from cti_desktop.call_tab import CallTab
from cti_desktop.cases_tab import MyCasesTab
from cti_desktop.drafts import DraftStore
from cti_desktop.follow_ups_tab import FollowUpsTab
from cti_desktop.i18n import Tr
from cti_desktop.link import Link, LinkError, Status
from cti_desktop.missed_tab import MissedCallsTab
from cti_desktop.models import STATE_COLOURS, AgentStatusView
from cti_desktop.phone_panel import MakeSettings, PhonePanel
from cti_desktop.qa_view import QaView
from cti_desktop.qtutil import hbox, named, refill
from cti_desktop.tab import Tab
from cti_desktop.tasks import TaskKeeper
from cti_desktop.wallboard_view import WallboardView
from cti_desktop.widgets import SignInDialog
from cti_desktop.work_tab import CaseWorkPanel

READY_KEY = "F2"
PAUSE_KEY = "F3"

PREFERRED_SIZE = QSize(1280, 860)
"""The main window's first size (pixels) on a screen with room for it: the intake form and the caller's
history side by side, the form without scrolling."""

FRAME_GUESS = QMargins(0, 32, 0, 0)
"""The window manager's frame (pixels) around the window, as guessed before the window is first shown and
its real frame is known: a title bar."""


def window_geometry(available: QRect, frame: QMargins = FRAME_GUESS) -> QRect:
    """Where the main window opens on a screen whose room for windows (QScreen.availableGeometry: the screen
    less its task bars) is `available`, the window manager's `frame` around it: PREFERRED_SIZE, made smaller
    so that the window and its frame fit in the room (never larger than the screen, as on a 1366×768 or
    1280×720 laptop), centred in it. The rectangle is the window's inside, without the frame
    (QWidget.geometry)."""
    room = available.marginsRemoved(frame)
    size = PREFERRED_SIZE.boundedTo(room.size().expandedTo(QSize(0, 0)))
    left = room.x() + (room.width() - size.width()) // 2
    top = room.y() + (room.height() - size.height()) // 2
    return QRect(left, top, size.width(), size.height())


log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The top bar (who is signed in, the agent's state, the link, language, sign-out) over the tabs: call
    intake, my cases, cases to handle (the unit / supervisor view), the wallboard, QA and the follow-ups due,
    each a `Tab` that sends its own requests, with the phone panel (the softphone) beside them. People who
    are not queue agents (no extension) get no state controls and start on the cases to handle; the QA role
    starts on QA.

    `settings`: the desktop's own settings (default: QSettings of `hotline` / `hotline-desktop`);
    `phone_settings`: the phone process's settings for the account from sign-in (default: the PC's sound
    devices chosen in the panel).

    The window opens no larger than its screen (`window_geometry`); the tabs whose forms are long (the call
    intake, a case's detail and actions, a follow-up) scroll, so the window may be as small as a 1280×720
    screen's room."""

    closed = Signal()
    WORK_TAB = 2
    WALLBOARD_TAB = 3

    def __init__(
        self,
        tr: Tr,
        drafts: DraftStore,
        link: Link | None = None,
        server: str = "",
        settings: QSettings | None = None,
        phone_settings: MakeSettings | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QSettings("hotline", "hotline-desktop")
        self.phone_settings = phone_settings
        self.tr_ = tr
        self.drafts = drafts
        self.link = link
        self.keeper = TaskKeeper(self._task_failed)
        self.tasks = self.keeper.tasks
        """The async slots running (`spawn`)."""
        self.agent: dict[str, Any] = {}
        self.link_status = Status.CONNECTING
        self.status_view = AgentStatusView(tr)
        self.signin = SignInDialog(tr, server)
        self.signin.submitted.connect(lambda a, pw: self.spawn(self._sign_in(a, pw)))
        self.signin.language_toggled.connect(self.toggle_language)
        self.setObjectName("mainWindow")
        self._build()
        self.setGeometry(window_geometry(self.screen().availableGeometry()))
        self.tick = QTimer(self)
        self.tick.setInterval(250)
        self.tick.timeout.connect(self._show_state)
        self.tick.start()
        self.retranslate()
        self.call_tab.restore_draft()

    # --- layout ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.agent_label = named(QLabel(), "agentLabel")
        self.agent_label.setStyleSheet("font-weight: bold;")
        self.state_label = named(QLabel(), "stateLabel")
        self.state_label.setMinimumWidth(180)
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ready_button = named(QPushButton(), "readyButton")
        self.reason = named(QComboBox(), "pauseReason")
        self.reason.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.reason.setMinimumWidth(110)
        self.pause_button = named(QPushButton(), "pauseButton")
        self.sign_out_button = named(QPushButton(), "signOutButton")
        self.lang_button = named(QPushButton(), "langButton")
        self.link_label = named(QLabel(), "linkLabel")
        self.ready_button.clicked.connect(lambda: self.spawn(self._set_state("ready")))
        self.pause_button.clicked.connect(
            lambda: self.spawn(self._set_state("paused", self.reason.currentData() or "other"))
        )
        self.sign_out_button.clicked.connect(lambda: self.spawn(self._sign_out()))
        self.lang_button.clicked.connect(self.toggle_language)
        bar = QHBoxLayout()
        for widget in (self.agent_label, self.state_label, self.ready_button, self.reason, self.pause_button):
            bar.addWidget(widget)
        bar.addStretch(1)
        for widget in (self.link_label, self.lang_button, self.sign_out_button):
            bar.addWidget(widget)
        self.offline_banner = named(QLabel(), "offlineBanner")
        self.offline_banner.setStyleSheet("background: #b00020; color: white; padding: 6px; font-weight: bold;")
        self.offline_banner.setVisible(False)

        def request(kind: str, **fields: Any) -> Awaitable[dict[str, Any]]:
            return self._need_link().request(kind, **fields)

        args = (self.tr_, self.spawn, request)
        self.call_tab = CallTab(*args, self.drafts)
        self.cases = MyCasesTab(*args)
        self.work = CaseWorkPanel(*args)
        self.wallboard = WallboardView(*args)
        self.qa = QaView(*args)
        self.follow_ups = FollowUpsTab(*args)
        self.missed = MissedCallsTab(*args)
        self.pages: tuple[Tab, ...] = (
            self.call_tab,
            self.cases,
            self.work,
            self.wallboard,
            self.qa,
            self.follow_ups,
            self.missed,
        )
        self.tabs = named(QTabWidget(), "tabs")
        for page in self.pages:
            self.tabs.addTab(page, "")
            page.reported.connect(self.report)
        self.tabs.setTabVisible(self.WALLBOARD_TAB, False)
        self.qa_tab = self.tabs.indexOf(self.qa)
        self.tabs.currentChanged.connect(self._tab_shown)
        self._tab_shown(self.tabs.currentIndex())
        self.call_tab.call_offered.connect(self._call_offered)
        self.call_tab.case_saved.connect(lambda: self.spawn(self.cases.refresh()))
        self.cases.case_opened.connect(self._open_case)
        self.phone = PhonePanel(self.tr_, self.spawn, self.settings, self.phone_settings)
        self.phone.reported.connect(self.report)
        body = hbox((self.tabs, 1), self.phone)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(bar)
        layout.addWidget(self.offline_banner)
        layout.addLayout(body, 1)
        self.setCentralWidget(central)
        self.statusBar()  # made with the window, so that its layout is in place when the first message comes

    def showEvent(self, event: QShowEvent) -> None:
        """Shown with a frame that reaches out of the screen's room (the frame guessed when the window was made
        was too small): made to fit with the frame it has."""
        super().showEvent(event)
        room = self.screen().availableGeometry()
        outside = self.frameGeometry()
        if not room.contains(outside):
            inside = self.geometry()
            frame = QMargins(
                inside.left() - outside.left(),
                inside.top() - outside.top(),
                outside.right() - inside.right(),
                outside.bottom() - inside.bottom(),
            )
            self.setGeometry(window_geometry(room, frame))

    def retranslate(self) -> None:
        t = self.tr_
        self.setWindowTitle(t("app_title"))
        # Keys for the two presses an agent makes all day, so hands typing a case need not reach for the mouse.
        # Set after the text: a button's setText replaces its shortcut with the text's mnemonic (none here).
        for button, text, key in ((self.ready_button, "ready", READY_KEY), (self.pause_button, "pause", PAUSE_KEY)):
            button.setText(t(text))
            button.setShortcut(QKeySequence(key))
            button.setToolTip(f"{t(text)} ({key})")
        self.sign_out_button.setText(t("sign_out"))
        self.lang_button.setText(t("language"))
        refill(self.reason, ((t(f"reason_{r}"), r) for r in PAUSE_REASONS))
        self.offline_banner.setText(t("offline"))
        for i, page in enumerate(self.pages):
            self.tabs.setTabText(i, t(page.TITLE))
            page.retranslate()
        self.signin.retranslate()
        self.phone.retranslate()
        self._show_agent()
        self._show_state()
        self.set_link_status(self.link.status if self.link else Status.CONNECTING)

    def toggle_language(self) -> None:
        self.tr_.lang = "en" if self.tr_.lang == "zh" else "zh"
        self.retranslate()

    # --- tasks -----------------------------------------------------------------------------------------
    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run an async slot; keep a reference until it ends and report any failure."""
        return self.keeper.spawn(coro)

    def _task_failed(self, exc: BaseException) -> None:
        if isinstance(exc, LinkError):
            self.report(self.tr_.error(exc.error_id, exc.message))
        else:
            log.error("desktop task failed", exc_info=exc)
            self.report(self.tr_("err_other", message=str(exc)))

    def report(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # --- link status and messages ----------------------------------------------------------------------
    def set_link_status(self, status: str) -> None:
        self.link_status = status
        offline = status == Status.OFFLINE
        self.offline_banner.setVisible(offline)
        key = {"online": "online", "offline": "offline", "connecting": "connecting"}.get(status, "connecting")
        colour = {"online": "#2e7d32", "offline": "#b00020"}.get(status, "#666")
        self.link_label.setText(self.tr_(key) if not offline else "⚠ " + self.tr_("offline").split("：")[0])
        self.link_label.setStyleSheet(f"color: {colour};")
        for w in (self.ready_button, self.pause_button, self.sign_out_button):
            w.setEnabled(not offline)
        for page in self.pages:
            page.set_online(not offline)

    def handle_message(self, msg: dict[str, Any]) -> None:
        """A pushed message: the window's own (sign-in, the agent's state, the session, errors), else to the
        tabs that take its type."""
        kind = msg.get("type")
        if kind == Msg.SIGNED_IN:
            self._signed_in(msg)
        elif kind == Msg.AGENT_STATE:
            self.status_view.update(msg)
            self._show_state()
        elif kind == "session_lost":
            self._back_to_sign_in(self.tr_.error(str(msg.get("error_id")), str(msg.get("message"))))
        elif kind == Msg.ERROR:
            self.report(self.tr_.error(str(msg.get("error_id")), str(msg.get("message"))))
        for page in self.pages:
            if kind in page.MESSAGES:
                page.handle(msg)

    def _signed_in(self, msg: dict[str, Any]) -> None:
        self.agent = msg.get("agent") or {}
        self.status_view.update(msg.get("state") or {})
        self._show_agent()
        self._show_state()
        is_agent = CallTab.shown_to(self.agent)
        for w in (self.state_label, self.ready_button, self.reason, self.pause_button):
            w.setVisible(is_agent)
        for i, page in enumerate(self.pages):
            self.tabs.setTabVisible(i, page.shown_to(self.agent))
        if not is_agent:
            self.tabs.setCurrentIndex(self.WORK_TAB)
        if self.agent.get("role") == "qa":
            self.tabs.setCurrentIndex(self.qa_tab)
        for page in self.pages:
            page.signed_in(self.agent, msg.get("hotlines") or [])
        self.call_tab.set_partners(list(msg.get("partners") or []))  # 联动 110/119/120
        self.phone.signed_in(msg.get("phone"))  # the SIP account: in memory only
        self.signin.hide()
        if not self.isVisible():
            self.show()

    def _show_agent(self) -> None:
        if self.agent:
            self.agent_label.setText(f"{self.agent.get('name', '')} ({self.agent.get('id', '')})")

    def _show_state(self) -> None:
        v = self.status_view
        self.state_label.setText(v.label())
        colour = STATE_COLOURS.get(v.state, "#666")
        self.state_label.setStyleSheet(
            f"background: {colour}; color: white; font-weight: bold; padding: 4px 10px; border-radius: 4px;"
        )
        online = self.link_status != Status.OFFLINE
        self.ready_button.setEnabled(online and v.can_ready)
        self.pause_button.setEnabled(online and v.can_pause)

    def _tab_shown(self, index: int) -> None:
        for i, page in enumerate(self.pages):
            page.set_current(i == index)

    def _open_case(self, case_id: int) -> None:
        """A case from my cases in full, in the cases to handle tab's detail."""
        self.tabs.setCurrentIndex(self.WORK_TAB)
        self.spawn(self.work.open_case(case_id))

    def _call_offered(self) -> None:
        self.tabs.setCurrentIndex(self.tabs.indexOf(self.call_tab))
        self.raise_()
        self.activateWindow()
        QApplication.alert(self)

    # --- requests --------------------------------------------------------------------------------------
    def _need_link(self) -> Link:
        if self.link is None:
            raise LinkError("offline", "not connected")
        return self.link

    async def _sign_in(self, agent_id: str, password: str) -> None:
        try:
            await self._need_link().sign_in(agent_id, password)
        except LinkError as exc:
            self.signin.show_error(self.tr_.error(exc.error_id, exc.message))

    async def _sign_out(self) -> None:
        await self._need_link().sign_out()
        self.status_view.update({"state": "signed_out"})
        self._back_to_sign_in()

    def _back_to_sign_in(self, error: str | None = None) -> None:
        """The window goes, and its phone; the sign-in dialog comes back, saying why when the server ended the
        session."""
        self.spawn(self.phone.stop())
        self.hide()
        self.signin.reset()
        if error is not None:
            self.signin.show_error(error)
        self.signin.show()

    async def _set_state(self, state: str, reason: str = "") -> None:
        reply = await self._need_link().request(Msg.SET_STATE, state=state, **({"reason": reason} if reason else {}))
        self.status_view.update(reply)
        self._show_state()

    def shutdown(self) -> None:
        """Stop the timers and the tasks still running, before the window goes away (then `stop_phone`)."""
        self.tick.stop()
        self.phone.ticker.stop()
        self.wallboard.timer.stop()
        self.keeper.cancel_all()

    async def stop_phone(self) -> None:
        """End the phone process (at close, after `shutdown`)."""
        await self.phone.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)
