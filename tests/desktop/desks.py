"""Signed-in desktops for widget tests: real MainWindows, each with its own LinkClient to the test's real
LinkServer, signed in through the sign-in form as a person does."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient
from cti_desktop.window import MainWindow
from tests.desktop.conftest import until
from tests.desktop.test_window import dispose
from tests.link.conftest import PASSWORD

Open = Callable[[str], Awaitable[MainWindow]]


@contextlib.asynccontextmanager
async def desks(
    url: str,
    qtbot: QtBot,
    tmp_path: Path,
    ready: Callable[[MainWindow], bool],
    *,
    seed: int = 5,
    before_close: Callable[[MainWindow], None] | None = None,
) -> AsyncIterator[Open]:
    """Yields `open(login)`: a desktop signed in as `login` (password tests.link.conftest.PASSWORD), shown at
    1280×760 once `ready(window)` holds. On exit every window finishes its requests and is disposed."""
    windows: list[MainWindow] = []

    async def open_(login: str) -> MainWindow:
        window = MainWindow(Tr("zh"), DraftStore(tmp_path / f"draft-{login}.json"), server=url)
        link = LinkClient(
            url, window.handle_message, window.set_link_status, backoff_base=0.02, rng=random.Random(seed)
        )
        window.link = link
        windows.append(window)
        link.start()
        window.signin.show()
        await link.wait_online(3)
        qtbot.keyClicks(window.signin.agent_id, login)
        qtbot.keyClicks(window.signin.password, PASSWORD)
        qtbot.mouseClick(window.signin.button, Qt.MouseButton.LeftButton)
        await until(lambda: window.isVisible() and ready(window))
        window.resize(1280, 760)
        return window

    try:
        yield open_
    finally:
        for window in windows:
            if before_close is not None:
                before_close(window)
            # let the refreshes that follow every action finish: a server request still in its worker thread
            # when the test's loop closes can leave the loop waiting for it forever
            await until(lambda w=window: not w.tasks)  # type: ignore[misc]
            await dispose(window)
