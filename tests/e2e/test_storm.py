"""Call storms into the real Asterisk with the project's dialplan and the CTI server tracking every call
(docs/architecture.md, "Call storms"), at three times the knee measured in the same run, once on a quiet
machine and once with a CPU hog busy on one core (a centre's server also runs other work).

The knee: the call rate at which the storm's own kind of call would keep every core busy with Asterisk
alone, from the CPU Asterisk spent per call in a short calibration storm at a low rate (`storm.knee`). At
three times it the platform must shed: every call either reaches the queue or is refused with a final
answer (the overflow message, busy, or 503 when the CTI server measures Asterisk overloaded:
ari_app/load.py); no SIPp call times out, every call is in the call records, no channel is left, and a
normal call placed once the storm's calls are gone is answered by an agent within 10 s.

The same storm without admission control is `benchmarks/bench_storm.py --modes none`.
HOTLINE_STORM_SECONDS changes the storms' length (default 30 s). The storms run last: whatever they leave
behind cannot disturb the other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.e2e import Stack
from tests.support.storm import StormResult, knee, storm

SECONDS = float(os.environ.get("HOTLINE_STORM_SECONDS", 30))
MAX_RATE = 600.0  # calls/s: about what one SIPp process places on 2 cores; a higher knee storms at this


@pytest.fixture(scope="module")
def knee_rate(stack: Stack) -> float:
    pid = stack.cti.proc.pid if stack.cti.proc else None
    rate, calibration = knee(stack.config, stack.sipp, cti_pid=pid)
    print(f"\nknee {rate:.0f} calls/s from calibration:", calibration.header(), calibration.line(), sep="\n")
    print(calibration.cpu_line())
    assert calibration.clean, "the calibration storm itself failed"
    return rate


@pytest.fixture
def cpu_hog() -> Iterator[subprocess.Popen[bytes]]:
    """A process keeping one core busy for as long as the test runs."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield hog
    finally:
        hog.kill()
        hog.wait()


def _judge(r: StormResult, rate: float) -> None:
    print(r.header(), r.line(), r.cpu_line(), sep="\n")
    assert r.offered == int(rate * SECONDS)
    assert r.timeouts == 0, f"SIPp calls timed out instead of being refused: {r.sipp_errors}"
    assert r.untracked == 0, f"calls missing from the records: {r.other}"
    assert r.lost == 0, f"calls neither queued nor refused by admission control: {r.other} {r.sipp_errors}"
    assert r.queued > 0 and r.overflow > 0  # both paths were taken
    assert r.sipp_failed == 0, f"SIPp saw calls fail: {r.sipp_errors}"
    assert not r.unresponsive, "Asterisk no longer answers its command line after the storm"
    assert r.stuck == 0, f"{r.stuck} channels left after the storm"
    assert r.after_storm_answer_s is not None and r.after_storm_answer_s <= 10, (
        f"no agent answered within 10 s: {r.after_storm_notes}"
    )


def test_storm_at_three_times_the_knee_is_shed_not_fatal(stack: Stack, knee_rate: float) -> None:
    rate = min(3 * knee_rate, MAX_RATE)
    pid = stack.cti.proc.pid if stack.cti.proc else None
    _judge(storm(stack.config, stack.sipp, rate, SECONDS, hold_ms=8000, cti_pid=pid), rate)


def test_storm_with_a_cpu_hog_is_shed_not_fatal(
    stack: Stack, knee_rate: float, cpu_hog: subprocess.Popen[bytes]
) -> None:
    rate = min(3 * knee_rate, MAX_RATE)
    pid = stack.cti.proc.pid if stack.cti.proc else None
    r = storm(stack.config, stack.sipp, rate, SECONDS, hold_ms=8000, cti_pid=pid)
    assert cpu_hog.poll() is None, "the CPU hog ended during the storm"
    _judge(r, rate)
