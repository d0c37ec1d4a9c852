"""`hotline callbacks [--json]`: callback requests, newest first, with their status."""

from __future__ import annotations

import argparse
import json

from ari_app.callbacks import list_callbacks
from ari_app.commands.common import config_or_report, database


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("callbacks", help="callback requests (callers who chose to be called back), newest first")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_callbacks)


def cmd_callbacks(args: argparse.Namespace) -> int:
    cfg = config_or_report(args)
    if cfg is None:
        return 1
    with database(cfg) as s:
        rows = list_callbacks(s, max(1, args.limit))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'requested (UTC)':20} {'hotline':8} {'number':14} {'status':8} {'tries':>5} note")
    for r in rows:
        print(
            f"{r['requested_at'][:19]:20} {r['hotline']:8} {r['number']:14} {r['status']:8} {r['attempts']:>5} "
            f"{r['last_error'] or ''}"
        )
    return 0
