"""Fixtures for the case workflow: a migrated database on SQLite and on PostgreSQL (tests/support/db.py),
seeded with units, users and categories, with the case settings on a controlled clock
(tests/support/cases.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from schema.db import make_engine
from tests.support.cases import Db
from tests.support.db import BACKENDS, empty, migrated_sqlite, postgres_database


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cases") / "template.db"
    migrated_sqlite(path).engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_engine() -> Iterator[Engine]:
    engine = postgres_database("cases").engine
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        holder: dict[str, Engine] = {}
        counter = [0]

        def reset_sqlite() -> None:
            if "engine" in holder:
                holder["engine"].dispose()
            counter[0] += 1
            path = tmp_path / f"cases{counter[0]}.db"
            shutil.copyfile(template, path)
            holder["engine"] = make_engine(f"sqlite:///{path}")
            d.engine = holder["engine"]

        d = Db("sqlite", make_engine("sqlite://"), reset_sqlite)
        d.reset()
        yield d
        holder["engine"].dispose()
    else:
        engine: Engine = request.getfixturevalue("_pg_engine")

        d = Db("postgres", engine, lambda: empty(engine))
        d.reset()
        yield d
