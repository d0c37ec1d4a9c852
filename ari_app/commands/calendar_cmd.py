"""`hotline calendar check|due`: the working-day calendar as deadlines see it: a year's holidays and adjusted
working days with where each comes from (the holiday library or the config), and the deadline of a limit
counted from a moment (docs/cases.md, "Working-day calendar")."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from ari_app.cases.calendar import LIMIT_MAX
from ari_app.commands.common import needs_config, pad, within
from ari_app.config import Config

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PROVISIONAL = (
    "provisional: counted by the statutory holidays alone, without 调休, until the State Council's notice is "
    "entered under `calendar:` (calendar.unknown_years: statutory)"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("calendar", help="the working-day calendar: holidays, adjusted working days, deadlines")
    csub = p.add_subparsers(dest="calendar_command", metavar="ACTION", required=True)
    check = csub.add_parser(
        "check", help="list a year's holidays and adjusted working days (调休) and where each comes from"
    )
    check.add_argument("year", type=int, nargs="?", help="the year (default: this year in the centre's time zone)")
    check.set_defaults(func=cmd_check)
    due = csub.add_parser("due", help="the deadline of a limit in working days or working hours")
    due.add_argument(
        "--from",
        dest="start",
        metavar="TIME",
        help='when the limit starts, "YYYY-MM-DD HH:MM" in the centre\'s time zone or ISO 8601 with an offset '
        "(default: now)",
    )
    limit = due.add_mutually_exclusive_group(required=True)
    limit.add_argument("--working-days", type=within(0, LIMIT_MAX), metavar="N", help="a limit of N working days")
    limit.add_argument(
        "--working-hours", type=within(0, LIMIT_MAX, float), metavar="H", help="a limit of H working hours"
    )
    due.set_defaults(func=cmd_due)


def _show(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} {WEEKDAYS[moment.weekday()]} (UTC{moment:%z})"


@needs_config
def cmd_check(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.cases.calendar import LIBRARY_VERSION, LIBRARY_YEARS, WorkCalendar
    from ari_app.cases.errors import CalendarUnknownYear

    calendar = WorkCalendar.from_config(cfg)
    year = args.year if args.year is not None else datetime.now(calendar.zone).year
    try:
        days = calendar.special_days(year)
    except CalendarUnknownYear as exc:
        print(f"{args.config}: {exc.message}", file=sys.stderr)
        return 1
    hours = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in calendar.office_hours)
    library = f"chinese-calendar {LIBRARY_VERSION}, {LIBRARY_YEARS.start}-{LIBRARY_YEARS.stop - 1}"
    print(f"{year}: office hours {hours} ({cfg.timezone}); library: {library}")
    if calendar.provisional(year):
        print(f"{year}: {PROVISIONAL}")
    for info in days:
        kind = "working day" if info.working else "holiday"
        print(f"{info.day} {WEEKDAYS[info.day.weekday()]}  {pad(kind, 11)}  {pad(info.name or '', 16)}  {info.source}")
    holidays = sum(1 for d in days if not d.working)
    print(f"{year}: {holidays} holiday(s), {len(days) - holidays} adjusted working day(s)")
    return 0


@needs_config
def cmd_due(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.cases.calendar import Limit, LimitUnit, WorkCalendar
    from ari_app.cases.errors import CalendarUnknownYear

    calendar = WorkCalendar.from_config(cfg)
    if args.start is None:
        start = datetime.now(calendar.zone)
    else:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            print(f'--from: expected "YYYY-MM-DD HH:MM", got {args.start!r}', file=sys.stderr)
            return 2
        if start.tzinfo is None:
            start = start.replace(tzinfo=calendar.zone)
    try:
        if args.working_days is not None:
            limit = Limit(args.working_days, LimitUnit.WORKING_DAYS)
        else:
            limit = Limit(args.working_hours, LimitUnit.WORKING_HOURS)
    except ValueError as exc:
        print(f"limit: {exc}", file=sys.stderr)
        return 2
    try:
        due = calendar.due(start, limit)
    except CalendarUnknownYear as exc:
        print(f"{args.config}: {exc.message}", file=sys.stderr)
        return 1
    print(f"from {_show(calendar.local(start))} + {limit}: due {_show(due)}")
    for year in calendar.provisional_years(start.date(), due.date()):
        print(f"{year}: {PROVISIONAL}")
    return 0
