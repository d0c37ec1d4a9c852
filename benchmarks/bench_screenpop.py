"""Screen-pop latency on the server's real path: AMI events into the AMI adapter (`AmiLink._on_event`: the
call tracker, the call store's write, the publish), the event bus, the link's subscriber, the websocket to
each agent's desktop. Caller history comes from a database of `--cases` cases.

    .venv/bin/python benchmarks/bench_screenpop.py [--cases 100000] [--agents 50] [--rounds 20]

A temporary SQLite database (WAL) is filled with `--cases` cases (callers repeat, so most pops carry
history), `--agents` agents sign in over real websockets on loopback from a separate process (as desktops
are: it notes each pop's arrival on the system's monotonic clock, which both processes read), and a no-op
queue stands in for Asterisk's. Each round, `--agents` calls arrive and queue (their AMI events as Asterisk
sends them), then all of them ring an agent at once (one AgentCalled each, in one turn of the loop):
measured is the time from handing those AgentCalled events to the AMI adapter to each `screen_pop`
arriving on its desktop's socket. Three designs, in the same run and the same server process:

- `bus`: the server as wired (ari_app/server.py): every subscriber on its own queue;
- `bus + slow subscriber`: the same, with another subscriber (every call event costs it a 50 ms database
  read, as a subscriber stalled on its database would) on its own queue;
- `inline (old design)`: the same slow subscriber run one after another with the link, in one chain, as
  subscribers were before the bus: the baseline the bus is measured against.
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
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from ari_app.ami import PUBLISH_WINDOW, STORE_DELAY, AmiLink  # noqa: E402
from ari_app.auth import hash_password  # noqa: E402
from ari_app.bus import EventBus  # noqa: E402
from ari_app.calls.events import CallEvent, QueueMemberChanged  # noqa: E402
from ari_app.calls.store import SqlCallStore  # noqa: E402
from ari_app.calls.tracker import CallTracker  # noqa: E402
from ari_app.cases import CaseSettings, configure  # noqa: E402
from ari_app.config import Agent, Config, load_config  # noqa: E402
from ari_app.link import LinkServer, LinkSettings  # noqa: E402
from ari_app.server import ConfigAgents  # noqa: E402
from benchmarks.measure import insert_batches, pct  # noqa: E402
from schema.cases import Case  # noqa: E402
from schema.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from schema.users import Role, User  # noqa: E402
from tests.support.link import FakeQueue  # noqa: E402

PASSWORD = "benchmark password"
SLOW_SECONDS = 0.05


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

        def cases() -> Iterator[dict[str, Any]]:
            for i in range(n_cases):
                at = start + timedelta(seconds=i * 300)
                h = hotlines[i % 4]
                yield {
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

        insert_batches(conn, Case, cases())
    engine.dispose()
    return callers


def slow_subscriber(sessions: sessionmaker[Session]) -> Callable[[object], Any]:
    """A subscriber whose every call event costs a database read and `SLOW_SECONDS` more (in a worker thread,
    as the server's subscribers do their database work)."""

    def work() -> None:
        with sessions() as s:
            s.scalar(select(func.count()).select_from(Case).where(Case.id < 100))
        time.sleep(SLOW_SECONDS)

    async def on_event(event: object) -> None:
        await asyncio.to_thread(work)

    return on_event


async def run_design(
    design: str, cfg: Config, sessions: sessionmaker[Session], callers: list[str], rounds: int
) -> list[float]:
    """Wire tracker, store, AMI adapter, bus and link as the server does (with the slow subscriber as
    `design` says), sign the agents in, and time `rounds` bursts of pops. Returns every pop's seconds."""
    bus = EventBus()
    store = SqlCallStore(sessions, deferred=True, window=PUBLISH_WINDOW, delay=STORE_DELAY)
    tracker = CallTracker(store, ConfigAgents(cfg), [h.number for h in cfg.hotlines], bus=bus)
    ami = AmiLink(cfg, tracker)  # not connected: the events are handed to it as panoramisk would
    settings = LinkSettings(
        host="127.0.0.1",
        port=0,
        queue="hotline",
        wrapup_seconds=0,
        token_file=None,
        offline_pause_seconds=0,
        max_connections_per_address=1000,  # every desktop here comes from 127.0.0.1
        max_unauthenticated_per_address=1000,
    )
    link = LinkServer(cfg, sessions, FakeQueue(), settings=settings)
    slow = slow_subscriber(sessions)
    if design == "inline (old design)":

        async def chain(event: object) -> None:  # one subscriber after another, as before the bus
            await link.on_call_event(event)  # type: ignore[arg-type]
            await slow(event)

        bus.subscribe(chain, CallEvent, QueueMemberChanged)
    else:
        bus.subscribe(link.on_call_event, CallEvent, QueueMemberChanged)
        if design == "bus + slow subscriber":
            bus.subscribe(slow, CallEvent)
    await link.start()
    desks = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--desks", link.url, "--agents", str(len(cfg.agents)), stdout=asyncio.subprocess.PIPE
    )
    assert desks.stdout is not None
    assert (await asyncio.wait_for(desks.stdout.readline(), 120)).strip() == b"ready"
    rng = random.Random(7)
    pops: list[float] = []
    for r in range(rounds):
        ids = [f"{1764378000 + r}.{i}" for i in range(len(cfg.agents))]
        for call_id in ids:
            citizen = f"PJSIP/carrier-telecom-{call_id}"
            for event in (
                {"Event": "UserEvent", "UserEvent": "HotlineCall", "Uniqueid": call_id, "Channel": citizen}
                | {"Hotline": "12319", "Caller": rng.choice(callers)},
                {"Event": "QueueCallerJoin", "Queue": "hotline", "Position": "1", "Channel": citizen},
            ):
                ami._on_event(None, {"Linkedid": call_id, **event})  # type: ignore[arg-type]
        # the callers wait in the queue a while (a second or more in a real centre)
        await asyncio.sleep(PUBLISH_WINDOW * 3)
        await bus.settle()
        t0 = time.monotonic()
        for a, call_id in zip(cfg.agents, ids, strict=True):
            agent_leg = f"{a.interface}-{call_id}"
            event = {"Event": "AgentCalled", "Interface": a.interface, "DestChannel": agent_leg, "Linkedid": call_id}
            ami._on_event(None, event)  # type: ignore[arg-type]
        arrived: dict[str, float] = {}
        while len(arrived) < len(ids):
            call_id, at = (await asyncio.wait_for(desks.stdout.readline(), 60)).decode().split()
            arrived[call_id] = float(at)
        assert set(arrived) == set(ids)
        pops.extend(at - t0 for at in arrived.values())
        await bus.settle()
    desks.terminate()
    await desks.wait()
    await link.stop()
    await bus.stop()
    await ami.stop()
    store.flush()
    return pops


async def bench(n_cases: int, rounds: int, n_agents: int) -> None:
    cfg = load_config(ROOT / "config.yaml")
    agents = [Agent(str(3000 + i), f"坐席{i}", str(3000 + i), ("zh",)) for i in range(n_agents)]
    cfg = replace(cfg, agents=tuple(agents))
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t = time.perf_counter()
        callers = fill(url, n_cases, agents)
        print(f"database: {n_cases} cases loaded in {time.perf_counter() - t:.1f} s")
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        configure(sessions, CaseSettings.from_config(cfg))
        for design in ("bus", "bus + slow subscriber", "inline (old design)"):
            results[design] = await run_design(design, cfg, sessions, callers, rounds)
        engine.dispose()
    ms = 1000.0
    print(
        f"{n_agents} calls ringing at once, {rounds} rounds; "
        "AgentCalled into the AMI adapter -> screen_pop on the socket:"
    )
    for design, pops in results.items():
        print(
            f"  {design:<24} {len(pops):5d} pops: p50 {pct(pops, 0.5) * ms:8.2f} ms, "
            f"p99 {pct(pops, 0.99) * ms:8.2f} ms, mean {statistics.mean(pops) * ms:8.2f} ms"
        )


async def run_desks(url: str, n_agents: int) -> None:
    """The desktops' side, in its own process: sign `n_agents` agents in (ids 3000...), say `ready`, then print
    `<call id> <monotonic seconds>` for every screen_pop as it arrives."""
    desks: list[ClientConnection] = []
    for i in range(n_agents):
        ws = await connect(url)
        await ws.send(json.dumps({"type": "hello", "version": "1.5"}))
        await ws.recv()
        await ws.send(json.dumps({"type": "sign_in", "agent_id": str(3000 + i), "password": PASSWORD}))
        while json.loads(await ws.recv())["type"] != "agent_state":
            pass
        desks.append(ws)
    print("ready", flush=True)

    loop = asyncio.get_running_loop()
    flush_due = False

    def flush() -> None:
        nonlocal flush_due
        flush_due = False
        sys.stdout.flush()

    async def read(ws: ClientConnection) -> None:
        nonlocal flush_due
        async for frame in ws:
            at = time.monotonic()  # first, so that this process's own work is not counted as the server's
            assert isinstance(frame, str)
            # the call id by a search, not a parse: one process reads all the desktops' sockets here, and
            # parsing every frame would put this process's backlog into the figures
            if frame.startswith('{"type":"screen_pop"'):
                start = frame.index('"call_id":"') + len('"call_id":"')
                call_id = frame[start : frame.index('"', start)]
                sys.stdout.write(f"{call_id} {at}\n")
                if not flush_due:  # one write to the pipe per turn of the loop, not one per pop
                    flush_due = True
                    loop.call_soon(flush)

    await asyncio.gather(*(read(ws) for ws in desks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--desks", metavar="URL", help=argparse.SUPPRESS)  # the desktops' process
    args = parser.parse_args()
    if args.desks:
        asyncio.run(run_desks(args.desks, args.agents))
    else:
        asyncio.run(bench(args.cases, args.rounds, args.agents))


if __name__ == "__main__":
    main()
