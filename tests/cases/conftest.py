"""Fixtures for the case workflow: a migrated database on SQLite and on PostgreSQL, seeded units, users
and categories, the case settings with a controlled clock.

PostgreSQL comes from $TEST_POSTGRES_URL (scripts/postgres.sh --env). Without it the PostgreSQL half of
the suite fails under CI=true and is skipped, visibly, on a developer's machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ari_app.cases import Actor, CaseSettings, configure
from ari_app.cases.settings import HotlineRules
from ari_app.config import HotlineMode
from schema.base import Base
from schema.cases import Category, CooperatingUnit
from schema.db import make_engine, upgrade
from schema.users import Role, User

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.t = now

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> datetime:
        self.t += timedelta(**kw)
        return self.t


HOTLINES = {
    "12345": HotlineRules("12345", HotlineMode.COLLABORATIVE, ("市政设施", "环境卫生", "其他")),
    "12319": HotlineRules("12319", HotlineMode.COLLABORATIVE, ("供水", "供热")),
    "12358": HotlineRules("12358", HotlineMode.EXCHANGE, ("商品价格", "服务收费")),
    "12350": HotlineRules("12350", HotlineMode.SUB_PLATFORM, ("安全隐患", "非法生产")),
}
MODE_HOTLINE = {HotlineMode.COLLABORATIVE: "12345", HotlineMode.EXCHANGE: "12358", HotlineMode.SUB_PLATFORM: "12350"}


@dataclass
class World:
    """The seeded people and units, by short name."""

    units: dict[str, int] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)


class Db:
    def __init__(self, backend: str, engine: Engine, reset_fn: object) -> None:
        self.backend = backend
        self.engine = engine
        self._reset = reset_fn
        self.clock = Clock()
        self.settings = CaseSettings(hotlines=HOTLINES, clock=self.clock)
        self.world = World()

    def session(self) -> Session:
        s = Session(self.engine, expire_on_commit=False)
        configure(s, self.settings)
        return s

    def reset(self) -> None:
        """Empty every table and seed the world again (used between hypothesis examples too)."""
        assert callable(self._reset)
        self._reset()
        self.clock.t = T0
        self.world = seed(self)


def seed(db: Db) -> World:
    w = World()
    with db.session() as s, s.begin():
        a = CooperatingUnit(name="市政管理处", level=2, contact_phone="0991-1000001")
        a1 = CooperatingUnit(name="市政管理处一所", level=3, parent=a, contact_phone="0991-1000002")
        b = CooperatingUnit(name="环境卫生处", level=2, contact_phone="0991-1000003")
        su = CooperatingUnit(name="应急管理局执法支队", level=2, hotline="12350", contact_phone="0991-1000004")
        su1 = CooperatingUnit(name="应急管理局一大队", level=3, parent=su, hotline="12350")
        su2 = CooperatingUnit(name="应急管理局危化处", level=2, hotline="12350")
        s.add_all([a, a1, b, su, su1, su2])
        s.flush()
        w.units = {"A": a.id, "A1": a1.id, "B": b.id, "S": su.id, "S1": su1.id, "S2": su2.id}
        s.add(Category(hotline="12345", name="市政设施", default_unit_id=a.id, deadline_hours=48))
        s.add(Category(hotline="12350", name="安全隐患", default_unit_id=su.id, deadline_hours=24))
        people = [
            ("agent", Role.AGENT, None, None),
            ("agent2", Role.AGENT, None, None),
            ("supervisor", Role.SUPERVISOR, None, None),
            ("qa", Role.QA, None, None),
            ("admin", Role.ADMIN, None, None),
            ("hu12350", Role.HOTLINE_UNIT, "12350", None),
            ("hu12345", Role.HOTLINE_UNIT, "12345", None),
            ("deptA", Role.DEPARTMENT, None, a.id),
            ("deptA1", Role.DEPARTMENT, None, a1.id),
            ("deptB", Role.DEPARTMENT, None, b.id),
            ("deptS", Role.DEPARTMENT, None, su.id),
            ("deptS2", Role.DEPARTMENT, None, su2.id),
        ]
        for login, role, hotline, unit in people:
            u = User(login=login, display_name=login, role=role, hotline=hotline, unit_id=unit)
            s.add(u)
            s.flush()
            w.actors[login] = Actor(user_id=u.id, login=login, role=role, hotline=hotline, unit_id=unit)
    return w


def _pg_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("TEST_POSTGRES_URL is not set: CI must run the case suite on PostgreSQL (scripts/postgres.sh)")
    pytest.skip('TEST_POSTGRES_URL is not set (run: eval "$(scripts/postgres.sh --env)")')
    return None


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cases") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_engine() -> Iterator[Engine]:
    url = _pg_url()
    assert url is not None
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


_TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        holder: dict[str, Engine] = {}
        counter = [0]

        def reset_sqlite() -> None:
            if "engine" in holder:
                holder["engine"].dispose()
            counter[0] += 1
            path = tmp_path / f"cases{counter[0]}.db"
            shutil.copyfile(template, path)
            holder["engine"] = make_engine(f"sqlite:///{path}")
            d.engine = holder["engine"]

        d = Db("sqlite", make_engine("sqlite://"), reset_sqlite)
        d.reset()
        yield d
        holder["engine"].dispose()
    else:
        engine: Engine = request.getfixturevalue("_pg_engine")

        def reset_pg() -> None:
            with engine.begin() as conn:
                # TRUNCATE does not fire the audit log's row triggers: only the tests empty it.
                conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))

        d = Db("postgres", engine, reset_pg)
        d.reset()
        yield d


def form_body(headers: Any, raw: bytes) -> dict[str, str]:
    """The arguments of a GeoReport v2 POST as a receiver reads them: the body must be form-encoded (UTF-8),
    each argument once."""
    assert headers["Content-Type"].split(";")[0] == "application/x-www-form-urlencoded", headers["Content-Type"]
    pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True, encoding="utf-8")
    assert len({k for k, _ in pairs}) == len(pairs), f"an argument sent twice: {pairs}"
    return dict(pairs)
