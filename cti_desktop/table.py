"""What every table of the desktop shares: `RowTableModel` (protocol dicts as rows under translated column
headers) and `table_view` (the view the tabs put it in)."""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

from cti_desktop.i18n import Tr
from cti_desktop.qtutil import named

Index = QModelIndex | QPersistentModelIndex
Row = dict[str, Any]
KeyRole = Qt.ItemDataRole.UserRole + 1
"""A row's KEY field (a case's id, a call's id)."""
RowRole = Qt.ItemDataRole.UserRole + 2
"""A row's whole dict."""


class RowTableModel(QAbstractTableModel):
    """A list of dicts as rows, one column per entry of HEADERS (the i18n keys of their titles), with a full
    reset on new rows. Subclasses give HEADERS, their column constants, FIELDS and `cell`; KEY is the field
    `row_of` finds a row by and KeyRole answers."""

    HEADERS: tuple[str, ...] = ()
    KEY = "id"
    FIELDS: ClassVar[dict[int, str]] = {}
    """The columns that show one field of the row as it is (nothing for a missing or null one): column →
    field. `cell` gives what the other columns show, and every role but the display one of these."""

    def __init__(self, tr: Tr, parent: Any = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.rows: list[Row] = []

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row_of(self, key: Any) -> int | None:
        return next((i for i, row in enumerate(self.rows) if row.get(self.KEY) == key), None)

    def column_changed(self, column: int, first: int = 0, last: int | None = None) -> None:
        """One column of rows `first`..`last` (all rows by default) is to be drawn again."""
        last = len(self.rows) - 1 if last is None else last
        if self.rows and last >= first:
            self.dataChanged.emit(self.index(first, column), self.index(last, column))

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.HEADERS) - 1)
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(self.HEADERS) - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.tr_(self.HEADERS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == KeyRole:
            return row[self.KEY]
        if role == RowRole:
            return row
        field = self.FIELDS.get(index.column()) if role == Qt.ItemDataRole.DisplayRole else None
        if field is not None:
            value = row.get(field)
            return "" if value is None else value
        return self.cell(row, index.column(), role)

    def cell(self, row: Row, column: int, role: int) -> Any:
        """What `row` shows in `column` for `role` (None for nothing)."""
        raise NotImplementedError


def shortened(text: Any, width: int = 60) -> str:
    """A cell's one-line form of a long text: newlines as spaces, cut to `width` characters with an ellipsis."""
    line = str(text or "").replace("\n", " ")
    return line if len(line) <= width else line[: width - 1] + "…"


def table_view(model: RowTableModel, name: str, stretch: int, *, single: bool = True) -> QTableView:
    """A read-only table of whole rows, columns sized to their contents but `stretch`, which takes the rest;
    `single`: one row selected at a time."""
    view = named(QTableView(), name)
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    if single:
        view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return view
