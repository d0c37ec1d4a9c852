"""The missed-call worklist tab (漏接回拨): the numbers a hotline missed (`list_missed_calls`: open first,
earliest due first; overdue in red), each task's misses, due time, attempts and claim; the person claims a
task (`claim_missed_call`), calls the citizen back from it (`dial_citizen` with `task_id`: their own phone
rings first, then the citizen's, as the hotline's number) and records what came of it (`missed_call_attempt`:
reached, not reached, wrong number, with notes). Every change anyone makes arrives as a `missed_call` push
and the list is read again (at once while the tab is shown, else when it is next shown)."""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton

from ari_app.protocol import MISSED_FILTERS, MISSED_OUTCOMES, Msg
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkError
from cti_desktop.qtutil import STRETCH, error_label, hbox, named, pane, refill
from cti_desktop.tab import Request, Spawn, Tab
from cti_desktop.table import Row, RowTableModel, table_view

MISSED_ROLES = ("agent", "supervisor", "admin")
"""Who works the worklist (the server's MISSED_ROLES; anyone else is refused)."""


class MissedModel(RowTableModel):
    """Tasks: the number, its hotline, the first miss, how many misses, due time, status, attempts, claim."""

    CALLER, HOTLINE, MISSED, MISSES, DUE, STATUS, ATTEMPTS, CLAIMED = range(8)
    HEADERS = (
        "mc_col_caller",
        "hotline",
        "mc_col_missed",
        "mc_col_misses",
        "mc_col_due",
        "col_status",
        "mc_col_attempts",
        "mc_col_claimed",
    )
    FIELDS: ClassVar[dict[int, str]] = {CALLER: "caller", HOTLINE: "hotline", CLAIMED: "claimed_by"}
    OVERDUE_COLOUR = QColor("#b00020")

    def cell(self, task: Row, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and task.get("overdue"):
            return self.OVERDUE_COLOUR
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        t = self.tr_
        if col == self.MISSED:
            return t.when(task.get("missed_at"))
        if col == self.MISSES:
            return str(task.get("misses", ""))
        if col == self.DUE:
            due = t.when(task.get("due_at")) or "—"
            return f"⚠ {t('overdue')} {due}" if task.get("overdue") else due
        if col == self.STATUS:
            return t.maybe("mc_status", task.get("status"))
        if col == self.ATTEMPTS:
            last = t.maybe("mc_outcome", task.get("last_outcome"))
            return f"{task.get('attempts', 0)} {last}".strip()
        return None


class MissedCallsTab(Tab):
    """The list with its filter on the left; the chosen task's buttons and outcome on the right."""

    MESSAGES: ClassVar[frozenset[str]] = frozenset({Msg.MISSED_CALL})
    TITLE = "tab_missed"

    def __init__(self, tr: Tr, spawn: Spawn, request: Request) -> None:
        super().__init__(tr, spawn, request)
        self.setObjectName("missedCalls")
        self.task: dict[str, Any] | None = None
        self.can_dial = False
        texts = self.texts
        self.which = named(QComboBox(), "mcFilter")
        self.refresh_button = texts.named(QPushButton(), "mcRefresh", "refresh")
        self.model = MissedModel(tr)
        self.table = table_view(self.model, "mcTable", MissedModel.CALLER)
        self.chosen = named(QLabel(), "mcChosen")
        self.chosen.setWordWrap(True)
        self.claim_button = texts.named(QPushButton(), "mcClaim", "mc_claim")
        self.dial_button = texts.named(QPushButton(), "mcDial", "mc_dial")
        self.outcome = named(QComboBox(), "mcOutcome")
        self.notes = texts.named(QLineEdit(), "mcNotes", "mc_notes_hint")
        self.save_button = texts.named(QPushButton(), "mcSave", "mc_save")
        self.error = error_label("mcError")

        top = hbox(self.which, STRETCH, self.refresh_button)
        left, left_layout = pane()
        left_layout.addLayout(top)
        left_layout.addWidget(self.table, 1)
        right, right_layout = pane()
        right_layout.addWidget(self.chosen)
        buttons = hbox(self.claim_button, self.dial_button, STRETCH)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.outcome)
        right_layout.addWidget(self.notes)
        right_layout.addWidget(self.save_button)
        right_layout.addWidget(self.error)
        right_layout.addStretch(1)
        self.lay_out_side_by_side(left, right, [760, 360], margins=True)

        self.which.currentIndexChanged.connect(lambda _i: self.spawn(self.refresh()))
        self.refresh_button.clicked.connect(lambda: self.spawn(self.refresh()))
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.claim_button.clicked.connect(lambda: self._act(self.claim))
        self.dial_button.clicked.connect(lambda: self._act(self.dial))
        self.save_button.clicked.connect(lambda: self._act(self.record))
        self.retranslate()

    @staticmethod
    def shown_to(agent: dict[str, Any]) -> bool:
        return str(agent.get("role") or "") in MISSED_ROLES

    # --- the list --------------------------------------------------------------------------------------
    async def refresh(self) -> None:
        reply = await self.request(Msg.LIST_MISSED_CALLS, filter=self.which.currentData() or "open", limit=200)
        keep = self.task.get("id") if self.task else None
        self.model.set_rows(reply.get("tasks") or [])
        row = self.model.row_of(keep) if keep is not None else None
        if row is not None:
            self.table.selectRow(row)
        self.show_task(self.model.rows[row] if row is not None else None)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and current.row() < len(self.model.rows):
            self.show_task(self.model.rows[current.row()])

    def show_task(self, task: dict[str, Any] | None) -> None:
        self.task = task
        self.error.clear()
        open_ = task is not None and task.get("status") == "open"
        for w in (self.claim_button, self.outcome, self.notes, self.save_button):
            w.setEnabled(open_)
        self.dial_button.setVisible(self.can_dial)
        self.dial_button.setEnabled(open_)
        if task is None:
            self.chosen.setText(self.tr_("mc_pick"))
            return
        self.chosen.setText(
            self.tr_(
                "mc_chosen",
                caller=task.get("caller", ""),
                hotline=task.get("hotline", ""),
                misses=task.get("misses", 0),
                due=self.tr_.when(task.get("due_at")),
            )
        )

    # --- actions ---------------------------------------------------------------------------------------
    def _act(self, action: Any) -> None:
        if self.task is not None:
            self.spawn(action(int(self.task["id"])))

    async def _send(self, kind: str, **fields: Any) -> dict[str, Any] | None:
        self.error.clear()
        try:
            return await self.request(kind, **fields)
        except LinkError as exc:
            self.error.setText(self.tr_.error(exc.error_id, exc.message, exc.detail))
            return None

    async def claim(self, task_id: int) -> None:
        reply = await self._send(Msg.CLAIM_MISSED_CALL, task_id=task_id)
        if reply is not None:
            self._replace(reply["task"])

    async def dial(self, task_id: int) -> None:
        """Call the citizen back: this person's phone rings first (`dial_citizen` with `task_id`)."""
        reply = await self._send(Msg.DIAL_CITIZEN, task_id=task_id)
        if reply is not None:
            self.reported.emit(self.tr_("fu_dialing", number=reply.get("number", "")))

    async def record(self, task_id: int) -> None:
        fields: dict[str, Any] = {"task_id": task_id, "outcome": self.outcome.currentData()}
        if self.notes.text().strip():
            fields["notes"] = self.notes.text().strip()
        reply = await self._send(Msg.MISSED_CALL_ATTEMPT, **fields)
        if reply is not None:
            self.notes.clear()
            task = reply["task"]
            self._replace(task)
            self.reported.emit(self.tr_("mc_saved", caller=task.get("caller", "")))

    def _replace(self, task: dict[str, Any]) -> None:
        row = self.model.row_of(task.get("id"))
        if row is not None:
            self.model.rows[row] = task
            self.model.retranslate()
        if self.task is not None and self.task.get("id") == task.get("id"):
            self.show_task(task)

    # --- the window's side ----------------------------------------------------------------------------
    def signed_in(self, agent: dict[str, Any], hotlines: list[dict[str, Any]]) -> None:
        self.can_dial = bool(agent.get("extension"))
        if self.shown_to(agent):
            self.spawn(self.refresh())

    def set_online(self, online: bool) -> None:
        self.refresh_button.setEnabled(online)

    def handle(self, msg: dict[str, Any]) -> None:
        """A task changed (a `missed_call` push, anyone's): the list is read again."""
        self.mark_stale()

    async def reload(self) -> None:
        await self.refresh()

    def retranslate(self) -> None:
        t = self.tr_
        refill(self.which, ((t(f"mc_filter_{f}"), f) for f in MISSED_FILTERS), quiet=True)
        refill(self.outcome, ((t(f"mc_outcome_{o}"), o) for o in MISSED_OUTCOMES))
        self.texts.say(t)
        self.model.retranslate()
        self.show_task(self.task)
