"""The case workflow's test world: the hotlines' rules, a database seeded with units, users and categories
and a clock the test moves (`Db`), a case taken in as an agent does, the exchange outbox, and a hotline's own
system speaking Open311 on 127.0.0.1 (`Receiver`), or GeoReport v2 JSON with scripted answers
(`GeoReportReceiver`)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, parse_qsl, unquote, urlparse

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ari_app.cases import Actor, CaseSettings, configure
from ari_app.cases.calendar import WorkCalendar
from ari_app.cases.intake import create_case
from ari_app.cases.settings import HotlineRules
from ari_app.config import DeadlineTable, HotlineMode
from schema.cases import Case, Category, CooperatingUnit, ExchangeMessage
from schema.users import Role, User
from tests.support.clock import Clock

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


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
        self.clock = Clock(T0)
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


def with_work_order_rules(db: Db, **over: Any) -> None:
    """Give `db`'s sessions the centre's default time limits (ari_app.config.DeadlineTable: Guangdong's
    handling limits, Beijing's urgency limits) on China's working-day calendar in Asia/Shanghai; `over`:
    other CaseSettings fields (`problem_threshold`, `hotline_deadlines`)."""
    db.settings = replace(db.settings, deadlines=DeadlineTable(), calendar=WorkCalendar("Asia/Shanghai"), **over)


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


def intake_fields(**kw: Any) -> dict[str, Any]:
    """`create_case`'s fields for a street light out, reported on 12345 by phone, with `kw` over them."""
    args: dict[str, Any] = dict(
        hotline="12345",
        caller="13800000001",
        call_id="1764378000.1",
        category="市政设施",
        request="路灯不亮",
        address="新华北路 1 号",
        urgency="normal",
        citizen_name="王先生",
        contact="13800000001",
        language="zh",
        handling="dispatch",
    )
    args.update(kw)
    return args


def intake(db: Db, actor: str = "agent", **kw: Any) -> Case:
    with db.session() as s, s.begin():
        return create_case(s, db.world.actors[actor], **intake_fields(**kw))


def outbox(db: Db) -> list[ExchangeMessage]:
    with db.session() as s:
        return list(s.scalars(select(ExchangeMessage).order_by(ExchangeMessage.id)))


def form_body(headers: Any, raw: bytes) -> dict[str, str]:
    """The arguments of a GeoReport v2 POST as a receiver reads them: the body must be form-encoded (UTF-8),
    each argument once."""
    assert headers["Content-Type"].split(";")[0] == "application/x-www-form-urlencoded", headers["Content-Type"]
    pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True, encoding="utf-8")
    assert len({k for k, _ in pairs}) == len(pairs), f"an argument sent twice: {pairs}"
    return dict(pairs)


class LocalServer:
    """An HTTP server on 127.0.0.1 in a thread of its own while the `with` lasts; `serve` names its handler."""

    port = 0
    """The port to listen on (0: any free one)."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Open311Server(LocalServer):
    """A hotline's own system on 127.0.0.1; `url` is its GeoReport v2 endpoint."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().serve(handler)
        self.url = f"{self.origin}/open311/v2"


class Receiver(Open311Server):
    """A hotline's own system speaking Open311 JSON. `plan` scripts the next answers: "500" or "503" answers
    that error, "drop" accepts the request and then closes the connection without answering (a lost answer)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.plan: list[str] = []
        self.lock = threading.Lock()
        self.requests: dict[str, dict[str, Any]] = {}  # idempotency key -> accepted request
        self.attempts: list[str] = []
        self.bodies: list[bytes] = []
        """Every POST body as it arrived, before any decoding."""
        self.statuses: dict[str, dict[str, str]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = form_body(self.headers, raw)
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.attempts.append(key)
                    receiver.bodies.append(raw)
                    step = receiver.plan.pop(0) if receiver.plan else "ok"
                    if step in ("500", "503"):
                        self.send_response(int(step))
                        self.end_headers()
                        self.wfile.write(b"busy")
                        return
                    if key not in receiver.requests:
                        srid = f"SR-{len(receiver.requests) + 1}"
                        receiver.requests[key] = {"service_request_id": srid, **body}
                        receiver.statuses[srid] = {"service_request_id": srid, "status": "open"}
                    srid = receiver.requests[key]["service_request_id"]
                if step == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                out = json.dumps([{"service_request_id": srid}]).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self) -> None:
                q = parse_qs(urlparse(self.path).query)
                ids = q.get("service_request_id", [""])[0].split(",")
                with receiver.lock:
                    out = json.dumps([receiver.statuses[i] for i in ids if i in receiver.statuses]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.serve(Handler)


SERVICE = "12358:商品价格"
Step = tuple[int, Any, dict[str, str]]  # HTTP status, JSON body (or bytes as they are), headers


class GeoReportReceiver(Open311Server):
    """A hotline's own system speaking GeoReport v2 JSON. `plan` scripts the answers to the next POSTs
    (then `[{"service_request_id"}]`, 201); `token_plan` those to `GET /tokens/...` (then the id);
    `services` and `definitions` are what `GET /services.json` and `GET /services/{code}.json` serve."""

    def __init__(self) -> None:
        self.plan: list[Step | str] = []
        self.token_plan: list[Step] = []
        self.posts: list[dict[str, Any]] = []
        self.gets: list[str] = []
        self.services: list[dict[str, Any]] = [
            {"service_code": SERVICE, "service_name": "商品价格", "metadata": False, "type": "realtime"}
        ]
        self.definitions: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                out = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(out)

            def do_POST(self) -> None:
                body = form_body(self.headers, self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.posts.append({"key": self.headers["Idempotency-Key"], **body})
                    step = receiver.plan.pop(0) if receiver.plan else "ok"
                    n = len(receiver.posts)
                if step == "ok":
                    self.answer(201, [{"service_request_id": f"SR-{n}"}])
                    return
                assert not isinstance(step, str)
                self.answer(*step)

            def do_GET(self) -> None:
                path = unquote(urlparse(self.path).path)
                with receiver.lock:
                    receiver.gets.append(path)
                if path.endswith("/services.json"):
                    self.answer(200, receiver.services)
                elif "/services/" in path:
                    code = path.rsplit("/services/", 1)[1].removesuffix(".json")
                    found = receiver.definitions.get(code)
                    self.answer(200 if found else 404, found or [{"code": 404, "description": "not found"}])
                elif "/tokens/" in path:
                    token = path.rsplit("/tokens/", 1)[1].removesuffix(".json")
                    with receiver.lock:
                        step = receiver.token_plan.pop(0) if receiver.token_plan else None
                    if step is None:
                        self.answer(200, [{"service_request_id": f"SR-{token}", "token": token}])
                    else:
                        self.answer(*step)
                else:
                    self.answer(404, [{"code": 404, "description": "no such resource"}])

        self.serve(Handler)


LOCATION_REQUIRED: Step = (400, [{"code": 400, "description": "location required"}], {})
"""A permanent GeoReport v2 refusal: 400 with an error array."""
