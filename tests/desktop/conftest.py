"""Desktop tests: offscreen Qt, with asyncio running on qasync's Qt event loop so async slots, the link
client and the widgets share one loop as they do in the application. Screenshots go to var/screenshots/."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from ari_app.link import LinkServer
from cti_desktop.window import MainWindow
from tests.support.desks import KEEP, Open, desks, dispose, open_desk, press_ready, qt_loop, sign_in
from tests.support.link_fixtures import _db_template, case_bus, cfg, clock, queue, server, sessions
from tests.support.qt import SHOTS
from tests.support.transfers import rig

__all__ = ["_db_template", "case_bus", "cfg", "clock", "queue", "rig", "server", "sessions"]  # the link's fixtures


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """Widget tests run on qasync's loop, as the desktop does. The link client is plain asyncio and is tested
    on the standard loop (several qasync loops with sockets in one process upset PySide6 at exit)."""
    if item.path.name in ("test_window.py", "test_transfer_window.py", "test_screen_fit.py"):
        return {"qt": qt_loop}
    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture(autouse=True, scope="session")
def _settings_apart(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The desktop's own settings (QSettings) of the test windows in a folder of the test run, never the
    user's."""
    folder = str(tmp_path_factory.mktemp("qsettings"))
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)


@pytest.fixture
async def desk(server: LinkServer, qtbot: QtBot, tmp_path: Path) -> AsyncIterator[MainWindow]:
    """One desktop on the test's LinkServer, online, its sign-in form shown (tests.support.desks.sign_in)."""
    window = await open_desk(server.url, tmp_path / "draft.json", seed=3, backoff_max=0.1)
    yield window
    await dispose(window)


@pytest.fixture
async def ready_desk(desk: MainWindow, qtbot: QtBot) -> MainWindow:
    """`desk` signed in as agent 1001 and ready in the queue, for a call to be offered to."""
    await sign_in(desk, qtbot)
    await press_ready(qtbot, desk)
    return desk


@pytest.fixture
async def work_desks(server: LinkServer, qtbot: QtBot, tmp_path: Path) -> AsyncIterator[Open]:
    """Signed-in desktops on the test's LinkServer, one per user, each with its own link, shown once its work
    list has a row (tests.support.desks.desks)."""
    async with desks(server.url, qtbot, tmp_path, ready=lambda w: w.work.model.rowCount() > 0) as open_:
        yield open_


@pytest.fixture
def shot() -> Iterator[Callable[[QWidget, str], Path]]:
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(widget: QWidget, name: str) -> Path:
        # Posted events only (layout and paint requests), not processEvents(): a screenshot is taken inside a
        # step of the test's task, which qasync runs from a Qt timer, and processing events there re-enters
        # qasync's timer dispatch. With processEvents() here about 1 run in 5 of tests/desktop hung at the
        # loop's close: a task (the link server's session check) whose scheduled step never ran, or whose
        # awaited future was done but which was never woken. Without it, 0 hangs in 20 runs.
        QApplication.sendPostedEvents()
        path = SHOTS / f"{name}.png"
        assert widget.grab().save(str(path)), path
        return path

    yield take


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Delete the test windows while Qt is still whole: PySide6 can crash collecting them at interpreter exit."""
    import gc

    for widget in KEEP:
        if isinstance(widget, MainWindow):
            widget.signin.deleteLater()
        widget.deleteLater()
    KEEP.clear()
    app = QApplication.instance()
    if app is not None:
        from PySide6.QtCore import QCoreApplication, QEvent

        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
