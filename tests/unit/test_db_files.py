"""The SQLite database and its -wal/-shm files are the service user's alone (docs/security.md)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from ari_app.config import Secret
from schema.db import make_engine, upgrade


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_database_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    db = tmp_path / "var" / "db" / "hotline.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (x)"))
        conn.execute(text("INSERT INTO probe VALUES (1)"))
        files = {p.name: _mode(p) for p in db.parent.iterdir()}
        assert files == {"hotline.db": 0o600, "hotline.db-wal": 0o600, "hotline.db-shm": 0o600}, files
    engine.dispose()
    assert _mode(db.parent) == 0o700


def test_wide_database_of_an_older_version_is_narrowed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    own = tmp_path / "own"
    own.mkdir(mode=0o755)
    own.chmod(0o755)
    for name in ("hotline.db", "hotline.db-wal", "hotline.db-shm"):
        (own / name).touch()
        (own / name).chmod(0o644)
    make_engine(f"sqlite:///{own / 'hotline.db'}").dispose()
    assert {p.name: _mode(p) for p in own.iterdir()} == dict.fromkeys(
        ("hotline.db", "hotline.db-wal", "hotline.db-shm"), 0o600
    )
    assert _mode(own) == 0o700  # a folder holding only the database is narrowed
    shared = tmp_path / "shared"
    (shared / "recordings").mkdir(parents=True)
    shared.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        make_engine(f"sqlite:///{shared / 'hotline.db'}").dispose()
    assert _mode(shared / "hotline.db") == 0o600
    assert _mode(shared) == 0o755  # shared with other things: left alone, with a warning
    assert "give it its own folder" in caplog.text


def test_secret_file_is_created_0600_and_an_open_one_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "ami_secret"
    secret = Secret(env=None, file=path)
    secret.ensure_file()
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    path.chmod(0o644)
    secret.ensure_file()
    assert _mode(path) == 0o600
