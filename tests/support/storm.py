"""A call storm against the real stack, shared by the storm end-to-end test and `benchmarks/bench_storm.py`.

SIPp places `rate` x `seconds` calls from the carrier trunk, spread over the hotlines, each from its own
calling number (so every call can be found in the call records). A caller sends no audio; it either hears
the platform hang up (the overflow message ended, or the queue gave up) or hangs up itself after `hold_ms`
of waiting in the queue. Afterwards the storm is judged from what the platform stored and from Asterisk:

- *queued*: the call record shows the call reached the queue (it waited, was answered, or gave up there);
- *overflow*: the record says admission control refused the call (`end_reason` overflow); of these,
  *busy* were refused unanswered with busy (SIP 486) because the overflow announcements were at their limit,
  and *shed* with 503 Service Unavailable because the platform measured itself overloaded
  (ari_app/load.py);
- *lost*: any other outcome: no record, a record that never ended, or SIPp saw the call fail (refused at
  SIP level, no answer, a timeout); *timeouts* are the calls SIPp gave up on for want of an answer
  (its INVITE retransmissions exhausted, or a reply that never came);
- *stuck*: channels of the storm's calls Asterisk still has 30 s after the last call (or *wedged*: Asterisk
  no longer answers its command line);
- and whether a normal call placed right after the storm is answered by an agent, and how fast.
"""

from __future__ import annotations

import functools
import os
import random
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ari_app.asterisk_ctl import AsteriskHost
from ari_app.config import load_config
from tests.support.e2e import SIPP_DIR, Sipp, calls, hotline
from tests.support.waiting import wait_for

HOTLINES = ("12345", "12319", "12358", "12350")
TERMINAL = ("ended", "abandoned", "rejected")


@dataclass
class StormResult:
    rate: float
    seconds: float
    offered: int
    sipp_ok: int = 0
    sipp_failed: int = 0
    queued: int = 0
    overflow: int = 0
    busy: int = 0  # of the overflow calls: refused with busy (486) rather than answered with the message
    shed: int = 0  # ... and those refused with 503 Service Unavailable (the platform shedding load)
    timeouts: int = 0  # calls SIPp gave up on for want of an answer (MaxUDPRetrans, TimeoutOnRecv)
    other: Counter[str] = field(default_factory=Counter)
    untracked: int = 0
    stuck: int = 0
    elapsed: float = 0.0
    after_storm_answer_s: float | None = None  # a normal call once the storm's calls are gone: seconds to an agent
    after_storm_record_s: float | None = None  # ... and until the CTI server's record showed it answered
    after_storm_notes: list[str] = field(default_factory=list)  # its refused attempts, or why none got through
    sipp_errors: Counter[str] = field(default_factory=Counter)
    unresponsive: bool = False  # Asterisk did not answer `core show channels` after the storm (wedged)
    asterisk_cpu_s: float | None = None  # CPU seconds Asterisk used while SIPp ran the storm
    cti_cpu_s: float | None = None  # ... and the CTI server

    def cpu_line(self) -> str:
        if self.asterisk_cpu_s is None:
            return "cpu: -"
        text = f"cpu: Asterisk {self.asterisk_cpu_s:.1f} s ({1000 * self.asterisk_cpu_s / self.offered:.2f} ms/call)"
        if self.cti_cpu_s is not None:
            text += f", CTI server {self.cti_cpu_s:.1f} s ({1000 * self.cti_cpu_s / self.offered:.2f} ms/call)"
        return text

    @property
    def lost(self) -> int:
        return self.offered - self.queued - self.overflow

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.sipp_failed == 0 and self.stuck == 0 and not self.unresponsive

    def line(self) -> str:
        after = "-" if self.after_storm_answer_s is None else f"{self.after_storm_answer_s:.1f} s"
        other = ", ".join(f"{k} {v}" for k, v in sorted(self.other.items())) or "-"
        if self.sipp_errors:
            other += "\n  SIPp: " + "\n  SIPp: ".join(f"{v} x {k}" for k, v in self.sipp_errors.most_common(8))
        return (
            f"{self.rate:7.1f} {self.offered:7} {self.sipp_ok:7} {self.sipp_failed:7} {self.queued:7} "
            f"{self.overflow:8} {self.busy:6} {self.shed:6} {self.timeouts:8} {self.lost:6} "
            f"{'wedged' if self.unresponsive else self.stuck:>6} "
            f"{after:>9}  {other}"
        )

    @staticmethod
    def header() -> str:
        return (
            f"{'rate/s':>7} {'offered':>7} {'sipp ok':>7} {'failed':>7} {'queued':>7} {'overflow':>8} {'busy':>6} "
            f"{'shed':>6} {'timeouts':>8} {'lost':>6} {'stuck':>6} {'next call':>9}  other outcomes"
        )


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds a process has used (None if there is no such process)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def asterisk_pid(config: Path) -> int | None:
    """The process id of the deployment's Asterisk (its pid file), None if it is not running."""
    return AsteriskHost.for_config(load_config(config)).pid()


def _last_row(csv: Path) -> dict[str, str]:
    lines = [x for x in csv.read_text().splitlines() if x.strip()]
    return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))


@dataclass
class SippCounts:
    ok: int
    failed: int
    timeouts: int  # failed for want of an answer: INVITE retransmissions exhausted, or a reply never came
    busy: int  # 486 responses received
    unavailable: int  # 503 responses received
    errors: Counter[str]


def _sipp_counts(stat_file: Path, counts_dir: Path) -> SippCounts:
    """Successful and failed calls (-trace_stat), the 486 and 503 responses received (-trace_counts), and
    what SIPp's error log says went wrong (-trace_err), by kind."""
    row = _last_row(stat_file)
    received: Counter[str] = Counter()
    for counts in counts_dir.glob("storm-*_counts.csv"):
        for k, v in _last_row(counts).items():
            for code in ("486", "503"):
                if k.endswith(f"_{code}_Recv") and v.strip().isdigit():
                    received[code] += int(v)
        counts.unlink()
    errors: Counter[str] = Counter()
    for log in counts_dir.glob("storm-*_errors.log"):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(("SIP/2.0 ", "Reason:", "Warning:")):
                errors[line.strip()[:110]] += 1  # the refusal SIPp did not expect, and why
            if "jumping to label" in line or not re.match(r"\d{4}-\d\d-\d\d", line):
                continue  # SIPp logs each error on a line of its own with the time, then the message
            errors[re.sub(r"[0-9a-f]*[0-9][0-9a-f]*", "N", line.split(": ", 1)[-1].strip())[:110]] += 1
        keep = os.environ.get("HOTLINE_STORM_KEEP_LOGS")  # a folder to keep SIPp's error logs in
        if keep:
            shutil.move(log, Path(keep) / log.name)
        else:
            log.unlink()
    timeouts = sum(int(row.get(k, "0") or 0) for k in ("FailedMaxUDPRetrans(C)", "FailedTimeoutOnRecv(C)"))
    return SippCounts(
        int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"]), timeouts, received["486"], received["503"], errors
    )


def storm(
    config: Path,
    sipp: Sipp,
    rate: float,
    seconds: float,
    hold_ms: int = 8000,
    settle: float = 30,
    records_timeout: float = 120,
    cti_pid: int | None = None,
) -> StormResult:
    """Run one storm and judge it (see the module docstring). Needs the CTI server running on `config`
    (its process id, if given, to report the CPU it used)."""
    offered = max(1, int(rate * seconds))
    tag = f"{random.randrange(10**4):04d}"
    prefix = f"18{tag}"
    callers = [f"{prefix}{i:05d}" for i in range(offered)]
    inf = sipp.tmp / f"storm-{tag}.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{HOTLINES[i % len(HOTLINES)]};{c}\n" for i, c in enumerate(callers)))
    xml = sipp.tmp / f"storm-{hold_ms}.xml"
    xml.write_text((SIPP_DIR / "storm_caller.xml").read_text().replace("@HOLD_MS@", str(hold_ms)))
    stat = sipp.tmp / f"storm-{tag}.csv.stat"
    ast_pid = asterisk_pid(config)
    cpu_before = cpu_seconds(ast_pid), cpu_seconds(cti_pid)
    started = time.monotonic()
    subprocess.run(
        [
            "sipp", "127.0.0.1:5060", "-sf", str(xml), "-inf", str(inf), "-i", "127.0.0.2",
            "-p", str(sipp._next_sip_port()), "-mp", "40000",
            "-r", str(rate), "-rp", "1000", "-m", str(offered), "-l", str(offered),
            "-nostdin", "-timeout", str(int(seconds + hold_ms / 1000 + 120)), "-timeout_error",
            "-trace_stat", "-stf", str(stat), "-trace_counts", "-trace_err", "-fd", "1",
        ],
        cwd=sipp.tmp, capture_output=True, text=True, check=False,
    )  # fmt: skip
    result = StormResult(rate=rate, seconds=seconds, offered=offered, elapsed=time.monotonic() - started)
    cpu_after = cpu_seconds(ast_pid), cpu_seconds(cti_pid)
    if cpu_before[0] is not None and cpu_after[0] is not None:
        result.asterisk_cpu_s = cpu_after[0] - cpu_before[0]
    if cpu_before[1] is not None and cpu_after[1] is not None:
        result.cti_cpu_s = cpu_after[1] - cpu_before[1]
    counts = _sipp_counts(stat, sipp.tmp)
    result.sipp_ok, result.sipp_failed, result.timeouts = counts.ok, counts.failed, counts.timeouts
    result.busy, result.shed, result.sipp_errors = counts.busy, counts.unavailable, counts.errors
    end = time.monotonic()
    try:
        wait_for(lambda: _storm_channels(config, prefix) == 0 or None, settle, "the storm's channels gone", interval=1)
    except AssertionError:
        left = _storm_channels(config, prefix)
        result.stuck = left or 0
        result.unresponsive = left is None
    # once the storm's calls are gone: a caller arriving while the platform is still full of them is refused
    # by admission control, as it should be (seen with the CPU hog, where the storm's last calls drain slower)
    result.after_storm_answer_s, result.after_storm_record_s, result.after_storm_notes = _normal_call(config, sipp)
    # the records: wait (bounded) until every storm call the server saw has ended
    mine: dict[str, dict[str, object]] = {}

    def all_ended() -> bool | None:
        mine.clear()
        try:
            found = calls(config, limit=offered + 1000)
        except subprocess.TimeoutExpired:
            return None
        for c in found:
            if isinstance(c["caller"], str) and c["caller"].startswith(prefix):
                mine[c["caller"]] = c
        return (len(mine) == offered and all(c["state"] in TERMINAL for c in mine.values())) or None

    try:
        wait_for(all_ended, max(5.0, records_timeout - (time.monotonic() - end)), "the storm's records", interval=2)
    except AssertionError:
        pass
    for caller in callers:
        rec = mine.get(caller)
        if rec is None:
            result.untracked += 1
            result.other["no record"] += 1
        elif rec["end_reason"] == "overflow":
            result.overflow += 1
        elif rec["state"] in ("ended", "abandoned") and rec["queue"]:
            result.queued += 1
        else:
            result.other[f"{rec['state']}/{rec['end_reason']}"] += 1
    return result


_CALLER_SEQ = iter(range(10**6))


def _concise(config: Path) -> list[list[str]] | None:
    """Asterisk's channels now (`core show channels concise`, split into fields); None if Asterisk does not
    answer (wedged)."""
    try:
        out = hotline(config, "asterisk", "cli", "core show channels concise", timeout=30).stdout
    except subprocess.TimeoutExpired:
        return None
    return [line.split("!") for line in out.splitlines()]


def _storm_channels(config: Path, prefix: str) -> int | None:
    """Channels Asterisk still has for the storm's calls (both legs carry the caller's number), so channels
    of anything else running on the same Asterisk do not count. None if Asterisk does not answer."""
    rows = _concise(config)
    return None if rows is None else sum(1 for f in rows if len(f) > 7 and f[7].startswith(prefix))


def _bridged(config: Path, caller: str) -> bool | None:
    """Whether Asterisk has the caller's channel bridged to an agent (None if not, or if it does not answer)."""
    rows = _concise(config) or []
    return any(len(f) > 12 and f[7] == caller and f[5] == "Queue" and f[12] for f in rows) or None


REDIAL_S = 1.0
"""How long a refused caller waits before dialling again."""


def _normal_call(config: Path, sipp: Sipp, timeout: float = 10) -> tuple[float | None, float | None, list[str]]:
    """Place ordinary calls to 12345 (talking 8 s once answered) as a caller would right after the storm:
    one refused (busy, or 503 while the platform still sheds the storm's load: ari_app/load.py keeps shedding
    until its SIP round trip has been low for a few seconds) dials again `REDIAL_S` later. Returns the seconds
    from the first dial until Asterisk bridged a call to an agent (None if not within `timeout`), until the
    CTI server's record showed it answered, and what went wrong on the way (each refused attempt's record,
    and the queue as Asterisk saw it if no call got through), for the test's message."""
    started = time.monotonic()
    notes: list[str] = []
    while (left := timeout - (time.monotonic() - started)) > 0:
        caller = f"1391{random.randrange(10**4):04d}{next(_CALLER_SEQ) % 1000:03d}"
        proc = sipp.call("12345", caller, talk_ms=8000, wait=False)
        try:
            outcome = wait_for(
                functools.partial(_outcome, config, caller, proc),
                left,
                "a normal call answered after the storm",
                interval=0.2,
            )
        except AssertionError:
            notes.append(f"{caller}: not bridged after {timeout:.0f} s; {_queue_state(config)}")
            _end(proc)
            break
        if outcome == "ended":
            notes.append(f"{caller}: refused ({_record_of(config, caller)}) at {time.monotonic() - started:.1f} s")
            time.sleep(REDIAL_S)
            continue
        answered = time.monotonic() - started
        recorded = None
        try:
            wait_for(
                functools.partial(_recorded_answered, config, caller),
                60,
                "the normal call's record answered",
                interval=0.2,
            )
            recorded = time.monotonic() - started
        except AssertionError:
            notes.append(f"{caller}: bridged, but its record never showed it answered")
        _end(proc)
        return answered, recorded, notes
    return None, None, notes


def _outcome(config: Path, caller: str, proc: subprocess.Popen[bytes]) -> str | None:
    """ "bridged" once Asterisk bridged `caller` to an agent, "ended" if its SIPp ended first, else None."""
    if _bridged(config, caller):
        return "bridged"
    return "ended" if proc.poll() is not None else None


def _recorded_answered(config: Path, caller: str) -> bool | None:
    return any(c["caller"] == caller and c["answered_at"] for c in _recent(config)) or None


def _end(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _record_of(config: Path, caller: str) -> str:
    """`state/end_reason` of `caller`'s call as the CTI server recorded it ("no record" if none)."""
    found = [c for c in _recent(config) if c["caller"] == caller]
    return f"{found[0]['state']}/{found[0]['end_reason']}" if found else "no record"


def _queue_state(config: Path) -> str:
    """The hotline queue's members and callers as Asterisk reports them, on one line."""
    try:
        out = hotline(config, "asterisk", "cli", "queue show hotline", timeout=30).stdout
    except subprocess.TimeoutExpired:
        return "Asterisk did not answer `queue show`"
    return " | ".join(line.strip() for line in out.splitlines() if line.strip())


def _recent(config: Path) -> list[dict[str, object]]:
    try:
        return calls(config, limit=50)
    except subprocess.TimeoutExpired:  # the machine is still loaded by the storm
        return []


def overflow_limits(config: Path, max_calls: int, max_queue: int, max_announcements: int | None = None) -> None:
    """Set the platform's admission limits in a test config (takes effect at the next `asterisk up`)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["admission"]["max_calls"], data["admission"]["max_queue"] = max_calls, max_queue
    if max_announcements is not None:
        data["admission"]["max_announcements"] = max_announcements
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def knee(
    config: Path, sipp: Sipp, rate: float = 20, seconds: float = 5, cti_pid: int | None = None
) -> tuple[float, StormResult]:
    """The storm's knee on this machine, measured now: the call rate (calls/s) at which the storm's kind of
    call (`storm`, hold 8 s) would keep every core busy with Asterisk alone, from the CPU seconds Asterisk
    spent per call in a short calibration storm at `rate` (low enough that nearly every call is served:
    queued, answered or held with music, recorded). Returns the knee and the calibration's result."""
    result = storm(config, sipp, rate, seconds, hold_ms=8000, cti_pid=cti_pid)
    if not result.asterisk_cpu_s:
        raise AssertionError("the calibration storm measured no Asterisk CPU time")
    per_call = result.asterisk_cpu_s / result.offered
    return (os.cpu_count() or 1) / per_call, result
