"""Migration 0013_exchange_refusals: it adds the refusal and token columns to existing databases without
touching their rows, and its downgrade removes exactly those columns again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from schema.db import make_engine, upgrade
from tests.support.db import columns, downgrade_to, upgrade_to

ADDED = {"exchange_outbox": {"token", "refusal", "refused_at"}, "cases": {"exchange_refusal"}}


def test_0013_adds_and_removes_only_its_columns(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    for table, cols in ADDED.items():
        assert cols <= columns(engine, table)
    downgrade_to(engine, "0013_exchange_refusals")  # later migrations change these tables too: compare at 0013
    before = {t: columns(engine, t) for t in ADDED}
    downgrade_to(engine, "0013_exchange_refusals-1")
    with engine.connect() as conn:
        (rev,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
    assert rev != "0013_exchange_refusals"
    for table, cols in ADDED.items():
        assert columns(engine, table) == before[table] - cols
    upgrade_to(engine, "0013_exchange_refusals")
    for table in ADDED:
        assert columns(engine, table) == before[table]
    upgrade(engine)
