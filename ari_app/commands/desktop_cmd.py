"""`hotline desktop`: start the agent desktop. It connects to the CTI server's desktop link only.

The desktop runs as `python -m cti_desktop.app` in this process's place (`os.execv`): the server's package
never imports the desktop or Qt (a contract `lint-imports` checks)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ari_app.config import ConfigError, load_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("desktop", help="start the agent desktop (PySide6), connected to the CTI server's link")
    p.add_argument("--url", help="the link's address (default: from the config's server section)")
    p.add_argument("--lang", default="zh", choices=["zh", "en"], help="interface language (default: zh)")
    p.add_argument("--draft-file", type=Path, help="where the case draft is kept (default: the user's data folder)")
    p.add_argument("--ca-file", type=Path, help="certificate authority to trust for wss:// (default: the system's)")
    p.add_argument(
        "--timezone",
        help="time zone times are shown in, e.g. Asia/Shanghai (default: the config's centre.timezone, in which "
        "case numbers and reports count days; this machine's zone when there is no config)",
    )
    p.set_defaults(func=cmd_desktop)


QUIET_QT = "qt.multimedia.symbolsresolver=false;qt.multimedia.ffmpeg.info=false"
"""Qt's multimedia lines at every start of the desktop (the PipeWire and VA-API libraries it looks for and
a PC may not have, the FFmpeg version): noise to an agent who starts it from a terminal. Warnings stay."""


def cmd_desktop(args: argparse.Namespace) -> int:
    url, zone_name = args.url, args.timezone
    if not url or not zone_name:
        try:
            cfg = load_config(args.config)
        except ConfigError as exc:
            if not url:
                print(exc, file=sys.stderr)
                return 1
        else:
            url = url or f"{cfg.server.scheme}://{cfg.server.host}:{cfg.server.port}"
            zone_name = zone_name or cfg.timezone
    if zone_name:
        try:
            ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            print(f"desktop: unknown time zone {zone_name!r} (expected a name such as Asia/Shanghai)", file=sys.stderr)
            return 2
    argv = [sys.executable, "-m", "cti_desktop.app", "--url", url, "--lang", args.lang]
    for flag, value in (("--draft-file", args.draft_file), ("--ca-file", args.ca_file), ("--timezone", zone_name)):
        if value:
            argv += [flag, str(value)]
    sys.stdout.flush()
    env = dict(os.environ)
    env.setdefault("QT_LOGGING_RULES", QUIET_QT)  # an admin's own rules win
    os.execve(sys.executable, argv, env)
    return 0  # pragma: no cover - execv does not return
