"""What the `hotline` commands print, run as a user runs them (the console script, its own process): the
wallboard's threshold from the config, its refused column and a table aligned by display width (汉字 take
two columns), and a reader that stops early (`| head`) ending a command quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from ari_app.calls.model import Call
from ari_app.calls.store import SqlCallStore
from ari_app.cli import EXIT_BROKEN_PIPE
from ari_app.commands.common import display_width, pad
from schema.calls import CallState, EndReason
from schema.db import make_engine, make_sessionmaker, upgrade

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = str(Path(sys.executable).parent / "hotline")


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    """The shipped config with its own database holding today's calls: one answered after 18 s, one refused
    by admission control; service level threshold 20 s."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["database"]["url"] = f"sqlite:///{tmp_path / 'h.db'}"
    data.setdefault("server", {})["service_level_seconds"] = 20
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    engine = make_engine(data["database"]["url"])
    upgrade(engine)
    store = SqlCallStore(make_sessionmaker(engine))
    _after_the_day_has_room(ZoneInfo(data["centre"]["timezone"]), timedelta(seconds=150))
    now = datetime.now(UTC) - timedelta(seconds=30)
    answered = Call(id="1.1", arrived_at=now - timedelta(seconds=60), hotline="12350", caller="139", agent="1001")
    answered.state, answered.answered_at, answered.ended_at = (
        CallState.ENDED,
        answered.arrived_at + timedelta(seconds=18),
        now,
    )
    answered.end_reason = EndReason.CALLER_HANGUP
    refused = Call(id="2.1", arrived_at=now, hotline="12350", caller="138", state=CallState.REJECTED)
    refused.end_reason, refused.ended_at = EndReason.OVERFLOW, now
    store.save(answered)
    store.save(refused)
    engine.dispose()
    return cfg


def _after_the_day_has_room(zone: ZoneInfo, room: timedelta) -> None:
    """Return once the centre's day (the wallboard's "today") is at least `room` old, so that calls placed up
    to `room` in the past fall on it: just after local midnight they would fall on yesterday."""
    local = datetime.now(zone)
    since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    if since_midnight < room:
        time.sleep((room - since_midnight).total_seconds())


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HOTLINE, *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)


def test_wallboard_uses_the_configs_service_level_threshold(deployment: Path) -> None:
    board = json.loads(_run("-c", str(deployment), "wallboard", "--json").stdout)
    assert board["threshold_seconds"] == 20  # it once said 15 whatever the config said
    (row,) = [h for h in board["hotlines"] if h["hotline"] == "12350"]
    assert row["service_level"] == 100.0 and row["refused"] == 1
    assert (
        json.loads(_run("-c", str(deployment), "wallboard", "--json", "--threshold", "15").stdout)["threshold_seconds"]
        == 15
    )


def test_wallboard_table_has_refused_and_aligns_chinese_names(deployment: Path) -> None:
    proc = _run("-c", str(deployment), "wallboard")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "service level: answered within 20 s"
    header, *rows = [line for line in lines[1:] if not line.startswith("  agent")]
    assert "refused" in header.split()
    assert len(rows) == 5  # four hotlines and the total
    widths = {display_width(line) for line in [header, *rows]}
    assert len(widths) == 1, [header, *rows]  # every row as wide on screen as the header: columns line up
    refused_end = display_width(header[: header.index("refused") + len("refused")])
    (row,) = [r for r in rows if r.startswith("12350 安全生产举报热线")]
    cut = next(i for i in range(len(row) + 1) if display_width(row[:i]) == refused_end)
    assert row[:cut].endswith(" 1") and row[:cut].split()[-2:] == ["0", "1"]  # abandoned 0, refused 1


def test_pad_by_display_width() -> None:
    assert display_width("市长热线") == 8 and display_width("12345 hotline") == 13
    assert pad("热线", 6) == "热线  " and pad("7", 3, ">") == "  7"
    assert pad("很长的名字", 4) == "很长的名字"  # never cut


@pytest.mark.parametrize(
    "args",
    [("wallboard", "--json"), ("wallboard",), ("calls", "--json"), ("calls",), ("--help",), ("config", "check")],
)
def test_a_reader_that_stops_early_ends_the_command_quietly(deployment: Path, args: tuple[str, ...]) -> None:
    """`hotline wallboard --json | head`: the reader is gone before the command writes. No traceback, and
    the exit status a shell gives a command ended by SIGPIPE."""
    read, write = os.pipe()
    os.close(read)  # the reader has already gone
    proc = subprocess.run(
        [HOTLINE, "-c", str(deployment), *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120, cwd=ROOT
    )
    os.close(write)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    # (argparse itself ignores a failed write of the help, so --help ends with 0)
    assert proc.returncode == (0 if args == ("--help",) else EXIT_BROKEN_PIPE), proc.stderr


def test_the_desktop_shows_times_in_the_centres_zone_by_default(
    deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hotline desktop` takes the zone from the config's centre.timezone (what case numbers and reports use),
    `--timezone` overrides it, and an unknown zone is refused before any window opens."""
    from ari_app.cli import main
    from ari_app.commands import desktop_cmd

    seen: list[list[str]] = []
    envs: list[dict[str, str]] = []
    monkeypatch.setattr(desktop_cmd.os, "execve", lambda path, argv, env: (seen.append(argv), envs.append(env)))
    monkeypatch.delenv("QT_LOGGING_RULES", raising=False)
    assert main(["-c", str(deployment), "desktop"]) == 0
    # Qt's multimedia start-up lines are quiet unless the admin set rules of their own
    assert envs[-1]["QT_LOGGING_RULES"] == desktop_cmd.QUIET_QT
    monkeypatch.setenv("QT_LOGGING_RULES", "qt.*=true")
    assert main(["-c", str(deployment), "desktop"]) == 0 and envs[-1]["QT_LOGGING_RULES"] == "qt.*=true"
    seen.pop()
    assert main(["-c", str(deployment), "desktop", "--timezone", "Europe/Paris"]) == 0
    assert main(["-c", str(deployment / "missing.yaml"), "desktop", "--url", "ws://127.0.0.1:1"]) == 0
    # the desktop runs in this process's place, as its own module (the server's package never imports Qt)
    assert all(argv[1:3] == ["-m", "cti_desktop.app"] for argv in seen)
    zones = [argv[argv.index("--timezone") + 1] if "--timezone" in argv else None for argv in seen]
    assert zones == ["Asia/Shanghai", "Europe/Paris", None]
    assert main(["-c", str(deployment), "desktop", "--timezone", "Mars/Olympus"]) == 2
    # and the desktop's own entry point refuses an unknown zone the same way, before any window opens
    desk = subprocess.run(
        [sys.executable, "-m", "cti_desktop.app", "--timezone", "Mars/Olympus"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert desk.returncode == 2 and "unknown time zone 'Mars/Olympus'" in desk.stderr, desk.stderr


def test_callbacks_cancel_calls_off_a_pending_request_and_refuses_anything_else(deployment: Path) -> None:
    from ari_app.callbacks import list_callbacks
    from schema.callbacks import CallbackRequest, CallbackStatus
    from schema.cases import AuditEntry

    url = yaml.safe_load(deployment.read_text(encoding="utf-8"))["database"]["url"]
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        for call_id, status in (("1.1", CallbackStatus.PENDING), ("2.1", CallbackStatus.DONE)):
            s.add(
                CallbackRequest(
                    call_id=call_id, hotline="12350", number="13900000001", status=status.value,
                    requested_at=now, next_attempt_at=now, attempts=0,
                )
            )  # fmt: skip
    listed = _run("-c", str(deployment), "callbacks")
    assert listed.returncode == 0 and "1.1" in listed.stdout and "pending" in listed.stdout, listed.stdout
    done = _run("-c", str(deployment), "callbacks", "cancel", "1.1", "--reason", "已电话联系")
    assert done.returncode == 0 and "cancelled" in done.stdout, done.stderr
    again = _run("-c", str(deployment), "callbacks", "cancel", "1.1")
    assert again.returncode == 1 and "is cancelled, not pending" in again.stderr, again.stderr
    other = _run("-c", str(deployment), "callbacks", "cancel", "2.1")
    assert other.returncode == 1 and "is done, not pending" in other.stderr, other.stderr
    missing = _run("-c", str(deployment), "callbacks", "cancel", "7.7")
    assert missing.returncode == 1 and "there is no callback request" in missing.stderr, missing.stderr
    with sessions() as s:
        assert {r["call_id"]: r["status"] for r in list_callbacks(s)} == {"1.1": "cancelled", "2.1": "done"}
        actions = [(a.action, a.login.startswith("cli:")) for a in s.query(AuditEntry).order_by(AuditEntry.id)]
    engine.dispose()
    assert actions == [("callback_cancelled", True)] + [("refused", True)] * 3, actions


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("wallboard", "--threshold", "-3"), "argument --threshold: expected a whole number 1..3600, got '-3'"),
        (("calls", "--limit", "0"), "argument --limit: expected a whole number 1..10000, got '0'"),
        (("missed", "--limit", "-1"), "argument --limit: expected a whole number 1..10000, got '-1'"),
        (("callbacks", "--limit", "lots"), "argument --limit: expected a whole number 1..10000, got 'lots'"),
        (("status", "--timeout", "0"), "argument --timeout: expected a number 0.1..60, got '0'"),
        (("transcribe", "--workers", "0"), "argument --workers: expected a whole number 1..64, got '0'"),
        (("calendar", "due", "--working-days", "-1"), "expected a whole number 0..10000, got '-1'"),
        (("asterisk", "up", "--timeout", "nan"), "argument --timeout: expected a number 1..3600, got 'nan'"),
    ],
)
def test_a_number_out_of_range_is_refused_with_its_range(
    deployment: Path, args: tuple[str, ...], expected: str
) -> None:
    """Every numeric option says its range when it is given one outside it, as a user runs the command,
    instead of being clamped quietly (a negative service-level threshold was shown as given)."""
    proc = subprocess.run(
        [HOTLINE, "-c", str(deployment), *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
