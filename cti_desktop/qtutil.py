"""Small typed helpers over Qt: what PySide6's type stubs do not cover, and the pieces every tab builds alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

Q = TypeVar("Q", bound=QObject)
W = TypeVar("W", bound=QWidget)
STRETCH = None
"""In `hbox`: the space that pushes the widgets before it and those after it apart."""


def named(obj: Q, name: str) -> Q:
    """`obj` with its Qt object name set (what tests and style sheets find it by), returned for chaining.

    PySide6 accepts `objectName=` as a constructor keyword at run time, but its stubs do not declare it, so
    strict type checking rejects every such call."""
    obj.setObjectName(name)
    return obj


class Texts:
    """A view's fixed texts: each widget's text key, given where the widget is made, and said in the current
    language by `say` (the view's retranslate): a label's, check box's or button's text, a field's placeholder.
    Texts with fields, or that change with the view's state, are the view's own to say."""

    def __init__(self) -> None:
        self._shows: list[tuple[Callable[[str], None], str]] = []

    def add(self, widget: W, key: str) -> W:
        """`widget`, whose text is the text `key` from now on. TypeError for a widget that shows no text."""
        show: Callable[[str], None]
        if isinstance(widget, (QLineEdit, QPlainTextEdit)):
            show = widget.setPlaceholderText
        elif isinstance(widget, (QLabel, QAbstractButton)):
            show = widget.setText
        else:
            raise TypeError(f"a {type(widget).__name__} shows no text")
        self._shows.append((show, key))
        return widget

    def named(self, widget: W, name: str, key: str) -> W:
        """`widget` named `name` (see `named`), whose text is the text `key`."""
        return self.add(named(widget, name), key)

    def say(self, t: Callable[[str], str]) -> None:
        """Show every widget's text as `t` (the view's Tr) says it."""
        for show, key in self._shows:
            show(t(key))


def refill(combo: QComboBox, items: Iterable[tuple[str, Any]], *, quiet: bool = False) -> None:
    """Replace a combo box's (text, data) items, as on a change of language: the chosen data stays chosen
    where it is still offered, else the first item is. `quiet`: no index change is signalled meanwhile."""
    chosen = combo.currentData()
    blocked = combo.blockSignals(quiet or combo.signalsBlocked())
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    combo.setCurrentIndex(max(0, combo.findData(chosen)))
    combo.blockSignals(blocked)


def pane() -> tuple[QWidget, QVBoxLayout]:
    """A plain widget and its vertical layout, without margins: one side of a tab whose panes stand side by
    side (cti_desktop.tab.Tab.lay_out_side_by_side)."""
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    return widget, layout


class VerticalScroll(QScrollArea):
    """A scroll area that scrolls up and down only: as wide as its widget needs at the least (the room for
    the scroll bar included), so that no row is ever cut at the right."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        margins = self.contentsMargins()
        width = inner.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(max(hint.width(), width + margins.left() + margins.right()), hint.height())


def scrolled(widget: QWidget, name: str) -> QScrollArea:
    """`widget` in a scroll area named `name` that sizes it to the room there is, never below its minimum size
    hint: a long form on a short screen scrolls up and down (its fields at their own height) instead of
    squashing its rows into each other. Tabbing to a field out of sight scrolls it into view."""
    area = named(VerticalScroll(), name)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setWidget(widget)
    return area


def error_label(name: str) -> QLabel:
    """The label a tab or form shows its refusals in: red, wrapped, named `name`."""
    label = named(QLabel(), name)
    label.setStyleSheet("color: #b00020;")
    label.setWordWrap(True)
    return label


def hbox(*items: QWidget | tuple[QWidget, int] | None) -> QHBoxLayout:
    """A horizontal layout of `items` from left to right: a widget, `(widget, stretch)` for a widget with that
    stretch factor (its share of the room left over), or STRETCH (None) standing for a stretch."""
    layout = QHBoxLayout()
    for item in items:
        if item is None:
            layout.addStretch(1)
        elif isinstance(item, tuple):
            widget, stretch = item
            layout.addWidget(widget, stretch)
        else:
            layout.addWidget(item)
    return layout
