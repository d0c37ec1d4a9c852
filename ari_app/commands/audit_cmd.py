"""`hotline audit`: read the audit trail (who did what to which case, every refused request, failed
sign-ins), newest first, with filters; a table on stdout, or JSON with `--json`.

    hotline audit --refusals-only --since 2026-11-29
    hotline audit --login 1001 --action 'qa_*' --action refused --limit 200
    hotline audit --case 12345-20261129-0001 --json

Times given and shown are in the centre's time zone (config `centre.timezone`) unless they carry an offset.
`--since` is included; `--until` is excluded, and a bare date there means up to the end of that day.
Exit status: 0 (also when nothing matches), 1 the config or the database cannot be read, 2 a bad argument.
A reader that stops early (`| head`) ends the output quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import unicodedata
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from ari_app.cases.trail import ACTION_PATTERN, TrailEntry, TrailFilter, read
from ari_app.commands.common import database, display_width, needs_config, pad, within
from ari_app.config import Config

MAX_LIMIT = 100_000
COLUMNS = ("at", "login", "role", "action", "case", "detail")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="read the audit trail (actions, refusals, failed sign-ins), newest first",
        description="Read the audit trail, newest first. Times are in the centre's time zone (centre.timezone).",
    )
    p.add_argument("--login", action="append", default=[], metavar="LOGIN", help="only this user (repeatable)")
    p.add_argument(
        "--action",
        action="append",
        default=[],
        metavar="ACTION",
        help="only this action, or actions starting with a prefix given as PREFIX* (repeatable), e.g. refused, 'qa_*'",
    )
    p.add_argument("--case", metavar="ID|NUMBER", help="only entries about this case (its id or its number)")
    p.add_argument("--since", metavar="WHEN", help="from this time: YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS] (included)")
    p.add_argument("--until", metavar="WHEN", help="up to this time (excluded); a bare date includes that whole day")
    p.add_argument(
        "--refusals-only",
        action="store_true",
        help="only refused requests, failed or throttled sign-ins and refused supervisor actions",
    )
    p.add_argument(
        "--limit",
        type=within(1, MAX_LIMIT),
        default=50,
        help=f"at most this many entries (default 50, at most {MAX_LIMIT})",
    )
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    p.set_defaults(func=cmd_audit)


class BadArgument(ValueError):
    pass


def parse_when(text: str, tz: tzinfo, *, end: bool) -> datetime:
    """A date or a date and time, in `tz` unless it carries an offset. A bare date is its day's start, or
    with `end` the next day's start (so `--until DATE` includes DATE)."""
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1) if end else day, time(), tz)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadArgument(f"{text!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DD HH:MM[:SS])") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=tz)


def _filter(args: argparse.Namespace, tz: tzinfo) -> TrailFilter:
    for name in args.action:
        if not ACTION_PATTERN.match(name):
            raise BadArgument(f"--action {name!r}: expected an action name (e.g. refused) or a prefix ending in *")
    if any(not login.strip() for login in args.login):
        raise BadArgument("--login must not be empty")
    case: int | str | None = None
    if args.case is not None:
        ref = args.case.strip()
        if not ref:
            raise BadArgument("--case must not be empty")
        case = int(ref) if ref.isascii() and ref.isdigit() and len(ref) < 19 else ref
    since = parse_when(args.since, tz, end=False) if args.since else None
    until = parse_when(args.until, tz, end=True) if args.until else None
    if since is not None and until is not None and until <= since:
        raise BadArgument("--until is not after --since")
    return TrailFilter(
        logins=[login.strip() for login in args.login],
        actions=list(args.action),
        case=case,
        since=since,
        until=until,
        refusals_only=args.refusals_only,
        limit=args.limit,
    )


def as_json(entry: TrailEntry, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.astimezone(tz).isoformat(),
        "login": entry.login,
        "role": entry.role,
        "action": entry.action,
        "case_id": entry.case_id,
        "case_number": entry.case_number,
        "detail": entry.detail,
    }


def clip(text: str, columns: int) -> str:
    """`text` cut to at most `columns` display columns, with an ellipsis when cut."""
    if display_width(text) <= columns:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > columns - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _detail(entry: TrailEntry) -> str:
    d = dict(entry.detail)
    head = ""
    if entry.action == "refused" and "request" in d:
        head = f"{d.pop('request')} → {d.pop('error_id', '?')}"
        d.pop("message", None)
    parts = [f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}" for k, v in d.items()]
    return " ".join(x for x in (head, *parts) if x)


def _clean(text: str) -> str:
    """One line: control characters (a newline in a search text, an escape sequence) shown as spaces."""
    return "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)


def table(entries: list[TrailEntry], tz: tzinfo, out: TextIO, columns: int | None) -> None:
    """The entries as aligned columns; the detail column is cut to `columns` (None: never cut)."""
    rows = [list(COLUMNS)]
    for e in entries:
        case = e.case_number or (str(e.case_id) if e.case_id is not None else "")
        at = e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        rows.append([_clean(x) for x in (at, e.login, e.role, e.action, case, _detail(e))])
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    for r in rows:
        line = "  ".join(pad(c, widths[i]) for i, c in enumerate(r[:-1])) + "  "
        rest = r[-1] if columns is None else clip(r[-1], max(10, columns - display_width(line)))
        out.write((line + rest).rstrip() + "\n")


@needs_config
def cmd_audit(args: argparse.Namespace, cfg: Config) -> int:
    tz = ZoneInfo(cfg.timezone)
    try:
        wanted = _filter(args, tz)
    except BadArgument as exc:
        print(f"hotline audit: {exc}", file=sys.stderr)
        return 2
    try:
        with database(cfg) as s:
            entries = read(s, wanted)
    except SQLAlchemyError as exc:
        print(f"hotline audit: cannot read the database: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        if args.json:
            json.dump([as_json(e, tz) for e in entries], sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
        else:
            columns = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
            table(entries, tz, sys.stdout, columns)
            print(f"{len(entries)} entries, newest first; times in {cfg.timezone}", file=sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`| head`): say nothing more, and keep Python from failing at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 0
