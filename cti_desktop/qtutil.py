"""Small typed helpers over Qt that PySide6's type stubs do not cover."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox

Q = TypeVar("Q", bound=QObject)


def named(obj: Q, name: str) -> Q:
    """`obj` with its Qt object name set (what tests and style sheets find it by), returned for chaining.

    PySide6 accepts `objectName=` as a constructor keyword at run time, but its stubs do not declare it, so
    strict type checking rejects every such call."""
    obj.setObjectName(name)
    return obj


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
