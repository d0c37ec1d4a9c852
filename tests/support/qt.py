"""Qt input as a user makes it, for tests that drive the desktop's widgets."""

from __future__ import annotations

import functools

from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QWidget

from tests.support.commands import ROOT
from tests.support.waiting import until

SHOTS = ROOT / "var" / "screenshots"
"""Where the desktop tests leave their screenshots (looked at by people, not compared)."""

qt_until = functools.partial(until, interval=0.02, each=QApplication.processEvents)
"""`until` for windows on a plain asyncio loop: Qt's events (timers, repaints) are processed as it polls."""


def type_text(widget: QWidget, text: str) -> None:
    """Type text as an input method commits it (how Chinese reaches a widget; QTest.keyClicks is ASCII-only)."""
    event = QInputMethodEvent("", [])
    event.setCommitString(text)
    QApplication.sendEvent(widget, event)
