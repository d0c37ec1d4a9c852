"""Qt models for the desktop's tables and the agent's state, tested without any widget."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from ari_app.protocol import AgentState
from cti_desktop.i18n import Tr
from cti_desktop.table import KeyRole, Row, RowRole, RowTableModel, shortened

CaseIdRole = KeyRole
CaseRole = RowRole

STATE_COLOURS: dict[str, str] = {
    AgentState.SIGNED_OUT: "#9e9e9e",
    AgentState.READY: "#2e7d32",
    AgentState.PAUSED: "#ef6c00",
    AgentState.ON_CALL: "#1565c0",
    AgentState.WRAPUP: "#6a1b9a",
}
"""An agent state's colour, the same on the state bar and the wallboard."""


class CaseTableModel(RowTableModel):
    """Case summaries as rows (the caller's history, my cases, search results)."""

    NUMBER, CREATED, HOTLINE, CATEGORY, REQUEST, STATUS, CALLER = range(7)
    HEADERS = ("col_number", "col_created", "col_hotline", "col_category", "col_request", "col_status", "col_caller")
    FIELDS: ClassVar[dict[int, str]] = {NUMBER: "number", HOTLINE: "hotline", CATEGORY: "category", CALLER: "caller"}

    @property
    def cases(self) -> list[Row]:
        return self.rows

    def cell(self, case: Row, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and col == self.REQUEST:
            return case["request"]
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == self.CREATED:
            return self.tr_.when(case["created_at"])
        if col == self.REQUEST:
            return shortened(case["request"])
        if col == self.STATUS:
            return self.tr_.maybe("status", case["status"])
        return None


class WorkTableModel(RowTableModel):
    """The unit / supervisor view's rows (`list_cases`): cases to act on, with their deadlines; overdue rows
    are drawn in red and their deadline marked; a case the hotline's own system refused (exchange mode) is
    drawn in red with its status marked, and the receiver's words as the status's tooltip."""

    NUMBER, HOTLINE, CATEGORY, STATUS, DEADLINE, REQUEST = range(6)
    HEADERS = ("col_number", "col_hotline", "col_category", "col_status", "col_deadline", "col_request")
    FIELDS: ClassVar[dict[int, str]] = {NUMBER: "number", HOTLINE: "hotline", CATEGORY: "category"}
    OVERDUE_COLOUR = QColor("#b00020")

    @property
    def cases(self) -> list[Row]:
        return self.rows

    def cell(self, case: Row, col: int, role: int) -> Any:
        marked = case.get("exchange_refusal") or case.get("exchange_stalled") is not None
        if role == Qt.ItemDataRole.ForegroundRole and (case.get("overdue") or marked):
            return self.OVERDUE_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole and col == self.REQUEST:
            return case.get("request")
        if role == Qt.ItemDataRole.ToolTipRole and col == self.STATUS and case.get("exchange_refusal"):
            return self.tr_("work_exchange_refused", message=case["exchange_refusal"])
        if role == Qt.ItemDataRole.ToolTipRole and col == self.STATUS and marked:
            return self.tr_("work_exchange_stalled", message=case["exchange_stalled"])
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == self.STATUS:
            status = self.tr_.maybe("status", case.get("status"))
            if case.get("exchange_refusal"):
                return f"{self.tr_('exchange_refused')} · {status}"
            if case.get("exchange_stalled") is not None:
                return f"{self.tr_('exchange_stalled')} · {status}"
            return status
        if col == self.DEADLINE:
            deadline = case.get("deadline_at")
            if not deadline:
                return "—"
            text = self.tr_.when(deadline)
            return f"⚠ {self.tr_('overdue')} {text}" if case.get("overdue") else text
        if col == self.REQUEST:
            return shortened(case.get("request"))
        return None


class AgentStatusView:
    """What the state bar shows, from the server's `agent_state` messages. The wrap-up countdown runs on a
    monotonic clock from the moment the message arrived, so the desktop's wall clock does not matter."""

    def __init__(self, tr: Tr, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.tr = tr
        self.monotonic = monotonic
        self.state = AgentState.SIGNED_OUT
        self.reason = ""
        self.pause_after: str | None = None
        self._wrapup_end: float | None = None

    def update(self, info: dict[str, Any]) -> None:
        try:
            self.state = AgentState(info.get("state", "signed_out"))
        except ValueError:
            self.state = AgentState.SIGNED_OUT
        self.reason = str(info.get("reason") or "")
        pending = info.get("pause_after")
        self.pause_after = str(pending) if pending is not None else None
        remaining = info.get("wrapup_remaining")
        self._wrapup_end = self.monotonic() + float(remaining) if isinstance(remaining, (int, float)) else None

    def wrapup_remaining(self) -> int | None:
        if self.state is not AgentState.WRAPUP or self._wrapup_end is None:
            return None
        return max(0, round(self._wrapup_end - self.monotonic()))

    def label(self) -> str:
        left = self.wrapup_remaining()
        after = (
            ""
            if self.pause_after is None
            else ("，" if self.tr.lang == "zh" else "; ")
            + self.tr("pause_after_call", reason=self.tr.maybe("reason", self.pause_after))
        )
        if left is not None:
            return self.tr("wrapup_left", seconds=left) + after
        text = self.tr(f"state_{self.state}")
        if after:
            return text + after
        if self.state is AgentState.PAUSED and self.reason:
            text += (
                f"（{self.tr.maybe('reason', self.reason)}）"
                if self.tr.lang == "zh"
                else f" ({self.tr.maybe('reason', self.reason)})"
            )
        return text

    @property
    def can_ready(self) -> bool:
        return self.state in (AgentState.SIGNED_OUT, AgentState.PAUSED, AgentState.WRAPUP)

    @property
    def can_pause(self) -> bool:
        return self.state in (AgentState.SIGNED_OUT, AgentState.READY, AgentState.WRAPUP, AgentState.PAUSED)
