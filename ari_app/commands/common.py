"""What the subcommands that read the database share: the config, reported the admin's way, and one short
session on a migrated database."""

from __future__ import annotations

import argparse
import functools
import getpass
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
