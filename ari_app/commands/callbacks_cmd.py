"""`hotline callbacks [--json]`: callback requests, newest first, with their status."""

from __future__ import annotations

import argparse
import json
import sys

from ari_app.callbacks import list_callbacks
from ari_app.config import ConfigError, load_config
from schema.db import make_engine, make_sessionmaker, upgrade


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("callbacks", help="callback requests (callers who chose to be called back), newest first")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_callbacks)


def cmd_callbacks(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        rows = list_callbacks(s, max(1, args.limit))
    engine.dispose()
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
