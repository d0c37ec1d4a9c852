"""Web front benchmark (docs/web.md, "Speed"): `hotline web` started as a user starts it, on a database
holding --cases cases (default 1 000 000) shared by 91 cooperating units, each with a department user.

    .venv/bin/python benchmarks/bench_web.py [--cases N] [--backend sqlite|postgres] [--listeners 200]
                                             [--rate 10] [--seconds 20] [--requests 300] [--workdir DIR]

It prints, in one run:
- page times, p50/p95/p99 in ms, of a unit's to-do list (`/cases`, the first tab: its open cases) and of a
  case detail (`/cases/<id>`, a case dispatched to the unit), each request from a signed-in unit over a
  kept-alive loopback connection (the time to the last byte: the server's time plus loopback), beside the
  sign-in page (`/login`, no database) as the baseline of the same run;
- live updates: --listeners signed-in department pages (spread over the 91 units) listening on `/events`
  while an agent takes and dispatches cases through the case service at --rate a second for --seconds; for
  every page of the unit a case went to, the delay from the dispatch's commit to the page's notice, and to
  the page's list fetched again as the page does (p50/p95/max), and the notices that never came.
Targets (issue "web sub-platform"): list and detail p95 < 100 ms at 1 000 000 cases and 91 units; update
delay p95 < 1 s with 200 listeners at 10 dispatches a second.

The database is bench_cases.py's (`bulk_load`: a year of cases, 70 % dispatched to the 91 units). SQLite
is a file in a private temporary folder, or in --workdir, kept and reused when it already holds the cases;
PostgreSQL is $BENCH_POSTGRES_URL (reused with --reuse when it holds the cases, else emptied and loaded),
bench_cases' own database on the $TEST_POSTGRES_URL cluster. Not part
of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import URL, Engine, func, make_url, select
from sqlalchemy.orm import Session

from ari_app.auth import hash_password
from ari_app.cases import CaseSettings, configure, queries
from ari_app.config import load_config
from ari_app.protocol import Msg
from benchmarks import bench_cases
from benchmarks.measure import pct
from schema.cases import Case, CooperatingUnit, Dispatch, DispatchStatus
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.users import Role, User
from tests.support.web import Deployment, free_port, web_process

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-web-密码-2026"
FAST = {"n": 2**10, "r": 8, "p": 1}
"""Lighter scrypt for the benchmark's 92 users, so 200 sign-ins do not dominate the run (what is measured
is the pages, not the sign-in)."""


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare(args: argparse.Namespace, workdir: Path) -> tuple[str, dict[int, str]]:
    """The database URL, loaded with the cases, and the department users: unit id → login. A database that
    already holds the cases is reused (the SQLite file in --workdir, or $BENCH_POSTGRES_URL's with
    --reuse), else made afresh as bench_cases.py makes it."""
    engine: Engine | None = None
    kept = workdir / "bench_cases.db" if args.backend == "sqlite" else None
    if kept is not None and kept.exists():
        engine = make_engine(f"sqlite:///{kept}")
    elif args.backend == "postgres" and args.reuse and os.environ.get("BENCH_POSTGRES_URL"):
        engine = make_engine(os.environ["BENCH_POSTGRES_URL"])
    if engine is not None:
        upgrade(engine)
        with Session(engine) as s:
            if (s.scalar(select(func.count()).select_from(Case)) or 0) < args.cases:
                engine.dispose()
                engine = None
        if engine is not None:
            say("reusing the database: it holds the cases already")
    if engine is None:
        engine = bench_cases.fresh_engine(args.backend, workdir)
        _actor, unit_ids = bench_cases.seed(engine)
        say(f"bulk-loading {args.cases:,} cases over {len(unit_ids)} units")
        bench_cases.bulk_load(engine, args.cases, unit_ids, max(1, args.cases // 3), random.Random(4))
    url = engine.url.render_as_string(hide_password=False)
    logins = _users(engine)
    engine.dispose()
    return url, logins


def _users(engine: Engine) -> dict[int, str]:
    """A department user per unit (`unit00` …) and the dispatching agent `webbench`, made once."""
    with Session(engine) as s, s.begin():
        units = list(s.scalars(select(CooperatingUnit.id).order_by(CooperatingUnit.id)))
        have = set(s.scalars(select(User.login)))
        logins = {uid: f"unit{i:02d}" for i, uid in enumerate(units)}
        digest = hash_password(PASSWORD, **FAST)
        for uid, login in logins.items():
            if login not in have:
                s.add(User(login=login, display_name=login, role=Role.DEPARTMENT, unit_id=uid, password_hash=digest))
        if "webbench" not in have:
            s.add(User(login="webbench", display_name="webbench", role=Role.AGENT, password_hash=digest))
    return logins


def write_config(workdir: Path, url: str, poll: float) -> Path:
    """The shipped config.yaml on the benchmark's database, with `web.listen` on a free loopback port. A
    PostgreSQL password goes to `hotline web` as PGPASSWORD, as config.yaml asks (never in the file)."""
    parsed = make_url(url)
    if parsed.password is not None:
        os.environ["PGPASSWORD"] = str(parsed.password)
        bare = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database)
        url = bare.render_as_string(hide_password=False)
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("url: sqlite:///var/db/hotline.db", f"url: {url}")
    head, _, _ = text.partition("\nweb:\n")
    config = workdir / "config.yaml"
    config.write_text(f"{head}\nweb:\n  listen: 127.0.0.1:{free_port()}\n  poll_seconds: {poll}\n", encoding="utf-8")
    config.chmod(0o600)
    return config


class Page:
    """One signed-in browser's connection: a kept-alive HTTP/1.1 connection and its session cookie."""

    def __init__(self, host: str, port: int, login: str) -> None:
        self.host, self.port, self.login = host, port, login
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.sign_in()

    def get(self, path: str) -> tuple[int, str]:
        try:
            self.conn.request("GET", path, headers={"Cookie": self.cookie_header()})
            r = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # the server closed the idle kept-alive connection (uvicorn's keep-alive timeout): a browser
            # opens another one, and so does this
            self.conn.close()
            self.conn.request("GET", path, headers={"Cookie": self.cookie_header()})
            r = self.conn.getresponse()
        body = r.read().decode("utf-8")
        self._keep(r)
        return r.status, body

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _keep(self, r: http.client.HTTPResponse) -> None:
        for value in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]

    def sign_in(self) -> None:
        _, body = self.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', body)
        if not found:
            raise SystemExit("no CSRF field on /login")
        data = urllib.parse.urlencode({"csrf": found.group(1), "login": self.login, "password": PASSWORD})
        headers = {"Cookie": self.cookie_header(), "Content-Type": "application/x-www-form-urlencoded"}
        self.conn.request("POST", "/login", body=data, headers=headers)
        r = self.conn.getresponse()
        r.read()
        self._keep(r)
        if r.status != 303:
            raise SystemExit(f"{self.login} could not sign in: HTTP {r.status}")


def timed(page: Page, path: str, expect: str) -> float:
    t = time.perf_counter()
    status, body = page.get(path)
    took = time.perf_counter() - t
    if status != 200 or expect not in body:
        raise SystemExit(f"{path} as {page.login}: HTTP {status}, {expect!r} not in the page")
    return took * 1000


def page_times(host: str, port: int, url: str, logins: dict[int, str], n: int) -> dict[str, list[float]]:
    """Sign-in page, to-do list and case detail, `n` each, from units chosen at random (seeded)."""
    rng = random.Random(7)
    engine = make_engine(url)
    with Session(engine) as s:
        shares: dict[int, list[int]] = {}
        for unit_id, case_id in s.execute(
            select(Dispatch.unit_id, Dispatch.case_id)
            .where(Dispatch.status.in_((DispatchStatus.PENDING, DispatchStatus.ACCEPTED, DispatchStatus.HANDLED)))
            .order_by(Dispatch.id.desc())
            .limit(20000)
        ):
            shares.setdefault(unit_id, []).append(case_id)
    engine.dispose()
    units = [u for u in logins if shares.get(u)]
    pages = {u: Page(host, port, logins[u]) for u in rng.sample(units, min(20, len(units)))}
    out: dict[str, list[float]] = {"login": [], "list": [], "detail": []}
    for _ in range(3):  # warm-up: the first requests of each kind (templates, caches)
        page = next(iter(pages.values()))
        page.get("/login")
        page.get("/cases")
    for i in range(n):
        unit = rng.choice(list(pages))
        page = pages[unit]
        out["login"].append(timed(page, "/login", 'name="csrf"'))
        out["list"].append(timed(page, "/cases", "<table"))
        out["detail"].append(timed(page, f"/cases/{rng.choice(shares[unit])}", "<h1"))
        if (i + 1) % 100 == 0:
            say(f"  {i + 1}/{n} of each")
    return out


async def _listen(
    host: str,
    port: int,
    cookie: str,
    unit: int,
    seen: dict[int, dict[tuple[int, int], float]],
    key: int,
    ready: asyncio.Event,
    counter: list[int],
    reload_times: list[float],
    dispatched: dict[int, float],
) -> None:
    """One page's `/events` stream: records when each case's notice came, then fetches its list again."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /events HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise SystemExit(f"/events answered {status!r}")
    counter[0] += 1
    if counter[0] == len(seen):
        ready.set()
    event = ""
    while True:
        line = await reader.readline()
        if not line:
            return
        text = line.decode("utf-8", "replace").strip()
        if text.startswith("event:"):
            event = text[6:].strip()
        elif text.startswith("data:") and event == "case":
            got = time.time()
            notice = json.loads(text[5:])
            case_id = int(notice.get("case_id") or notice.get("id") or 0)
            seen[key].setdefault((unit, case_id), got)
            if case_id in dispatched:
                await _reload(host, port, cookie, got, reload_times, dispatched[case_id])


async def _reload(host: str, port: int, cookie: str, got: float, out: list[float], committed: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = f"GET /cases HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nx-fragment: rows\r\nConnection: close\r\n"
    writer.write(f"{head}\r\n".encode())
    await writer.drain()
    await reader.read()
    writer.close()
    out.append((time.time() - committed) * 1000)


def live(
    host: str, port: int, url: str, logins: dict[int, str], listeners: int, rate: float, seconds: float
) -> dict[str, Any]:
    """Delays from a dispatch's commit to its unit's pages' notices, with `listeners` pages listening."""
    units = list(logins)
    owners = [units[i % len(units)] for i in range(listeners)]
    say(f"signing in {listeners} pages")
    cookies = [Page(host, port, logins[u]).cookie_header() for u in owners]
    seen: dict[int, dict[tuple[int, int], float]] = {i: {} for i in range(listeners)}
    dispatched: dict[int, float] = {}
    targets: dict[int, int] = {}
    reload_times: list[float] = []
    loop = asyncio.new_event_loop()
    ready = asyncio.Event()
    counter = [0]

    tasks: list[asyncio.Task[None]] = []  # the loop keeps only weak references to its tasks

    async def main() -> None:
        for i, (unit, cookie) in enumerate(zip(owners, cookies, strict=True)):
            tasks.append(
                loop.create_task(_listen(host, port, cookie, unit, seen, i, ready, counter, reload_times, dispatched))
            )
        await asyncio.wait_for(ready.wait(), 60)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(main(), loop).result(90)
    say(f"{listeners} pages listening; dispatching {rate:g} cases a second for {seconds:g} s")
    cfg_engine = make_engine(url)
    sessions = make_sessionmaker(cfg_engine)
    configure(sessions, CaseSettings(hotlines=bench_cases.HOTLINES))
    actor = queries.load_user(sessions, "webbench")
    assert actor is not None
    rng = random.Random(11)
    listened = sorted(set(owners))
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = start + i / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        unit = rng.choice(listened)
        created, _ = queries.create_case(
            sessions,
            actor.actor,
            {
                "hotline": "12345",
                "caller": f"139{rng.randrange(10**8):08d}",
                "request": "路灯不亮，晚上出行不便",
                "address": "幸福路 12 号",
                "urgency": "normal",
                "citizen_name": "市民",
                "contact": None,
                "language": "zh",
                "handling": "dispatch",
            },
        )
        case_id = int(created["id"])
        queries.act(
            sessions, actor.actor, Msg.DISPATCH_CASE, {"case_id": case_id, "units": [unit], "deadline_hours": 72}
        )
        dispatched[case_id] = time.time()
        targets[case_id] = unit
    behind = time.perf_counter() - start - seconds
    deadline = time.monotonic() + 10
    expected = [(i, targets[c], c) for c in targets for i, u in enumerate(owners) if u == targets[c]]
    while time.monotonic() < deadline and any((u, c) not in seen[i] for i, u, c in expected):
        time.sleep(0.1)
    time.sleep(1)  # the last reloads
    for task in tasks:
        loop.call_soon_threadsafe(task.cancel)
    loop.call_soon_threadsafe(loop.stop)
    delays = sorted((seen[i][(u, c)] - dispatched[c]) * 1000 for i, u, c in expected if (u, c) in seen[i])
    cfg_engine.dispose()
    return {
        "dispatches": len(targets),
        "late_start_s": max(0.0, behind),
        "expected": len(expected),
        "missing": len(expected) - len(delays),
        "notice_ms": delays,
        "reload_ms": sorted(reload_times),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1_000_000)
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--listeners", type=int, default=200)
    p.add_argument("--rate", type=float, default=10.0, help="dispatches a second (default 10)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--requests", type=int, default=300, help="requests of each page kind (default 300)")
    p.add_argument("--workdir", default=None, help="folder of the SQLite file, kept and reused (default: temporary)")
    p.add_argument("--reuse", action="store_true", help="PostgreSQL: reuse $BENCH_POSTGRES_URL's cases if it has them")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        workdir.chmod(0o700)
        url, logins = prepare(args, workdir)
        config = write_config(Path(tmp), url, poll=float(load_config(ROOT / "config.yaml").web.poll_seconds))
        cfg = load_config(config)
        dep = Deployment(workdir, config, cfg, make_sessionmaker(make_engine(url)))
        with web_process(dep) as base:
            host, port = cfg.web.host, cfg.web.port
            say(f"hotline web at {base}; page times, {args.requests} requests of each")
            times = page_times(host, port, url, logins, args.requests)
            result = live(host, port, url, logins, args.listeners, args.rate, args.seconds)
    print(
        f"web front, {args.backend}, {args.cases:,} cases, {len(logins)} units ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
    )
    for name, label in (("login", "sign-in page (baseline)"), ("list", "unit to-do list"), ("detail", "case detail")):
        v = sorted(times[name])
        print(f"  {label:24} p50 {pct(v, 0.50):7.1f} ms  p95 {pct(v, 0.95):7.1f} ms  p99 {pct(v, 0.99):7.1f} ms")
    d, r = result["notice_ms"], result["reload_ms"]
    print(
        f"  live: {args.listeners} pages, {result['dispatches']} dispatches at {args.rate:g}/s "
        f"(fell behind {result['late_start_s']:.2f} s), poll {cfg.web.poll_seconds:g} s; "
        f"{result['expected']} notices due, {result['missing']} missing"
    )
    if d:
        print(f"  dispatch → notice        p50 {pct(d, 0.50):7.1f} ms  p95 {pct(d, 0.95):7.1f} ms  max {d[-1]:7.1f} ms")
    if r:
        print(f"  dispatch → list again    p50 {pct(r, 0.50):7.1f} ms  p95 {pct(r, 0.95):7.1f} ms  max {r[-1]:7.1f} ms")
    return 0 if not result["missing"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
