"""`hotline report --from DATE --to DATE [--by day|week|month] [--out DIR]`: the KPI report (intake per day;
handling, closure, on-time, satisfaction, on-time sign-for, response, resolution, first-time and send-back
rates, re-dispatches, improper returns and problem work orders; per hotline, request type, unit with its
rank, and agent, and per day, week or month with `--by`) as a table on stdout, plus CSV and a PNG chart.
Definitions: ari_app.cases.kpi and docs/cases.md."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ari_app.commands.common import database, needs_config
from ari_app.config import Config

GROUPINGS = ("day", "week", "month")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="KPI report for a period: table on stdout, CSV and PNG chart in --out")
    p.add_argument("--from", dest="start", required=True, type=date.fromisoformat, help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="end", required=True, type=date.fromisoformat, help="last day, YYYY-MM-DD (included)")
    p.add_argument(
        "--by", choices=GROUPINGS, default=None, help="also a row per day, week (ISO, Monday first) or month"
    )
    p.add_argument("--out", default="var/reports", help="folder for the CSV and PNG (default var/reports)")
    p.set_defaults(func=cmd_report)


@needs_config
def cmd_report(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.cases.kpi import compute
    from ari_app.cases.report import csv_text, text_table, write_png

    if args.end < args.start:
        print("hotline report: --to is before --from", file=sys.stderr)
        return 2
    t0 = time.monotonic()

    def progress(step: str) -> None:
        print(f"report: {step} ({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)

    end = args.end + timedelta(days=1)
    with database(cfg) as s:
        report = compute(
            s, args.start, end, tz=ZoneInfo(cfg.timezone), now=datetime.now(UTC), by=args.by, progress=progress
        )
    sys.stdout.write(text_table(report))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"kpi-{args.start.isoformat()}-{args.end.isoformat()}"
    (out / f"{stem}.csv").write_text(csv_text(report), encoding="utf-8")
    progress("chart")
    write_png(report, out / f"{stem}.png")
    print(f"wrote {out / (stem + '.csv')} and {out / (stem + '.png')}", file=sys.stderr)
    return 0
