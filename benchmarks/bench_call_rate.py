"""The call rate the real stack sustains with every call tracked, and the bare Asterisk beside it.

For each offered rate (calls per second), SIPp places RATE x SECONDS calls from a carrier trunk with RTP
audio into the project's dialplan; SIPp agent phones answer at once; each caller talks TALK seconds.
A step passes when SIPp reports every call successful and, with the CTI server running, every call is
stored exactly once in a terminal state. Afterwards the benchmark checks that no channel is left.
Prints a table per mode and the knee (the highest passing rate) of each, and their ratio.

Needs root (Asterisk runs in the project's Debian root) and the SIP ports of the test suite: do not run it
beside the end-to-end tests. Usage:
    .venv/bin/python -m benchmarks.bench_call_rate [--rates 2,5,10,15,20] [--seconds 10] [--talk 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.stack import add_members, channels_left, offer, real_stack
from tests.support.e2e import CtiProcess, Sipp, calls, hotline, make_speech
from tests.support.waiting import wait_for

AGENTS = 200


def step(config: Path, sipp: Sipp, rate: float, seconds: int, talk: int, tag: str, tracked: bool) -> dict[str, object]:
    count = max(1, int(rate * seconds))
    caller = f"1{tag}"
    started = time.monotonic()
    proc = offer(
        sipp,
        sipp.caller_xml,
        caller,
        talk * 1000,
        rate,
        count,
        seconds + talk + 60,
        "-trace_stat",
        "-stf",
        str(sipp.tmp / f"stat-{tag}.csv"),
    )
    ok = proc.returncode == 0
    result: dict[str, object] = {"rate": rate, "calls": count, "sipp_ok": ok, "elapsed": time.monotonic() - started}
    result["stuck"] = channels_left(config)
    if tracked:

        def stored() -> int | None:
            mine = [c for c in calls(config, limit=5000) if c["caller"] == caller]
            done = [c for c in mine if c["state"] in ("ended", "abandoned", "rejected")]
            return len(done) if len(done) == count else None

        try:
            result["tracked"] = wait_for(stored, 30, f"{count} tracked calls")
        except AssertionError:
            mine = [c for c in calls(config, limit=5000) if c["caller"] == caller]
            result["tracked"] = len(mine)
        result["ok"] = ok and result["tracked"] == count and result["stuck"] == 0
    else:
        result["ok"] = ok and result["stuck"] == 0
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="2,5,10,15,20")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--talk", type=int, default=2)
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    with real_stack(agents=AGENTS) as (tmp, config):
        add_members(config, AGENTS)
        sipp = Sipp(tmp, make_speech(tmp, seconds=args.talk + 1))
        sipp.agent_phone(5080, ring_ms=1)
        knees = {}
        try:
            for mode in ("bare", "full"):
                cti = None
                if mode == "full":
                    cti = CtiProcess(config, tmp / "cti.log")
                    cti.start()
                    cti.wait_synced()
                print(f"\n{mode}: {'Asterisk alone' if mode == 'bare' else 'Asterisk + CTI server tracking'}")
                print(f"{'rate/s':>7} {'calls':>6} {'sipp':>5} {'tracked':>8} {'stuck':>6} {'pass':>5}")
                knee = 0.0
                for i, rate in enumerate(rates):
                    r = step(
                        config,
                        sipp,
                        rate,
                        args.seconds,
                        args.talk,
                        f"{mode[0]}{i}{int(time.time()) % 10000:04d}",
                        tracked=mode == "full",
                    )
                    print(
                        f"{rate:7.1f} {r['calls']:6} {'ok' if r['sipp_ok'] else 'FAIL':>5} "
                        f"{r.get('tracked', '-')!s:>8} {r['stuck']!s:>6} {'yes' if r['ok'] else 'no':>5}",
                        flush=True,
                    )
                    if not r["ok"]:
                        if r["stuck"]:
                            hotline(config, "asterisk", "down")
                            hotline(config, "asterisk", "up")
                            add_members(config, AGENTS)
                        break
                    knee = rate
                knees[mode] = knee
                if cti is not None:
                    cti.stop()
        finally:
            sipp.stop()
    print(
        f"\nknee: bare {knees.get('bare', 0):.1f} calls/s, full stack {knees.get('full', 0):.1f} calls/s, "
        f"ratio {knees.get('full', 0) / max(knees.get('bare', 1), 1e-9):.2f}"
    )


if __name__ == "__main__":
    main()
