"""The link's fixtures at unit level: a real LinkServer on a loopback port with a real (SQLite) database and
the case workflow, a fake QueueControl that records what would be asked of Asterisk (`queue`), a clock the
test moves (`clock`), and connected protocol clients (`desktop`). The conftest.py of tests/link and of
tests/desktop take them from here."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import ClientConnection, connect

from ari_app import protocol as p
from ari_app.bus import EventBus
from ari_app.cases import CaseSettings, configure
from ari_app.cases.events import CaseEvent, publish_after_commit
from ari_app.config import Config, load_config
from ari_app.link import LinkServer
from ari_app.missed import MissedCallChanged, MissedSettings
from ari_app.missed.desk import MissedDesk
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.users import Role
from tests.support.clock import Clock
from tests.support.e2e import ROOT
from tests.support.link import Desktop, FakeQueue, link_settings
from tests.support.users import user


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
            s.add(user(login, role))
        s.add(user("dept", Role.DEPARTMENT, display_name="dept"))
        s.add(user("gone", Role.AGENT, display_name="gone", active=False))
    engine.dispose()
    return path


@pytest.fixture
def sessions(_db_template: Path, tmp_path: Path, cfg: Config, clock: Clock) -> Iterator[sessionmaker[Session]]:
    """The link's case database, on the test's clock: the config's time limits count working days on the
    calendar, which knows only the years of its data (a wall clock would fail the tests from the year's
    last days on)."""
    path = tmp_path / "link.db"
    shutil.copyfile(_db_template, path)
    engine = make_engine(f"sqlite:///{path}")
    maker = make_sessionmaker(engine)
    configure(maker, CaseSettings.from_config(cfg, clock=clock))
    yield maker
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def case_bus() -> EventBus:
    """The bus committed case events reach the link on (`server` starts it on the test's loop, as the server
    does, so that events committed in worker threads are delivered)."""
    return EventBus()


def add_missed_desk(link: LinkServer, bus: EventBus) -> None:
    """The missed-call desk, as ari_app.server wires it: every desktop lists its missed calls at sign-in (a
    link without it answers that request with internal_error)."""
    missed = MissedDesk(MissedSettings(), bus.publish)
    link.add(missed)
    bus.subscribe(missed.on_changed, MissedCallChanged)


@pytest.fixture
async def server(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock, case_bus: EventBus
) -> AsyncIterator[LinkServer]:
    link = LinkServer(cfg, sessions, queue, clock=clock, settings=link_settings())
    bus = case_bus  # committed case events reach the link as ari_app.server wires them
    bus.start()
    publish_after_commit(sessions, bus.publish)
    bus.subscribe(link.cases.on_case_event, CaseEvent)
    add_missed_desk(link, bus)
    await link.start()
    yield link
    await link.stop()
    await bus.stop()


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
