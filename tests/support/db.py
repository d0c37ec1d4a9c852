"""Databases for the suites, migrated to head, on SQLite and on PostgreSQL.

PostgreSQL comes from $TEST_POSTGRES_URL (scripts/postgres.sh --env); each suite gets a database of its own
on that cluster, so suites never disturb each other. Without the variable the PostgreSQL half of a suite
fails under CI=true and is skipped, visibly, on a developer's machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from schema.base import Base
from schema.db import alembic_config, make_engine, make_sessionmaker, upgrade

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""The `params` of a suite's `db` fixture: every test that takes it runs on both."""


@dataclass
class Database:
    backend: str
    engine: Engine
    url: str

    @property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)


def postgres_url(suite: str) -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"TEST_POSTGRES_URL is not set: CI must run the {suite} suite on PostgreSQL (scripts/postgres.sh)")
    pytest.skip('TEST_POSTGRES_URL is not set (run: eval "$(scripts/postgres.sh --env)")')
    raise AssertionError


def postgres_database(suite: str) -> Database:
    """A fresh database `hotline_test_<suite>` on the test cluster, migrated to head (dispose its engine)."""
    base = make_url(postgres_url(suite))
    name = f"hotline_test_{suite}"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    return Database("postgres", engine, url)


def migrated_sqlite(path: Path) -> Database:
    """A new SQLite file migrated to head (a template to copy per test: migrating costs about a second)."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    return Database("sqlite", engine, url)


def empty(engine: Engine) -> None:
    """Empty every table and restart the ids (PostgreSQL). TRUNCATE does not fire the audit log's row
    triggers: only the tests empty it."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def downgrade_to(engine: Engine, revision: str) -> None:
    """Migrate the database down to `revision` (an id, `base`, or one relative to an id such as `<id>-1`)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
