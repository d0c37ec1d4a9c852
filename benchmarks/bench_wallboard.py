"""Wallboard update latency under load: from the call tracker handling an AMI event to the pushed `wallboard`
snapshot that shows it arriving on a supervisor's websocket.

    .venv/bin/python benchmarks/bench_wallboard.py [--day-calls 10000] [--rates 10,50,200] [--seconds 10]

A temporary SQLite database (WAL) holds `--day-calls` finished calls of today (the load of a large centre's
day so far). The real CallTracker writes through the real store and publishes to the real LinkServer; a
supervisor is signed in over a real websocket on loopback and subscribed. Synthetic AMI events (each call:
HotlineCall, QueueCallerJoin, AgentCalled, AgentConnect, AgentComplete; about 13 calls in flight) are fed
at each `--rates` events per second for `--seconds`. Marker calls on 12350 arrive about twice a second
(every call at the lowest rate); a marker's latency is from just before the tracker handles its arrival to
the first snapshot received whose 12350 count includes it. Default coalescing (at most one snapshot per
0.25 s, a tick every 5 s).

Baseline in the same run, on the same records: `compute()` reading the whole day (what `hotline wallboard`
does), and one incremental refresh of the cache the live wallboard uses, with its figures.
Server, tracker and client share one process and event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from ari_app.auth import hash_password  # noqa: E402
from ari_app.calls.events import CallEvent, QueueMemberChanged  # noqa: E402
from ari_app.calls.store import SqlCallStore  # noqa: E402
from ari_app.calls.tracker import CallTracker  # noqa: E402
from ari_app.cases import CaseSettings, configure  # noqa: E402
from ari_app.config import Agent, load_config  # noqa: E402
from ari_app.link import LinkServer, LinkSettings  # noqa: E402
from ari_app.server import ConfigAgents  # noqa: E402
from ari_app.supervision.wallboard import TodayCalls, compute, day_start  # noqa: E402
from benchmarks.measure import insert_batches, pct  # noqa: E402
from schema.calls import CallRecord  # noqa: E402
from schema.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from schema.users import Role, User  # noqa: E402
from tests.support.link import FakeQueue  # noqa: E402

PASSWORD = "benchmark password"
HOTLINES = ["12345", "12319", "12358", "12350"]
BACKGROUND = ["12345", "12319", "12358"]
MARKER = "12350"


def fill(url: str, n: int, tz: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    start = day_start(now, tz)
    span = max(1.0, (now - start).total_seconds() - 60)
    rng = random.Random(42)
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [{"login": "sup", "display_name": "班长", "role": Role.SUPERVISOR, "active": True,
              "password_hash": hash_password(PASSWORD, n=2**10)}],
        )  # fmt: skip

        def calls() -> Iterator[dict[str, Any]]:
            for i in range(n):
                arrived = start + timedelta(seconds=span * i / n)
                wait = rng.choice([3, 5, 8, 12, 20, 40])
                answered = rng.random() > 0.05
                yield {
                    "linkedid": f"day.{i}",
                    "hotline": HOTLINES[i % 4],
                    "dialed": HOTLINES[i % 4],
                    "caller": "139",
                    "agent": str(3000 + i % 50) if answered else None,
                    "state": "ended" if answered else "abandoned",
                    "arrived_at": arrived,
                    "answered_at": arrived + timedelta(seconds=wait) if answered else None,
                    "ended_at": arrived + timedelta(seconds=wait + 120),
                    "wait_seconds": wait if answered else None,
                    "talk_seconds": 120.0 if answered else None,
                    "end_reason": "caller_hangup" if answered else "abandoned",
                }

        insert_batches(conn, CallRecord, calls())
    engine.dispose()


def call_events(c: str, hotline: str, agent: int) -> list[dict[str, str]]:
    iface = f"PJSIP/{agent}"
    chan = f"PJSIP/carrier-telecom-{c}"
    base = {"Linkedid": c, "Uniqueid": c, "Channel": chan}
    return [
        {**base, "Event": "UserEvent", "UserEvent": "HotlineCall", "Hotline": hotline, "Caller": "13900000000"},
        {**base, "Event": "QueueCallerJoin", "Queue": "hotline", "Position": "1"},
        {**base, "Event": "AgentCalled", "Interface": iface, "DestChannel": f"{iface}-{c}", "MemberName": str(agent)},
        {**base, "Event": "AgentConnect", "Interface": iface, "DestChannel": f"{iface}-{c}"},
        {**base, "Event": "AgentComplete", "Reason": "caller"},
    ]


async def run_rate(
    tracker: CallTracker, link: LinkServer, boards: list[tuple[float, dict[str, Any]]], rate: float, seconds: float,
    state: dict[str, int],
) -> dict[str, Any]:  # fmt: skip
    """Feed `rate` events/s for `seconds`; return marker latencies and push counts."""
    n_events = int(rate * seconds)
    calls_per_s = rate / 5
    every = max(1, round(calls_per_s * 0.5))
    plans: dict[int, list[dict[str, str]]] = {}
    markers: dict[int, int] = {}  # call number -> the 12350 count its arrival makes
    latencies: list[float] = []
    pending: list[tuple[int, float]] = []
    start_boards = len(boards)
    t_start = time.perf_counter()
    slot = 0
    checked = len(boards)
    while slot < n_events or pending:
        due = min(n_events, int((time.perf_counter() - t_start) * rate) + 1)
        while slot < due:
            k = slot % 5
            c = slot // 5 - 3 * k
            slot += 1
            if c < 0:
                continue
            if k == 0:
                state["calls"] += 1
                number = state["calls"]
                marker = c % every == 0
                plans[c] = call_events(f"bench.{number}", MARKER if marker else BACKGROUND[c % 3], 3000 + c % 50)
                if marker:
                    state["markers"] += 1
                    markers[c] = state["markers"]
            event = plans[c][k]
            t0 = time.perf_counter()
            tracker.handle(event)
            tracker.publish_pending()
            await tracker.bus.settle()
            if k == 0 and c in markers:
                pending.append((markers.pop(c), t0))
            if k == 4:
                plans.pop(c, None)
        for t_recv, board in boards[checked:]:
            seen = sum(board["calls_per_15_minutes"].get(MARKER, [0]))
            still = []
            for count, t0 in pending:
                if seen - state["base"] >= count:
                    latencies.append(t_recv - t0)
                else:
                    still.append((count, t0))
            pending = still
        checked = len(boards)
        if slot >= n_events and pending and time.perf_counter() - t_start > seconds + 10:
            break  # pragma: no cover - a marker never showed
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - t_start
    return {
        "rate": rate,
        "latencies": latencies,
        "lost": len(pending),
        "pushes": len(boards) - start_boards,
        "elapsed": elapsed,
    }


async def bench(day_calls: int, rates: list[float], seconds: float) -> None:
    cfg = load_config(ROOT / "config.yaml")
    agents = tuple(Agent(str(3000 + i), f"坐席{i}", str(3000 + i), ("zh",)) for i in range(50))
    cfg = replace(cfg, agents=agents)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t = time.perf_counter()
        fill(url, day_calls, cfg.timezone)
        print(f"database: {day_calls} calls of today loaded in {time.perf_counter() - t:.1f} s")
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        configure(sessions, CaseSettings.from_config(cfg))
        settings = LinkSettings(
            host="127.0.0.1", port=0, queue="hotline", wrapup_seconds=0, token_file=None, offline_pause_seconds=0
        )
        link = LinkServer(cfg, sessions, FakeQueue(), settings=settings)
        snapshot_times: list[float] = []
        original = link.supervisor.snapshot

        async def timed() -> dict[str, Any]:
            t0 = time.perf_counter()
            try:
                return await original()
            finally:
                snapshot_times.append(time.perf_counter() - t0)

        link.supervisor.snapshot = timed  # type: ignore[method-assign]
        tracker = CallTracker(SqlCallStore(sessions), ConfigAgents(cfg), HOTLINES)
        tracker.bus.subscribe(link.on_call_event, CallEvent, QueueMemberChanged)
        await link.start()
        ws = await connect(link.url, max_size=2**22)
        await ws.send(json.dumps({"type": "hello", "id": 1, "version": "1.0"}))
        await ws.recv()
        await ws.send(json.dumps({"type": "sign_in", "id": 2, "agent_id": "sup", "password": PASSWORD}))
        await ws.recv()
        await ws.send(json.dumps({"type": "wallboard_subscribe", "id": 3}))
        first = json.loads(await ws.recv())
        boards: list[tuple[float, dict[str, Any]]] = []

        async def read() -> None:
            async for frame in ws:
                t_recv = time.perf_counter()
                msg = json.loads(frame)
                if msg.get("type") == "wallboard":
                    boards.append((t_recv, msg))

        reader = asyncio.ensure_future(read())
        state = {"calls": 0, "markers": 0, "base": sum(first["calls_per_15_minutes"].get(MARKER, [0]))}
        results = []
        for rate in rates:
            snapshot_times.clear()
            r = await run_rate(tracker, link, boards, rate, seconds, state)
            r["snapshot"] = list(snapshot_times)
            results.append(r)
        reader.cancel()
        await ws.close()
        await link.stop()

        # baseline: the same records, read whole (hotline wallboard) and incrementally (the live cache)
        now = datetime.now(UTC)
        full: list[float] = []
        for _ in range(10):
            t0 = time.perf_counter()
            with sessions() as s:
                compute(s, HOTLINES, now=now, timezone=cfg.timezone)
            full.append(time.perf_counter() - t0)
        today = TodayCalls(sessions, cfg.timezone, HOTLINES)
        t0 = time.perf_counter()
        board = today.refresh(now)
        first_full = time.perf_counter() - t0
        incremental: list[float] = []
        for _ in range(10):
            t0 = time.perf_counter()
            today.refresh(now)
            incremental.append(time.perf_counter() - t0)
        total_rows = sum(sum(v) for v in board.intervals.values())
        engine.dispose()
    ms = 1000.0
    print(
        f"baseline on {total_rows} calls of today: compute() reading the whole day "
        f"median {statistics.median(full) * ms:.1f} ms; the live cache: first (full) read "
        f"{first_full * ms:.1f} ms, then each refresh median {statistics.median(incremental) * ms:.1f} ms"
    )
    print("rate ev/s  markers  latency p50 / p95 / max (ms)   pushes/s  snapshot build p50 / max (ms)")
    for r in results:
        lat = r["latencies"] or [float("nan")]
        snap = r["snapshot"] or [float("nan")]
        print(
            f"{r['rate']:>9.0f}  {len(r['latencies']):>7}  "
            f"{pct(lat, 0.5) * ms:>7.1f} / {pct(lat, 0.95) * ms:>6.1f} / {max(lat) * ms:>6.1f}       "
            f"{r['pushes'] / r['elapsed']:>6.2f}    {pct(snap, 0.5) * ms:>6.1f} / {max(snap) * ms:>6.1f}"
            + (f"  ({r['lost']} markers never shown)" if r["lost"] else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day-calls", type=int, default=10_000)
    parser.add_argument("--rates", default="10,50,200")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(bench(args.day_calls, [float(r) for r in args.rates.split(",")], args.seconds))


if __name__ == "__main__":
    main()
