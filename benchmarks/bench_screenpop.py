"""Screen-pop latency on the server's real path: AMI events into the AMI adapter (`AmiLink._on_event`: the
call tracker, the call store's write, the publish), the event bus, the link's subscriber, the websocket to
each agent's desktop. Caller history comes from a database of `--cases` cases.

    .venv/bin/python benchmarks/bench_screenpop.py [--cases 100000] [--agents 50] [--rounds 20] [--warmup 2]

A temporary SQLite database (WAL) is filled with `--cases` cases (callers repeat, so most pops carry
history), `--agents` agents sign in over real websockets on loopback from a separate process (as desktops
are: it notes when the kernel received each pop's bytes on its socket, on the system's clock, which both
processes read), and a no-op queue stands in for Asterisk's. Each round, `--agents` calls arrive and queue
(their AMI events as Asterisk sends them), then all of them ring an agent at once (one AgentCalled each,
in one turn of the loop): measured is the time from handing those AgentCalled events to the AMI adapter
to each `screen_pop` arriving on its desktop's socket. Three designs, in the same run and the same server process:

- `bus`: the server as wired (ari_app/server.py): every subscriber on its own queue;
- `bus + slow subscriber`: the same, with another subscriber (every call event costs it a 50 ms database
  read, as a subscriber stalled on its database would) on its own queue;
- `inline (old design)`: the same slow subscriber run one after another with the link, in one chain, as
  subscribers were before the bus: the baseline the bus is measured against.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import selectors
import socket
import statistics
import struct
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
from websockets.client import ClientProtocol  # noqa: E402
from websockets.frames import Frame, Opcode  # noqa: E402
from websockets.protocol import State  # noqa: E402
from websockets.uri import parse_uri  # noqa: E402

from ari_app.ami import PUBLISH_WINDOW, STORE_DELAY, AmiLink  # noqa: E402
from ari_app.auth import hash_password  # noqa: E402
from ari_app.bus import EventBus  # noqa: E402
from ari_app.calls.events import CallEvent, QueueMemberChanged  # noqa: E402
from ari_app.calls.store import SqlCallStore  # noqa: E402
from ari_app.calls.tracker import CallTracker  # noqa: E402
from ari_app.cases import CaseSettings, configure  # noqa: E402
from ari_app.config import Agent, Config, load_config  # noqa: E402
from ari_app.link import LinkServer, LinkSettings  # noqa: E402
from ari_app.protocol import PROTOCOL_VERSION  # noqa: E402
from ari_app.server import ConfigAgents, settle_heap  # noqa: E402
from benchmarks.measure import insert_batches, pct  # noqa: E402
from schema.cases import Case  # noqa: E402
from schema.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from schema.users import Role, User  # noqa: E402
from tests.support.link import FakeQueue, link_settings  # noqa: E402

PASSWORD = "benchmark password"
SLOW_SECONDS = 0.05
SO_TIMESTAMPNS = 35
"""Linux's socket option for receive times in nanoseconds (<asm-generic/socket.h>); Python does not name it."""


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
    design: str, cfg: Config, sessions: sessionmaker[Session], callers: list[str], rounds: int, warmup: int
) -> dict[str, list[float]]:
    """Wire tracker, store, AMI adapter, bus and link as the server does (with the slow subscriber as
    `design` says), sign the agents in, and time `rounds` bursts of pops after `warmup` bursts not counted
    (the first reads of a cold database and of a new process's code). Returns every pop's seconds until
    it arrived on its desktop's socket (`socket`) and until the desktops' process had read it (`parsed`), and
    the event loop's CPU seconds for each round (`cpu`: from the AgentCalled events until every pop arrived,
    reading the desktops' reports included)."""
    bus = EventBus()
    store = SqlCallStore(sessions, deferred=True, window=PUBLISH_WINDOW, delay=STORE_DELAY)
    tracker = CallTracker(store, ConfigAgents(cfg), [h.number for h in cfg.hotlines], bus=bus)
    ami = AmiLink(cfg, tracker)  # not connected: the events are handed to it as panoramisk would
    # The tests' settings (every desktop from 127.0.0.1), with the server's own session check and refusal hold.
    settings = link_settings(
        wrapup_seconds=0,
        session_check_seconds=LinkSettings.session_check_seconds,
        refusal_hold_seconds=LinkSettings.refusal_hold_seconds,
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
    settle_heap()  # as CtiServer.start does once the server is up
    rng = random.Random(7)
    pops: dict[str, list[float]] = {"socket": [], "parsed": [], "cpu": []}
    for r in range(-warmup, rounds):
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
        t0 = time.time()  # the desktops' process stamps with the kernel's receive times, on the same clock
        cpu0 = time.thread_time()
        for a, call_id in zip(cfg.agents, ids, strict=True):
            agent_leg = f"{a.interface}-{call_id}"
            event = {"Event": "AgentCalled", "Interface": a.interface, "DestChannel": agent_leg, "Linkedid": call_id}
            ami._on_event(None, event)  # type: ignore[arg-type]
        arrived: dict[str, dict[str, float]] = {"socket": {}, "parsed": {}}
        while any(len(seen) < len(ids) for seen in arrived.values()):
            where, call_id, at = (await asyncio.wait_for(desks.stdout.readline(), 60)).decode().split()
            arrived[where][call_id] = float(at)
        for where, seen in arrived.items():
            assert set(seen) == set(ids), where
            if r >= 0:
                pops[where].extend(at - t0 for at in seen.values())
        if r >= 0:
            pops["cpu"].append(time.thread_time() - cpu0)
        await bus.settle()
    desks.terminate()
    await desks.wait()
    await link.stop()
    await bus.stop()
    await ami.stop()
    store.flush()
    gc.unfreeze()
    return pops


async def bench(n_cases: int, rounds: int, n_agents: int, warmup: int) -> None:
    cfg = load_config(ROOT / "config.yaml")
    agents = [Agent(str(3000 + i), f"坐席{i}", str(3000 + i), ("zh",)) for i in range(n_agents)]
    cfg = replace(cfg, agents=tuple(agents))
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t = time.perf_counter()
        callers = fill(url, n_cases, agents)
        print(f"database: {n_cases} cases loaded in {time.perf_counter() - t:.1f} s")
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        configure(sessions, CaseSettings.from_config(cfg))
        for design in ("bus", "bus + slow subscriber", "inline (old design)"):
            results[design] = await run_design(design, cfg, sessions, callers, rounds, warmup)
        engine.dispose()
    ms = 1000.0
    print(
        f"{n_agents} calls ringing at once, {rounds} rounds; "
        "AgentCalled into the AMI adapter -> screen_pop on the socket:"
    )
    for where, what in (
        ("socket", "on the desktop's socket"),
        ("parsed", "once read and parsed (all desktops in one process: one after another)"),
    ):
        print(f" {what}:")
        for design, by_where in results.items():
            pops = by_where[where]
            print(
                f"  {design:<24} {len(pops):5d} pops: p50 {pct(pops, 0.5) * ms:8.2f} ms, "
                f"p99 {pct(pops, 0.99) * ms:8.2f} ms, mean {statistics.mean(pops) * ms:8.2f} ms"
            )
    print(" the server's event loop, CPU per round (its thread's own time: what other load on the machine adds")
    print(" to the figures above is not in it):")
    for design, by_where in results.items():
        cpu = by_where["cpu"]
        print(f"  {design:<24} median {statistics.median(cpu) * ms:6.2f} ms, max {max(cpu) * ms:6.2f} ms")


class Desk:
    """One desktop's websocket, on a plain socket with websockets' Sans-I/O protocol: every read is stamped
    with the time the kernel received its bytes (SO_TIMESTAMPNS), so what this process does with one
    desktop's frames never delays another's stamp, and pings are answered as the library does."""

    def __init__(self, url: str) -> None:
        uri = parse_uri(url)
        self.sock = socket.create_connection((uri.host, uri.port))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.ws = ClientProtocol(uri)
        self.ws.send_request(self.ws.connect())
        self.flush()
        self.frames: list[bytes] = []
        while self.ws.state is State.CONNECTING:  # the opening handshake's response
            self.receive()
        if self.ws.handshake_exc is not None:
            raise self.ws.handshake_exc

    def flush(self) -> None:
        for data in self.ws.data_to_send():
            if data:
                self.sock.sendall(data)

    def receive(self) -> float:
        """Read what has arrived, keep its text frames in `frames`; return when the kernel received it
        (seconds since the epoch)."""
        data, ancillary, _flags, _address = self.sock.recvmsg(1 << 16, socket.CMSG_SPACE(16))
        if not data:
            raise ConnectionError("the link closed a desktop's connection")
        at = time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", value)
                at = seconds + nanoseconds / 1e9
        self.ws.receive_data(data)
        self.flush()  # pongs
        self.frames += [e.data for e in self.ws.events_received() if isinstance(e, Frame) and e.opcode is Opcode.TEXT]
        return at

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send_text(json.dumps(message).encode())
        self.flush()

    def until(self, kind: str) -> None:
        """Read until a message of `kind` arrives."""
        while True:
            while self.frames:
                if json.loads(self.frames.pop(0))["type"] == kind:
                    return
            self.receive()


def run_desks(url: str, n_agents: int) -> None:
    """The desktops' side, in its own process: sign `n_agents` agents in (ids 3000...), say `ready`, then print
    `socket <call id> <seconds>` with the time a screen_pop's last bytes reached its desktop's socket (the
    kernel's receive time), and `parsed <call id> <seconds>` once this process has read and parsed it (for
    50 desktops in one process, one after another; real desktops each parse their own). A round's lines go
    out together once all its pops are in, so that reading them never wakes the server's loop mid-burst."""
    desks = []
    for i in range(n_agents):
        desk = Desk(url)
        desk.send({"type": "hello", "version": PROTOCOL_VERSION})
        desk.until("welcome")
        desk.send({"type": "sign_in", "agent_id": str(3000 + i), "password": PASSWORD})
        desk.until("agent_state")
        desk.frames.clear()
        desks.append(desk)
    print("ready", flush=True)
    ready = selectors.DefaultSelector()
    for desk in desks:
        ready.register(desk.sock, selectors.EVENT_READ, desk)
    report: list[str] = []
    while True:
        for key, _events in ready.select():
            desk = key.data
            at = desk.receive()
            for frame in desk.frames:
                # the call id by a search, not a parse: parsing every frame would add this process's backlog
                if frame.startswith(b'{"type":"screen_pop"'):
                    start = frame.index(b'"call_id":"') + len(b'"call_id":"')
                    call_id = frame[start : frame.index(b'"', start)].decode()
                    report.append(f"socket {call_id} {at}\nparsed {call_id} {time.time()}\n")
            desk.frames.clear()
        if len(report) >= n_agents:  # a round's pops all in: report them at once, not while the server still sends
            sys.stdout.write("".join(report))
            sys.stdout.flush()
            report.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2, help="bursts first, not counted")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--desks", metavar="URL", help=argparse.SUPPRESS)  # the desktops' process
    args = parser.parse_args()
    if args.desks:
        run_desks(args.desks, args.agents)
    else:
        asyncio.run(bench(args.cases, args.rounds, args.agents, args.warmup))


if __name__ == "__main__":
    main()
