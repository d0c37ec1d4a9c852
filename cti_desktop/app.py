"""`hotline desktop`: the agent desktop on a qasync event loop (Qt and asyncio in one thread)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import ssl
import sys
from datetime import tzinfo
from pathlib import Path

from cti_desktop.drafts import DraftStore, default_path
from cti_desktop.i18n import Tr
from cti_desktop.link import LinkClient
from cti_desktop.window import MainWindow

log = logging.getLogger(__name__)


async def run_desktop(url: str, lang: str, draft_file: Path, ca_file: Path | None, zone: tzinfo | None = None) -> int:
    tr = Tr(lang, zone)
    window = MainWindow(tr, DraftStore(draft_file), server=url)
    ctx: ssl.SSLContext | None = None
    if url.startswith("wss://"):
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    link = LinkClient(url, on_message=window.handle_message, on_status=window.set_link_status, ssl_context=ctx)
    window.link = link
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    window.signin.rejected.connect(closed.set)
    link.start()
    window.signin.show()
    try:
        await closed.wait()
    finally:
        window.shutdown()
        await link.stop()
    return 0


def main(
    url: str,
    lang: str = "zh",
    draft_file: Path | None = None,
    ca_file: Path | None = None,
    zone: tzinfo | None = None,
) -> int:
    """Run the desktop until its window (or the sign-in dialog) is closed; returns the exit status (0).

    Qt and asyncio share one thread through qasync's event loop. `qasync.run` (asyncio.run under qasync's
    loop policy) is used rather than `asyncio.run(..., loop_factory=...)`, which exists only from Python 3.12:
    the platform supports 3.11."""
    import qasync  # type: ignore[import-untyped]
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("hotline-desktop")
    status: int = qasync.run(run_desktop(url, lang, draft_file or default_path(), ca_file, zone))
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="ws://127.0.0.1:8765")
    parser.add_argument("--lang", default="zh")
    a = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    sys.exit(main(a.url, a.lang))
