"""Screen-pop latency: from the call tracker handing `CallRinging` to the link server (`on_call_event`) to the
`screen_pop` message arriving on the agent desktop's websocket, caller history lookup included.

    .venv/bin/python benchmarks/bench_screenpop.py [--cases 100000] [--rounds 200] [--agents 50]

A temporary SQLite database (WAL) is filled with `--cases` cases (plain inserts; callers repeat, so most pops
carry history), `--agents` agents sign in over real websockets on loopback, and the fake queue stands in for
Asterisk. Measured: one ringing call at a time, and `--agents` calls ringing at once (one per agent).
Server and desktops share one process and event loop, as a lower bound for the link's own cost.
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
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from ari_app.auth import hash_password  # noqa: E402
from ari_app.calls.events import CallRinging  # noqa: E402
from ari_app.cases import CaseSettings, configure  # noqa: E402
from ari_app.config import Agent, load_config  # noqa: E402
from ari_app.link import LinkServer, LinkSettings  # noqa: E402
from schema.cases import Case  # noqa: E402
from schema.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from schema.users import Role, User  # noqa: E402

PASSWORD = "benchmark password"


class NullQueue:
    async def queue_add(self, queue: str, interface: str, member_name: str, paused: bool = False) -> None:
        pass

    async def queue_remove(self, queue: str, interface: str) -> None:
        pass

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str = "") -> None:
        pass


def fill(url: str, n_cases: int, agents: list[Agent]) -> list[str]:
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(42)
    callers = [f"139{rng.randrange(10**8):08d}" for _ in range(max(1, n_cases // 4))]
    hotlines = ["12345", "12319", "12358", "12350"]
    start = datetime(2025, 11, 29, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "login": a.id,
                    "display_name": a.name,
                    "role": Role.AGENT,
                    "password_hash": hash_password(PASSWORD, n=2**10),
                    "active": True,
                }
                for a in agents
            ],
        )
        batch: list[dict[str, Any]] = []
        for i in range(n_cases):
            at = start + timedelta(seconds=i * 300)
            h = hotlines[i % 4]
            batch.append(
                {
                    "number": f"{h}-{at:%Y%m%d}-{i:06d}",
                    "channel": "phone",
                    "hotline": h,
                    "caller": rng.choice(callers),
                    "request": "路灯不亮，晚上出行不便，请尽快处理",
                    "address": "新华北路 1 号",
                    "urgency": "normal",
                    "language": "zh",
                    "handling": "dispatch",
                    "status": "received",
                    "created_at": at,
                    "updated_at": at,
                    "created_by_login": "1001",
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(Case), batch)
                batch = []
        if batch:
            conn.execute(insert(Case), batch)
    engine.dispose()
    return callers


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def bench(n_cases: int, rounds: int, n_agents: int) -> None:
    cfg = load_config(ROOT / "config.yaml")
    agents = [Agent(str(3000 + i), f"坐席{i}", str(3000 + i), ("zh",)) for i in range(n_agents)]
    cfg = replace(cfg, agents=tuple(agents))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t = time.perf_counter()
        callers = fill(url, n_cases, agents)
        print(f"database: {n_cases} cases loaded in {time.perf_counter() - t:.1f} s")
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        configure(sessions, CaseSettings.from_config(cfg))
        settings = LinkSettings(
            host="127.0.0.1", port=0, queue="hotline", wrapup_seconds=0, token_file=None, offline_pause_seconds=0
        )
        link = LinkServer(cfg, sessions, NullQueue(), settings=settings)
        await link.start()
        desks: list[ClientConnection] = []
        for a in agents:
            ws = await connect(link.url)
            await ws.send(json.dumps({"type": "hello", "version": "1.0"}))
            await ws.recv()
            await ws.send(json.dumps({"type": "sign_in", "agent_id": a.id, "password": PASSWORD}))
            while json.loads(await ws.recv())["type"] != "agent_state":
                pass
            desks.append(ws)
        rng = random.Random(7)
        seq = 0

        async def pop_on(i: int, t0: float) -> float:
            while True:
                msg = json.loads(await desks[i].recv())
                if msg["type"] == "screen_pop":
                    return time.perf_counter() - t0

        def ring(i: int) -> CallRinging:
            nonlocal seq
            seq += 1
            a = agents[i]
            return CallRinging(f"b.{seq}", datetime.now(UTC), a.id, a.interface, "12319", rng.choice(callers), 3.0)

        single: list[float] = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            waiter = asyncio.ensure_future(pop_on(0, t0))
            await link.on_call_event(ring(0))
            single.append(await waiter)
        burst: list[float] = []
        for _ in range(max(1, rounds // 10)):
            t0 = time.perf_counter()
            waiters = [asyncio.ensure_future(pop_on(i, t0)) for i in range(n_agents)]
            await asyncio.gather(*(link.on_call_event(ring(i)) for i in range(n_agents)))
            burst.extend(await asyncio.gather(*waiters))
        for ws in desks:
            await ws.close()
        await link.stop()
        engine.dispose()
    ms = 1000.0
    print(
        f"1 ringing call ({len(single)} pops): p50 {pct(single, 0.5) * ms:.2f} ms, p99 {pct(single, 0.99) * ms:.2f} ms"
    )
    print(
        f"{n_agents} ringing at once ({len(burst)} pops): p50 {pct(burst, 0.5) * ms:.2f} ms, "
        f"p99 {pct(burst, 0.99) * ms:.2f} ms, mean {statistics.mean(burst) * ms:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--agents", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(bench(args.cases, args.rounds, args.agents))


if __name__ == "__main__":
    main()
