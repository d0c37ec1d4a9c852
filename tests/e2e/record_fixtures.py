"""Record the AMI traffic fixtures the unit tests and benchmarks replay, from the real Asterisk.

Run as root from the repository: `.venv/bin/python -m tests.e2e.record_fixtures`. It brings up Asterisk
with a test config, records raw AMI bytes (scripts/record_ami.py) while SIPp places a scripted set of calls,
and writes tests/fixtures/ami/*.ami. Each file's expected outcome is in tests/unit/test_tracker_replay.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.e2e import ROOT, Sipp, hotline, make_config, make_speech

OUT = ROOT / "tests" / "fixtures" / "ami"


def record(config: Path, name: str, seconds: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "record_ami.py"),
            str(OUT / name),
            "--seconds",
            str(seconds),
            "-c",
            str(config),
        ]
    )
    time.sleep(0.5)  # let the recorder log in before the first call (a one-off tool, not a test)
    return proc


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        config = make_config(tmp, agents=2)
        assert hotline(config, "asterisk", "up").returncode == 0
        for ext in ("1001", "1002"):
            hotline(config, "asterisk", "cli", f"queue add member PJSIP/{ext} to hotline penalty 0 as {ext}")
        sipp = Sipp(tmp, make_speech(tmp))
        try:
            sipp.agent_phone(5080, ring_ms=1000)
            rec = record(config, "answered_rejected.ami", 12)
            sipp.call("12319", "13800000001", talk_ms=3000)
            sipp.call("99999", "13800000002", talk_ms=500)
            rec.wait()
            sipp.stop()
            sipp.agent_phone(5080, ring_ms=8000)
            rec = record(config, "abandoned_member.ami", 12)
            sipp.call("12345", "13800000003", talk_ms=2000)  # hangs up while the agent still rings
            hotline(config, "asterisk", "cli", "queue pause member PJSIP/1002 queue hotline reason lunch")
            hotline(config, "asterisk", "cli", "queue unpause member PJSIP/1002 queue hotline")
            hotline(config, "asterisk", "cli", "queue remove member PJSIP/1002 from hotline")
            rec.wait()
            sipp.stop()
            sipp.agent_phone(5080, ring_ms=300)
            rec = record(config, "concurrent.ami", 15)
            procs = [
                sipp.call(n, f"1380000{i:04d}", talk_ms=3000, wait=False)
                for i, n in enumerate(["12345", "12319", "12358", "12350"] * 2)
            ]
            for p in procs:
                p.wait()
            rec.wait()
        finally:
            sipp.stop()
            hotline(config, "asterisk", "down")


if __name__ == "__main__":
    main()
