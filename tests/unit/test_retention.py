"""Retention inside the server: the runner purges expired day folders at start and again every interval,
keeps recent ones, and survives a failing round."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from recordings.retention import RetentionRunner
from tests.support.waiting import until

TODAY = date(2026, 11, 29)


def _day(root: Path, day: date) -> Path:
    folder = root / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / "12345"
    folder.mkdir(parents=True)
    (folder / "c1.wav").write_bytes(b"RIFF" + bytes(40))
    return folder


async def test_purges_at_start_then_every_interval(tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    old = _day(root, date(2025, 11, 1))
    recent = _day(root, date(2026, 11, 20))
    runner = RetentionRunner(root, 365, interval=0.05, today=lambda: TODAY)
    await runner.start()
    try:
        await until(lambda: runner.last is not None)
        assert runner.last is not None and runner.last.days == ("2025/11/01",)
        assert not old.exists() and recent.exists()
        # an old day appears while the runner is going (restored from a backup, say): moved in whole
        staged = _day(tmp_path / "staging", date(2025, 10, 2)).parents[2]
        assert not (root / "2025").exists()  # the emptied year went with its last day
        staged.rename(root / "2025")
        later = root / "2025" / "10" / "02"
        await until(lambda: runner.last is not None and runner.last.days == ("2025/10/02",))
        assert not later.exists() and recent.exists() and runner.rounds >= 2
    finally:
        await runner.stop()


async def test_a_failing_round_is_logged_and_the_next_one_runs(tmp_path: Path) -> None:
    calls: list[date] = []

    def today() -> date:
        calls.append(TODAY)
        if len(calls) == 1:
            raise OSError("disk went away")
        return TODAY

    runner = RetentionRunner(tmp_path / "missing", 30, interval=0.02, today=today)
    await runner.start()
    try:
        await until(lambda: runner.rounds >= 2 and runner.last is not None)
        assert runner.last is not None and runner.last.days == ()
    finally:
        await runner.stop()
