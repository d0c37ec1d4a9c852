"""The desktop on a laptop's screen: the main window opens no larger than the screen's room (1366×768,
1280×720 less a task bar), the intake form scrolls instead of squashing its fields (the Save button scrolled
into view, tabbing to a field out of sight shows it), and a call from a withheld number leaves the form's
caller and contact empty, saying 号码未显示 / number withheld, and saves no withheld contact. Screenshots go to
var/screenshots/ (screen_)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMargins, QPoint, QRect, Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QScrollArea, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallConnected, CallRinging
from ari_app.link import LinkServer
from cti_desktop.window import FRAME_GUESS, PREFERRED_SIZE, MainWindow, window_geometry
from schema.cases import Case
from tests.support.clock import T0
from tests.support.commands import ROOT, run_in_checkout
from tests.support.desks import sign_in
from tests.support.qt import SHOTS, type_text
from tests.support.waiting import until

TASK_BAR = 40
"""The room (pixels) a desktop's task bar takes off a laptop's screen."""
TITLE_BAR = FRAME_GUESS.top()


@pytest.mark.parametrize(
    ("available", "frame", "expected"),
    [
        (QRect(0, 0, 1366, 768 - TASK_BAR), FRAME_GUESS, QRect(43, TITLE_BAR, 1280, 768 - TASK_BAR - TITLE_BAR)),
        (QRect(0, 0, 1280, 720 - TASK_BAR), FRAME_GUESS, QRect(0, TITLE_BAR, 1280, 720 - TASK_BAR - TITLE_BAR)),
        (QRect(0, 0, 1280, 720 - TASK_BAR), QMargins(4, 28, 4, 4), QRect(4, 28, 1272, 720 - TASK_BAR - 32)),
        (QRect(0, TASK_BAR, 1280, 720 - TASK_BAR), FRAME_GUESS, QRect(0, TASK_BAR + TITLE_BAR, 1280, 648)),
        (QRect(1920, 0, 1920, 1080), FRAME_GUESS, QRect(1920 + 320, TITLE_BAR + 94, 1280, 860)),
    ],
)
def test_the_window_opens_within_the_screens_room(available: QRect, frame: QMargins, expected: QRect) -> None:
    """`window_geometry`: the window and its frame inside the room; centred in it, PREFERRED_SIZE where there
    is room for it (a second screen right of the first included)."""
    got = window_geometry(available, frame)
    assert got == expected
    assert available.contains(got.marginsAdded(frame))
    assert got.size().boundedTo(PREFERRED_SIZE) == got.size()


def screen_config(folder: Path, width: int, height: int) -> Path:
    """A configuration of Qt's offscreen platform with one screen of `width`×`height` pixels."""
    path = folder / f"screen_{width}x{height}.json"
    screen = {"name": "laptop", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96}
    path.write_text(json.dumps({"screens": [{**screen, "logicalBaseDpi": 96, "dpr": 1}]}), encoding="utf-8")
    return path


@pytest.mark.parametrize(("width", "height", "lang"), [(1366, 768, "zh"), (1366, 768, "en"), (1280, 720, "zh")])
def test_the_desktop_opens_on_a_laptop_screen(tmp_path: Path, width: int, height: int, lang: str) -> None:
    """The window as the application opens it, in a process of its own whose only screen is the laptop's:
    inside the screen, its minimum size inside a 1280×720 screen's room, the intake pane scrolling down to
    the Save button. A withheld caller's pop in the screenshots."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = f"screen_{width}x{height}_{lang}"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": f"offscreen:configfile={screen_config(tmp_path, width, height)}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    argv = [sys.executable, "-m", "tests.desktop.laptop_screen", "--lang", lang, "--caller", "withheld"]
    argv += ["--shot", str(SHOTS / f"{name}.png"), "--scrolled", str(SHOTS / f"{name}_save.png")]
    done = run_in_checkout(argv, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["available"] == [0, 0, width, height]
    screen, frame = QRect(*out["available"]), QRect(*out["frame"])
    assert screen.contains(frame), (screen, frame)
    assert out["minimum"][0] <= 1280 - 8 and out["minimum"][1] <= 720 - TASK_BAR - TITLE_BAR
    assert out["scroll_max"] > 0 and not out["save_shown"]
    assert out["save_reachable"]


def within(area: QScrollArea, widget: QWidget) -> bool:
    """All of `widget` inside the scroll area's view."""
    return area.viewport().rect().contains(QRect(widget.mapTo(area.viewport(), QPoint(0, 0)), widget.size()))


async def test_the_intake_form_scrolls_and_keeps_its_fields_height(desk: MainWindow, qtbot: QtBot, shot: Any) -> None:
    window = desk
    await sign_in(window, qtbot)
    window.setGeometry(window_geometry(QRect(0, 0, 1280, 720 - TASK_BAR)))
    form = window.call_tab.form
    area = window.call_tab.findChild(QScrollArea, "intakeScroll")
    assert area is not None
    await until(lambda: area.verticalScrollBar().maximum() > 0)
    assert window.height() <= 720 - TASK_BAR - TITLE_BAR
    assert not within(area, form.save)
    fields = [w for w in form.findChildren(QWidget) if isinstance(w, (QLineEdit, QComboBox, QPushButton))]
    assert len(fields) > 15
    squashed = [w.objectName() for w in fields if w.isVisible() and w.height() < w.sizeHint().height()]
    assert squashed == []
    assert form.request.height() >= form.request.minimumHeight()
    # the keyboard reaches a field out of sight, and the pane follows it
    form.citizen_name.setFocus()
    await until(lambda: form.citizen_name.hasFocus())
    qtbot.keyClick(form.citizen_name, Qt.Key.Key_Tab)
    await until(lambda: form.contact.hasFocus() and within(area, form.contact))
    area.ensureWidgetVisible(form.save)
    await until(lambda: within(area, form.save))
    shot(window, "screen_1280x720_form_scrolled")
    assert window.ready_button.shortcut().toString() == "F2"


async def test_a_withheld_caller_leaves_caller_and_contact_empty(
    ready_desk: MainWindow, qtbot: QtBot, server: LinkServer, sessions: sessionmaker[Session], shot: Any
) -> None:
    window = ready_desk
    form, pop = window.call_tab.form, window.call_tab.pop
    # the call tracker's caller for a caller id `anonymous` (ari_app.protocol.WITHHELD)
    await server.on_call_event(CallRinging("1764378000.9", T0, "1001", "PJSIP/1001", "12345", "withheld", 3.0))
    await until(lambda: pop.call is not None)
    assert pop.values["caller"].text() == "号码未显示"
    assert (form.caller.text(), form.contact.text()) == ("", "")
    assert form.caller.placeholderText() == form.contact.placeholderText() == "号码未显示"
    window.toggle_language()
    assert pop.values["caller"].text() == "number withheld"
    assert form.caller.placeholderText() == form.contact.placeholderText() == "number withheld"
    window.toggle_language()
    await server.on_call_event(CallConnected("1764378000.9", T0, "1001", "PJSIP/1001", 3.0))
    await until(lambda: pop.phase == "connected")
    type_text(form.request, "路灯不亮")
    shot(window, "screen_withheld_pop")
    draft = window.drafts.load()
    assert draft is not None and draft["fields"]["contact"] is None
    form.set_values(draft["fields"])  # the draft read back, as after a restart
    assert (form.caller.text(), form.caller.placeholderText()) == ("", "号码未显示")
    type_text(form.contact, "13900000002")  # the number the citizen gives
    qtbot.mouseClick(form.save, Qt.MouseButton.LeftButton)
    await until(lambda: window.statusBar().currentMessage().startswith("案卷 12345-"))
    assert form.caller.placeholderText() == form.contact.placeholderText() == ""
    with sessions() as s:
        case = s.scalars(select(Case).where(Case.call_id == "1764378000.9")).one()
        assert (case.caller, case.contact) == ("withheld", "13900000002")


async def test_a_withheld_form_is_never_saved_as_the_contact(
    desk: MainWindow, qtbot: QtBot, server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    """A contact restored in the withheld form is sent as none; one typed in another withheld form
    (`anonymous`) is stored as none by the server's rule (ari_app.calls.numbers)."""
    window = desk
    await sign_in(window, qtbot)
    form = window.call_tab.form
    form.set_values({"hotline": "12345", "caller": "withheld", "contact": "withheld", "request": "噪音扰民"})
    assert (form.caller.text(), form.contact.text()) == ("", "")
    assert form.values()["contact"] is None and form.values()["caller"] == "withheld"
    type_text(form.contact, "anonymous")
    qtbot.mouseClick(form.save, Qt.MouseButton.LeftButton)
    await until(lambda: window.statusBar().currentMessage().startswith("案卷 12345-"))
    with sessions() as s:
        case = s.scalars(select(Case).where(Case.request == "噪音扰民")).one()
        assert (case.caller, case.contact) == ("withheld", None)
