"""Small typed helpers over Qt that PySide6's type stubs do not cover."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QObject

Q = TypeVar("Q", bound=QObject)


def named(obj: Q, name: str) -> Q:
    """`obj` with its Qt object name set (what tests and style sheets find it by), returned for chaining.

    PySide6 accepts `objectName=` as a constructor keyword at run time, but its stubs do not declare it, so
    strict type checking rejects every such call."""
    obj.setObjectName(name)
    return obj
