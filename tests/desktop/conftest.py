"""Desktop tests: offscreen Qt, with asyncio running on qasync's Qt event loop so async slots, the link
client and the widgets share one loop as they do in the application. Screenshots go to var/screenshots/."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication, QWidget

from tests.link.conftest import _db_template, cfg, clock, queue, server, sessions  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"


def _qt_loop() -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication([])
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """Async tests here run on qasync's loop, as the desktop does."""
    return {"qt": _qt_loop}


@pytest.fixture
def shot() -> Iterator[Callable[[QWidget, str], Path]]:
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(widget: QWidget, name: str) -> Path:
        QApplication.processEvents()
        path = SHOTS / f"{name}.png"
        assert widget.grab().save(str(path)), path
        return path

    yield take


async def until(predicate: Callable[[], Any], within: float = 3.0) -> None:
    """Wait for a condition the Qt side has no signal for, with a deadline."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - polled with a deadline; the loop keeps Qt running
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), within)
