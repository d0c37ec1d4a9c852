"""Survey calls per second the real stack sustains: every caller is answered by an agent who hangs up
first, hears the satisfaction survey and answers by keypad (RFC 2833); each answer must be stored.

Brings up the real Asterisk with the project's dialplan and the real CTI server (`hotline serve`, whose
FastAGI script runs the survey). SIPp agent phones (one UAS for AGENTS queue members) answer and hang up
after TALK ms; for each offered rate, SIPp places RATE x SECONDS callers from a carrier trunk who press 1
KEY_MS after Asterisk answers and wait to be thanked and hung up by Asterisk. A step passes when SIPp
reports every call successful, every call is stored once with the rating `satisfied`, and no channel is
left. The rate rises until a step fails. The baseline in the same run is the same call flow whose caller
hangs up first (so no survey): the rate the stack takes without the AGI script.
Needs root and the test suite's SIP ports (run it under the Asterisk lock).
Usage: .venv/bin/python -m benchmarks.bench_survey [--rates 8,16,24] [--seconds 6] [--agents 40]   (about 4 minutes)
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.stack import add_members, answering_phone, channels_left, cti_running, offer, real_stack
from tests.support.e2e import SIPP_DIR, Sipp, calls, make_speech
from tests.support.waiting import wait_for

AGENTS = 40
TALK_MS = 2000
KEY_MS = 5000


def agents_hanging_up(tmp: Path) -> subprocess.Popen[bytes]:
    """One SIPp UAS on the agents' address: answers every call, talks TALK_MS, hangs up first."""
    return answering_phone(tmp, "127.0.0.1", 5080, 6080, TALK_MS, "-max_socket", "400")


def step(config: Path, sipp: Sipp, rate: float, seconds: int, tag: str, survey: bool) -> dict[str, object]:
    count = max(1, int(rate * seconds))
    caller = f"1{tag}"
    if survey:
        xml = sipp.tmp / "caller-dtmf-1.xml"
        pcap = Path("/usr/share/sip-tester/dtmf_2833_1.pcap")
        xml.write_text((SIPP_DIR / "caller_dtmf.xml").read_text().replace("@DTMF_PCAP@", str(pcap)))
        scenario, pause = xml, KEY_MS
    else:
        scenario, pause = sipp.caller_xml, TALK_MS // 2  # hangs up before the agent does: no survey
    started = time.monotonic()
    proc = offer(sipp, scenario, caller, pause, rate, count, seconds + 90)
    result: dict[str, object] = {"rate": rate, "calls": count, "sipp_ok": proc.returncode == 0}
    result["elapsed"] = time.monotonic() - started
    result["stuck"] = channels_left(config)

    def mine() -> list[dict[str, object]]:
        return [c for c in calls(config, limit=5000) if c["caller"] == caller and c["state"] in ("ended", "abandoned")]

    def complete() -> list[dict[str, object]] | None:
        got = mine()
        if len(got) < count:
            return None
        if survey and sum(1 for c in got if c.get("satisfaction") == "satisfied") < count:
            return None
        return got

    try:
        got = wait_for(complete, 20, f"{count} stored calls")
    except AssertionError:
        got = mine()
    result["stored"] = len(got)
    result["rated"] = sum(1 for c in got if c.get("satisfaction") == "satisfied") if survey else "-"
    result["ok"] = (
        result["sipp_ok"] and result["stuck"] == 0 and len(got) == count and (not survey or result["rated"] == count)
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="8,16,24")
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--agents", type=int, default=AGENTS, help="queue members (agent legs at once)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still tears the stack down
    rates = [float(r) for r in args.rates.split(",")]
    knees: dict[str, float] = {}
    with real_stack(agents=args.agents) as (tmp, config):
        sipp = Sipp(tmp, make_speech(tmp, seconds=3))
        agents = agents_hanging_up(tmp)
        try:
            add_members(config, args.agents)
            with cti_running(config, tmp / "cti.log"):
                for survey in (False, True):
                    mode = "survey" if survey else "baseline"
                    print(f"\n{mode}: {'callers rate by keypad' if survey else 'callers hang up first, no survey'}")
                    print(f"{'rate/s':>7} {'calls':>6} {'sipp':>5} {'stored':>7} {'rated':>6} {'stuck':>6} {'pass':>5}")
                    knee = 0.0
                    for i, rate in enumerate(rates):
                        tag = f"{mode[0]}{i}{int(time.time()) % 10000:04d}"
                        r = step(config, sipp, rate, args.seconds, tag, survey)
                        print(
                            f"{rate:7.1f} {r['calls']!s:>6} {'ok' if r['sipp_ok'] else 'FAIL':>5} {r['stored']!s:>7} "
                            f"{r['rated']!s:>6} {r['stuck']!s:>6} {'yes' if r['ok'] else 'no':>5}",
                            flush=True,
                        )
                        if not r["ok"]:
                            break
                        knee = rate
                    knees[mode] = knee
                survey_lines = (tmp / "cti.log").read_text(errors="replace").count(": satisfied")
        finally:
            agents.terminate()
            agents.wait(timeout=10)
            sipp.stop()
    print(f"\nsurvey answers logged by the FastAGI script: {survey_lines}")
    print(
        f"highest passing rate: baseline {knees.get('baseline', 0):.1f} calls/s, "
        f"with the survey {knees.get('survey', 0):.1f} calls/s (of the rates tried: {args.rates})"
    )


if __name__ == "__main__":
    main()
