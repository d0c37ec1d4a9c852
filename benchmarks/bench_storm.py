"""A call storm at a multiple of the stack's knee, with and without admission control.

The full stack runs (Asterisk with the project's dialplan, the CTI server tracking every call, 20 SIPp agent
phones). SIPp offers RATE calls/s for SECONDS seconds over the four hotlines (see tests/support/storm.py for
how each call is judged). The storm runs twice in the same run:

- *admission*: the limits of config.yaml's `admission` (or --max-calls / --max-queue): a call over a limit
  must hear the overflow message, and while the CTI server measures Asterisk overloaded new calls are
  refused with 503 (load shedding, ari_app/load.py);
- *fixed*: the same limits without load shedding (`admission.shed_ms: 0`): what shedding adds;
- *none*: limits far above the storm, so every call goes into the queue: the failure admission control
  prevents.

--hog keeps one core busy with another process during each storm (a centre's server also runs other work).

After each storm: channels left in Asterisk, and whether a normal call placed right after it is answered by
an agent within 10 s. Asterisk is restarted between the two (a storm without limits may wedge it).

Needs root and the SIP ports of the end-to-end suite (run it under the same lock). Usage:
    .venv/bin/python -m benchmarks.bench_storm [--rate 480] [--seconds 60] [--hold 8] [--modes admission,fixed,none]
        [--hog]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from tests.support.e2e import CtiProcess, Sipp, hotline, make_config, make_speech
from tests.support.storm import StormResult, overflow_limits, storm

AGENTS = 20


def start(config: Path) -> None:
    up = hotline(config, "asterisk", "up", timeout=900)
    assert up.returncode == 0, up.stderr
    for i in range(AGENTS):
        hotline(config, "asterisk", "cli", f"queue add member PJSIP/{1001 + i} to hotline penalty 0 as {1001 + i}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=480.0, help="calls per second (default: 3 x the 160/s knee)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hold", type=float, default=8.0, help="seconds a queued caller waits before hanging up")
    ap.add_argument("--max-calls", type=int, default=None)
    ap.add_argument("--max-queue", type=int, default=None)
    ap.add_argument("--max-announcements", type=int, default=None)
    ap.add_argument("--modes", default="admission,none")
    ap.add_argument("--hog", action="store_true", help="a CPU hog on one core during each storm")
    args = ap.parse_args()
    results: dict[str, StormResult] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        config = make_config(tmp, agents=AGENTS)
        sipp = Sipp(tmp, make_speech(tmp))
        sipp.agent_phone(5080, ring_ms=800)
        try:
            for mode in args.modes.split(","):
                if mode in ("admission", "fixed"):
                    overflow_limits(config, args.max_calls or 120, args.max_queue or 60, args.max_announcements)
                else:
                    overflow_limits(config, 100_000, 100_000, 100_000)
                data = yaml.safe_load(config.read_text(encoding="utf-8"))
                data["admission"]["shed_ms"] = 200 if mode == "admission" else 0
                config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
                hotline(config, "asterisk", "down")
                start(config)
                cti = CtiProcess(config, tmp / f"cti-{mode}.log")
                cti.start()
                cti.wait_synced()
                try:
                    what = f"{args.rate:.0f} calls/s for {args.seconds:.0f} s, hold {args.hold:.0f} s"
                    print(f"\n{mode}: {what}{', CPU hog on one core' if args.hog else ''}", flush=True)
                    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.hog else None
                    try:
                        r = storm(
                            config, sipp, args.rate, args.seconds, hold_ms=int(args.hold * 1000),
                            cti_pid=cti.proc.pid if cti.proc else None,
                        )  # fmt: skip
                    finally:
                        if hog is not None:
                            hog.kill()
                            hog.wait()
                    results[mode] = r
                    print(StormResult.header())
                    print(r.line(), flush=True)
                    print(f"  {r.cpu_line()}", flush=True)
                    recorded = "-" if r.after_storm_record_s is None else f"{r.after_storm_record_s:.1f} s"
                    print(
                        f"  storm took {r.elapsed:.0f} s; untracked {r.untracked}; the next call's record showed "
                        f"it answered after {recorded}",
                        flush=True,
                    )
                finally:
                    cti.stop()
        finally:
            sipp.stop()
            hotline(config, "asterisk", "down")
    for mode, r in results.items():
        verdict = "clean" if r.clean and r.after_storm_answer_s is not None else "FAILED"
        after = "NOT within 10 s" if r.after_storm_answer_s is None else f"in {r.after_storm_answer_s:.1f} s"
        stuck = "? (Asterisk wedged)" if r.unresponsive else r.stuck
        print(
            f"{mode:>9}: {verdict}: {r.queued} queued + {r.overflow} overflow ({r.busy} busy, {r.shed} shed) "
            f"of {r.offered}; lost {r.lost}, SIPp failed {r.sipp_failed} ({r.timeouts} timed out), "
            f"stuck channels {stuck}, "
            f"next call answered {after}"
        )
        for note in r.after_storm_notes:
            print(f"           next call: {note}")


if __name__ == "__main__":
    main()
