"""Unit level of the desktop link: a real LinkServer on a loopback port with a real (SQLite) database and the
case workflow, a fake QueueControl that records what would be asked of Asterisk, and domain events fed in
by hand in place of the call tracker. The real-Asterisk end-to-end test lives in tests/e2e."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import ClientConnection, connect

from ari_app import protocol as p
from ari_app.auth import hash_password
from ari_app.bus import EventBus
from ari_app.cases import CaseSettings, configure
from ari_app.cases.events import CaseEvent, publish_after_commit
from ari_app.config import Config, load_config
from ari_app.link import LinkServer, LinkSettings
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.users import Role, User

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
FAST_HASH = {"n": 2**8, "r": 8, "p": 1}  # the real parameters cost ~50 ms a verify; tests need speed
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@dataclass
class FakeQueue:
    """Records QueueControl calls; `fail` makes the next calls raise as an unreachable Asterisk would."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail: bool = False

    async def queue_add(self, queue: str, interface: str, member_name: str, paused: bool = False) -> None:
        self._record("add", queue, interface, member_name, paused)

    async def queue_remove(self, queue: str, interface: str) -> None:
        self._record("remove", queue, interface)

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str = "") -> None:
        self._record("pause", queue, interface, paused, reason)

    def _record(self, *call: Any) -> None:
        if self.fail:
            raise ConnectionError("AMI is down")
        self.calls.append(call)


@pytest.fixture(scope="session")
def cfg() -> Config:
    return load_config(ROOT / "config.yaml")


@pytest.fixture(scope="session")
def _db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("link") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as s, s.begin():
        for login, role in (("1001", Role.AGENT), ("1002", Role.AGENT), ("sup", Role.SUPERVISOR), ("qa", Role.QA)):
            s.add(
                User(
                    login=login,
                    display_name=f"user {login}",
                    role=role,
                    password_hash=hash_password(PASSWORD, **FAST_HASH),
                )
            )
        s.add(
            User(
                login="dept",
                display_name="dept",
                role=Role.DEPARTMENT,
                password_hash=hash_password(PASSWORD, **FAST_HASH),
            )
        )
        s.add(
            User(
                login="gone",
                display_name="gone",
                role=Role.AGENT,
                active=False,
                password_hash=hash_password(PASSWORD, **FAST_HASH),
            )
        )
    engine.dispose()
    return path


@pytest.fixture
def sessions(_db_template: Path, tmp_path: Path, cfg: Config) -> Iterator[sessionmaker[Session]]:
    path = tmp_path / "link.db"
    shutil.copyfile(_db_template, path)
    engine = make_engine(f"sqlite:///{path}")
    maker = make_sessionmaker(engine)
    configure(maker, CaseSettings.from_config(cfg))
    yield maker
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


def link_settings(**kw: Any) -> LinkSettings:
    # Every test desktop comes from 127.0.0.1: the per-address connection caps are raised here and tested
    # at their defaults in test_link_guard.py.
    base: dict[str, Any] = dict(
        host="127.0.0.1",
        port=0,
        queue="hotline",
        wrapup_seconds=0.2,
        token_file=None,
        offline_pause_seconds=0,
        max_connections_per_address=1000,
        max_unauthenticated_per_address=1000,
        session_check_seconds=0.05,
        refusal_hold_seconds=0,  # the flood test keeps the shipped hold; the others make attempts in a row
    )
    base.update(kw)
    return LinkSettings(**base)


@pytest.fixture
async def server(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock
) -> AsyncIterator[LinkServer]:
    link = LinkServer(cfg, sessions, queue, clock=clock, settings=link_settings())
    bus = EventBus()  # committed case events reach the link as ari_app.server wires them
    publish_after_commit(sessions, bus.publish)
    bus.subscribe(link.cases.on_case_event, CaseEvent)
    await link.start()
    yield link
    await link.stop()
    await bus.stop()


class Desktop:
    """A protocol client as a test drives it: requests wait for their reply; pushes are kept in order."""

    _ids = itertools.count(1)

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pushes: list[dict[str, Any]] = []
        self.replies: dict[Any, dict[str, Any]] = {}
        self.unmatched: list[dict[str, Any]] = []

    async def recv(self, within: float = 3.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), within)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        req_id = next(self._ids)
        await self.ws.send(json.dumps({"type": kind, "id": req_id, **fields}))
        return await self.reply_to(req_id)

    async def reply_to(self, req_id: Any, within: float = 3.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while req_id not in self.replies:
                msg = await self.recv(within)
                if "re" in msg:
                    self.replies[msg["re"]] = msg
                elif msg.get("type") == p.Msg.ERROR:
                    self.unmatched.append(msg)
                else:
                    self.pushes.append(msg)
            return self.replies.pop(req_id)

        return await asyncio.wait_for(wait(), within)

    async def push(self, kind: str, within: float = 3.0) -> dict[str, Any]:
        """The next push of this type (earlier pushes of other types stay in `pushes`)."""

        async def wait() -> dict[str, Any]:
            while True:
                for i, msg in enumerate(self.pushes):
                    if msg["type"] == kind:
                        return self.pushes.pop(i)
                msg = await self.recv(within)
                if "re" in msg:
                    self.replies[msg["re"]] = msg
                else:
                    self.pushes.append(msg)

        return await asyncio.wait_for(wait(), within)

    async def nothing_pending(self) -> list[dict[str, Any]]:
        """Everything delivered so far, after a ping round-trip proves the server has caught up."""
        await self.request(p.Msg.PING)
        out, self.pushes = self.pushes, []
        return out + self.unmatched

    async def sign_in(self, agent_id: str = "1001", password: str = PASSWORD) -> dict[str, Any]:
        return await self.request(p.Msg.SIGN_IN, agent_id=agent_id, password=password)


@pytest.fixture
async def desktop(server: LinkServer) -> AsyncIterator[Any]:
    """A factory of connected, greeted desktops."""
    opened: list[ClientConnection] = []

    async def make(hello: bool = True) -> Desktop:
        ws = await connect(server.url, max_size=p.HARD_MAX_FRAME * 2)
        opened.append(ws)
        d = Desktop(ws)
        if hello:
            welcome = await d.request(p.Msg.HELLO, version=p.PROTOCOL_VERSION, client="tests")
            assert welcome["type"] == p.Msg.WELCOME
        return d

    yield make
    for ws in opened:
        await ws.close()


async def until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Wait for a condition of the server's state (which has no event to wait on), with a deadline."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - the state has no event of its own; polled with a deadline
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), within)
