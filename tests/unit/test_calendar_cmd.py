"""`hotline calendar check|due` run as an admin runs them, in their own process on this checkout's code: a
year's holidays and adjusted working days with their source, a deadline across National Day 2026, and 2027
counted provisionally by its statutory holidays (or refused, naming the year, when the config says so) until
the admin enters it in the config."""

from __future__ import annotations

from pathlib import Path

from tests.support.commands import ROOT, checkout_cli


def _config_with_2027(tmp_path: Path) -> Path:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("  holidays: []", "  holidays: [{from: 2027-01-01, to: 2027-01-03, name: 元旦}]")
    text = text.replace("  workdays: []", "  workdays: [{date: 2027-02-07, name: 春节调休}]")
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_lists_the_years_holidays_and_adjusted_working_days_with_their_source() -> None:
    proc = checkout_cli("calendar", "check", "2026")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "office hours 09:00-12:00, 13:30-17:30 (Asia/Shanghai)" in lines[0]
    assert "2026-10-01 Thu  holiday      国庆节            library" in lines
    assert "2026-10-10 Sat  working day  国庆节调休        library" in lines
    assert "2026-09-20 Sun  working day  国庆节调休        library" in lines
    assert not any(line.startswith("2026-10-08") for line in lines)  # an ordinary working day is not listed
    assert lines[-1] == "2026: 33 holiday(s), 6 adjusted working day(s)"


def test_due_counts_from_the_next_working_day_to_the_end_of_office_hours() -> None:
    proc = checkout_cli("calendar", "due", "--from", "2026-09-30 15:00", "--working-days", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "from 2026-09-30 15:00 Wed (UTC+0800) + 2 working days: due 2026-10-09 17:30 Fri (UTC+0800)"
    )
    hours = checkout_cli("calendar", "due", "--from", "2026-10-09T16:30:00+08:00", "--working-hours", "2")
    assert hours.stdout.strip().endswith("+ 2 working hours: due 2026-10-10 10:00 Sat (UTC+0800)"), hours.stderr


def test_2027_is_counted_provisionally_until_the_admin_enters_it(tmp_path: Path) -> None:
    check = checkout_cli("calendar", "check", "2027")
    assert check.returncode == 0, check.stderr
    lines = check.stdout.splitlines()
    assert lines[1].startswith("2027: provisional: counted by the statutory holidays alone")
    assert "2027-02-05 Fri  holiday      春节              statutory" in lines  # the lunar New Year's Eve
    assert lines[-1] == "2027: 13 holiday(s), 0 adjusted working day(s)"
    due = checkout_cli("calendar", "due", "--from", "2026-12-31 10:00", "--working-days", "1")
    assert due.returncode == 0, due.stderr
    first, provisional = due.stdout.strip().splitlines()
    assert first.endswith("due 2027-01-04 17:30 Mon (UTC+0800)") and provisional.startswith("2027: provisional")
    config = str(_config_with_2027(tmp_path))
    check = checkout_cli("-c", config, "calendar", "check", "2027")
    assert check.returncode == 0, check.stderr
    assert "provisional" not in check.stdout
    assert "2027-01-01 Fri  holiday      元旦              config" in check.stdout.splitlines()
    assert "2027-02-07 Sun  working day  春节调休          config" in check.stdout.splitlines()
    due = checkout_cli("-c", config, "calendar", "due", "--from", "2026-12-31 10:00", "--working-days", "1")
    assert due.stdout.strip().endswith("due 2027-01-04 17:30 Mon (UTC+0800)"), due.stderr


def test_2027_is_refused_naming_the_year_when_the_config_says_refuse(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("  unknown_years: statutory", "  unknown_years: refuse"), encoding="utf-8")
    for args in (("check", "2027"), ("due", "--from", "2026-12-31 10:00", "--working-days", "1")):
        proc = checkout_cli("-c", str(path), "calendar", *args)
        assert proc.returncode == 1 and proc.stdout == ""
        assert "does not know 2027" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_bad_start_is_a_usage_error() -> None:
    proc = checkout_cli("calendar", "due", "--from", "yesterday", "--working-days", "1")
    assert proc.returncode == 2 and "YYYY-MM-DD HH:MM" in proc.stderr


def test_a_limit_that_is_no_number_of_hours_is_a_usage_error() -> None:
    proc = checkout_cli("calendar", "due", "--from", "2026-09-30 15:00", "--working-hours", "nan")
    assert proc.returncode == 2 and "0..10000" in proc.stderr and "Traceback" not in proc.stderr
