"""What the subcommands that read the database share: the config, reported the admin's way, and one short
session on a migrated database."""

from __future__ import annotations

import argparse
import functools
import getpass
import importlib
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.config import Config, ConfigError, load_config
from schema.db import make_engine, make_sessionmaker, upgrade


def config_or_report(args: argparse.Namespace) -> Config | None:
    """The config, or None after printing every problem in it (file, line, key) to stderr."""
    try:
        return load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def needs_config(command: Callable[[argparse.Namespace, Config], int]) -> Callable[[argparse.Namespace], int]:
    """A subcommand run with the config; exit status 1, after `config_or_report` printed what is wrong with
    the config, when it cannot be read."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        cfg = config_or_report(args)
        return 1 if cfg is None else command(args, cfg)

    return run


@contextmanager
def database(cfg: Config) -> Iterator[Session]:
    """A session on the deployment's database, migrated to the newest schema first."""
    engine = make_engine(cfg.database_url)
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def display_width(text: str) -> int:
    """Terminal columns `text` takes: two for each East Asian wide or full-width character (汉字, full-width
    punctuation), none for combining marks, one for the rest."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int, align: str = "<") -> str:
    """`text` padded with spaces to `width` terminal columns (`display_width`), left (`<`) or right (`>`)
    aligned; a longer text is returned whole, never cut."""
    fill = " " * max(0, width - display_width(text))
    return text + fill if align == "<" else fill + text


def cli_actor() -> Actor:
    """Who acts when an admin runs a changing command (`hotline users`, `hotline callbacks cancel`) on the
    server: the OS user, as an admin; the audit log names them `cli:<login>`."""
    from schema.users import Role

    try:
        who = getpass.getuser()
    except Exception:
        who = str(os.getuid())
    return Actor(user_id=None, login=f"cli:{who}"[:64], role=Role.ADMIN)


def run_change(args: argparse.Namespace, request: str, change: Callable[[Any, Any, datetime], str]) -> int:
    """Run `change(session, actor, now)` on the deployment's database and commit it; on a refusal (a
    DomainError) roll back, audit the refusal and print its problems to stderr. Prints what `change`
    returns."""
    from ari_app.cases.audit import REFUSED, audit
    from ari_app.protocol import DomainError

    cfg = config_or_report(args)
    if cfg is None:
        return 1
    actor, now = cli_actor(), datetime.now(UTC)
    with database(cfg) as s:
        try:
            out = change(s, actor, now)
        except DomainError as exc:
            s.rollback()
            audit(s, actor, REFUSED, None, now, request=request, error_id=exc.error_id, message=exc.message)
            s.commit()
            print(f"hotline {request}: {exc.message}", file=sys.stderr)
            for p in exc.detail.get("problems", [])[1:]:
                where = f"line {p['line']}, {p['column'] or '-'}: " if p.get("line") is not None else ""
                print(f"  {where}{p['message']}", file=sys.stderr)
            return 1
        s.commit()
    if out:
        print(out)
    return 0


def read_file(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def write_text(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8", newline="")


def add_csv_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    what: str,
    columns: str,
    import_help: str,
    module: str,
    report: Callable[[Sequence[Any], bool], list[str]],
    *,
    with_hotlines: bool = False,
) -> None:
    """The `export FILE` and `import FILE [--dry-run]` subcommands of `hotline NAME`, a catalogue kept as CSV
    (`what`, as the help names it: `the catalogue`) by `module` (its name, `ari_app.cases.catalogue`, imported
    when a command runs): `csv_export` writes what its `export_csv` returns, `csv_import` gives the file to its
    `import_csv` and prints the lines `report(changes, dry_run)` makes of the changes (with the configured
    hotlines' numbers too, `hotlines=`, when `with_hotlines`); `columns` are the file's, `import_help` says
    what an import does."""
    p = sub.add_parser("export", help=f"write {what} as CSV (UTF-8)")
    p.add_argument("file", help="the CSV file to write, - for standard output")
    p.set_defaults(func=functools.partial(csv_export, module=module))
    p = sub.add_parser("import", help=import_help)
    p.add_argument("file", help=f"the CSV file ({columns})")
    p.add_argument("--dry-run", action="store_true", help="only print what would change")
    p.set_defaults(
        func=functools.partial(
            csv_import, request=f"{name} import", module=module, report=report, with_hotlines=with_hotlines
        )
    )


def csv_export(args: argparse.Namespace, module: str) -> int:
    """An `export FILE` subcommand: what `export_csv(session)` of `module` writes, to FILE (- for standard
    output)."""
    cfg = config_or_report(args)
    if cfg is None:
        return 1
    export: Callable[[Session], str] = importlib.import_module(module).export_csv
    with database(cfg) as s:
        write_text(args.file, export(s))
    return 0


def csv_import(
    args: argparse.Namespace,
    request: str,
    module: str,
    report: Callable[[Sequence[Any], bool], list[str]],
    with_hotlines: bool = False,
) -> int:
    """An `import FILE [--dry-run]` subcommand: FILE's bytes (- for standard input; one that cannot be read
    is reported on stderr) given to `import_csv(session, actor, data, now=, dry_run=)` of `module` (with
    `hotlines=`, the configured hotlines' numbers, when `with_hotlines`) in `run_change`, which prints the
    lines `report(changes, dry_run)` returns; under --dry-run nothing is kept."""
    options: dict[str, Any] = {}
    if with_hotlines:
        cfg = config_or_report(args)
        if cfg is None:
            return 1
        options["hotlines"] = [h.number for h in cfg.hotlines]
    try:
        data = read_file(args.file)
    except OSError as exc:
        print(f"hotline {request}: {exc}", file=sys.stderr)
        return 1
    import_csv: Callable[..., Sequence[Any]] = importlib.import_module(module).import_csv

    def change(s: Session, actor: Actor, now: datetime) -> str:
        changes = import_csv(s, actor, data, now=now, dry_run=args.dry_run, **options)
        if args.dry_run:
            s.rollback()
        return "\n".join(report(changes, args.dry_run))

    return run_change(args, request, change)


def within(low: float, high: float, kind: Callable[[str], Any] = int) -> Callable[[str], Any]:
    """An argparse `type` for a number from `low` to `high`, both included: a value out of range or not a
    number is refused by argparse with the range (`hotline x: error: argument --limit: expected a whole
    number 1..10000, got '0'`, exit status 2) instead of being clamped quietly or failing later."""
    what = "a whole number" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} {low:g}..{high:g}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in its own messages
    return parse
