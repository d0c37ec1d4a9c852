"""`hotline calls [--json] [--limit N]`: recent calls, newest first (shape documented in docs/calls.md). The
table shows times in the centre's time zone (`centre.timezone`); the JSON keeps them in UTC with the offset."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from ari_app.calls.store import recent_calls
from ari_app.commands.common import database, needs_config, within
from ari_app.config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("calls", help="list recent calls, newest first")
    p.add_argument("--json", action="store_true", help="print a JSON array (keys documented in docs/calls.md)")
    p.add_argument("--limit", type=within(1, 10_000), default=20, help="how many calls (default 20)")
    p.set_defaults(func=cmd_calls)


@needs_config
def cmd_calls(args: argparse.Namespace, cfg: Config) -> int:
    with database(cfg) as s:
        calls = recent_calls(s, args.limit)
    if args.json:
        json.dump(calls, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    zone = ZoneInfo(cfg.timezone)  # as the audit trail, the web pages and the desktop show times
    print(f"{'arrived':20} {'hotline':8} {'caller':14} {'agent':8} {'state':10} {'wait':>6} {'talk':>6} end")
    for c in calls:
        wait = f"{c['wait_seconds']:.0f}" if c["wait_seconds"] is not None else "-"
        talk = f"{c['talk_seconds']:.0f}" if c["talk_seconds"] is not None else "-"
        print(
            f"{_local(c['arrived_at'], zone):20} {c['hotline'] or c['dialed'] or '-':8} {c['caller'] or '-':14} "
            f"{c['agent'] or '-':8} {c['state']:10} {wait:>6} {talk:>6} {c['end_reason'] or ''}"
        )
    print(f"times in {cfg.timezone}", file=sys.stderr)
    return 0


def _local(iso: str | None, zone: ZoneInfo) -> str:
    """An ISO time of the call record (UTC) as YYYY-MM-DD HH:MM:SS in `zone`; empty for none."""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if iso else ""
