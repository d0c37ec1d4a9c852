"""`hotline desktop`: the agent desktop on a qasync event loop (Qt and asyncio in one thread)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import ssl
import sys
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
        await window.stop_phone()
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


def cli(argv: list[str] | None = None) -> int:
    """`python -m cti_desktop.app --url ws://... [--lang en] [--draft-file F] [--ca-file F] [--timezone Z]`:
    what `hotline desktop` runs (in a process of its own: the server's package never imports Qt). Exit 2 for
    an unknown time zone, before any window opens."""
    parser = argparse.ArgumentParser(prog="hotline desktop", description="the agent desktop")
    parser.add_argument("--url", default="ws://127.0.0.1:8765", help="the CTI server's desktop link")
    parser.add_argument("--lang", default="zh", choices=["zh", "en"])
    parser.add_argument("--draft-file", type=Path)
    parser.add_argument("--ca-file", type=Path)
    parser.add_argument("--timezone", help="the zone times are shown in (default: this machine's)")
    args = parser.parse_args(argv)
    zone: tzinfo | None = None
    if args.timezone:
        try:
            zone = ZoneInfo(args.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            print(
                f"desktop: unknown time zone {args.timezone!r} (expected a name such as Asia/Shanghai)", file=sys.stderr
            )
            return 2
    logging.basicConfig(level=logging.INFO)
    return main(args.url, args.lang, args.draft_file, args.ca_file, zone)


if __name__ == "__main__":
    sys.exit(cli())
