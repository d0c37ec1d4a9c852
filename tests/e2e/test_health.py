"""A wedged Asterisk (stopped with SIGSTOP: sockets open, nothing answered) is reported, not waited on."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime

from ari_app.asterisk_ctl import AsteriskHost
from ari_app.cases.calendar import LOOKAHEAD, WorkCalendar
from ari_app.config import load_config
from tests.support.e2e import Stack, hotline
from tests.support.waiting import wait_for


def test_wedged_asterisk_is_reported_and_recovery_seen(stack: Stack) -> None:
    ok = hotline(stack.config, "status")
    assert ok.returncode == 0 and "Asterisk: up" in ok.stdout, ok.stdout
    unknown = hotline(stack.config, "asterisk", "cli", "core show nothing")  # Asterisk's -rx exits 0 for it
    assert unknown.returncode == 1 and unknown.stderr.startswith("No such command 'core show nothing'"), unknown
    assert ok.stdout.splitlines()[-1] == "Hotline platform: up", ok.stdout
    # A year the working-day calendar counts provisionally within the look-ahead is named, not a fault.
    calendar = WorkCalendar.from_config(load_config(stack.config))
    today = datetime.now(calendar.zone).date()
    for year in calendar.provisional_years(today, today + LOOKAHEAD):
        assert f"Working-day calendar: {year} is provisional" in ok.stdout, ok.stdout
    assert ok.stdout.count("is provisional") == len(calendar.provisional_years(today, today + LOOKAHEAD))
    pid = AsteriskHost.for_config(load_config(stack.config)).pid()
    assert pid is not None
    log_before = stack.cti.log.read_text(errors="replace").count("Asterisk health: down")
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        wedged = hotline(stack.config, "status", "--timeout", "1", timeout=30)
        assert wedged.returncode == 2 and "Asterisk: down" in wedged.stdout, wedged.stdout
        assert "Hotline platform: down" in wedged.stdout, wedged.stdout
        assert "AMI did not answer" in wedged.stdout
        assert time.monotonic() - started < 10  # reported within the probes' deadlines, not waited on
        wait_for(
            lambda: stack.cti.log.read_text(errors="replace").count("Asterisk health: down") > log_before or None,
            30,
            "the CTI server to report Asterisk down",
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: hotline(stack.config, "status").returncode == 0 or None, 30, "Asterisk healthy again")
    wait_for(
        lambda: (
            stack.cti.log.read_text(errors="replace").rstrip().endswith("Asterisk health: up ")
            or stack.cti.log.read_text(errors="replace").rfind("Asterisk health: up")
            > stack.cti.log.read_text(errors="replace").rfind("Asterisk health: down")
            or None
        ),
        30,
        "the CTI server to see Asterisk up again",
    )
