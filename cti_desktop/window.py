"""MainWindow: the agent's desktop. It turns link messages into what the widgets show and the agent's
clicks into link requests. Every request runs as a task the window keeps and whose failure it reports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ari_app.protocol import ACTION_REQUESTS, PAUSE_REASONS, SUPERVISOR_ROLES, AgentState, Msg
from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkError, Status
from cti_desktop.models import AgentStatusView, CaseTableModel
from cti_desktop.qa_view import SCORE_ROLES, VIEW_ROLES, QaView
from cti_desktop.qtutil import named
from cti_desktop.table import table_view
from cti_desktop.transfer import TransferBar, transfer_note
from cti_desktop.wallboard_view import WallboardView
from cti_desktop.widgets import CaseForm, CaseWorkPanel, ConferenceBar, ScreenPopPanel, SignInDialog

READY_KEY = "F2"
PAUSE_KEY = "F3"

log = logging.getLogger(__name__)

STATE_COLOURS = {
    AgentState.SIGNED_OUT: "#9e9e9e",
    AgentState.READY: "#2e7d32",
    AgentState.PAUSED: "#ef6c00",
    AgentState.ON_CALL: "#1565c0",
    AgentState.WRAPUP: "#6a1b9a",
}


class Link(Protocol):
    """What the window needs of cti_desktop.link.LinkClient (tests pass a fake)."""

    status: str

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]: ...

    async def sign_in(self, agent_id: str, password: str) -> dict[str, Any]: ...

    async def sign_out(self) -> dict[str, Any]: ...


class MainWindow(QMainWindow):
    """Three tabs: call intake, my cases, and cases to handle (the unit / supervisor view). People who are
    not queue agents (no extension) get no state controls and start on the cases to handle."""

    closed = Signal()
    WORK_TAB = 2
    WALLBOARD_TAB = 3

    def __init__(self, tr: Tr, drafts: DraftStore, link: Link | None = None, server: str = "") -> None:
        super().__init__()
        self.tr_ = tr
        self.drafts = drafts
        self.link = link
        self.tasks: set[asyncio.Task[Any]] = set()
        self._work_stale = False
        self._work_reload: asyncio.Task[Any] | None = None
        self.agent: dict[str, Any] = {}
        self.hotlines: list[dict[str, Any]] = []
        self.call: dict[str, Any] | None = None
        self.waiting_call: dict[str, Any] | None = None
        self.link_status = Status.CONNECTING
        self.status_view = AgentStatusView(tr)
        self.signin = SignInDialog(tr, server)
        self.signin.submitted.connect(lambda a, pw: self.spawn(self._sign_in(a, pw)))
        self.signin.language_toggled.connect(self.toggle_language)
        self.setObjectName("mainWindow")
        self.resize(1180, 720)
        self._build()
        self.tick = QTimer(self)
        self.tick.setInterval(250)
        self.tick.timeout.connect(self._show_state)
        self.tick.start()
        self.retranslate()
        self._restore_draft()

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
        bar.addWidget(self.agent_label)
        bar.addWidget(self.state_label)
        bar.addWidget(self.ready_button)
        bar.addWidget(self.reason)
        bar.addWidget(self.pause_button)
        bar.addStretch(1)
        bar.addWidget(self.link_label)
        bar.addWidget(self.lang_button)
        bar.addWidget(self.sign_out_button)
        self.offline_banner = named(QLabel(), "offlineBanner")
        self.offline_banner.setStyleSheet("background: #b00020; color: white; padding: 6px; font-weight: bold;")
        self.offline_banner.setVisible(False)

        self.pop = ScreenPopPanel(self.tr_)
        self.conference = ConferenceBar(self.tr_)
        self.conference.action_requested.connect(lambda action, number: self.spawn(self._conference(action, number)))
        self.transfer = TransferBar(self.tr_)
        self.transfer.action_requested.connect(lambda *args: self.spawn(self._transfer(*args)))
        self.form = CaseForm(self.tr_)
        self.form.changed.connect(self._save_draft)
        self.form.save_requested.connect(lambda: self.spawn(self._save_case()))
        self.notice = named(QLabel(), "notice")
        self.notice.setStyleSheet("color: #8a6d00;")
        self.notice.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.pop)
        left_layout.addWidget(self.conference)
        left_layout.addWidget(self.transfer)
        left_layout.addWidget(self.notice)
        left_layout.addWidget(self.form, 1)
        self.history_model = CaseTableModel(self.tr_)
        self.history_view = table_view(self.history_model, "historyView", CaseTableModel.REQUEST, single=False)
        self.history_title = named(QLabel(), "historyTitle")
        self.history_title.setStyleSheet("font-weight: bold;")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.history_title)
        right_layout.addWidget(self.history_view)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([560, 600])

        self.search = named(QLineEdit(), "searchField")
        self.search_button = named(QPushButton(), "searchButton")
        self.search.returnPressed.connect(lambda: self.spawn(self.refresh_my_cases()))
        self.search_button.clicked.connect(lambda: self.spawn(self.refresh_my_cases()))
        self.cases_model = CaseTableModel(self.tr_)
        self.cases_view = table_view(self.cases_model, "casesView", CaseTableModel.REQUEST, single=False)
        cases = QWidget()
        cases_layout = QVBoxLayout(cases)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.search_button)
        cases_layout.addLayout(search_row)
        cases_layout.addWidget(self.cases_view)

        self.work = CaseWorkPanel(self.tr_)
        self.work.refresh_requested.connect(lambda: self.spawn(self.refresh_work()))
        self.work.case_selected.connect(lambda case_id: self.spawn(self.open_case(case_id)))
        self.work.action_requested.connect(lambda kind, fields: self.spawn(self._case_action(kind, fields)))

        self.tabs = named(QTabWidget(), "tabs")
        self.tabs.addTab(split, "")
        self.tabs.addTab(cases, "")
        self.tabs.addTab(self.work, "")
        self.tabs.currentChanged.connect(self._tab_shown)
        self.wallboard = WallboardView(self.tr_)
        self.wallboard.action_requested.connect(lambda a, action, f: self.spawn(self._supervise(a, action, f)))
        self.tabs.addTab(self.wallboard, "")
        self.tabs.setTabVisible(self.WALLBOARD_TAB, False)
        self.qa = QaView(self.tr_, self.spawn, lambda kind, **f: self._need_link().request(kind, **f))
        self.qa_tab = self.tabs.addTab(self.qa, "")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(bar)
        layout.addWidget(self.offline_banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.statusBar()  # made with the window, so that its layout is in place when the first message comes

    def retranslate(self) -> None:
        t = self.tr_
        self.setWindowTitle(t("app_title"))
        self.ready_button.setText(t("ready"))
        self.pause_button.setText(t("pause"))
        # Keys for the two presses an agent makes all day, so hands typing a case need not reach for the mouse.
        # Set after the text: a button's setText replaces its shortcut with the text's mnemonic (none here).
        self.ready_button.setShortcut(QKeySequence(READY_KEY))
        self.pause_button.setShortcut(QKeySequence(PAUSE_KEY))
        self.ready_button.setToolTip(f"{t('ready')} ({READY_KEY})")
        self.pause_button.setToolTip(f"{t('pause')} ({PAUSE_KEY})")
        self.sign_out_button.setText(t("sign_out"))
        self.lang_button.setText(t("language"))
        current = self.reason.currentData()
        self.reason.clear()
        for r in PAUSE_REASONS:
            self.reason.addItem(t(f"reason_{r}"), r)
        if current:
            self.reason.setCurrentIndex(max(0, self.reason.findData(current)))
        self.offline_banner.setText(t("offline"))
        self.history_title.setText(t("history_title"))
        self.search.setPlaceholderText(t("search_hint"))
        self.search_button.setText(t("search"))
        self.tabs.setTabText(0, t("tab_intake"))
        self.tabs.setTabText(1, t("tab_my_cases"))
        self.tabs.setTabText(self.WORK_TAB, t("tab_work"))
        self.tabs.setTabText(self.WALLBOARD_TAB, t("tab_wallboard"))
        self.wallboard.retranslate()
        self.tabs.setTabText(self.qa_tab, t("tab_qa"))
        self.work.retranslate()
        self.qa.retranslate()
        self.pop.retranslate()
        self.conference.retranslate()
        self.transfer.retranslate()
        self.form.retranslate()
        self.history_model.retranslate()
        self.cases_model.retranslate()
        self.signin.retranslate()
        self._show_agent()
        self._show_state()
        self.set_link_status(self.link.status if self.link else Status.CONNECTING)

    def toggle_language(self) -> None:
        self.tr_.lang = "en" if self.tr_.lang == "zh" else "zh"
        self.retranslate()

    # --- tasks -----------------------------------------------------------------------------------------
    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run an async slot; keep a reference until it ends and report any failure."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, LinkError):
            self.report(self.tr_.error(exc.error_id, exc.message))
        elif exc is not None:
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
        for w in (
            self.ready_button,
            self.pause_button,
            self.sign_out_button,
            self.form.save,
            self.search_button,
            self.work.refresh,
        ):
            w.setEnabled(not offline)

    def handle_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == Msg.SIGNED_IN:
            self._signed_in(msg)
        elif kind == Msg.AGENT_STATE:
            self.status_view.update(msg)
            self._show_state()
        elif kind == Msg.SCREEN_POP:
            self._screen_pop(msg)
        elif kind == Msg.CALL_CONNECTED:
            if self.call and self.call.get("call_id") == msg.get("call_id"):
                self.call["phase"] = "connected"
                self.pop.set_phase("connected")
                self.conference.set_call_phase("connected")
                self.transfer.set_call_phase("connected")
        elif kind == Msg.CALL_ENDED:
            if self.call and self.call.get("call_id") == msg.get("call_id"):
                self.call["phase"] = "ended"
                self.pop.set_phase("ended")
                self.conference.set_call_phase("")
                self.transfer.set_call_phase("")
        elif kind == Msg.CALL_MISSED:
            if self.call and self.call.get("call_id") == msg.get("call_id"):
                self.pop.set_phase("missed")
                if not self.form.has_content():
                    self.call = None
                    self.form.clear()
        elif kind == Msg.CONFERENCE_STATE:
            if self.call and self.call.get("call_id") == msg.get("call_id"):
                self.conference.show_members(list(msg.get("members") or []))
        elif kind == Msg.WALLBOARD:
            self.wallboard.set_board(msg)
        elif kind == Msg.CASE_ALERT and msg.get("kind") == "exchange_refused":
            errors = "; ".join(
                f"{e.get('code', '')} {e.get('description', '')}".strip() for e in msg.get("errors") or []
            )
            self.report(self.tr_("alert_exchange_refused", number=msg.get("number", ""), errors=errors))
            self.spawn(self.refresh_work())
        elif kind == Msg.CASE_ALERT and msg.get("kind") == "exchange_stalled":
            self.report(
                self.tr_(
                    "alert_exchange_stalled",
                    number=msg.get("number", ""),
                    attempts=msg.get("attempts", ""),
                    error=msg.get("error", ""),
                )
            )
            self.spawn(self.refresh_work())
        elif kind == Msg.CASE_EVENT:
            self._case_event(msg)
        elif kind == Msg.ALARM:
            self.wallboard.add_alarm(msg)
        elif kind == Msg.TRANSFER_STATE:
            mine = (msg.get("transfer") or {}).get("from_agent") == self.agent.get("id")
            if mine and self.call and self.call.get("call_id") == msg.get("call_id"):
                self.transfer.show_transfer(msg.get("transfer"))
        elif kind == "session_lost":
            self.hide()
            self.signin.reset()
            self.signin.show_error(self.tr_.error(str(msg.get("error_id")), str(msg.get("message"))))
            self.signin.show()
        elif kind == Msg.ERROR:
            self.report(self.tr_.error(str(msg.get("error_id")), str(msg.get("message"))))

    def _signed_in(self, msg: dict[str, Any]) -> None:
        self.agent = msg.get("agent") or {}
        self.hotlines = msg.get("hotlines") or []
        self.form.set_hotlines(self.hotlines)
        draft = self.drafts.load()
        if draft and draft.get("fields"):
            self.form.set_values(draft["fields"])
        self.status_view.update(msg.get("state") or {})
        self._show_agent()
        self._show_state()
        is_agent = bool(self.agent.get("extension"))
        for w in (self.state_label, self.ready_button, self.reason, self.pause_button):
            w.setVisible(is_agent)
        self.tabs.setTabVisible(0, is_agent)
        if not is_agent:
            self.tabs.setCurrentIndex(self.WORK_TAB)
        supervises = self.agent.get("role") in SUPERVISOR_ROLES
        self.tabs.setTabVisible(self.WALLBOARD_TAB, supervises)
        if supervises:
            self.spawn(self._subscribe_wallboard())  # again after every resume: the server forgot the old socket
        role = str(self.agent.get("role") or "")
        self.tabs.setTabVisible(self.qa_tab, role in VIEW_ROLES)
        self.qa.set_hotlines(self.hotlines)
        self.qa.set_can_score(role in SCORE_ROLES)
        if role == "qa":
            self.tabs.setCurrentIndex(self.qa_tab)
            self.qa.search()
        self.signin.hide()
        if not self.isVisible():
            self.show()
        self.spawn(self.refresh_my_cases())
        self.spawn(self.refresh_work())

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

    def _screen_pop(self, msg: dict[str, Any]) -> None:
        call = dict(msg.get("call") or {})
        same_call = self.form.call_id == call.get("call_id")
        self.call = call
        self.pop.show_call(call)
        self.conference.show_members([])
        self.conference.set_call_phase(str(call.get("phase") or ""))
        self.transfer.set_call_phase(str(call.get("phase") or ""))
        if msg.get("history") or not msg.get("resumed"):
            on_call = list(msg.get("cases") or [])  # a transferred call: the cases already taken on it first
            known = {c.get("id") for c in on_call}
            self.history_model.set_rows(on_call + [c for c in msg.get("history") or [] if c.get("id") not in known])
        if same_call:
            pass  # the draft already belongs to this call (a resumed pop): keep what was typed
        elif self.form.has_content():
            self.waiting_call = call
            self.notice.setText(self.tr_("new_call_waiting"))
        else:
            self.form.prefill(call)
            self.notice.clear()
        if call.get("transfer"):
            self.notice.setText(transfer_note(self.tr_, call, list(msg.get("cases") or [])))
        if msg.get("resumed") and call.get("caller") and not msg.get("history"):
            self.spawn(self.refresh_history(call["caller"]))
        self.tabs.setCurrentIndex(0)
        self.raise_()
        self.activateWindow()
        QApplication.alert(self)

    # --- drafts ----------------------------------------------------------------------------------------
    def _save_draft(self) -> None:
        fields = self.form.values()
        if not self.form.has_content() and not fields.get("call_id"):
            self.drafts.clear()
            return
        self.drafts.save({"call": self.call, "fields": fields, "saved_at": datetime.now(UTC).isoformat()})

    def _restore_draft(self) -> None:
        draft = self.drafts.load()
        if not draft or not isinstance(draft.get("fields"), dict):
            return
        self.call = draft.get("call")
        if self.call:
            self.pop.show_call(self.call)
        self.form.set_values(draft["fields"])
        self.notice.setText(self.tr_("draft_restored"))

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
        self.hide()
        self.signin.reset()
        self.signin.show()

    async def _set_state(self, state: str, reason: str = "") -> None:
        fields: dict[str, Any] = {"state": state}
        if reason:
            fields["reason"] = reason
        reply = await self._need_link().request(Msg.SET_STATE, **fields)
        self.status_view.update(reply)
        self._show_state()

    async def _conference(self, action: str, number: str) -> None:
        """Bring a unit into the call, step out, or end the three-way call (the server does it in Asterisk)."""
        if not self.call:
            return
        fields: dict[str, Any] = {"action": action, "call_id": self.call["call_id"]}
        if number:
            fields["number"] = number
        try:
            reply = await self._need_link().request(Msg.CONFERENCE, **fields)
        except LinkError as exc:
            self.report(self.tr_.error(exc.error_id, exc.message))
            return
        self.conference.show_members(list(reply.get("members") or []))

    async def _subscribe_wallboard(self) -> None:
        self.wallboard.set_board(await self._need_link().request(Msg.WALLBOARD_SUBSCRIBE))

    async def _supervise(self, agent_id: str, action: str, fields: dict[str, Any]) -> None:
        """A supervisor's action on an agent; the wallboard's next push shows its effect."""
        try:
            reply = await self._need_link().request(Msg.SUPERVISE_AGENT, agent_id=agent_id, action=action, **fields)
        except LinkError as exc:
            self.report(self.tr_.error(exc.error_id, exc.message))
            return
        state = reply.get("state") or {}
        if action == "pause" and state.get("pause_after") is not None:  # on a call: paused once it ends
            self.report(self.tr_("wb_done_pause_after", agent=agent_id))
        elif action == "resume" and state.get("state") == "on_call":
            self.report(self.tr_("wb_done_pause_cancelled", agent=agent_id))
        else:
            self.report(self.tr_(f"wb_done_{action}", agent=agent_id))

    async def _transfer(self, action: str, target_kind: str, target: str) -> None:
        """Transfer the call (blind / attended to an agent or a unit's number), or complete / cancel."""
        if not self.call:
            return
        fields: dict[str, Any] = {"action": action, "call_id": self.call["call_id"]}
        if action in ("blind", "attended"):
            fields["agent_id" if target_kind == "agent" else "number"] = target
        try:
            reply = await self._need_link().request(Msg.TRANSFER, **fields)
        except LinkError as exc:
            self.report(self.tr_.error(exc.error_id, exc.message))
            return
        self.transfer.show_transfer(reply.get("transfer"))

    async def _save_case(self) -> None:
        v = self.form.values()
        fields = {k: v[k] for k in v if k != "call_time" and v[k] is not None}
        self.form.save.setEnabled(False)
        try:
            reply = await self._need_link().request(Msg.CREATE_CASE, **fields)
        except LinkError as exc:
            self.form.error.setText(self.tr_.error(exc.error_id, exc.message, exc.detail))
            return
        finally:
            self.form.save.setEnabled(True)
        case = reply["case"]
        self.report(self.tr_("case_saved", number=case["number"]))
        self.drafts.clear()
        caller = v.get("caller")
        self.form.clear(emit=False)
        self.notice.clear()
        if self.waiting_call is not None:
            self.form.prefill(self.waiting_call)
            self.waiting_call = None
        if caller:
            self.spawn(self.refresh_history(caller))
        self.spawn(self.refresh_my_cases())

    async def refresh_history(self, caller: str) -> None:
        reply = await self._need_link().request(Msg.CALLER_HISTORY, caller=caller, limit=10)
        self.history_model.set_rows(reply.get("cases") or [])

    async def refresh_my_cases(self) -> None:
        text = self.search.text().strip()
        fields: dict[str, Any] = {"mine": True, "limit": 100}
        if text:
            fields["text"] = text
        reply = await self._need_link().request(Msg.SEARCH_CASES, **fields)
        self.cases_model.set_rows(reply.get("cases") or [])

    def _case_event(self, msg: dict[str, Any]) -> None:
        """A case the signed-in person must act on changed (a `case_event` push): the work list, and the case
        on show, are read again (a burst of pushes is one reload), at once while the work tab is shown, else
        when it is next shown (an agent on a call reads nothing for every case the centre takes); a dispatch
        to their unit, a supervision and a deadline close by are also said on the status bar."""
        event, number = msg.get("event"), msg.get("number", "")
        deadline = self.tr_.when(msg.get("deadline_at"))
        if event == "dispatched":
            self.report(self.tr_("alert_case_dispatched", number=number, deadline=deadline))
        elif event == "supervision_raised":
            self.report(self.tr_("alert_case_supervised", number=number, level=msg.get("level", "")))
        elif event == "deadline_approaching":
            self.report(self.tr_("alert_case_deadline", number=number, deadline=deadline))
        self._work_stale = True
        if self.tabs.currentIndex() == self.WORK_TAB:
            self._reload_work_if_stale()

    def _tab_shown(self, index: int) -> None:
        if index == self.WORK_TAB:
            self._reload_work_if_stale()

    def _reload_work_if_stale(self) -> None:
        if self._work_stale and (self._work_reload is None or self._work_reload.done()):
            self._work_reload = self.spawn(self._reload_work())

    async def _reload_work(self) -> None:
        while self._work_stale:
            self._work_stale = False
            await self.refresh_work()

    async def refresh_work(self) -> None:
        """The unit / supervisor view's list, and the case on show again (its allowed actions may change)."""
        reply = await self._need_link().request(Msg.LIST_CASES, **self.work.filters())
        self.work.set_cases(reply.get("cases") or [])
        if self.work.case is not None:
            await self.open_case(int(self.work.case["id"]))

    async def open_case(self, case_id: int) -> None:
        try:
            reply = await self._need_link().request(Msg.GET_CASE, case_id=case_id)
        except LinkError as exc:
            self.work.show_case(None)
            self.work.show_error(self.tr_.error(exc.error_id, exc.message, exc.detail))
            return
        self.work.show_case(reply["case"])

    async def _case_action(self, kind: str, fields: dict[str, Any]) -> None:
        """One workflow request from a button; the reply is the case after the change. Then the list."""
        for b in self.work.buttons.values():
            b.setEnabled(False)
        try:
            reply = await self._need_link().request(kind, **fields)
        except LinkError as exc:
            self.work.show_error(self.tr_.error(exc.error_id, exc.message))
            return
        finally:
            for b in self.work.buttons.values():
                b.setEnabled(True)
        case = reply["case"]
        self.work.clear_note()
        self.work.show_case(case)
        action = {v: k for k, v in ACTION_REQUESTS.items()}.get(kind, kind)
        if kind == Msg.REVIEW_CASE:
            action = "approve" if fields.get("approved") else "send_back"
        self.report(self.tr_("work_done", number=case["number"], action=self.tr_(f"action_{action}")))
        await self.refresh_work()

    def shutdown(self) -> None:
        """Stop the timer and the tasks still running, before the window goes away."""
        self.tick.stop()
        self.wallboard.timer.stop()
        for task in list(self.tasks):
            task.remove_done_callback(self._task_done)
            task.cancel()
        self.tasks.clear()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)
