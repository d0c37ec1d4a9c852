"""Migration 0016_confidential: existing cases become not confidential (the flag is never guessed true), and
its downgrade removes exactly the column again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from schema.db import make_engine, upgrade
from tests.support.db import columns, downgrade_to, upgrade_to

REVISION = "0016_confidential"


def test_0016_adds_the_flag_false_for_existing_cases_and_removes_only_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    downgrade_to(engine, f"{REVISION}-1")
    before = columns(engine, "cases")
    assert "confidential" not in before
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cases (number, channel, hotline, request, urgency, language, handling, status,"
                " created_at, updated_at, supervision_level, leader_escalated, created_by_login)"
                " VALUES ('12345-20261129-0001', 'phone', '12345', '路灯不亮', 'normal', 'zh', 'dispatch',"
                " 'received', '2026-11-29 01:00:00', '2026-11-29 01:00:00', 0, 0, 'agent')"
            )
        )
    upgrade_to(engine, REVISION)
    assert columns(engine, "cases") == before | {"confidential"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT confidential FROM cases")).scalar_one() in (0, False)
    downgrade_to(engine, f"{REVISION}-1")
    assert columns(engine, "cases") == before
    engine.dispose()
