"""Engine and session factories. Called once by the wiring code; nothing connects at import time."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
log = logging.getLogger(__name__)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and foreign keys, so that the server,
    the command line and workers can share one file safely."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:" and "://" not in path:
            private_sqlite_file(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True, **kwargs)


def private_sqlite_file(path: Path) -> None:
    """Make sure the SQLite database at `path` (names, contacts and addresses of citizens, password
    hashes) is readable by this user only, before SQLite opens it: the file is created 0600 if missing
    (SQLite gives its -wal, -shm and -journal files the database's mode), and the database and those
    files, when they exist and are this user's, lose any group or other access. A missing folder is
    created 0700; an existing one of this user's that holds nothing but this database is narrowed to
    0700. A folder shared with other things (the shipped config's `var/`) is left as it is, with a
    warning when others may enter it: give the database a folder of its own (docs/security.md)."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    uid = os.geteuid()
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # an empty file is an empty database
    names = {path.name, *(path.name + s for s in SQLITE_SIDE_FILES)}
    for name in names:
        f = folder / name
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == uid and st.st_mode & 0o077:
            f.chmod(stat.S_IMODE(st.st_mode) & 0o600)
    st = folder.stat()
    if st.st_mode & 0o077 and st.st_uid == uid and not st.st_mode & stat.S_ISVTX:
        if all(child.name in names for child in folder.iterdir()):
            folder.chmod(0o700)
        elif st.st_mode & 0o007:
            log.warning("database %s is in %s, which other local users may enter: give it its own folder", path, folder)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


SQUASHED = "f499d87"
"""The last commit that holds the migrations squashed into the baseline (0028_baseline.py): the platform
at that commit upgrades a database at any of their revisions."""


class SchemaVersionError(Exception):
    """The database is at a migration revision this platform does not have: one from before the baseline
    (0001_calls .. 0027_cases_open_index), or one of a newer or other version of the platform. The message
    says which and what to do; nothing in the database was changed."""


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest migration (idempotent). Raises SchemaVersionError, before changing
    anything, when the database is at a revision this platform's migrations do not know."""
    from alembic import command
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
        known = {script.revision for script in ScriptDirectory.from_config(cfg).walk_revisions()}
        for revision in current:
            if revision not in known:
                raise SchemaVersionError(schema_version_problem(engine, revision, min(known)))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def schema_version_problem(engine: Engine, revision: str, baseline: str) -> str:
    """What to tell the person whose database is at `revision`, which no migration here knows."""
    where = engine.url.render_as_string(hide_password=True)
    if revision[:4].isdigit() and revision < baseline:
        return (
            f"the database {where} is at migration {revision}, from before this platform's baseline {baseline}: "
            f"upgrade it first with the platform at commit {SQUASHED} (run any command that opens the database "
            f"there, e.g. `hotline users list`), then come back to this version"
        )
    return (
        f"the database {where} is at migration {revision}, which this platform does not have "
        f"(its newest is its own head): it was made by a newer or another version of the platform"
    )
