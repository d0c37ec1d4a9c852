"""The person's own cases tab (我的案卷): the cases they took, newest first, narrowed by a search text; a
double click opens one in the cases to handle tab's detail (its history, attachments and actions)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QLineEdit, QPushButton, QVBoxLayout

from ari_app.protocol import Msg
from cti_desktop.i18n import Tr
from cti_desktop.models import CaseIdRole, CaseTableModel
from cti_desktop.qtutil import hbox, named
from cti_desktop.tab import Request, Spawn, Tab
from cti_desktop.table import table_view


class MyCasesTab(Tab):
    """A search field over a case table; read again after sign-in and after each case the person saves."""

    TITLE = "tab_my_cases"
    case_opened = Signal(int)
    """A case's id, double-clicked to be shown in full."""

    def __init__(self, tr: Tr, spawn: Spawn, request: Request) -> None:
        super().__init__(tr, spawn, request)
        self.search = named(QLineEdit(), "searchField")
        self.search_button = named(QPushButton(), "searchButton")
        self.search.returnPressed.connect(lambda: self.spawn(self.refresh()))
        self.search_button.clicked.connect(lambda: self.spawn(self.refresh()))
        self.model = CaseTableModel(tr)
        self.view = table_view(self.model, "casesView", CaseTableModel.REQUEST, single=False)
        self.view.doubleClicked.connect(self._double_clicked)
        layout = QVBoxLayout(self)
        layout.addLayout(hbox((self.search, 1), self.search_button))
        layout.addWidget(self.view)

    def _double_clicked(self, index: QModelIndex) -> None:
        case_id = self.model.data(self.model.index(index.row(), 0), CaseIdRole)
        if isinstance(case_id, int):
            self.case_opened.emit(case_id)

    def retranslate(self) -> None:
        self.search.setPlaceholderText(self.tr_("search_hint"))
        self.search_button.setText(self.tr_("search"))
        self.model.retranslate()

    def set_online(self, online: bool) -> None:
        self.search_button.setEnabled(online)

    def signed_in(self, agent: dict[str, Any], hotlines: list[dict[str, Any]]) -> None:
        self.spawn(self.refresh())

    async def refresh(self) -> None:
        text = self.search.text().strip()
        fields: dict[str, Any] = {"mine": True, "limit": 100}
        if text:
            fields["text"] = text
        reply = await self.request(Msg.SEARCH_CASES, **fields)
        self.model.set_rows(reply.get("cases") or [])
