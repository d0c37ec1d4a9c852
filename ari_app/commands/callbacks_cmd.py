"""`hotline callbacks [--json]`: callback requests, newest first, with their status.
`hotline callbacks cancel CALL_ID [--reason TEXT]`: call off a pending request (audited as done by
`cli:<the OS user>`)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from ari_app.callbacks import CallbackNotCancellable, cancel_callback, list_callbacks
from ari_app.cases.audit import REFUSED, audit
from ari_app.commands.common import cli_actor, database, needs_config, within
from ari_app.config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("callbacks", help="callback requests (callers who chose to be called back), newest first")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--limit", type=within(1, 10_000), default=20)
    p.set_defaults(func=cmd_callbacks)
    csub = p.add_subparsers(dest="callbacks_command", metavar="ACTION")
    cancel = csub.add_parser("cancel", help="call off a pending callback request (the citizen was reached another way)")
    cancel.add_argument("call_id", help="the call that asked for the callback (call_id in the list)")
    cancel.add_argument("--reason", default="", help="why, for the audit log")
    cancel.set_defaults(func=cmd_cancel)


@needs_config
def cmd_cancel(args: argparse.Namespace, cfg: Config) -> int:
    actor, now = cli_actor(), datetime.now(UTC)
    with database(cfg) as s:
        try:
            cancel_callback(s, args.call_id, actor, now, args.reason.strip()[:150])
        except CallbackNotCancellable as exc:
            s.rollback()
            audit(
                s, actor, REFUSED, None, now,
                request="callbacks cancel", error_id=exc.error_id, call_id=args.call_id, message=exc.message,
            )  # fmt: skip
            s.commit()
            print(f"hotline callbacks cancel: {exc}", file=sys.stderr)
            return 1
        s.commit()
    print(f"callback for call {args.call_id} cancelled")
    return 0


@needs_config
def cmd_callbacks(args: argparse.Namespace, cfg: Config) -> int:
    with database(cfg) as s:
        rows = list_callbacks(s, args.limit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    print(f"{'requested (UTC)':20} {'call':18} {'hotline':8} {'number':14} {'status':9} {'tries':>5} note")
    for r in rows:
        print(
            f"{r['requested_at'][:19]:20} {r['call_id']:18} {r['hotline']:8} {r['number']:14} {r['status']:9} "
            f"{r['attempts']:>5} {r['last_error'] or ''}"
        )
    return 0
