"""`hotline missed` as users start it (the installed `hotline` command, a separate process) on a database the
test fills: the worklist, open first by due time, and one day's share called back in time per hotline."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ari_app.cases.actor import Actor
from ari_app.missed import MissedCalls, MissedSettings
from ari_app.missed.service import attempt
from schema.cases import AuditEntry
from schema.db import make_engine, make_sessionmaker
from schema.missed import AttemptOutcome
from schema.users import Role
from tests.support import commands
from tests.support.commands import config_on, migrated
from tests.support.missed import store_answered, store_miss

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)  # 10:00 on 2026-11-29 in the centre's time (Asia/Shanghai)
AGENT = Actor(user_id=None, login="1001", role=Role.AGENT)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four missed numbers on 2026-11-29 (three on 12345, one on 12319) and one the day before: on 12345 one
    called back in time, one called back late, one whose citizen got through in time; 12319's never called."""
    tmp = tmp_path_factory.mktemp("missed")
    config = config_on(tmp)
    cfg, engine, sessions = migrated(config)
    missed = MissedCalls(sessions, MissedSettings.from_config(cfg), clock=lambda: T0)
    for n, (number, hotline) in enumerate(
        [("13900000001", "12345"), ("13900000002", "12345"), ("13900000003", "12345"), ("13900000004", "12319")]
    ):
        missed.ended(store_miss(sessions, f"1.{n}", number, T0 + timedelta(minutes=n), hotline=hotline).call_id)
    missed.ended(store_miss(sessions, "0.1", "13900000009", T0 - timedelta(days=1)).call_id)
    with sessions.begin() as s:
        attempt(s, AGENT, 1, AttemptOutcome.REACHED, "", T0 + timedelta(minutes=20))  # due 10:30: in time
        attempt(s, AGENT, 2, AttemptOutcome.REACHED, "", T0 + timedelta(minutes=45))  # due 10:31: late
    answered = store_answered(sessions, "1.9", "13900000003", T0 + timedelta(minutes=10))
    missed.connected(answered.call_id, answered.at)
    engine.dispose()
    return {"config": config, "db": cfg.database_url}


def run(deployment: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return commands.hotline(deployment["config"], "missed", *args, timeout=60)


def test_json_lists_the_tasks_and_the_day_s_figures(deployment: dict[str, Any]) -> None:
    done = run(deployment, "--day", "2026-11-29", "--filter", "all", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["total"] == 5
    assert [(t["caller"], t["status"]) for t in out["tasks"][:2]] == [
        ("13900000009", "open"),  # the open first, the earliest due first
        ("13900000004", "open"),
    ]
    assert {t["caller"]: t["status"] for t in out["tasks"][2:]} == {
        "13900000001": "called_back",
        "13900000002": "called_back",
        "13900000003": "closed_by_contact",
    }
    # 12345: 3 missed, 1 got through in time, 2 counted, 1 in time; 12319: 1 missed, counted, none in time
    assert [(f["hotline"], f["missed"], f["contact_in_time"], f["counted"], f["in_time"], f["reached"], f["share"])
            for f in out["figures"]] == [("12319", 1, 0, 1, 0, 0, 0.0), ("12345", 3, 1, 2, 1, 2, 0.5)]  # fmt: skip


def test_the_table_shows_open_tasks_and_the_share_and_the_read_is_audited(deployment: dict[str, Any]) -> None:
    done = run(deployment, "--day", "2026-11-29", "--hotline", "12345")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "missed calls (open): 2 of 2"
    assert "13900000009" in lines[2] and "open overdue" in lines[2] and "13900000004" in lines[3]
    assert "called back in time on 2026-11-29 (centre time)" in done.stdout
    (row,) = [line for line in lines if line.startswith("12345 ")]
    assert row.split() == ["12345", "3", "1", "0", "2", "1", "2", "50.0%"]
    engine = make_engine(deployment["db"])
    with make_sessionmaker(engine)() as s:
        logins = s.scalars(select(AuditEntry.login).where(AuditEntry.action == "missed_calls_listed")).all()
    engine.dispose()
    assert logins and all(login.startswith("cli:") for login in logins)


def test_a_day_without_missed_calls_and_a_bad_day(deployment: dict[str, Any]) -> None:
    done = run(deployment, "--day", "2026-11-20")
    assert done.returncode == 0 and "(no missed calls that day)" in done.stdout
    bad = run(deployment, "--day", "yesterday")
    assert bad.returncode == 2 and "--day" in bad.stderr
