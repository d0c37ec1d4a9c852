"""`hotline audit` as users start it (the installed `hotline` command, a separate process) on a database
the test fills: filters by login, action (names and prefixes), case (id, number, a number that never
existed), a time window in the centre's zone (Asia/Shanghai, UTC+8), refusals only, a limit; JSON and a
table aligned for CJK text; exit status 2 with a clear message for bad arguments, 1 for a config it cannot
read; a reader that closes the pipe early (`| head`) gets no traceback."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ari_app.cases import CaseSettings, configure
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit, record_refusal
from ari_app.cases.errors import CaseNotFound, PermissionDenied
from ari_app.cases.intake import create_case
from ari_app.cases.lookups import get_case, search_cases
from ari_app.commands.common import display_width as width
from schema.cases import AuditEntry
from schema.db import make_engine
from schema.users import Role
from tests.support.commands import config_on, hotline, hotline_command, migrated

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # 09:00 in Urumqi's centre time (Asia/Shanghai)
AGENT = Actor(user_id=None, login="1001", role=Role.AGENT)
DEPT = Actor(user_id=None, login="供水所", role=Role.DEPARTMENT, unit_id=99)
SUP = Actor(user_id=None, login="sup", role=Role.SUPERVISOR)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A config on its own SQLite database holding: a case taken by an agent and viewed, three refusals
    (one naming a case that never existed), a failed sign-in, a refused and a done supervisor action, and
    a search for Chinese text; each at a known time."""
    tmp = tmp_path_factory.mktemp("audit")
    config = config_on(tmp)
    cfg, engine, sessions = migrated(config)
    clock = [T0]
    configure(sessions, CaseSettings.from_config(cfg, clock=lambda: clock[0]))

    def at(minutes: int) -> None:
        clock[0] = T0 + timedelta(minutes=minutes)

    with sessions.begin() as s:
        case = create_case(
            s, AGENT, hotline="12345", caller="139", call_id=None, category=None, request="路灯不亮",
            address=None, urgency="normal", citizen_name=None, contact=None, language="zh", handling="dispatch",
        )  # fmt: skip
        case_id, number = case.id, case.number
    at(10)
    with sessions.begin() as s:
        get_case(s, AGENT, case_id)
    at(20)
    for actor, request, case, error in (
        (DEPT, "get_case", case_id, CaseNotFound("not yours")),
        (AGENT, "accept_case", case_id, PermissionDenied("role agent may not accept")),
        (DEPT, "get_case", "12345-20991231-0001", CaseNotFound("no such case")),
    ):
        record_refusal(sessions, actor, request, error, case=case)
        clock[0] += timedelta(minutes=1)
    at(30)
    with sessions.begin() as s:
        audit(s, Actor(None, "mallory", Role.AGENT), "sign_in_failed", None, clock[0], peer="10.0.0.9")
        audit(s, SUP, "supervise_listen", None, clock[0], agent="1002", outcome="not_a_supervisor")
        audit(s, SUP, "supervise_pause", None, clock[0], agent="1002", outcome="done")
    at(24 * 60)  # the next day, 09:00 centre time
    with sessions.begin() as s:
        search_cases(s, DEPT, "停水 小区")
    engine.dispose()
    return {"config": config, "case_id": case_id, "number": number, "db": cfg.database_url}


def run(deployment: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return hotline(deployment["config"], "audit", *args, timeout=60)


def entries(deployment: dict[str, Any], *args: str) -> list[dict[str, Any]]:
    done = run(deployment, "--json", *args)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def actions(deployment: dict[str, Any], *args: str) -> list[tuple[str, str]]:
    return [(e["login"], e["action"]) for e in entries(deployment, *args)]


def test_everything_newest_first_with_times_in_the_centres_zone(deployment: dict[str, Any]) -> None:
    every = entries(deployment)
    assert [e["action"] for e in every] == [
        "search", "supervise_pause", "supervise_listen", "sign_in_failed", "refused", "refused", "refused", "view",
        "create",
    ]  # fmt: skip
    assert every[-1]["at"] == "2026-11-29T09:00:00+08:00" and every[-1]["case_number"] == deployment["number"]
    refused = every[4]
    assert refused["detail"]["request"] == "get_case" and refused["case_id"] is None
    assert refused["detail"]["case"] == "12345-20991231-0001"


def test_filters(deployment: dict[str, Any]) -> None:
    cid, number = deployment["case_id"], deployment["number"]
    assert actions(deployment, "--login", "sup") == [("sup", "supervise_pause"), ("sup", "supervise_listen")]
    two = ("--login", "mallory", "--login", "1001", "--action", "refused", "--action", "sign_*")
    assert actions(deployment, *two) == [("mallory", "sign_in_failed"), ("1001", "refused")]
    assert actions(deployment, "--action", "supervise_*") == [("sup", "supervise_pause"), ("sup", "supervise_listen")]
    by_id = actions(deployment, "--case", str(cid))
    assert by_id == actions(deployment, "--case", number)
    assert by_id == [("1001", "refused"), ("供水所", "refused"), ("1001", "view"), ("1001", "create")]
    assert actions(deployment, "--case", "12345-20991231-0001") == [("供水所", "refused")]
    assert actions(deployment, "--case", "424242") == []
    assert actions(deployment, "--refusals-only") == [
        ("sup", "supervise_listen"), ("mallory", "sign_in_failed"), ("供水所", "refused"), ("1001", "refused"),
        ("供水所", "refused"),
    ]  # fmt: skip
    # the window: local times (UTC+8), --since included, --until excluded, a bare --until date the whole day
    assert actions(deployment, "--since", "2026-11-29 09:10", "--until", "2026-11-29 09:21") == [
        ("供水所", "refused"),  # 09:20; the one at 09:21 is not before --until
        ("1001", "view"),  # 09:10
    ]
    assert len(entries(deployment, "--until", "2026-11-29")) == 8
    assert actions(deployment, "--since", "2026-11-30") == [("供水所", "search")]
    assert actions(deployment, "--since", "2026-11-29T01:30:00+00:00", "--until", "2026-11-29") == [
        ("sup", "supervise_pause"),
        ("sup", "supervise_listen"),
        ("mallory", "sign_in_failed"),
    ]
    assert actions(deployment, "--limit", "2") == [("供水所", "search"), ("sup", "supervise_pause")]


def test_the_table_is_aligned_for_chinese_text(deployment: dict[str, Any]) -> None:
    done = run(deployment, "--limit", "5")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["at", "login", "role", "action", "case", "detail"]
    assert "search" in lines[1] and "供水所" in lines[1] and "text=停水 小区" in lines[1]
    assert "get_case → case_not_found" in lines[5] and "case=12345-20991231-0001" in lines[5]
    starts = ("found=", "agent=", "agent=")
    detail_at = [width(line[: line.index(word)]) for line, word in zip(lines[1:4], starts, strict=True)]
    assert len(set(detail_at)) == 1, lines  # the detail column starts at the same column on every row
    assert "5 entries, newest first; times in Asia/Shanghai" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "'yesterday' is not a date (YYYY-MM-DD) or a time"),
        (["--since", "2026-11-30", "--until", "2026-11-29 12:00"], "--until is not after --since"),
        (["--limit", "0"], "argument --limit: expected a whole number 1..100000, got '0'"),
        (["--action", "DROP TABLE"], "--action 'DROP TABLE': expected an action name"),
        (["--login", " "], "--login must not be empty"),
        (["--limit", "many"], "expected a whole number 1..100000, got 'many'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(deployment: dict[str, Any], args: list[str], message: str) -> None:
    done = run(deployment, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_config_it_cannot_read_exits_1(tmp_path: Path) -> None:
    done = hotline(tmp_path / "missing.yaml", "audit", timeout=60)
    assert done.returncode == 1 and "missing.yaml" in done.stderr and "Traceback" not in done.stderr


def test_a_reader_that_stops_early_gets_no_traceback(deployment: dict[str, Any]) -> None:
    engine = make_engine(deployment["db"])
    with Session(engine) as s, s.begin():
        s.add_all(
            AuditEntry(at=T0 - timedelta(seconds=i), login=f"agent{i}", role="agent", action="view", detail=None)
            for i in range(3000)
        )
    engine.dispose()
    for fmt in ([], ["--json"]):
        reader = subprocess.Popen(
            [*hotline_command(), "-c", str(deployment["config"]), "audit", "--limit", "3009", *fmt],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert reader.stdout is not None and reader.stderr is not None
        reader.stdout.readline()
        reader.stdout.close()  # like `| head -1`
        errors = reader.stderr.read().decode()
        assert reader.wait(timeout=60) == 0, errors
        assert "Traceback" not in errors and "BrokenPipe" not in errors, errors
