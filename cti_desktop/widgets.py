"""The desktop's widgets: sign-in dialog, screen-pop panel and case form. They know nothing of the link; the
window feeds them protocol data and listens to their signals."""

from __future__ import annotations

import html
from typing import Any, ClassVar

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ari_app.protocol import ACTION_REQUESTS, CASE_STATUSES, HANDLINGS, LANGUAGES, SATISFACTIONS, URGENCIES
from cti_desktop.i18n import Tr
from cti_desktop.models import CaseIdRole, WorkTableModel
from cti_desktop.qtutil import named
from cti_desktop.table import table_view
from cti_desktop.transfer import call_history_lines


class SignInDialog(QDialog):
    """Agent id and password. Not modal over anything: it is the only window until the agent is in."""

    submitted = Signal(str, str)
    language_toggled = Signal()

    def __init__(self, tr: Tr, server: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName("signIn")
        self.setMinimumWidth(380)
        self.title = QLabel()
        self.title.setObjectName("signInTitle")
        self.title.setStyleSheet("font-size: 18px; font-weight: bold; padding: 6px 0;")
        self.agent_id = QLineEdit()
        self.agent_id.setObjectName("agentId")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.server = QLabel(server)
        self.server.setStyleSheet("color: #666;")
        self.error = QLabel()
        self.error.setObjectName("signInError")
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        self.button = QPushButton()
        self.button.setObjectName("signInButton")
        self.button.setDefault(True)
        self.lang_button = QPushButton()
        self.lang_button.setObjectName("langButton")
        self.lang_button.setFlat(True)
        self.form = QFormLayout()
        self._labels = {k: QLabel() for k in ("agent_id", "password", "server")}
        self.form.addRow(self._labels["agent_id"], self.agent_id)
        self.form.addRow(self._labels["password"], self.password)
        self.form.addRow(self._labels["server"], self.server)
        buttons = QHBoxLayout()
        buttons.addWidget(self.lang_button)
        buttons.addStretch(1)
        buttons.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.button.clicked.connect(self._submit)
        self.password.returnPressed.connect(self._submit)
        self.lang_button.clicked.connect(self.language_toggled.emit)
        self.retranslate()

    def retranslate(self) -> None:
        t = self.tr_
        self.setWindowTitle(f"{t('app_title')} - {t('sign_in_title')}")
        self.title.setText(t("sign_in_title"))
        for key, label in self._labels.items():
            label.setText(t(key))
        self.button.setText(t("sign_in"))
        self.lang_button.setText(t("language"))

    def _submit(self) -> None:
        agent_id = self.agent_id.text().strip()
        if not agent_id or not self.password.text():
            return
        self.error.clear()
        self.button.setEnabled(False)
        self.submitted.emit(agent_id, self.password.text())

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.button.setEnabled(True)
        self.password.selectAll()
        self.password.setFocus()

    def reset(self) -> None:
        self.password.clear()
        self.button.setEnabled(True)


class ScreenPopPanel(QFrame):
    """The call being offered or in progress: raised and coloured, never modal."""

    COLOURS: ClassVar[dict[str, str]] = {
        "ringing": "#fff4c2",
        "connected": "#dff5e1",
        "ended": "#eeeeee",
        "missed": "#eeeeee",
        "": "#f7f7f7",
    }

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName("screenPop")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.call: dict[str, Any] | None = None
        self.phase = ""
        self.title = QLabel()
        self.title.setObjectName("popTitle")
        self.title.setStyleSheet("font-size: 17px; font-weight: bold;")
        grid = QGridLayout()
        self._keys = ("hotline", "caller", "waited", "call_id")
        self._labels = {k: QLabel() for k in self._keys}
        self.values = {k: QLabel() for k in self._keys}
        for row, key in enumerate(self._keys):
            self._labels[key].setStyleSheet("color: #555;")
            self.values[key].setObjectName(f"pop_{key}")
            self.values[key].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(self._labels[key], row, 0)
            grid.addWidget(self.values[key], row, 1)
        self.values["hotline"].setStyleSheet("font-size: 16px; font-weight: bold;")
        self.values["caller"].setStyleSheet("font-size: 16px; font-weight: bold;")
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(grid)
        self.show_call(None)

    def show_call(self, call: dict[str, Any] | None, phase: str | None = None) -> None:
        self.call = call
        self.phase = phase or (call.get("phase", "") if call else "")
        self.retranslate()

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.retranslate()

    def retranslate(self) -> None:
        t = self.tr_
        for key, label in self._labels.items():
            label.setText(t(key))
        call = self.call
        colour = self.COLOURS.get(self.phase, "#f7f7f7")
        self.setStyleSheet(
            f"QFrame#screenPop {{ background: {colour}; border: 1px solid #c9c9c9; border-radius: 6px; }}"
        )
        if call is None:
            self.title.setText(t("pop_idle"))
            for v in self.values.values():
                v.setText("—")
            return
        kind = t("pop_title_callback") if call.get("callback_of") else t("pop_title")
        kind = t("pop_title_transfer") if call.get("transfer") else kind
        self.title.setText(f"{kind} · {t.maybe('phase', self.phase)}")
        name = call.get("hotline_name_zh") if t.lang == "zh" else call.get("hotline_name_en")
        self.values["hotline"].setText(f"{call.get('hotline') or '?'}  {name or ''}".strip())
        self.values["caller"].setText(call.get("caller") or "—")
        waited = call.get("waited_seconds")
        self.values["waited"].setText(t("seconds", seconds=round(waited)) if isinstance(waited, (int, float)) else "—")
        self.values["call_id"].setText(call.get("call_id") or "—")


class ConferenceBar(QFrame):
    """Three-way call controls under the pop: the unit's number, bring in / step out / end, who is in."""

    action_requested = Signal(str, str)  # action (start / leave / end), number

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName("conferenceBar")
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        self.number = named(QLineEdit(), "conferenceNumber")
        self.start = named(QPushButton(), "conferenceStart")
        self.leave = named(QPushButton(), "conferenceLeave")
        self.end = named(QPushButton(), "conferenceEnd")
        self.members = named(QLabel(), "conferenceMembers")
        row = QHBoxLayout()
        row.addWidget(self.title)
        row.addWidget(self.number, 1)
        for button in (self.start, self.leave, self.end):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.members)
        self.start.clicked.connect(lambda: self.action_requested.emit("start", self.number.text().strip()))
        self.leave.clicked.connect(lambda: self.action_requested.emit("leave", ""))
        self.end.clicked.connect(lambda: self.action_requested.emit("end", ""))
        self.current: list[dict[str, Any]] = []
        self.set_call_phase("")
        self.retranslate()

    def set_call_phase(self, phase: str) -> None:
        """Only a connected call can become a three-way call; step out and end need one."""
        connected = phase == "connected"
        self.number.setEnabled(connected)
        self.start.setEnabled(connected)
        self.leave.setEnabled(connected and bool(self.current))
        self.end.setEnabled(connected and bool(self.current))
        if not phase:
            self.show_members([])

    def show_members(self, members: list[dict[str, Any]]) -> None:
        self.current = members
        self.leave.setEnabled(bool(members) and self.start.isEnabled())
        self.end.setEnabled(bool(members) and self.start.isEnabled())
        self.retranslate()

    def retranslate(self) -> None:
        t = self.tr_
        self.title.setText(t("conf_title"))
        self.number.setPlaceholderText(t("conf_number_hint"))
        self.start.setText(t("conf_start"))
        self.leave.setText(t("conf_leave"))
        self.end.setText(t("conf_end"))
        names = "、".join(f"{t.maybe('role', m.get('role'))} {m.get('number') or ''}".strip() for m in self.current)
        self.members.setText(t("conf_members", members=names) if self.current else "")


class CaseForm(QWidget):
    """The intake form (受理). `changed` fires on every edit (the window saves the draft); `save_requested`
    when the agent saves."""

    changed = Signal()
    save_requested = Signal()

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName("caseForm")
        self.hotlines: list[dict[str, Any]] = []
        self.call_id: str | None = None
        self.call_time: str | None = None
        self.hotline = named(QComboBox(), "hotline")
        self.caller = named(QLineEdit(), "caller")
        self.call_time_label = named(QLabel(), "callTime")
        self.category = named(QComboBox(), "category")
        self.request = named(QPlainTextEdit(), "request")
        self.request.setMinimumHeight(90)
        self.address = named(QLineEdit(), "address")
        self.urgency = named(QComboBox(), "urgency")
        self.citizen_name = named(QLineEdit(), "citizenName")
        self.contact = named(QLineEdit(), "contact")
        self.language = named(QComboBox(), "language")
        self.handling_group = QButtonGroup(self)
        self.handling_buttons: dict[str, QRadioButton] = {}
        handling_row = QHBoxLayout()
        for i, h in enumerate(HANDLINGS):
            b = named(QRadioButton(), f"handling_{h}")
            self.handling_group.addButton(b, i)
            self.handling_buttons[h] = b
            handling_row.addWidget(b)
        handling_row.addStretch(1)
        self.handling_buttons["dispatch"].setChecked(True)
        self.error = named(QLabel(), "formError")
        self.error.setStyleSheet("color: #b00020;")
        self.save = named(QPushButton(), "saveCase")
        self.save.setStyleSheet("font-weight: bold; padding: 6px 18px;")
        self.clear_button = named(QPushButton(), "clearForm")
        form = QFormLayout()
        self._rows: dict[str, QLabel] = {}
        rows: list[tuple[str, Any]] = [
            ("hotline", self.hotline),
            ("caller", self.caller),
            ("call_time", self.call_time_label),
            ("category", self.category),
            ("request", self.request),
            ("address", self.address),
            ("urgency", self.urgency),
            ("citizen_name", self.citizen_name),
            ("contact", self.contact),
            ("lang_field", self.language),
            ("handling", handling_row),
        ]
        for key, widget in rows:
            label = QLabel()
            self._rows[key] = label
            form.addRow(label, widget)
        buttons = QHBoxLayout()
        buttons.addWidget(self.error, 1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.save)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self._loading = False
        self.hotline.currentIndexChanged.connect(self._hotline_changed)
        for w in (self.caller, self.address, self.citizen_name, self.contact):
            w.textEdited.connect(self._edited)
        self.request.textChanged.connect(self._edited)
        for combo in (self.category, self.urgency, self.language):
            combo.currentIndexChanged.connect(self._edited)
        self.handling_group.idClicked.connect(self._edited)
        self.save.clicked.connect(self._save)
        self.clear_button.clicked.connect(self.clear)
        self.retranslate()

    # --- content ---------------------------------------------------------------------------------------
    def set_hotlines(self, hotlines: list[dict[str, Any]]) -> None:
        self.hotlines = hotlines
        self._refill_hotlines()

    def _refill_hotlines(self) -> None:
        current = self.hotline.currentData()
        self._loading = True
        self.hotline.clear()
        for h in self.hotlines:
            name = h["name_zh"] if self.tr_.lang == "zh" else h["name_en"]
            self.hotline.addItem(f"{h['number']} {name}", h["number"])
        if current is not None:
            self._select(self.hotline, current)
        self._loading = False
        self._fill_categories(self.category.currentData())

    def _fill_categories(self, keep: str | None = None) -> None:
        number = self.hotline.currentData()
        cats: list[str] = next((h["categories"] for h in self.hotlines if h["number"] == number), [])
        was = self._loading
        self._loading = True
        self.category.clear()
        self.category.addItem("", None)
        for c in cats:
            self.category.addItem(c, c)
        if keep:
            self._select(self.category, keep)
        self._loading = was

    def _hotline_changed(self) -> None:
        self._fill_categories()
        self._edited()

    @staticmethod
    def _select(combo: QComboBox, value: Any) -> None:
        i = combo.findData(value)
        if i >= 0:
            combo.setCurrentIndex(i)

    def prefill(self, call: dict[str, Any]) -> None:
        """A new call: hotline, caller number and call time from the pop; everything else empty."""
        self.clear(emit=False)
        self._loading = True
        self.call_id = call.get("call_id")
        self.call_time = call.get("rung_at")
        if call.get("hotline"):
            self._select(self.hotline, call["hotline"])
            self._fill_categories()
        self.caller.setText(call.get("caller") or "")
        self.contact.setText(call.get("caller") or "")
        self._show_time()
        self._loading = False
        self.changed.emit()

    def _show_time(self) -> None:
        text = "—"
        if self.call_time:
            text = self.tr_.when(self.call_time, seconds=True)
        self.call_time_label.setText(text)

    def values(self) -> dict[str, Any]:
        handling = next((h for h, b in self.handling_buttons.items() if b.isChecked()), "dispatch")
        return {
            "call_id": self.call_id,
            "call_time": self.call_time,
            "hotline": self.hotline.currentData(),
            "caller": self.caller.text().strip() or None,
            "category": self.category.currentData(),
            "request": self.request.toPlainText(),
            "address": self.address.text().strip() or None,
            "urgency": self.urgency.currentData(),
            "citizen_name": self.citizen_name.text().strip() or None,
            "contact": self.contact.text().strip() or None,
            "language": self.language.currentData(),
            "handling": handling,
        }

    def set_values(self, v: dict[str, Any]) -> None:
        self._loading = True
        self.call_id = v.get("call_id")
        self.call_time = v.get("call_time")
        if v.get("hotline"):
            self._select(self.hotline, v["hotline"])
        self._fill_categories(v.get("category"))
        self.caller.setText(v.get("caller") or "")
        self.request.setPlainText(v.get("request") or "")
        self.address.setText(v.get("address") or "")
        self._select(self.urgency, v.get("urgency") or "normal")
        self.citizen_name.setText(v.get("citizen_name") or "")
        self.contact.setText(v.get("contact") or "")
        self._select(self.language, v.get("language") or "zh")
        button = self.handling_buttons.get(v.get("handling") or "dispatch")
        if button is not None:
            button.setChecked(True)
        self._show_time()
        self._loading = False

    def has_content(self) -> bool:
        return bool(self.request.toPlainText().strip() or self.address.text().strip() or self.citizen_name.text())

    def clear(self, emit: bool = True) -> None:
        self._loading = True
        self.call_id = None
        self.call_time = None
        for w in (self.caller, self.address, self.citizen_name, self.contact):
            w.clear()
        self.request.clear()
        self.category.setCurrentIndex(0)
        self._select(self.urgency, "normal")
        self._select(self.language, "zh")
        self.handling_buttons["dispatch"].setChecked(True)
        self.error.clear()
        self._show_time()
        self._loading = False
        if emit:
            self.changed.emit()

    def _edited(self, *_args: Any) -> None:
        if not self._loading:
            self.error.clear()
            self.changed.emit()

    def _save(self) -> None:
        if not self.request.toPlainText().strip():
            self.error.setText(self.tr_("request_required"))
            self.request.setFocus()
            return
        self.save_requested.emit()

    # --- language --------------------------------------------------------------------------------------
    def retranslate(self) -> None:
        t = self.tr_
        for key, label in self._rows.items():
            label.setText(t(key))
        was = self._loading
        self._loading = True
        for combo, prefix, values in (
            (self.urgency, "urgency", URGENCIES),
            (self.language, "lang", LANGUAGES),
        ):
            current = combo.currentData()
            combo.clear()
            for v in values:
                combo.addItem(t(f"{prefix}_{v}"), v)
            self._select(combo, current or values[0])
        for h, b in self.handling_buttons.items():
            b.setText(t(f"handling_{h}"))
        self._refill_hotlines()
        self._loading = was
        self.save.setText(t("save_case"))
        self.clear_button.setText(t("clear_form"))


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
}
"""For each workflow action: the request field the note box fills, and whether it is required."""

STATUS_FILTERS = ("open", *CASE_STATUSES, "all")


class CaseWorkPanel(QWidget):
    """The unit / supervisor view (待办案卷): the cases the person may see, one case in full, and a button
    for each action the server says is allowed now. It knows nothing of the link: `refresh_requested`,
    `case_selected(case_id)` and `action_requested(request type, fields)` go to the window, which answers
    with `set_cases` and `show_case`."""

    refresh_requested = Signal()
    case_selected = Signal(int)
    action_requested = Signal(str, dict)

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName("caseWork")
        self.case: dict[str, Any] | None = None
        self.status_filter = named(QComboBox(), "workStatus")
        self.overdue_only = named(QCheckBox(), "workOverdue")
        self.refresh = named(QPushButton(), "workRefresh")
        self.model = WorkTableModel(tr)
        self.table = table_view(self.model, "workTable", WorkTableModel.REQUEST)
        self.detail = named(QTextBrowser(), "workDetail")
        self.detail.setMinimumWidth(380)
        self.note = named(QPlainTextEdit(), "workNote")
        self.note.setMaximumHeight(80)
        self.unit = named(QComboBox(), "workUnit")
        self.reached = named(QCheckBox(), "workReached")
        self.reached.setChecked(True)
        self.solved = named(QCheckBox(), "workSolved")
        self.solved.setChecked(True)
        self.satisfaction = named(QComboBox(), "workSatisfaction")
        self.error = named(QLabel(), "workError")
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        button_row = QHBoxLayout()
        for action in ACTION_REQUESTS:
            b = named(QPushButton(), f"action_{action}")
            b.clicked.connect(lambda _=False, a=action: self._clicked(a))
            b.setVisible(False)
            self.buttons[action] = b
            button_row.addWidget(b)
        button_row.addStretch(1)
        self.unit_label, self.follow_label = QLabel(), QLabel()
        unit_row = QHBoxLayout()
        unit_row.addWidget(self.unit_label)
        unit_row.addWidget(self.unit, 1)
        self.unit_box = QWidget()
        self.unit_box.setLayout(unit_row)
        follow_row = QHBoxLayout()
        follow_row.addWidget(self.follow_label)
        follow_row.addWidget(self.reached)
        follow_row.addWidget(self.solved)
        follow_row.addWidget(self.satisfaction, 1)
        self.follow_box = QWidget()
        self.follow_box.setLayout(follow_row)
        for box, box_layout in ((self.unit_box, unit_row), (self.follow_box, follow_row)):
            box_layout.setContentsMargins(0, 0, 0, 0)
            box.setVisible(False)

        filters = QHBoxLayout()
        filters.addWidget(self.status_filter)
        filters.addWidget(self.overdue_only)
        filters.addStretch(1)
        filters.addWidget(self.refresh)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.table, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.detail, 1)
        right_layout.addWidget(self.unit_box)
        right_layout.addWidget(self.follow_box)
        right_layout.addWidget(self.note)
        right_layout.addLayout(button_row)
        right_layout.addWidget(self.error)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([600, 560])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.status_filter.currentIndexChanged.connect(lambda _i: self.refresh_requested.emit())
        self.overdue_only.toggled.connect(lambda _b: self.refresh_requested.emit())
        self.refresh.clicked.connect(self.refresh_requested.emit)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.reached.toggled.connect(self._reached_toggled)
        self.note.textChanged.connect(self.error.clear)
        self.retranslate()

    # --- what the window feeds in ----------------------------------------------------------------------
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
        """New rows; the case on show stays selected if it is still listed."""
        keep = self.case.get("id") if self.case else None
        self.model.set_rows(cases)
        row = self.model.row_of(keep) if keep is not None else None
        if row is not None:
            selection = self.table.selectionModel()
            selection.blockSignals(True)  # the window reloads the case itself; no second request
            self.table.selectRow(row)
            selection.blockSignals(False)

    def show_case(self, case: dict[str, Any] | None) -> None:
        """One case in full and the buttons for exactly its `allowed_actions`."""
        self.case = case
        self.error.clear()
        allowed = set(case.get("allowed_actions") or []) if case else set()
        for action, button in self.buttons.items():
            button.setVisible(action in allowed)
        self.unit.clear()
        for u in (case or {}).get("dispatch_units") or []:
            indent = "    " if u.get("level", 2) > 2 else ""
            self.unit.addItem(f"{indent}{u['name']}", u["id"])
        self.unit_box.setVisible("dispatch" in allowed)
        self.follow_box.setVisible("follow_up" in allowed)
        self.note.setVisible(bool(allowed & set(NOTE_FIELD)))
        self.detail.setHtml(self._html(case) if case else f"<p style='color:#666'>{self.tr_('work_pick')}</p>")

    def show_error(self, text: str) -> None:
        self.error.setText(text)

    # --- clicks ----------------------------------------------------------------------------------------
    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        case_id = self.model.data(self.model.index(current.row(), 0), CaseIdRole) if current.isValid() else None
        if isinstance(case_id, int):
            self.case_selected.emit(case_id)

    def _reached_toggled(self, reached: bool) -> None:
        self.solved.setEnabled(reached)
        self.satisfaction.setEnabled(reached)

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
            fields["reached"] = self.reached.isChecked()
            if self.reached.isChecked():
                fields["solved"] = self.solved.isChecked()
                fields["satisfaction"] = self.satisfaction.currentData()
        elif action in ("approve", "send_back"):
            fields["approved"] = action == "approve"
        self.error.clear()
        self.action_requested.emit(ACTION_REQUESTS[action], fields)

    def clear_note(self) -> None:
        self.note.clear()

    # --- the detail pane -------------------------------------------------------------------------------
    def _html(self, c: dict[str, Any]) -> str:
        t = self.tr_

        def e(value: Any) -> str:
            return html.escape(str(value)) if value not in (None, "") else "—"

        def when(stamp: str | None) -> str:
            return e(self.tr_.when(stamp)) if stamp else "—"

        deadline = when(c.get("deadline_at"))
        if c.get("overdue"):
            deadline = f"<b style='color:#b00020'>⚠ {t('overdue')} {deadline}</b>"
        rows = [
            (t("col_status"), f"<b>{e(t.maybe('status', c.get('status')))}</b>"),
            (t("hotline"), e(c.get("hotline"))),
            (t("category"), e(c.get("category"))),
            (t("handling"), e(t.maybe("handling", c.get("handling")))),
            (t("col_deadline"), deadline),
            (t("address"), e(c.get("address"))),
            (t("citizen_name"), f"{e(c.get('citizen_name'))} {e(c.get('contact') or c.get('caller'))}"),
        ]
        out = [f"<h3>{e(c.get('number'))}</h3><table cellspacing='2'>"]
        out += [f"<tr><td style='color:#555'>{k}</td><td>{v}</td></tr>" for k, v in rows]
        out.append(f"</table><p><b>{t('request')}</b><br>{e(c.get('request'))}</p>")
        if c.get("exchange_refusal"):
            refused = t("work_exchange_refused", message=e(c["exchange_refusal"]))
            hint = t("work_exchange_refused_hint") if "forward" in (c.get("allowed_actions") or []) else ""
            out.append(f"<p style='color:#b00020'><b>{refused}</b><br>{hint}</p>")
        elif c.get("exchange_stalled") is not None:
            stalled = t("work_exchange_stalled", message=e(c["exchange_stalled"]))
            out.append(f"<p style='color:#b00020'><b>{stalled}</b></p>")
        if c.get("resolution"):
            out.append(f"<p><b>{t('work_resolution')}</b><br>{e(c['resolution'])}</p>")
        history: list[str] = []
        for d in c.get("dispatches") or []:
            text = f"{t('work_dispatched_to')} <b>{e(d.get('unit_name'))}</b> · {e(t.maybe('share', d.get('status')))}"
            text += f" · {t('col_deadline')} {when(d.get('deadline_at'))}"
            if d.get("overdue"):
                text += f" <b style='color:#b00020'>⚠ {t('overdue')}</b>"
            for key in ("instructions", "return_reason", "result"):
                if d.get(key):
                    text += f"<br>&nbsp;&nbsp;{t('work_' + key)}：{e(d[key])}"
            history.append(text)
        for v in c.get("supervisions") or []:
            kind = t("work_leader") if v.get("leader") else t("work_supervision", level=v.get("level", 1))
            history.append(f"<span style='color:#b00020'>{kind}</span> {when(v.get('at'))}：{e(v.get('instructions'))}")
        for f in c.get("follow_ups") or []:
            got = t.maybe("satisfaction", f.get("satisfaction")) if f.get("reached") else t("work_not_reached")
            history.append(f"{t('action_follow_up')} {when(f.get('at'))}：{e(got)} {e(f.get('notes') or '')}")
        for r in c.get("reviews") or []:
            verdict = t("action_approve") if r.get("approved") else t("action_send_back")
            history.append(f"{t('work_review')} {when(r.get('at'))}：{verdict} {e(r.get('reason') or '')}")
        history += call_history_lines(t, c, when)
        if history:
            out.append(f"<p><b>{t('work_history')}</b></p><ul>")
            out += [f"<li>{h}</li>" for h in history]
            out.append("</ul>")
        return "".join(out)

    def retranslate(self) -> None:
        t = self.tr_
        current = self.status_filter.currentData()
        self.status_filter.blockSignals(True)
        self.status_filter.clear()
        for key in STATUS_FILTERS:
            self.status_filter.addItem(t(f"filter_{key}") if key in ("open", "all") else t.maybe("status", key), key)
        self.status_filter.setCurrentIndex(max(0, self.status_filter.findData(current or "open")))
        self.status_filter.blockSignals(False)
        self.overdue_only.setText(t("filter_overdue"))
        self.refresh.setText(t("refresh"))
        self.note.setPlaceholderText(t("work_note_hint"))
        self.unit_label.setText(t("work_unit"))
        self.follow_label.setText(t("action_follow_up"))
        self.reached.setText(t("work_reached"))
        self.solved.setText(t("work_solved"))
        chosen = self.satisfaction.currentData()
        self.satisfaction.clear()
        for s in SATISFACTIONS:
            self.satisfaction.addItem(t(f"satisfaction_{s}"), s)
        self.satisfaction.setCurrentIndex(max(0, self.satisfaction.findData(chosen or SATISFACTIONS[0])))
        for action, button in self.buttons.items():
            button.setText(t(f"action_{action}"))
        self.model.retranslate()
        self.show_case(self.case)
