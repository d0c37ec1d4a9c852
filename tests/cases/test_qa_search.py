"""The QA view's call search (`ari_app.qa.service.search`) on both databases: on SQLite it uses the FTS5 index
the migration keeps, on PostgreSQL `to_tsvector('simple', …) @@ plainto_tsquery`. Every word must have been
said; hotline, agent and days (in the centre's time zone) narrow it; a hotline unit sees only its hotline;
agents and departments are refused; every search is audited with what was asked and how much was found."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ari_app.cases import Actor
from ari_app.protocol import ProtocolError
from ari_app.qa.service import search
from schema.cases import AuditEntry
from schema.db import make_sessionmaker
from tests.support.cases import T0, Db
from tests.support.qa_calls import seed

TZ = ZoneInfo("Asia/Shanghai")


def test_qa_search_finds_calls_by_words_scope_and_days(db: Db, tmp_path: Path) -> None:
    sessions = make_sessionmaker(db.engine)
    seed(sessions, tmp_path)
    qa = db.world.actors["qa"]

    def find(actor: Actor = qa, **filters: Any) -> list[str]:
        return [row["call_id"] for row in search(sessions, actor, TZ, T0, **filters)]

    assert find() == ["qa-water", "qa-safety", "qa-old"]  # recorded or transcribed, newest first
    assert find(words="停水") == ["qa-water"]
    assert find(words="停水 解放北路") == ["qa-water"]  # every word, in any order, either side
    assert find(words="解放北路 停水") == ["qa-water"]
    assert find(words="停水 脚手架") == []
    assert find(words="脚手架") == ["qa-safety"]
    assert find(words='" OR * NEAR( & | !') == []  # words, never query syntax
    assert find(hotline="12345") == ["qa-water", "qa-old"]
    assert find(agent="1002") == ["qa-safety", "qa-old"]
    assert find(date_from="2026-11-29", date_to="2026-11-29") == ["qa-water", "qa-safety"]  # 20:00 UTC is the 29th
    assert find(date_to="2026-11-28") == ["qa-old"]

    unit = db.world.actors["hu12350"]
    assert find(unit) == ["qa-safety"]
    assert find(unit, words="停水") == []  # another hotline's words are not found either
    for login in ("agent", "deptA"):
        with pytest.raises(ProtocolError):
            find(db.world.actors[login])

    with sessions() as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "qa_search").order_by(AuditEntry.id)).all()
    assert len(audited) == 13  # every search that was allowed, none of the refused ones
    assert {a.login for a in audited} == {"qa", "hu12350"}
