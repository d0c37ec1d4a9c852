"""Migration 0013_exchange_refusals: it adds the refusal and token columns to existing databases without
touching their rows, and its downgrade removes exactly those columns again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from schema.db import alembic_config, make_engine, upgrade

ADDED = {"exchange_outbox": {"token", "refusal", "refused_at"}, "cases": {"exchange_refusal"}}


def _columns(engine: object, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}  # type: ignore[arg-type]


def test_0013_adds_and_removes_only_its_columns(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    for table, cols in ADDED.items():
        assert cols <= _columns(engine, table)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:  # later migrations change these tables too: compare at 0013 itself
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013_exchange_refusals")
    before = {t: _columns(engine, t) for t in ADDED}
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013_exchange_refusals-1")
        (rev,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
    assert rev != "0013_exchange_refusals"
    for table, cols in ADDED.items():
        assert _columns(engine, table) == before[table] - cols
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0013_exchange_refusals")
    for table in ADDED:
        assert _columns(engine, table) == before[table]
    upgrade(engine)
