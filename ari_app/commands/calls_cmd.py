"""`hotline calls [--json] [--limit N]`: recent calls, newest first (shape documented in docs/calls.md)."""

from __future__ import annotations

import argparse
import json
import sys

from ari_app.calls.store import recent_calls
from ari_app.commands.common import database, needs_config
from ari_app.config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("calls", help="list recent calls, newest first")
    p.add_argument("--json", action="store_true", help="print a JSON array (keys documented in docs/calls.md)")
    p.add_argument("--limit", type=int, default=20, help="how many calls (default 20)")
    p.set_defaults(func=cmd_calls)


@needs_config
def cmd_calls(args: argparse.Namespace, cfg: Config) -> int:
    if args.limit < 1:
        print("hotline calls: --limit must be at least 1", file=sys.stderr)
        return 2
    with database(cfg) as s:
        calls = recent_calls(s, args.limit)
    if args.json:
        json.dump(calls, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"{'arrived (UTC)':20} {'hotline':8} {'caller':14} {'agent':8} {'state':10} {'wait':>6} {'talk':>6} end")
    for c in calls:
        wait = f"{c['wait_seconds']:.0f}" if c["wait_seconds"] is not None else "-"
        talk = f"{c['talk_seconds']:.0f}" if c["talk_seconds"] is not None else "-"
        print(
            f"{(c['arrived_at'] or '')[:19]:20} {c['hotline'] or c['dialed'] or '-':8} {c['caller'] or '-':14} "
            f"{c['agent'] or '-':8} {c['state']:10} {wait:>6} {talk:>6} {c['end_reason'] or ''}"
        )
    return 0
