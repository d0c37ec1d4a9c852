"""The follow-ups due tab (回访): the citizens waiting for their follow-up call (`follow_ups_due`), the
earliest due first, overdue ones in red, a page at a time; the chosen case's request and the units' results
beside the follow-up form (`follow_up_case`: reached, phone or SMS, solved, the five-level rating, notes).
The list is read again when a `case_event` push says a case changed (at once while the tab is shown, else
when it is next shown), and after each follow-up saved. A person with a phone calls the citizen from here
(`dial_citizen`, click-to-dial): their phone rings first, then the citizen's; the follow-up saved after names
that call (`call_id`)."""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
)

from ari_app.protocol import Msg
from cti_desktop.case_detail import case_html, citizen_cell, esc, overdue_cell, resolution, status_cell, titled_list
from cti_desktop.follow_up_form import FollowUpForm
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkError
from cti_desktop.qtutil import STRETCH, error_label, hbox, named, pane, scrolled
from cti_desktop.tab import Request, Spawn, Tab
from cti_desktop.table import Row, RowTableModel, shortened, table_view

PAGE = 50
"""Rows a page (`follow_ups_due`'s `limit`)."""


class FollowUpDueModel(RowTableModel):
    """`follow_ups_due` rows: the case, when its follow-up is due (in the centre's zone), its status, its last
    rating, the request. Overdue rows are red and their due time marked."""

    NUMBER, DUE, STATUS, RATING, REQUEST = range(5)
    HEADERS = ("col_number", "fu_col_due", "col_status", "fu_col_rating", "col_request")
    FIELDS: ClassVar[dict[int, str]] = {NUMBER: "number"}
    OVERDUE_COLOUR = QColor("#b00020")

    @property
    def cases(self) -> list[Row]:
        return self.rows

    def cell(self, case: Row, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and case.get("follow_up_overdue"):
            return self.OVERDUE_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole and col == self.REQUEST:
            return case.get("request")
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == self.DUE:
            due = self.tr_.when(case.get("follow_up_due_at")) or "—"
            return f"⚠ {self.tr_('overdue')} {due}" if case.get("follow_up_overdue") else due
        if col == self.STATUS:
            return self.tr_.maybe("status", case.get("status"))
        if col == self.RATING:
            return self.tr_.maybe("rating", case.get("follow_up_rating")) or "—"
        if col == self.REQUEST:
            return shortened(case.get("request"))
        return None


class FollowUpsTab(Tab):
    """The due list with its overdue filter and pages on the left; the chosen case and the form on the
    right. Shown to the centre's people (agents, supervisors, hotline units), not to departments or QA."""

    MESSAGES: ClassVar[frozenset[str]] = frozenset({Msg.CASE_EVENT, Msg.CALL_CONNECTED, Msg.CALL_ENDED})
    TITLE = "tab_follow_ups"

    def __init__(self, tr: Tr, spawn: Spawn, request: Request) -> None:
        super().__init__(tr, spawn, request)
        self.setObjectName("followUps")
        self.case: dict[str, Any] | None = None
        self.offset = 0
        texts = self.texts
        self.title = texts.named(QLabel(), "fuTitle", "fu_title")
        self.title.setStyleSheet("font-weight: bold;")
        self.overdue_only = texts.named(QCheckBox(), "fuOverdue", "fu_overdue_only")
        self.prev_button = texts.named(QPushButton(), "fuPrev", "fu_prev")
        self.next_button = texts.named(QPushButton(), "fuNext", "fu_next")
        self.page_label = named(QLabel(), "fuPage")
        self.model = FollowUpDueModel(tr)
        self.table = table_view(self.model, "fuTable", FollowUpDueModel.REQUEST)
        self.detail = named(QTextBrowser(), "fuDetail")
        self.detail.setMinimumWidth(360)
        self.form = FollowUpForm(tr, "fu")
        self.notes = texts.named(QPlainTextEdit(), "fuNotes", "fu_notes_hint")
        self.notes.setMaximumHeight(80)
        self.save_button = texts.named(QPushButton(), "fuSave", "fu_save")
        self.dial_button = texts.named(QPushButton(), "fuDial", "fu_dial")
        self.call_label = named(QLabel(), "fuCall")
        self.can_dial = False
        self.dialled: int | None = None
        """The case of the last `dial_citizen`; its call (`call_id`, from `call_connected`) until it is saved."""
        self.call_id: str | None = None
        self.error = error_label("fuError")

        top = hbox(self.title, self.overdue_only, STRETCH)
        pages = hbox(self.page_label, STRETCH, self.prev_button, self.next_button)
        left, left_layout = pane()
        left_layout.addLayout(top)
        left_layout.addWidget(self.table, 1)
        left_layout.addLayout(pages)
        right, right_layout = pane()
        right_layout.addWidget(self.detail, 1)
        right_layout.addWidget(self.form)
        right_layout.addWidget(self.notes)
        right_layout.addLayout(hbox(self.dial_button, (self.call_label, 1), self.save_button))
        right_layout.addWidget(self.error)
        self.lay_out_side_by_side(left, scrolled(right, "fuScroll"), [640, 520], margins=True)

        self.overdue_only.toggled.connect(lambda _b: self._first_page())
        self.prev_button.clicked.connect(lambda: self._turn(-PAGE))
        self.next_button.clicked.connect(lambda: self._turn(PAGE))
        self.save_button.clicked.connect(self._save_clicked)
        self.dial_button.clicked.connect(self._dial_clicked)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.notes.textChanged.connect(self.error.clear)
        self.retranslate()

    @staticmethod
    def shown_to(agent: dict[str, Any]) -> bool:
        return str(agent.get("role") or "") not in ("department", "qa", "")

    # --- the list --------------------------------------------------------------------------------------
    def _first_page(self) -> None:
        self.offset = 0
        self.spawn(self.refresh())

    def _turn(self, step: int) -> None:
        self.offset = max(0, self.offset + step)
        self.spawn(self.refresh())

    async def refresh(self) -> None:
        """One page of the due list; the chosen case stays chosen while it is on the page."""
        fields: dict[str, Any] = {"limit": PAGE, "offset": self.offset}
        if self.overdue_only.isChecked():
            fields["overdue"] = True
        reply = await self.request(Msg.FOLLOW_UPS_DUE, **fields)
        self.set_cases(reply.get("cases") or [])

    def set_cases(self, cases: list[dict[str, Any]]) -> None:
        keep = self.case.get("id") if self.case else None
        self.model.set_rows(cases)
        row = self.model.row_of(keep) if keep is not None else None
        if row is not None:
            self.table.selectRow(row)
            self.show_case(self.model.rows[row])
        else:
            self.show_case(None)
        self._show_page()

    def _show_page(self) -> None:
        n = len(self.model.rows)
        if n:
            self.page_label.setText(self.tr_("fu_page", first=self.offset + 1, last=self.offset + n))
        else:
            self.page_label.setText(self.tr_("fu_page_empty"))
        self.prev_button.setEnabled(self.offset > 0)
        self.next_button.setEnabled(n >= PAGE)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and current.row() < len(self.model.rows):
            chosen = self.model.rows[current.row()]
            if self.case is None or chosen.get("id") != self.case.get("id"):
                self.form.reset()
                self.notes.clear()
            self.show_case(chosen)
            self.spawn(self.open_case(int(chosen["id"])))

    async def open_case(self, case_id: int) -> None:
        """The case in full (the units' results) for the detail; the list row until it comes."""
        try:
            reply = await self.request(Msg.GET_CASE, case_id=case_id)
        except LinkError as exc:
            self.error.setText(self.tr_.error(exc.error_id, exc.message, exc.detail))
            return
        if self.case is not None and self.case.get("id") == case_id:
            self.show_case(reply["case"])

    def show_case(self, case: dict[str, Any] | None) -> None:
        self.case = case
        self.save_button.setEnabled(case is not None)
        self.dial_button.setVisible(self.can_dial)
        self.dial_button.setEnabled(case is not None)
        if case is None or case.get("id") != self.dialled:
            self.call_label.clear()
        self.form.setEnabled(case is not None)
        self.notes.setEnabled(case is not None)
        if case is None:
            self.detail.setHtml(f"<p style='color:#666'>{self.tr_('fu_pick')}</p>")
            return
        self.detail.setHtml(self._html(case))

    def _html(self, c: dict[str, Any]) -> str:
        t = self.tr_
        due = esc(t.when(c.get("follow_up_due_at")))
        rows = [
            (t("col_status"), status_cell(t, c)),
            (t("fu_col_due"), overdue_cell(t, due) if c.get("follow_up_overdue") else due),
            (t("citizen_name"), citizen_cell(c)),
            (t("address"), esc(c.get("address"))),
            (t("category"), esc(c.get("category"))),
        ]
        results = [d for d in c.get("dispatches") or [] if d.get("result")]
        more: list[str] = []
        if c.get("resolution") and not results:  # resolved by the centre itself, or the units' results joined
            more.append(resolution(t, c))
        handled = [f"<b>{esc(d.get('unit_name'))}</b>：{esc(d.get('result'))}" for d in results]
        return case_html(t, c, rows, more + titled_list(t("fu_handled_result"), handled))

    # --- calling ---------------------------------------------------------------------------------------
    def _dial_clicked(self) -> None:
        if self.case is not None:
            self.spawn(self.dial())

    async def dial(self) -> None:
        """`dial_citizen` for the chosen case (a follow-up): the server finds the number and rings this person's
        phone first; the call's `call_connected` names it for the follow-up saved after."""
        if self.case is None:
            return
        case_id = int(self.case["id"])
        self.error.clear()
        self.dial_button.setEnabled(False)
        try:
            reply = await self.request(Msg.DIAL_CITIZEN, case_id=case_id, purpose="follow_up")
        except LinkError as exc:
            self.error.setText(self.tr_.error(exc.error_id, exc.message, exc.detail))
            return
        finally:
            self.dial_button.setEnabled(self.case is not None)
        self.dialled, self.call_id = case_id, None
        self.form.channel.setCurrentIndex(self.form.channel.findData("phone"))
        text = self.tr_("fu_dialing", number=reply.get("number", ""))
        self.call_label.setText(text)
        self.reported.emit(text)

    # --- saving ----------------------------------------------------------------------------------------
    def _save_clicked(self) -> None:
        if self.case is not None:
            self.spawn(self.save())

    async def save(self) -> dict[str, Any] | None:
        """`follow_up_case` for the chosen case with the form's fields; the case after it, or None after
        showing the refusal. Then the list again (a reached citizen leaves it)."""
        if self.case is None:
            return None
        fields: dict[str, Any] = {"case_id": self.case["id"], **self.form.fields()}
        if self.call_id is not None and self.dialled == self.case["id"]:
            fields["call_id"] = self.call_id
        notes = self.notes.toPlainText().strip()
        if notes:
            fields["notes"] = notes
        self.error.clear()
        self.save_button.setEnabled(False)
        try:
            reply = await self.request(Msg.FOLLOW_UP_CASE, **fields)
        except LinkError as exc:
            self.error.setText(self.tr_.error(exc.error_id, exc.message, exc.detail))
            return None
        finally:
            self.save_button.setEnabled(self.case is not None)
        case: dict[str, Any] = reply["case"]
        number = case.get("number", "")
        if fields["reached"]:
            self.reported.emit(self.tr_("fu_saved", number=number, rating=self.tr_.maybe("rating", fields["rating"])))
        else:
            self.reported.emit(self.tr_("fu_saved_not_reached", number=number))
        if "call_id" in fields:
            self.dialled, self.call_id = None, None
            self.call_label.clear()
        self.notes.clear()
        self.form.reset()
        await self.refresh()
        return case

    # --- the window's side ----------------------------------------------------------------------------
    def signed_in(self, agent: dict[str, Any], hotlines: list[dict[str, Any]]) -> None:
        self.can_dial = bool(agent.get("extension"))  # a queue agent: a phone the server can ring
        self.dial_button.setVisible(self.can_dial)
        if self.shown_to(agent):
            self.spawn(self.refresh())

    def set_online(self, online: bool) -> None:
        self.save_button.setEnabled(online and self.case is not None)

    def handle(self, msg: dict[str, Any]) -> None:
        """A case changed (a `case_event` push): the list is read again, at once while shown (a burst of
        pushes is one reload). The call this tab placed connected or ended: said beside the form."""
        kind = msg.get("type")
        if kind == Msg.CALL_CONNECTED:
            if self.dialled is not None and msg.get("case_id") == self.dialled:
                self.call_id = str(msg.get("call_id") or "") or None
                self.call_label.setText(self.tr_("fu_call_connected"))
            return
        if kind == Msg.CALL_ENDED:
            if self.call_id is not None and msg.get("call_id") == self.call_id:
                self.call_label.setText(self.tr_("fu_call_ended"))
            return
        self.mark_stale()

    async def reload(self) -> None:
        await self.refresh()

    def retranslate(self) -> None:
        self.texts.say(self.tr_)
        self.form.retranslate()
        self.model.retranslate()
        self._show_page()
        self.show_case(self.case)
