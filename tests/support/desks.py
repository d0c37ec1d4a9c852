"""Signed-in desktops for widget tests (tests/desktop): real MainWindows, each with its own LinkClient to the
test's real LinkServer, signed in through the sign-in form as a person does; and the qasync event loop the
window tests run on (`qt_loop`)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.cases.intake import create_case
from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient
from cti_desktop.window import MainWindow
from schema.cases import Case
from tests.support.users import PASSWORD
from tests.support.waiting import until

Open = Callable[[str], Awaitable[MainWindow]]

INTAKE: dict[str, Any] = {"urgency": "normal", "language": "zh", "handling": "dispatch"}
"""What an intake form sends unless the agent changes it."""

KEEP: list[QWidget] = []
"""Disposed windows (and other top-level widgets a test made), deleted with the application (conftest), not
under a running test's event loop: deleted there, they crashed a later test's processing of Qt events."""


def qt_loop() -> asyncio.AbstractEventLoop:
    """qasync's event loop on the application, as the desktop runs asyncio."""
    app = QApplication.instance() or QApplication([])
    # A test closes its windows and then stops its link server on the same loop: closing the last window
    # must not quit the application, which would stop qasync's loop in the middle of that teardown.
    app.setQuitOnLastWindowClosed(False)
    return qasync.QEventLoop(app)


async def open_desk(url: str, drafts: Path, seed: int, **link_options: Any) -> MainWindow:
    """A desktop with its link started and online, its sign-in form shown."""
    window = MainWindow(Tr("zh"), DraftStore(drafts), server=url)
    link = LinkClient(
        url, window.handle_message, window.set_link_status, backoff_base=0.02, rng=random.Random(seed), **link_options
    )
    window.link = link
    link.start()
    window.signin.show()
    await link.wait_online(3)
    return window


def submit_sign_in(window: MainWindow, qtbot: QtBot, login: str) -> None:
    """Type the login and the tests' password into the sign-in form and press its button."""
    qtbot.keyClicks(window.signin.agent_id, login)
    qtbot.keyClicks(window.signin.password, PASSWORD)
    qtbot.mouseClick(window.signin.button, Qt.MouseButton.LeftButton)


async def sign_in(window: MainWindow, qtbot: QtBot, agent: str = "1001") -> None:
    """A queue agent signed in: the window shown, the agent paused as every agent starts."""
    submit_sign_in(window, qtbot, agent)
    await until(lambda: window.isVisible() and window.status_view.state == "paused")


async def press_ready(qtbot: QtBot, *windows: MainWindow) -> None:
    """Each agent presses Ready (就绪) in their window; once every one is ready in the queue."""
    for window in windows:
        qtbot.mouseClick(window.ready_button, Qt.MouseButton.LeftButton)
    await until(lambda: all(window.status_view.state == "ready" for window in windows))


async def dispose(window: MainWindow) -> None:
    window.shutdown()
    await window.stop_phone()
    if isinstance(window.link, LinkClient):
        await window.link.stop()
    window.signin.close()
    window.close()
    KEEP.append(window)


async def open_supervisor(url: str, qtbot: QtBot, tmp_path: Path) -> MainWindow:
    """The supervisor `sup` signed in, once the wallboard shows the first snapshot's agents; 1440×900."""
    window = await open_desk(url, tmp_path / "draft-sup.json", seed=5)
    submit_sign_in(window, qtbot, "sup")
    await until(lambda: window.isVisible() and window.wallboard.board.get("agents"))
    window.resize(1440, 900)
    return window


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
    """Yields `open(login)`: a desktop signed in as `login` (password tests.support.users.PASSWORD), shown at
    1280×760 once `ready(window)` holds. On exit every window finishes its requests and is disposed."""
    windows: list[MainWindow] = []

    async def open_(login: str) -> MainWindow:
        window = await open_desk(url, tmp_path / f"draft-{login}.json", seed)
        windows.append(window)
        submit_sign_in(window, qtbot, login)
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


async def take_case(window: MainWindow, **fields: Any) -> dict[str, Any]:
    """A case saved over the window's link, as the intake form sends it (INTAKE unless `fields` say)."""
    assert window.link is not None
    reply = await window.link.request("create_case", **{**INTAKE, **fields})
    return dict(reply["case"])


def citizen_case(s: Session, actor: Actor, request: str, caller: str, citizen_name: str, **fields: Any) -> Case:
    """A case `actor` took in the service, not through a desktop: a citizen's call to 12345 with no call id,
    category or address, the caller's number as the contact (INTAKE and these unless `fields` say)."""
    values = {"hotline": "12345", "call_id": None, "category": None, "address": None, "contact": caller, **INTAKE}
    return create_case(s, actor, request=request, caller=caller, citizen_name=citizen_name, **{**values, **fields})
