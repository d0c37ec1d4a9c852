"""The cases to handle tab (待办案卷), the unit / supervisor view: the cases the person may see, one case in
full, and a button for each action the server says is allowed now. It reads the list (`list_cases`) and the
case (`get_case`), sends the workflow requests, and reads the list again when a `case_event` or a
`case_alert` says a case changed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from PySide6.QtCore import QDate, QDateTime, QModelIndex, Qt, QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QWidget,
)

from ari_app.protocol import ACTION_REQUESTS, CASE_STATUSES, RETURN_REASONS, RULE_REQUESTS, Msg
from cti_desktop.attachments import AttachmentPanel
from cti_desktop.case_detail import case_html, citizen_cell, esc, overdue_cell, resolution, status_cell, titled_list
from cti_desktop.follow_up_form import FollowUpForm
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkError
from cti_desktop.models import CaseIdRole, WorkTableModel
from cti_desktop.qtutil import STRETCH, error_label, hbox, named, pane, refill, scrolled
from cti_desktop.tab import Request, Spawn, Tab
from cti_desktop.table import table_view
from cti_desktop.transfer import call_history_lines

NOTE_FIELD: dict[str, tuple[str, bool]] = {
    "dispatch": ("instructions", False),
    "return": ("reason", True),
    "handle": ("result", True),
    "follow_up": ("notes", False),
    "approve": ("reason", False),
    "send_back": ("reason", True),
    "supervise": ("instructions", True),
    "escalate_to_leader": ("instructions", True),
    "resolve_directly": ("resolution", True),
    "forward": ("address", False),
    "accept_return": ("note", False),
    "reject_return": ("note", True),
    "request_extension": ("reason", True),
    "approve_extension": ("note", False),
    "refuse_extension": ("note", True),
    "report_progress": ("text", True),
}
"""For each workflow action: the request field the note box fills, and whether it is required."""

WORK_ACTIONS = {**ACTION_REQUESTS, **RULE_REQUESTS}
"""Every action a case's `allowed_actions` may offer as a button, and the request that makes it."""

APPROVALS = {
    "approve": True,
    "send_back": False,
    "accept_return": True,
    "reject_return": False,
    "approve_extension": True,
    "refuse_extension": False,
}
"""The actions that are one request's yes or no (`approved`): a review, a return's review, an extension's."""

ACTIVE_SHARES = ("pending", "accepted", "return_requested")

STATUS_FILTERS = ("open", *CASE_STATUSES, "all")


class CaseWorkPanel(Tab):
    """The case list with its filters on the left; the chosen case, the action buttons and the note on the
    right. The list is read on sign-in, on a filter change, after each action, and after a pushed change:
    at once while the tab is shown, else when it is next shown (an agent on a call reads nothing for every
    case the centre takes)."""

    MESSAGES: ClassVar[frozenset[str]] = frozenset({Msg.CASE_EVENT, Msg.CASE_ALERT})
    TITLE = "tab_work"

    def __init__(self, tr: Tr, spawn: Spawn, request: Request) -> None:
        super().__init__(tr, spawn, request)
        self.setObjectName("caseWork")
        self.case: dict[str, Any] | None = None
        self.opening: int | None = None
        """The case last asked for (`open_case`): only its answer is shown."""
        texts = self.texts
        self.status_filter = named(QComboBox(), "workStatus")
        self.overdue_only = texts.named(QCheckBox(), "workOverdue", "filter_overdue")
        self.refresh = texts.named(QPushButton(), "workRefresh", "refresh")
        self.model = WorkTableModel(tr)
        self.table = table_view(self.model, "workTable", WorkTableModel.REQUEST)
        self.detail = named(QTextBrowser(), "workDetail")
        self.detail.setMinimumWidth(380)
        self.note = texts.named(QPlainTextEdit(), "workNote", "work_note_hint")
        self.note.setMaximumHeight(80)
        self.unit = named(QComboBox(), "workUnit")
        self.follow_box = FollowUpForm(tr, "work")
        self.return_code = named(QComboBox(), "workReturnCode")
        self.return_label = texts.add(QLabel(), "work_return_code")
        self.return_box = self._row(self.return_label, self.return_code)
        self.extension_to = named(QDateTimeEdit(), "workExtensionTo")
        self.extension_to.setCalendarPopup(True)
        self.extension_to.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.extension_label = texts.add(QLabel(), "work_extension_to")
        self.extension_box = self._row(self.extension_label, self.extension_to)
        self.attachments = AttachmentPanel(tr, spawn, request)
        self.review_note = named(QLabel(), "workReviewNote")
        self.review_note.setStyleSheet("color: #b00020; font-weight: bold;")
        self.review_note.setWordWrap(True)
        self.review_note.setVisible(False)
        self.error = error_label("workError")
        self.buttons: dict[str, QPushButton] = {}
        button_row = QHBoxLayout()
        for action in WORK_ACTIONS:
            b = named(QPushButton(), f"action_{action}")
            b.clicked.connect(lambda _=False, a=action: self._clicked(a))
            b.setVisible(False)
            self.buttons[action] = b
            button_row.addWidget(b)
        button_row.addStretch(1)
        self.unit_label = texts.add(QLabel(), "work_unit")
        self.unit_box = self._row(self.unit_label, self.unit)
        for box in (self.unit_box, self.follow_box, self.return_box, self.extension_box):
            box.setVisible(False)

        filters = hbox(self.status_filter, self.overdue_only, STRETCH, self.refresh)
        left, left_layout = pane()
        left_layout.addLayout(filters)
        left_layout.addWidget(self.table, 1)
        right, right_layout = pane()
        detail_split = named(QSplitter(Qt.Orientation.Vertical), "workDetailSplit")
        detail_split.addWidget(self.detail)
        detail_split.addWidget(self.attachments)
        detail_split.setSizes([380, 170])
        right_layout.addWidget(detail_split, 1)
        right_layout.addWidget(self.unit_box)
        right_layout.addWidget(self.follow_box)
        right_layout.addWidget(self.return_box)
        right_layout.addWidget(self.extension_box)
        right_layout.addWidget(self.note)
        right_layout.addWidget(self.review_note)
        right_layout.addLayout(button_row)
        right_layout.addWidget(self.error)
        self.lay_out_side_by_side(left, scrolled(right, "workScroll"), [600, 560], margins=True)

        self.status_filter.currentIndexChanged.connect(lambda _i: self.spawn(self.refresh_work()))
        self.overdue_only.toggled.connect(lambda _b: self.spawn(self.refresh_work()))
        self.refresh.clicked.connect(lambda: self.spawn(self.refresh_work()))
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.note.textChanged.connect(self.error.clear)
        self.retranslate()

    @staticmethod
    def _row(label: QLabel, field: QWidget) -> QWidget:
        """A label and its field on one line, shown or hidden together."""
        row = hbox(label, (field, 1))
        row.setContentsMargins(0, 0, 0, 0)
        box = QWidget()
        box.setLayout(row)
        return box

    # --- the list and the case on show -----------------------------------------------------------------
    def filters(self) -> dict[str, Any]:
        """The `list_cases` fields for the chosen filter."""
        chosen = self.status_filter.currentData() or "open"
        out: dict[str, Any] = {"limit": 200}
        if chosen == "open":
            out["open"] = True
        elif chosen != "all":
            out["status"] = chosen
        if self.overdue_only.isChecked():
            out["overdue"] = True
        return out

    def set_cases(self, cases: list[dict[str, Any]]) -> None:
        """New rows; the case chosen last stays selected if it is still listed."""
        keep = self.opening if self.opening is not None else (self.case.get("id") if self.case else None)
        self.model.set_rows(cases)
        row = self.model.row_of(keep) if keep is not None else None
        if row is not None:
            selection = self.table.selectionModel()
            selection.blockSignals(True)  # refresh_work reads the case itself; no second request
            self.table.selectRow(row)
            selection.blockSignals(False)

    def show_case(self, case: dict[str, Any] | None) -> None:
        """One case in full and the buttons for exactly its `allowed_actions`."""
        self.case = case
        self.error.clear()
        allowed = set(case.get("allowed_actions") or []) if case else set()
        for action, button in self.buttons.items():
            button.setVisible(action in allowed)
        self._enable_buttons()
        self.unit.clear()
        for u in (case or {}).get("dispatch_units") or []:
            indent = "    " if u.get("level", 2) > 2 else ""
            self.unit.addItem(f"{indent}{u['name']}", u["id"])
        self.unit_box.setVisible("dispatch" in allowed)
        self.follow_box.setVisible("follow_up" in allowed)
        self.return_box.setVisible("return" in allowed)
        self.extension_box.setVisible("request_extension" in allowed)
        if "request_extension" in allowed:
            self.extension_to.setDateTime(self._extension_default(case or {}))
        self.note.setVisible(bool(allowed & set(NOTE_FIELD)))
        self.attachments.set_case(case)
        self.detail.setHtml(self._html(case) if case else f"<p style='color:#666'>{self.tr_('work_pick')}</p>")

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    # --- clicks ----------------------------------------------------------------------------------------
    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        case_id = self.model.data(self.model.index(current.row(), 0), CaseIdRole) if current.isValid() else None
        if isinstance(case_id, int):
            self.spawn(self.open_case(case_id))

    @staticmethod
    def _share_deadline(case: dict[str, Any]) -> datetime | None:
        """The latest deadline among the case's active shares (a unit sees its own), aware."""
        deadlines = [
            datetime.fromisoformat(d["deadline_at"])
            for d in case.get("dispatches") or []
            if d.get("status") in ACTIVE_SHARES and d.get("deadline_at")
        ]
        return max(deadlines, default=None)

    def _extension_default(self, case: dict[str, Any]) -> QDateTime:
        """A week after the share's deadline, as a start the unit changes (the server checks it is later), as
        the wall clock of the centre's time zone, which every time on the desktop is shown in."""
        deadline = self._share_deadline(case) or datetime.now().astimezone()
        wall = (deadline + timedelta(days=7)).astimezone(self.tr_.zone)
        return QDateTime(QDate(wall.year, wall.month, wall.day), QTime(wall.hour, wall.minute))

    def _extension_asked(self) -> str:
        """The chosen extension, read as the centre's wall clock, in ISO 8601 with its offset."""
        chosen = self.extension_to.dateTime()
        day, clock = chosen.date(), chosen.time()
        wall = datetime(day.year(), day.month(), day.day(), clock.hour(), clock.minute())
        zone = self.tr_.zone
        return (wall.replace(tzinfo=zone) if zone is not None else wall.astimezone()).isoformat()

    def send_back_required(self) -> bool:
        """The case on show was rated unsatisfied at its follow-up and waits for the reviewer's send back."""
        case = self.case or {}
        return bool(case.get("send_back_required")) and "send_back" in (case.get("allowed_actions") or [])

    def _enable_buttons(self, enabled: bool = True) -> None:
        """Every action button enabled (or not); approve stays shown but disabled, with the reason, while the
        citizen's unsatisfied rating requires a send back (the server refuses it then:
        `case_follow_up_unsatisfied`)."""
        blocked = self.send_back_required()
        for action, button in self.buttons.items():
            button.setEnabled(enabled and not (blocked and action == "approve"))
        approve = self.buttons["approve"]
        if blocked:
            rating = self.tr_.maybe("rating", (self.case or {}).get("follow_up_rating")) or "—"
            reason = self.tr_("fu_send_back_required", rating=rating)
            approve.setVisible(True)
            approve.setToolTip(reason)
            self.review_note.setText(reason)
        else:
            approve.setToolTip("")
        self.review_note.setVisible(blocked)

    def _clicked(self, action: str) -> None:
        if self.case is None:
            return
        fields: dict[str, Any] = {"case_id": self.case["id"]}
        note = self.note.toPlainText().strip()
        name, required = NOTE_FIELD.get(action, ("", False))
        if required and not note:
            self.error.setText(self.tr_("work_note_required", action=self.tr_(f"action_{action}")))
            self.note.setFocus()
            return
        if name and note:
            fields[name] = note
        if action == "dispatch":
            unit = self.unit.currentData()
            if unit is not None:
                fields["units"] = [unit]
        elif action == "follow_up":
            fields.update(self.follow_box.fields())
        elif action == "return":
            fields["reason_code"] = self.return_code.currentData() or "other"
        elif action == "request_extension":
            fields["deadline_at"] = self._extension_asked()
        if action in APPROVALS:
            fields["approved"] = APPROVALS[action]
        self.error.clear()
        self.spawn(self._case_action(action, fields))

    def clear_note(self) -> None:
        self.note.clear()

    # --- the window's side ----------------------------------------------------------------------------
    def set_online(self, online: bool) -> None:
        self.refresh.setEnabled(online)

    def signed_in(self, agent: dict[str, Any], hotlines: list[dict[str, Any]]) -> None:
        self.spawn(self.refresh_work())

    def handle(self, msg: dict[str, Any]) -> None:
        """A case the signed-in person must act on changed (a `case_event` push), or the hotline's own system
        refused or stalls on one (a `case_alert`): the list, and the case on show, are read again (a burst of
        pushes is one reload); a dispatch to their unit, a supervision, a deadline close by and an alert are
        also said on the status bar."""
        t, number = self.tr_, msg.get("number", "")
        if msg.get("type") == Msg.CASE_ALERT:
            if msg.get("kind") == "exchange_refused":
                errors = "; ".join(
                    f"{e.get('code', '')} {e.get('description', '')}".strip() for e in msg.get("errors") or []
                )
                self.reported.emit(t("alert_exchange_refused", number=number, errors=errors))
            elif msg.get("kind") == "exchange_stalled":
                attempts, error = msg.get("attempts", ""), msg.get("error", "")
                self.reported.emit(t("alert_exchange_stalled", number=number, attempts=attempts, error=error))
            else:
                return
            self.spawn(self.refresh_work())
            return
        event, deadline = msg.get("event"), t.when(msg.get("deadline_at"))
        if event == "dispatched":
            self.reported.emit(t("alert_case_dispatched", number=number, deadline=deadline))
        elif event == "supervision_raised":
            self.reported.emit(t("alert_case_supervised", number=number, level=msg.get("level", "")))
        elif event == "deadline_approaching":
            self.reported.emit(t("alert_case_deadline", number=number, deadline=deadline))
        self.mark_stale()

    async def reload(self) -> None:
        await self.refresh_work()

    # --- requests --------------------------------------------------------------------------------------
    async def refresh_work(self) -> None:
        """The list, and the case on show again (its allowed actions may change)."""
        reply = await self.request(Msg.LIST_CASES, **self.filters())
        self.set_cases(reply.get("cases") or [])
        chosen = self.opening if self.opening is not None else (self.case or {}).get("id")
        if chosen is not None:
            await self.open_case(int(chosen))

    async def open_case(self, case_id: int) -> None:
        """Read `case_id` and show it, unless the person chose another case meanwhile (a reload that read the
        case on show before the choice must not bring it back over the one chosen)."""
        self.opening = case_id
        try:
            reply = await self.request(Msg.GET_CASE, case_id=case_id)
        except LinkError as exc:
            if self.opening == case_id:
                self.show_case(None)
                self.show_error(self.tr_.error(exc.error_id, exc.message, exc.detail))
            return
        if self.opening == case_id:
            self.show_case(reply["case"])

    async def _case_action(self, action: str, fields: dict[str, Any]) -> None:
        """One workflow request from the button of `action` (WORK_ACTIONS); the reply is the case after the
        change. Then the list."""
        kind = WORK_ACTIONS[action]
        self._enable_buttons(False)
        try:
            reply = await self.request(kind, **fields)
        except LinkError as exc:
            self.show_error(self.tr_.error(exc.error_id, exc.message))
            return
        finally:
            self._enable_buttons()
        case = reply["case"]
        self.clear_note()
        if kind == Msg.FOLLOW_UP_CASE:
            self.follow_box.reset()
        self.show_case(case)
        self.reported.emit(self.tr_("work_done", number=case["number"], action=self.tr_(f"action_{action}")))
        await self.refresh_work()

    # --- the detail pane -------------------------------------------------------------------------------
    def _html(self, c: dict[str, Any]) -> str:
        t, e = self.tr_, esc

        def when(stamp: str | None) -> str:
            return e(self.tr_.when(stamp)) if stamp else "—"

        deadline = when(c.get("deadline_at"))
        rows = [
            (t("col_status"), status_cell(t, c)),
            (t("hotline"), e(c.get("hotline"))),
            (t("category"), e(c.get("category"))),
            (t("handling"), e(t.maybe("handling", c.get("handling")))),
            (t("col_deadline"), overdue_cell(t, deadline) if c.get("overdue") else deadline),
            (t("address"), e(c.get("address"))),
            (t("citizen_name"), citizen_cell(c)),
        ]
        if c.get("dispatch_deadline_at"):
            rows.insert(5, (t("work_dispatch_deadline"), when(c.get("dispatch_deadline_at"))))
        place = [c.get(k) for k in ("district", "street", "grid_cell") if c.get(k)]
        if c.get("latitude") is not None and c.get("longitude") is not None:
            place.append(f"{c['latitude']:.5f}, {c['longitude']:.5f}")
        if place:
            rows.append((t("work_location"), e(" · ".join(str(x) for x in place))))
        if c.get("redispatch_count") or c.get("send_back_count") or c.get("problem_at"):
            counters = e(
                t("work_counters", redispatch=c.get("redispatch_count", 0), send_back=c.get("send_back_count", 0))
            )
            if c.get("problem_at"):
                counters += f" <b style='color:#b00020'>⚠ {e(t('work_problem', at=t.when(c['problem_at'])))}</b>"
            rows.append(("", counters))
        more: list[str] = []
        if c.get("exchange_refusal"):
            refused = t("work_exchange_refused", message=e(c["exchange_refusal"]))
            hint = t("work_exchange_refused_hint") if "forward" in (c.get("allowed_actions") or []) else ""
            more.append(f"<p style='color:#b00020'><b>{refused}</b><br>{hint}</p>")
        elif c.get("exchange_stalled") is not None:
            stalled = t("work_exchange_stalled", message=e(c["exchange_stalled"]))
            more.append(f"<p style='color:#b00020'><b>{stalled}</b></p>")
        if c.get("resolution"):
            more.append(resolution(t, c))
        history: list[str] = []
        progress: dict[Any, list[dict[str, Any]]] = {}
        for p in c.get("progress_reports") or []:  # 阶段性回复, under the share it was written on
            progress.setdefault(p.get("dispatch_id"), []).append(p)
        for d in c.get("dispatches") or []:
            role = t("work_lead") if d.get("lead") else t("work_co_unit")
            text = f"{t('work_dispatched_to')} <b>{e(d.get('unit_name'))}</b> ({role})"
            text += f" · {e(t.maybe('share', d.get('status')))}"
            text += f" · {t('col_deadline')} {when(d.get('deadline_at'))}"
            if d.get("overdue"):
                text += f" <b style='color:#b00020'>⚠ {t('overdue')}</b>"
            if d.get("sign_for_deadline_at"):
                text += f" · {t('work_sign_for_deadline')} {when(d.get('sign_for_deadline_at'))}"
                if d.get("signed_on_time") is False:
                    text += f" <b style='color:#b00020'>{t('work_signed_late')}</b>"
            for key in ("instructions", "return_reason", "result"):
                if d.get(key):
                    text += f"<br>&nbsp;&nbsp;{t('work_' + key)}：{e(d[key])}"
            for p in progress.get(d.get("id"), []):
                text += f"<br>&nbsp;&nbsp;{t('work_progress')} {when(p.get('reported_at'))}：{e(p.get('text'))}"
            history.append(text)
        units = {d.get("unit_id"): d.get("unit_name") for d in c.get("dispatches") or []}

        def request_line(label: str, item: dict[str, Any], body: str) -> str:
            """A unit's return or extension request with the centre's decision."""
            text = f"{label} {when(item.get('requested_at'))} {e(units.get(item.get('unit_id'), ''))}：{body}"
            text += f" · {e(t.maybe('decision', item.get('status')))}"
            return text + (f" {e(item['decision_note'])}" if item.get("decision_note") else "")

        for r in c.get("returns") or []:
            code = t.maybe("return_reason", r.get("reason_code"))
            history.append(request_line(t("work_returns"), r, f"<b>{e(code)}</b> {e(r.get('reason'))}"))
        for x in c.get("extensions") or []:
            asked = f"{t.when(x.get('deadline_before'))} → {t.when(x.get('deadline_asked'))}"
            history.append(request_line(t("work_extensions"), x, f"{e(asked)} {e(x.get('reason'))}"))
        for v in c.get("supervisions") or []:
            kind = t("work_leader") if v.get("leader") else t("work_supervision", level=v.get("level", 1))
            history.append(f"<span style='color:#b00020'>{kind}</span> {when(v.get('at'))}：{e(v.get('instructions'))}")
        for f in c.get("follow_ups") or []:
            if not f.get("reached"):
                got = t("work_not_reached")
            elif f.get("rating"):
                got = t.maybe("rating", f.get("rating"))
            else:
                got = t.maybe("satisfaction", f.get("satisfaction"))
            how = f" · {t.maybe('channel', f.get('channel'))}" if f.get("channel") else ""
            history.append(f"{t('action_follow_up')} {when(f.get('at'))}{e(how)}：{e(got)} {e(f.get('notes') or '')}")
        for r in c.get("reviews") or []:
            verdict = t("action_approve") if r.get("approved") else t("action_send_back")
            history.append(f"{t('work_review')} {when(r.get('at'))}：{verdict} {e(r.get('reason') or '')}")
        history += call_history_lines(t, c, when)
        return case_html(t, c, rows, more + titled_list(t("work_history"), history))

    def retranslate(self) -> None:
        t = self.tr_
        filters = ((t(f"filter_{k}") if k in ("open", "all") else t.maybe("status", k), k) for k in STATUS_FILTERS)
        refill(self.status_filter, filters, quiet=True)
        self.texts.say(t)
        refill(self.return_code, ((t(f"return_reason_{r}"), r) for r in RETURN_REASONS), quiet=True)
        self.follow_box.retranslate()
        self.attachments.retranslate()
        for action, button in self.buttons.items():
            button.setText(t(f"action_{action}"))
        self.model.retranslate()
        self.show_case(self.case)
