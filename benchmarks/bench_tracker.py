"""How fast the call tracker consumes AMI events, against panoramisk's raw parsing of the same bytes.

Replays the AMI traffic recorded from the real Asterisk (tests/fixtures/ami) REPEAT times, in 4 KiB
chunks as a socket would deliver it, and prints events per second for:
  raw     panoramisk's AMIProtocol parsing the bytes into Messages (the floor: nothing is faster)
  tracker the same parsing plus CallTracker.handle for every event, calls kept in memory
  stored  the same plus every call transition written to SQLite, one transaction each
  batch10, batch100  the same, one transaction per 10 / 100 events (the server writes once per burst of
          events read from AMI; in a call storm bursts are large)
and the ratios to raw. Usage: .venv/bin/python benchmarks/bench_tracker.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ari_app.ami import parse_stream
from ari_app.calls.model import Call
from ari_app.calls.store import SqlCallStore
from ari_app.calls.tracker import CallTracker
from schema.db import make_engine, make_sessionmaker, upgrade

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami"
HOTLINES = ("12345", "12319", "12358", "12350")


class NullSink:
    def save(self, call: Call) -> None:
        pass


class Agents:
    def agent_id_for(self, interface: str) -> str | None:
        return interface.rsplit("/", 1)[-1]


def stream(repeat: int) -> bytes:
    parts = []
    for path in sorted(FIXTURES.glob("*.ami")):
        data = path.read_bytes()
        parts.append(data.split(b"\r\n", 1)[1])  # drop the banner line
    body = b"".join(parts)
    out = [b"Asterisk Call Manager/11.0.0\r\n"]
    for i in range(repeat):
        # distinct Linkedids per pass, so every pass is new calls rather than replays of ended ones
        out.append(
            body.replace(b"Linkedid: 17959", f"Linkedid: {i:05d}".encode()).replace(
                b"Uniqueid: 17959", f"Uniqueid: {i:05d}".encode()
            )
        )
    return b"".join(out)


def run(data: bytes, mode: str) -> tuple[float, int]:
    if mode == "raw":
        t0 = time.perf_counter()
        events = parse_stream(data)
        return time.perf_counter() - t0, len(events)
    if mode == "tracker":
        tracker = CallTracker(NullSink(), Agents(), HOTLINES)
        store = None
    else:
        tmp = tempfile.mkdtemp()
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        store = SqlCallStore(make_sessionmaker(engine))
        tracker = CallTracker(store, Agents(), HOTLINES)
    per = BATCHES.get(mode, 1)
    t0 = time.perf_counter()
    events = parse_stream(data)
    for start in range(0, len(events), per):
        if store is not None and per > 1:
            with store.batch():  # as the server does: one transaction per burst of events read from AMI
                for event in events[start : start + per]:
                    tracker.handle(event)
                    tracker.drain()
        else:
            for event in events[start : start + per]:
                tracker.handle(event)
                tracker.drain()
    return time.perf_counter() - t0, len(events)


BATCHES = {"batch10": 10, "batch100": 100}
"""Events per transaction in the batched modes (the server writes once per burst read from AMI)."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=200, help="passes over the recorded traffic (default 200)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per mode; the median is reported")
    args = ap.parse_args()
    data = stream(args.repeat)
    results = {}
    for mode in ("raw", "tracker", "stored", "batch10", "batch100"):
        rounds = [
            run(data if mode != "stored" else stream(max(1, args.repeat // 20)), mode) for _ in range(args.rounds)
        ]
        secs = statistics.median(r[0] for r in rounds)
        results[mode] = rounds[0][1] / secs
        print(f"{mode:8} {rounds[0][1]:8d} events  {secs:7.3f} s  {results[mode]:10.0f} events/s")
    raw = results["raw"]
    print(f"tracker/raw = {results['tracker'] / raw:.2f}   stored/raw = {results['stored'] / raw:.3f}")
    for mode in ("batch10", "batch100"):
        print(f"{mode}/raw = {results[mode] / raw:.3f}   {mode}/stored = {results[mode] / results['stored']:.1f}x")
    per_call = sum(len(parse_stream(p.read_bytes())) for p in FIXTURES.glob("*.ami")) / 11
    for mode in ("stored", "batch10", "batch100"):
        print(f"{mode} path ~ {results[mode] / per_call:.0f} calls/s (11 calls in the recorded traffic)")


if __name__ == "__main__":
    main()
