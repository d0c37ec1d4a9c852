"""The web front's test world: a deployment (config on its own SQLite database, with `web.listen` on a free
loopback port), seeded units and users, `hotline web` started as a user starts it (the installed command,
a separate process), and the case service driven from the test as the desktop's agent drives it."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases import SYSTEM, Actor, CaseSettings, configure, queries
from ari_app.cases.catalogue import add_node
from ari_app.cases.routing import RuleSpec, add_rule
from ari_app.config import Config
from ari_app.protocol import Msg
from schema.cases import AuditEntry, CooperatingUnit
from schema.users import Role, User
from tests.support.commands import config_text_on, hotline_command, migrated
from tests.support.users import PASSWORD, user

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Deployment:
    """A config and its database, seeded: units 供水所 (with a 3rd-level 供水所一站) and 路灯所, their
    department users `water` and `lights`, an agent `1001`; for the sub-platform hotline 12350 its own units
    安监站, 消防站 and 危化品科 (department users `safety` and `chem`), its hotline-unit user `hu12350`, a
    hotline unit of 12345 `hu12345`, a supervisor `boss`, the classification 010000 安全生产 and a
    dispatch catalogue rule for it (its subtree): lead 安监站, co-unit 消防站, only suggested."""

    dir: Path
    config: Path
    cfg: Config
    sessions: sessionmaker[Session]
    units: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    def actor(self, login: str) -> Actor:
        record = queries.load_user(self.sessions, login)
        assert record is not None
        return record.actor

    def new_case(self, request: str = "小区路灯不亮，晚上出行不便", **kw: Any) -> dict[str, Any]:
        """A case taken by the agent as the desktop takes it (`create_case`), not yet dispatched."""
        fields: dict[str, Any] = {
            "hotline": "12345",
            "caller": "13800138000",
            "request": request,
            "address": "幸福路 12 号",
            "urgency": "normal",
            "citizen_name": "张三",
            "contact": "13800138000",
            "language": "zh",
            "handling": "dispatch",
        } | kw
        created, _ = queries.create_case(self.sessions, self.actor("1001"), fields)
        return dict(created)

    def dispatch(self, case_id: int, unit: str, hours: float = 72) -> dict[str, Any]:
        """The agent dispatches the case to `unit` (`dispatch_case`, as from the desktop)."""
        fields = {"case_id": case_id, "units": [self.units[unit]], "deadline_hours": hours}
        return dict(queries.act(self.sessions, self.actor("1001"), Msg.DISPATCH_CASE, fields))

    def act(self, login: str, msg: str, **fields: Any) -> dict[str, Any]:
        """A workflow request as `login` makes it from the desktop (`queries.act`)."""
        return dict(queries.act(self.sessions, self.actor(login), msg, fields))

    def safety_case(self, request: str = "某化工厂夜间偷排废气，气味刺鼻", **kw: Any) -> dict[str, Any]:
        """A case of the sub-platform hotline 12350 in the classification 安全生产, taken by the agent."""
        return self.new_case(request, hotline="12350", classification="010000", address="工业园区 3 号", **kw)

    def get_case(self, case_id: int, login: str = "1001") -> dict[str, Any]:
        return dict(queries.get_case(self.sessions, self.actor(login), case_id))

    def audit_rows(self, **where: Any) -> list[AuditEntry]:
        with self.sessions() as s:
            stmt = select(AuditEntry).order_by(AuditEntry.id)
            for key, value in where.items():
                stmt = stmt.where(getattr(AuditEntry, key) == value)
            return list(s.scalars(stmt))


def deployment(tmp: Path, **web: Any) -> Deployment:
    """A deployment in `tmp` with a `web:` section (`listen` on a free port unless given)."""
    port = free_port()
    section = {"listen": f"127.0.0.1:{port}", "poll_seconds": 0.2} | web
    text = config_text_on(tmp / "h.db")
    head, _, _ = text.partition("\nweb:\n")
    lines = "".join(f"  {k}: {v}\n" for k, v in section.items())
    config = tmp / "config.yaml"
    config.write_text(f"{head}\nweb:\n{lines}", encoding="utf-8")
    cfg, _, sessions = migrated(config)
    configure(sessions, CaseSettings.from_config(cfg))
    dep = Deployment(tmp, config, cfg, sessions)
    with sessions.begin() as s:
        water = CooperatingUnit(name="供水所", level=2)
        lights = CooperatingUnit(name="路灯所", level=2)
        s.add_all([water, lights])
        s.flush()
        station = CooperatingUnit(name="供水所一站", level=3, parent_id=water.id)
        s.add(station)
        s.flush()
        dep.units = {"water": water.id, "lights": lights.id, "station": station.id}
        own = [CooperatingUnit(name=n, level=2, hotline="12350") for n in ("安监站", "消防站", "危化品科")]
        s.add_all(own)
        s.flush()
        dep.units |= {"safety": own[0].id, "fire": own[1].id, "chem": own[2].id}
        people = [
            user("1001", Role.AGENT, display_name="话务员 王芳"),
            user("water", Role.DEPARTMENT, display_name="供水所 李明", unit_id=water.id),
            user("lights", Role.DEPARTMENT, display_name="路灯所 赵强", unit_id=lights.id),
            user("safety", Role.DEPARTMENT, display_name="安监站 孙伟", unit_id=own[0].id),
            user("chem", Role.DEPARTMENT, display_name="危化品科 周洁", unit_id=own[2].id),
            user("hu12350", Role.HOTLINE_UNIT, display_name="应急局 派单员 陈静", hotline="12350"),
            user("hu12345", Role.HOTLINE_UNIT, display_name="市政府办 刘洋", hotline="12345"),
            user("boss", Role.SUPERVISOR, display_name="值班长 吴刚"),
        ]
        s.add_all(people)
        s.flush()
        dep.users = {u.login: u.id for u in people}
        now = datetime.now(UTC)
        add_node(s, SYSTEM, "010000", "安全生产", "Work safety", now=now)
        rule = RuleSpec("010000", True, None, None, None, (own[0].id, own[1].id), False)
        add_rule(s, SYSTEM, rule, now=now)
    return dep


@contextmanager
def web_process(dep: Deployment, context: ssl.SSLContext | None = None) -> Iterator[str]:
    """`hotline web -c <config>` running; yields its base URL once it answers (`context`: the TLS client
    context that trusts its certificate). Stopped with SIGTERM."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (dep.dir / "web.log").open("w")
    proc = subprocess.Popen([*hotline_command(), "-c", str(dep.config), "web"], stdout=log, stderr=log, env=env)
    base = f"{dep.cfg.web.scheme}://{dep.cfg.web.host}:{dep.cfg.web.port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"hotline web exited: {(dep.dir / 'web.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2, context=context):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise AssertionError("hotline web did not answer in 30 s") from None
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


@dataclass
class Answer:
    status: int
    headers: Any
    body: str

    def set_cookies(self) -> list[str]:
        return list(self.headers.get_all("Set-Cookie") or [])


class _Keep3xx(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kw: Any) -> None:
        return None  # a redirect is an answer the test reads, not followed


class Client:
    """A browser-less client of the web front with its own cookies (what a script or another site sends)."""

    def __init__(self, base: str, context: ssl.SSLContext | None = None) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar), _Keep3xx()]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)

    @classmethod
    def signed_in(cls, base: str, login: str) -> Client:
        """A client signed in as `login` through the sign-in form (the redirect that says so is asserted)."""
        client = cls(base)
        assert client.sign_in(login).status == 303
        return client

    def request(self, path: str, fields: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Answer:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=10) as r:
                return Answer(r.status, r.headers, r.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.headers, exc.read().decode("utf-8", "replace"))

    def csrf(self, path: str = "/cases") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.request(path).body)
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    def sign_in(self, login: str, password: str = PASSWORD) -> Answer:
        return self.request("/login", {"csrf": self.csrf("/login"), "login": login, "password": password})

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)


__all__ = ["PASSWORD", "Client", "Deployment", "User", "deployment", "web_process"]
