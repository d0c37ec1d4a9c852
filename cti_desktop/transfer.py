"""Transfer controls in the call area (转接): the target (another agent's id, or a unit's number), blind or
attended, then complete or cancel an attended transfer; and the note a transferred call's pop carries.

The bar only emits what the agent asked for and shows the `transfer_state` the server sends; the window
sends the `transfer` request (docs/protocol.md, "Transfers")."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from cti_desktop.i18n import Tr
from cti_desktop.qtutil import STRETCH, hbox, named
from cti_desktop.widgets import CallBar

TARGET_KINDS = ("agent", "number")


class TransferBar(CallBar):
    """Transfer controls: usable on a connected call; complete once the target answered an attended one."""

    action_requested = Signal(str, str, str)  # action (blind / attended / complete / cancel), target kind, target

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(tr, "transferBar", "xfer_title", parent)
        texts = self.texts
        self.kind = named(QComboBox(), "transferTargetKind")
        for kind in TARGET_KINDS:
            self.kind.addItem("", kind)
        self.target = texts.named(QLineEdit(), "transferTarget", "xfer_target_hint")
        self.blind = texts.named(QPushButton(), "transferBlind", "xfer_blind")
        self.attended = texts.named(QPushButton(), "transferAttended", "xfer_attended")
        self.complete = texts.named(QPushButton(), "transferComplete", "xfer_complete")
        self.cancel = texts.named(QPushButton(), "transferCancel", "xfer_cancel")
        self.state = named(QLabel(), "transferState")
        self.target.setMinimumWidth(140)
        row = hbox(self.title, self.kind, (self.target, 1))
        buttons = hbox(self.blind, self.attended, self.complete, self.cancel, STRETCH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addLayout(buttons)
        layout.addWidget(self.state)
        self.blind.clicked.connect(lambda: self._start("blind"))
        self.attended.clicked.connect(lambda: self._start("attended"))
        self.complete.clicked.connect(lambda: self.action_requested.emit("complete", "", ""))
        self.cancel.clicked.connect(lambda: self.action_requested.emit("cancel", "", ""))
        self.phase = ""
        self.current: dict[str, Any] | None = None
        self.set_call_phase("")
        self.retranslate()

    def _start(self, action: str) -> None:
        self.action_requested.emit(action, str(self.kind.currentData()), self.target.text().strip())

    def set_call_phase(self, phase: str) -> None:
        """Transfers need a connected call; a new or ended call forgets the last transfer."""
        self.phase = phase
        if phase != "connected":
            self.current = None
        self._enable()
        self.retranslate()

    def show_transfer(self, transfer: dict[str, Any] | None) -> None:
        self.current = transfer
        self._enable()
        self.retranslate()

    def _enable(self) -> None:
        state = (self.current or {}).get("state")
        under_way = state in ("ringing", "answered")
        attended = (self.current or {}).get("kind") == "attended"
        idle = self.phase == "connected" and not under_way
        for w in (self.kind, self.target, self.blind, self.attended):
            w.setEnabled(idle)
        self.complete.setEnabled(attended and state == "answered")
        self.cancel.setEnabled(attended and under_way)

    def retranslate(self) -> None:
        t = self.tr_
        self.texts.say(t)
        for i, kind in enumerate(TARGET_KINDS):
            self.kind.setItemText(i, t(f"xfer_to_{kind}"))
        current = self.current
        if not current:
            self.state.setText("")
            return
        target = current.get("target_agent") or current.get("target_number") or ""
        self.state.setText(t(f"xfer_state_{current.get('state')}", target=target))


class LinkageBar(CallBar):
    """联动 one-key buttons on a connected call: 转110 (a blind transfer to the partner) and 三方110 (the
    partner called into a three-way call), one pair per partner the server listed at sign-in
    (`signed_in.partners`). The desktop sends only the partner's key; the server dials its number."""

    requested = Signal(str, str)  # "transfer" or "three_way", the partner's key

    def __init__(self, tr: Tr, parent: QWidget | None = None) -> None:
        super().__init__(tr, "linkageBar", "linkage_title", parent)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addWidget(self.title)
        self.row.addStretch(1)
        self.partners: list[dict[str, Any]] = []
        self.buttons: dict[tuple[str, str], QPushButton] = {}
        self.phase = ""
        self.busy = False
        self.retranslate()
        self.setVisible(False)

    def set_partners(self, partners: list[dict[str, Any]]) -> None:
        """The partners of `signed_in` (`key`, `name_zh`, `name_en`): a transfer and a three-way button each."""
        for button in self.buttons.values():
            self.row.removeWidget(button)
            button.deleteLater()
        self.buttons = {}
        self.partners = [p for p in partners if p.get("key")]
        for p in self.partners:
            key = str(p["key"])
            for kind in ("transfer", "three_way"):
                button = named(QPushButton(), f"linkage_{kind}_{key}")
                button.setStyleSheet("color: #b00020; font-weight: bold;")
                button.clicked.connect(lambda _=False, k=kind, x=key: self.requested.emit(k, x))
                self.row.insertWidget(self.row.count() - 1, button)
                self.buttons[(kind, key)] = button
        self.setVisible(bool(self.partners))
        self._enable()
        self.retranslate()

    def set_call_phase(self, phase: str) -> None:
        """Only a connected call is handed over; a new or ended call is no longer busy."""
        self.phase = phase
        if phase != "connected":
            self.busy = False
        self._enable()

    def set_busy(self, busy: bool) -> None:
        """A transfer under way (or a request in flight): no second handoff until it is over."""
        self.busy = busy
        self._enable()

    def _enable(self) -> None:
        for button in self.buttons.values():
            button.setEnabled(self.phase == "connected" and not self.busy)

    def retranslate(self) -> None:
        t = self.tr_
        self.texts.say(t)
        for p in self.partners:
            key = str(p["key"])
            name = str(p.get("name_zh" if t.lang == "zh" else "name_en") or key)
            for kind in ("transfer", "three_way"):
                button = self.buttons[(kind, key)]
                button.setText(t(f"linkage_{kind}", number=key))
                button.setToolTip(t(f"linkage_{kind}_tip", number=key, name=name))


def transfer_note(t: Tr, call: dict[str, Any], cases: list[dict[str, Any]]) -> str:
    """What the pop of a transferred call tells the agent: from whom, how, and the cases to continue."""
    transfer = call.get("transfer") or {}
    if not transfer:
        return ""
    if transfer.get("state") == "failed":
        note = t("xfer_came_back", target=transfer.get("target_agent") or transfer.get("target_number") or "")
    else:
        kind = t.maybe("xfer_kind", transfer.get("kind"))
        note = t("xfer_from", agent=transfer.get("from_agent") or "?", kind=kind)
    if cases:
        note += "\n" + t("xfer_cases", numbers="、".join(str(c.get("number")) for c in cases))
    return note


def call_history_lines(t: Tr, case: dict[str, Any], when: Callable[[str | None], str]) -> list[str]:
    """Lines (HTML) for the case detail's history: the transfers of the case's call and who took part in its
    three-way conference, with times (`when` formats a server time for display)."""
    e = html.escape
    lines = []
    for x in case.get("transfers") or []:
        target = (
            f"{t('role_agent')} {x['target_agent']}"
            if x.get("target_agent")
            else f"{t('role_unit')} {x.get('target_number')}"
        )
        text = t("work_transfer", kind=t.maybe("xfer_kind", x.get("kind")), agent=x.get("from_agent"), target=target)
        lines.append(f"{when(x.get('started_at'))} {e(text)} · {e(t.maybe('xfer_result', x.get('state')))}")
    for x in case.get("linkage") or []:
        partner = f"{x.get('partner')} {x.get('name_zh' if t.lang == 'zh' else 'name_en') or ''}".strip()
        text = t("work_linkage", kind=t.maybe("linkage_kind", x.get("kind")), agent=x.get("agent"), partner=partner)
        order = x.get("work_order")
        if order:
            text += " · " + t.maybe("linkage_order", order)
            if x.get("service_request_id"):
                text += " " + t("linkage_receipt", id=x["service_request_id"])
            if x.get("result_status"):
                text += " · " + t("linkage_result", status=t.maybe("linkage_status", x["result_status"]))
                text += f" {x.get('result_notes') or ''}".rstrip()
            elif order != "delivered" and x.get("error"):
                text += f" ({x['error']})"
        lines.append(f"{when(x.get('at'))} {e(text)}")
    for p in case.get("conference") or []:
        who = f"{t.maybe('role', p.get('role'))} {p.get('number') or ''}".strip()
        span = f"{when(p.get('joined_at'))} – {when(p.get('left_at'))}"
        lines.append(f"{e(t('conf_title'))}：{e(who)} {span}")
    return lines
