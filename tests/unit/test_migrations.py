"""The migrations build every table from an empty database on SQLite and on PostgreSQL, and the models match
what they build; the baseline goes down to an empty database and up again. A database at a revision the
migrations do not have (one squashed into the baseline, or one of a newer platform) is refused before
anything in it changes, with what to do, by the library and by a `hotline` command run as an admin runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from schema.base import Base
from schema.db import SQUASHED, SchemaVersionError, make_engine, upgrade
from tests.support.commands import checkout_cli, config_on
from tests.support.db import BACKENDS, downgrade_to, postgres_database

BASELINE = "0028_progress_reports"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database migrated to head, on each backend."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        upgrade(engine)
    else:
        engine = postgres_database("migrations").engine
    yield engine
    engine.dispose()


POSTGRES_ONLY = {
    ("remove_index", "ix_transcripts_text_fts"),
    ("modify_nullable", "transcripts_fts_data.id"),
    ("modify_nullable", "transcripts_fts_docsize.id"),
}
"""What PostgreSQL has beside the models, by design: the GIN index that is its transcript search (the
models declare SQLite's FTS5 tables instead), and the NOT NULL that PostgreSQL gives every primary key, on
two of those FTS5 shadow tables that SQLite lets be null there."""


def _model_diff(engine: Engine) -> set[tuple[str, str]]:
    """How the database differs from the models, as (kind, index or table.column) pairs."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    found = set()
    for change in diff:
        if isinstance(change, list):  # column changes come as lists of one tuple
            ((kind, _schema, table, column, *_rest),) = change
            found.add((kind, f"{table}.{column}"))
        else:
            found.add((change[0], getattr(change[1], "name", str(change[1]))))
    return found - (POSTGRES_ONLY if engine.dialect.name == "postgresql" else set())


def _audit_log_refuses_update(engine: Engine) -> bool:
    with engine.connect() as conn:
        conn.execute(
            text("INSERT INTO audit_log (at, login, role, action) VALUES (CURRENT_TIMESTAMP, 'x', 'admin', 'probe')")
        )
        try:
            conn.execute(text("UPDATE audit_log SET login = 'y'"))
        except Exception as exc:
            return "append-only" in str(exc)
        finally:
            conn.rollback()
    return False


def test_upgrade_from_empty_matches_models(engine: Engine) -> None:
    upgrade(engine)  # idempotent
    assert _model_diff(engine) == set()
    assert _audit_log_refuses_update(engine)


def test_the_baseline_goes_down_to_nothing_and_up_again(engine: Engine) -> None:
    downgrade_to(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)
    assert _model_diff(engine) == set()
    assert _audit_log_refuses_update(engine)  # the triggers came back with the tables


def _at_revision(path: Path, revision: str) -> Engine:
    """A SQLite database at `path` that says it is at `revision`, with one table of that time."""
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
        conn.execute(text("CREATE TABLE calls (id INTEGER PRIMARY KEY, linkedid VARCHAR(64))"))
        conn.execute(text("INSERT INTO calls (linkedid) VALUES ('1795930000.1')"))
    return engine


def _as_it_was(engine: Engine, revision: str) -> bool:
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        calls = conn.execute(text("SELECT linkedid FROM calls")).scalars().all()
    tables = set(inspect(engine).get_table_names())
    return version == revision and calls == ["1795930000.1"] and tables == {"alembic_version", "calls"}


def test_a_database_from_before_the_baseline_is_refused_with_the_way_forward(tmp_path: Path) -> None:
    engine = _at_revision(tmp_path / "old.db", "0015_catalogue")
    with pytest.raises(SchemaVersionError) as refused:
        upgrade(engine)
    message = str(refused.value)
    assert "0015_catalogue" in message and BASELINE in message and f"commit {SQUASHED}" in message
    assert _as_it_was(engine, "0015_catalogue")
    engine.dispose()


def test_a_database_of_a_newer_platform_is_refused(tmp_path: Path) -> None:
    engine = _at_revision(tmp_path / "new.db", "0031_something_later")
    with pytest.raises(SchemaVersionError, match=r"0031_something_later.*newer or another version"):
        upgrade(engine)
    assert _as_it_was(engine, "0031_something_later")
    engine.dispose()


def test_a_command_on_a_database_from_before_the_baseline_says_so_without_a_traceback(tmp_path: Path) -> None:
    _at_revision(tmp_path / "old.db", "0020_follow_up_ratings").dispose()
    config = config_on(tmp_path, tmp_path / "old.db")
    done = checkout_cli("-c", str(config), "users", "list")
    assert done.returncode == 1, done
    assert "0020_follow_up_ratings" in done.stderr and f"commit {SQUASHED}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert _as_it_was(engine, "0020_follow_up_ratings")
    engine.dispose()
