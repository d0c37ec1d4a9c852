"""`hotline missed [--filter open|overdue|all] [--day YYYY-MM-DD] [--hotline N] [--limit N] [--json]`: the
missed-call worklist (漏接回拨), the open tasks first by due time, and one day's share called back in time per
hotline (docs/calls.md, "Missed calls"). The read is audited as `missed_calls_listed` by `cli:<the OS user>`."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime

from ari_app.commands.common import cli_actor, database, needs_config, pad, within
from ari_app.config import Config
from ari_app.missed.service import MissedSettings, called_back_in_time, list_missed
from ari_app.protocol import MISSED_FILTERS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("missed", help="missed calls to call back (漏接回拨) and the day's share called back in time")
    p.add_argument("--filter", choices=MISSED_FILTERS, default="open", help="open (default), overdue or all tasks")
    p.add_argument("--day", type=date.fromisoformat, help="the day of the figures, centre time (default: today)")
    p.add_argument("--hotline", help="the figures of this hotline only")
    p.add_argument("--limit", type=within(1, 10_000), default=50)
    p.add_argument("--json", action="store_true", help="print {tasks, total, figures} as JSON")
    p.set_defaults(func=cmd_missed)


@needs_config
def cmd_missed(args: argparse.Namespace, cfg: Config) -> int:
    settings, now = MissedSettings.from_config(cfg), datetime.now(UTC)
    day: date = args.day or now.astimezone(settings.zone).date()
    with database(cfg) as s:
        tasks, total = list_missed(s, cli_actor(), now, args.filter, args.limit)
        figures = called_back_in_time(s, settings, day, now, args.hotline)
        s.commit()  # the read's audit row
    if args.json:
        print(json.dumps({"tasks": tasks, "total": total, "figures": figures}, ensure_ascii=False, indent=2))
        return 0

    def local(value: str | None) -> str:
        return datetime.fromisoformat(value).astimezone(settings.zone).strftime("%m-%d %H:%M") if value else ""

    print(f"missed calls ({args.filter}): {len(tasks)} of {total}")
    print(f"{'id':>5} {'caller':14} {'hotline':7} {'missed':11} {'due':11} {'n':>2} {'status':17} {'tries':>5} claimed")
    for t in tasks:
        status = t["status"] + (" overdue" if t["overdue"] else "")
        print(
            f"{t['id']:>5} {pad(t['caller'], 14)} {t['hotline']:7} {local(t['missed_at']):11} {local(t['due_at']):11} "
            f"{t['misses']:>2} {status:17} {t['attempts']:>5} {t['claimed_by'] or ''}"
        )
    print()
    print(f"called back in time on {day.isoformat()} (centre time)")
    print(
        f"{'hotline':7} {'missed':>6} {'contact':>7} {'pending':>7} {'counted':>7} {'in time':>7} {'reached':>7} share"
    )
    for f in figures:
        share = "-" if f["share"] is None else f"{f['share'] * 100:.1f}%"
        print(
            f"{f['hotline']:7} {f['missed']:>6} {f['contact_in_time']:>7} {f['pending']:>7} {f['counted']:>7} "
            f"{f['in_time']:>7} {f['reached']:>7} {share}"
        )
    if not figures:
        print("(no missed calls that day)")
    return 0
