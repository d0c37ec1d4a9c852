"""The desktop's widgets: sign-in dialog, screen-pop panel and case form. They know nothing of the link; the
window feeds them protocol data and listens to their signals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDoubleValidator
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
    QVBoxLayout,
    QWidget,
)

from ari_app.protocol import HANDLINGS, LANGUAGES, REQUEST_TYPES, URGENCIES, WITHHELD
from cti_desktop.i18n import Tr
from cti_desktop.qtutil import STRETCH, Texts, error_label, hbox, named, refill

DEFAULT_REQUEST_TYPE = "help"
"""The request type a new form starts with: the server's own default (ari_app.cases.intake, 求助)."""


def is_withheld(number: str | None) -> bool:
    """True when `number` identifies no one: none, empty, or the server's `WITHHELD` (a caller who withheld
    their number, in whatever form it reached Asterisk: protocol.WITHHELD)."""
    return not number or number.strip() in ("", WITHHELD)


class NoteLabel(QLabel):
    """A line of text that is said again in the new language when the language changes: it keeps how to say
    its text (a text key and fields, or a function of the language), not the words of the moment."""

    def __init__(self, tr: Tr, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.tr_ = tr
        self._render: Callable[[Tr], str] | None = None

    def say(self, key: str = "", **fields: object) -> None:
        """Show the text `key` with `fields` (no key: nothing)."""
        self.say_with((lambda t: t(key, **fields)) if key else None)

    def say_with(self, render: Callable[[Tr], str] | None) -> None:
        """Show what `render` says in the current language, and again after each change of language."""
        self._render = render
        self.retranslate()

    def clear(self) -> None:
        self.say_with(None)

    def retranslate(self) -> None:
        self.setText(self._render(self.tr_) if self._render is not None else "")


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
        self.error = error_label("signInError")
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
        buttons = hbox(self.lang_button, STRETCH, self.button)
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
        caller = call.get("caller")
        self.values["caller"].setText(t("caller_withheld") if caller is None or is_withheld(caller) else caller)
        waited = call.get("waited_seconds")
        self.values["waited"].setText(t("seconds", seconds=round(waited)) if isinstance(waited, (int, float)) else "—")
        self.values["call_id"].setText(call.get("call_id") or "—")


class CallBar(QFrame):
    """A bar of controls for the call on show, under the pop: a bold title (the text `title`), then what the
    bar offers, whose fixed texts its `texts` keep. `set_call_phase` tells it the call's phase ("" for no
    call)."""

    def __init__(self, tr: Tr, name: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName(name)
        self.texts = Texts()
        self.title = self.texts.add(QLabel(), title)
        self.title.setStyleSheet("font-weight: bold;")

    def set_call_phase(self, phase: str) -> None:
        raise NotImplementedError


class ConferenceBar(CallBar):
    """Three-way call controls under the pop: the unit's number, bring in / step out / end, who is in."""

    action_requested = Signal(str, str)  # action (start / leave / end), number

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(tr, "conferenceBar", "conf_title", parent)
        texts = self.texts
        self.number = texts.named(QLineEdit(), "conferenceNumber", "conf_number_hint")
        self.start = texts.named(QPushButton(), "conferenceStart", "conf_start")
        self.leave = texts.named(QPushButton(), "conferenceLeave", "conf_leave")
        self.end = texts.named(QPushButton(), "conferenceEnd", "conf_end")
        self.members = named(QLabel(), "conferenceMembers")
        row = hbox(self.title, (self.number, 1), self.start, self.leave, self.end)
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
        self.texts.say(t)
        names = "、".join(f"{t.maybe('role', m.get('role'))} {m.get('number') or ''}".strip() for m in self.current)
        self.members.setText(t("conf_members", members=names) if self.current else "")


class CaseForm(QWidget):
    """The intake form (受理). `changed` fires on every edit (the window saves the draft); `save_requested`
    when the agent saves.

    A call from a withheld number (`withheld`) leaves the caller and contact fields empty, saying 号码未显示 /
    number withheld in them, for the agent to type the number the citizen gives; the case's caller is then
    sent as `withheld` unless the agent typed one, and a contact is never sent in a withheld form."""

    changed = Signal()
    save_requested = Signal()

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.setObjectName("caseForm")
        self.hotlines: list[dict[str, Any]] = []
        self.classifications: list[dict[str, Any]] = []
        self.call_id: str | None = None
        self.call_time: str | None = None
        self.withheld = False
        """The call the form was filled from came from a withheld number."""
        self.hotline = named(QComboBox(), "hotline")
        self.caller = named(QLineEdit(), "caller")
        self.call_time_label = named(QLabel(), "callTime")
        self.category = named(QComboBox(), "category")
        self.request_type = named(QComboBox(), "requestType")
        self.classification = named(QComboBox(), "classification")
        self.request = named(QPlainTextEdit(), "request")
        self.request.setMinimumHeight(90)
        self.address = named(QLineEdit(), "address")
        self.district = named(QLineEdit(), "district")
        self.street = named(QLineEdit(), "street")
        self.grid_cell = named(QLineEdit(), "gridCell")
        area_row = QHBoxLayout()
        for w in (self.district, self.street, self.grid_cell):
            w.setMaxLength(64)  # the server's limit (docs/protocol.md, create_case)
            area_row.addWidget(w)
        self.latitude = named(QLineEdit(), "latitude")
        self.longitude = named(QLineEdit(), "longitude")
        self.latitude.setValidator(QDoubleValidator(-90.0, 90.0, 6, self.latitude))
        self.longitude.setValidator(QDoubleValidator(-180.0, 180.0, 6, self.longitude))
        point_row = hbox(self.latitude, self.longitude)
        self.urgency = named(QComboBox(), "urgency")
        self.citizen_name = named(QLineEdit(), "citizenName")
        self.contact = named(QLineEdit(), "contact")
        self.language = named(QComboBox(), "language")
        self.confidential = named(QCheckBox(), "confidential")
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
            ("request_type", self.request_type),
            ("classification", self.classification),
            ("category", self.category),
            ("request", self.request),
            ("address", self.address),
            ("location_area", area_row),
            ("location_point", point_row),
            ("urgency", self.urgency),
            ("citizen_name", self.citizen_name),
            ("contact", self.contact),
            ("confidential", self.confidential),
            ("lang_field", self.language),
            ("handling", handling_row),
        ]
        for key, widget in rows:
            label = QLabel()
            self._rows[key] = label
            form.addRow(label, widget)
        buttons = hbox((self.error, 1), self.clear_button, self.save)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self._loading = False
        self.hotline.currentIndexChanged.connect(self._hotline_changed)
        for w in (self.caller, self.address, self.citizen_name, self.contact, *self._location_fields()):
            w.textEdited.connect(self._edited)
        self.request.textChanged.connect(self._edited)
        for combo in (self.category, self.request_type, self.classification, self.urgency, self.language):
            combo.currentIndexChanged.connect(self._edited)
        self.confidential.toggled.connect(self._edited)
        self.handling_group.idClicked.connect(self._edited)
        self.save.clicked.connect(self._save)
        self.clear_button.clicked.connect(self.clear)
        self.retranslate()
        self._loading = True
        self._select(self.request_type, DEFAULT_REQUEST_TYPE)
        self._loading = False

    def _location_fields(self) -> tuple[QLineEdit, ...]:
        return (self.district, self.street, self.grid_cell, self.latitude, self.longitude)

    @staticmethod
    def _degrees(field: QLineEdit) -> float | None:
        """The number in a latitude or longitude field (its validator keeps it one), None when empty."""
        text = field.text().strip()
        try:
            return float(text) if text else None
        except ValueError:
            return None

    # --- content ---------------------------------------------------------------------------------------
    def set_hotlines(self, hotlines: list[dict[str, Any]]) -> None:
        self.hotlines = hotlines
        self._refill_hotlines()

    def set_classifications(self, nodes: list[dict[str, Any]]) -> None:
        """The catalogue's selectable nodes (`classifications`: code, names, level; parents first), shown as a
        tree by indentation; the first entry is none."""
        self.classifications = nodes
        self._refill_classifications()

    def _refill_classifications(self) -> None:
        lang = self.tr_.lang
        was = self._loading
        self._loading = True
        refill(
            self.classification,
            [("", None)]
            + [
                ("\u3000" * (n["level"] - 1) + f"{n['code']} {n.get(f'name_{lang}') or n['name_zh']}", n["code"])
                for n in self.classifications
            ],
        )
        self._loading = was

    def _refill_hotlines(self) -> None:
        self._loading = True
        refill(self.hotline, ((f"{h['number']} {h[f'name_{self.tr_.lang}']}", h["number"]) for h in self.hotlines))
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
        caller = call.get("caller")
        self._show_withheld(is_withheld(caller))
        number = "" if self.withheld else caller
        self.caller.setText(number)
        self.contact.setText(number)
        self._show_time()
        self._loading = False
        self.changed.emit()

    def _show_withheld(self, withheld: bool) -> None:
        """The caller and contact fields say the number was withheld (while they are empty), or nothing."""
        self.withheld = withheld
        hint = self.tr_("caller_withheld") if withheld else ""
        for field in (self.caller, self.contact):
            field.setPlaceholderText(hint)

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
            "caller": self.caller.text().strip() or (WITHHELD if self.withheld else None),
            "category": self.category.currentData(),
            "request_type": self.request_type.currentData(),
            "classification": self.classification.currentData(),
            "request": self.request.toPlainText(),
            "address": self.address.text().strip() or None,
            "district": self.district.text().strip() or None,
            "street": self.street.text().strip() or None,
            "grid_cell": self.grid_cell.text().strip() or None,
            "latitude": self._degrees(self.latitude),
            "longitude": self._degrees(self.longitude),
            "urgency": self.urgency.currentData(),
            "citizen_name": self.citizen_name.text().strip() or None,
            "contact": self._contact(),
            "confidential": self.confidential.isChecked(),
            "language": self.language.currentData(),
            "handling": handling,
        }

    def _contact(self) -> str | None:
        """The contact number as typed; None when empty or in a withheld form, which reaches no one."""
        text = self.contact.text().strip()
        return None if is_withheld(text) else text

    def set_values(self, v: dict[str, Any]) -> None:
        self._loading = True
        self.call_id = v.get("call_id")
        self.call_time = v.get("call_time")
        if v.get("hotline"):
            self._select(self.hotline, v["hotline"])
        self._fill_categories(v.get("category"))
        caller = v.get("caller") or ""
        self._show_withheld(bool(caller) and is_withheld(caller))
        self.caller.setText("" if self.withheld else caller)
        self.request.setPlainText(v.get("request") or "")
        self.address.setText(v.get("address") or "")
        self.district.setText(v.get("district") or "")
        self.street.setText(v.get("street") or "")
        self.grid_cell.setText(v.get("grid_cell") or "")
        for field, key in ((self.latitude, "latitude"), (self.longitude, "longitude")):
            field.setText("" if v.get(key) is None else str(v[key]))
        self._select(self.urgency, v.get("urgency") or "normal")
        self._select(self.request_type, v.get("request_type") or DEFAULT_REQUEST_TYPE)
        self._select(self.classification, v.get("classification"))
        self.confidential.setChecked(bool(v.get("confidential")))
        self.citizen_name.setText(v.get("citizen_name") or "")
        contact = v.get("contact") or ""
        self.contact.setText("" if is_withheld(contact) else contact)
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
        for w in (self.caller, self.address, self.citizen_name, self.contact, *self._location_fields()):
            w.clear()
        self._show_withheld(False)
        self.request.clear()
        self.category.setCurrentIndex(0)
        self.classification.setCurrentIndex(0)
        self._select(self.request_type, DEFAULT_REQUEST_TYPE)
        self.confidential.setChecked(False)
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
        point = (self._degrees(self.latitude), self._degrees(self.longitude))
        if (point[0] is None) != (point[1] is None):
            self.error.setText(self.tr_("location_both"))
            (self.latitude if point[0] is None else self.longitude).setFocus()
            return
        self.save_requested.emit()

    # --- language --------------------------------------------------------------------------------------
    def retranslate(self) -> None:
        t = self.tr_
        for key, label in self._rows.items():
            label.setText(t(key))
        was = self._loading
        self._loading = True
        refill(self.urgency, ((t(f"urgency_{v}"), v) for v in URGENCIES))
        refill(self.request_type, ((t(f"request_type_{v}"), v) for v in REQUEST_TYPES))
        self.confidential.setText(t("confidential_hint"))
        for field, key in (
            (self.district, "location_district"),
            (self.street, "location_street"),
            (self.grid_cell, "location_grid"),
            (self.latitude, "location_latitude"),
            (self.longitude, "location_longitude"),
        ):
            field.setPlaceholderText(t(key))
        self._show_withheld(self.withheld)
        self._refill_classifications()
        refill(self.language, ((t(f"lang_{v}"), v) for v in LANGUAGES))
        for h, b in self.handling_buttons.items():
            b.setText(t(f"handling_{h}"))
        self._refill_hotlines()
        self._loading = was
        self.save.setText(t("save_case"))
        self.clear_button.setText(t("clear_form"))
