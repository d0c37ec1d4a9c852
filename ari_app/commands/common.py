"""What the subcommands that read the database share: the config, reported the admin's way, and one short
session on a migrated database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from ari_app.config import Config, ConfigError, load_config
from schema.db import make_engine, make_sessionmaker, upgrade


def config_or_report(args: argparse.Namespace) -> Config | None:
    """The config, or None after printing every problem in it (file, line, key) to stderr."""
    try:
        return load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


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
