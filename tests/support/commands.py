"""The `hotline` command as an admin starts it, in a process of its own, and the shipped config.yaml moved
onto a database of a test's own: for the suites that test a subcommand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ari_app.config import Config, load_config
from schema.db import make_engine, make_sessionmaker, upgrade

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DB = "url: sqlite:///var/db/hotline.db"
"""The shipped config's database line, which `config_on` replaces."""


def hotline_command() -> list[str]:
    """The `hotline` console script installed beside this Python, else `python -m ari_app.cli`."""
    script = Path(sys.executable).parent / "hotline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ari_app.cli"]


def hotline(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`hotline -c config *args` as an admin starts it (`hotline_command`), its output captured as text."""
    return subprocess.run(
        [*hotline_command(), "-c", str(config), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def run_in_checkout(
    argv: list[str], *, timeout: float, input_: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`argv` run in the checkout's folder, `input_` its stdin, with `env` (None: this process's
    environment); its output captured as text, its exit status left to the caller."""
    return subprocess.run(
        argv, cwd=ROOT, input=input_, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def checkout_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m ari_app.cli *args` run in the checkout with the checkout first on the path, so the code
    under test is this one's whichever checkout the environment's `hotline` script was installed from."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return run_in_checkout([sys.executable, "-m", "ari_app.cli", *args], timeout=timeout, env=env)


def config_text_on(db: Path) -> str:
    """The shipped config.yaml's text with its database the SQLite file `db`."""
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    assert SHIPPED_DB in text
    return text.replace(SHIPPED_DB, f"url: sqlite:///{db}")


def config_on(folder: Path, db: Path | None = None) -> Path:
    """`folder/config.yaml`: the shipped config with its database the SQLite file `db` (default
    `folder/h.db`, created by the first migration); returns its path."""
    path = folder / "config.yaml"
    path.write_text(config_text_on(db or folder / "h.db"), encoding="utf-8")
    return path


def migrated(config: Path) -> tuple[Config, Engine, sessionmaker[Session]]:
    """The config at `config` read, and its database migrated to head: the config, an engine on the
    database (dispose of it when done) and sessions on that engine."""
    cfg = load_config(config)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    return cfg, engine, make_sessionmaker(engine)
