"""The agent desktop's main window opened as the application opens it, on the screen the offscreen platform is
given (`QT_QPA_PLATFORM=offscreen:configfile=SCREEN.json`: one screen of the size under test), signed in as a
queue agent and showing a screen-pop, without a server (a fake link answers the window's own requests).

    python -m tests.desktop.laptop_screen --lang zh|en [--caller NUMBER] [--shot PATH] [--scrolled PATH]

Prints one JSON object: `available` (the screen's QScreen.availableGeometry), `frame` (the window's frame
geometry) and `minimum` (its minimum size hint), each `[x, y, width, height]` / `[width, height]` in pixels;
`scroll_max` (the intake pane's vertical scroll range), `save_shown` (whether the Save button is inside the
pane's view) and `save_reachable` (whether it is once the pane is scrolled to it). `--shot`: the window is
saved there as a PNG, the form at the top; `--scrolled`: as well, scrolled down to the Save button."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import qasync
from PySide6.QtCore import QPoint, QRect, QSettings
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from ari_app.protocol import Msg
from cti_desktop.drafts import DraftStore
from cti_desktop.i18n import Tr
from cti_desktop.link import Status
from cti_desktop.window import MainWindow

HOTLINES = [
    {"number": "12345", "name_zh": "政务服务便民热线", "name_en": "Citizen Service Hotline", "categories": ["供水"]},
    {"number": "12319", "name_zh": "城建服务热线", "name_en": "Urban Services Hotline", "categories": ["供热"]},
]
PARTNERS = [
    {"key": "110", "name_zh": "公安110", "name_en": "Police 110", "work_order": True},
    {"key": "119", "name_zh": "消防119", "name_en": "Fire 119", "work_order": False},
    {"key": "120", "name_zh": "急救120", "name_en": "Ambulance 120", "work_order": False},
]


class QuietLink:
    """The link a window needs, online, answering every request with nothing (no classifications, no cases)."""

    status = Status.ONLINE

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {}

    async def sign_in(self, agent_id: str, password: str) -> dict[str, Any]:
        return {}

    async def sign_out(self) -> dict[str, Any]:
        return {}


def rect(r: QRect) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def inside(area: QScrollArea, widget: QWidget) -> bool:
    """Whether all of `widget` is within the scroll area's view."""
    top_left = widget.mapTo(area.viewport(), QPoint(0, 0))
    return area.viewport().rect().contains(QRect(top_left, widget.size()))


async def run(lang: str, caller: str, shots: tuple[Path | None, Path | None], folder: Path) -> dict[str, Any]:
    settings = QSettings(str(folder / "desktop.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Tr(lang), DraftStore(folder / "draft.json"), link=QuietLink(), settings=settings)
    agent = {"id": "1001", "name": "王芳", "role": "agent", "extension": "1001", "languages": ["zh"]}
    window.handle_message(
        {"type": Msg.SIGNED_IN, "agent": agent, "state": {"state": "ready"}, "hotlines": HOTLINES, "partners": PARTNERS}
    )
    call = {
        "call_id": "1764378000.7",
        "phase": "ringing",
        "hotline": "12345",
        "hotline_name_zh": HOTLINES[0]["name_zh"],
        "hotline_name_en": HOTLINES[0]["name_en"],
        "caller": caller,
        "waited_seconds": 8.0,
        "rung_at": "2026-12-02T06:00:00+00:00",
    }
    window.handle_message({"type": Msg.SCREEN_POP, "call": call, "history": [], "resumed": False})
    for _ in range(3):  # the spawned requests answer, the window lays itself out and paints
        await asyncio.sleep(0)
        QApplication.processEvents()
    area = window.call_tab.findChild(QScrollArea, "intakeScroll")
    assert area is not None
    save = window.call_tab.form.save
    out: dict[str, Any] = {
        "available": rect(window.screen().availableGeometry()),
        "frame": rect(window.frameGeometry()),
        "minimum": [window.minimumSizeHint().width(), window.minimumSizeHint().height()],
        "scroll_max": area.verticalScrollBar().maximum(),
        "save_shown": inside(area, save),
    }
    top, scrolled = shots
    if top is not None:
        assert window.grab().save(str(top)), top
    area.ensureWidgetVisible(save)
    QApplication.processEvents()
    out["save_reachable"] = inside(area, save)
    if scrolled is not None:
        assert window.grab().save(str(scrolled)), scrolled
    window.shutdown()
    window.hide()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("zh", "en"), default="zh")
    parser.add_argument("--caller", default="13800000001")
    parser.add_argument("--shot", type=Path)
    parser.add_argument("--scrolled", type=Path)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as folder, loop:
        out = loop.run_until_complete(run(args.lang, args.caller, (args.shot, args.scrolled), Path(folder)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
