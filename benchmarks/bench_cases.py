"""Case workflow benchmark: intake rate through the service, caller-history lookup latency (p50/p99) and a
month's KPI report, with a database holding --cases cases (default 1 000 000), on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/bench_cases.py [--cases N] [--backend sqlite|postgres|both]

PostgreSQL comes from $BENCH_POSTGRES_URL (its public schema is dropped and rebuilt), else a database of its
own, `hotline_bench_cases`, created (and dropped at the end) on the $TEST_POSTGRES_URL cluster
(`eval "$(scripts/postgres.sh --env)"`), so the tests' databases are never touched. The bulk of the cases
is loaded with plain inserts (a year of history: callers who call again, 70 % dispatched with sign-for and
first-feedback deadlines, some returns, send-backs, re-dispatches and problem work orders, half followed up
on five levels: `bulk_load`); the intake figure is measured separately through `create_case`, one
transaction per case, as the desktop would. The month's KPI report is timed beside the computation as it
was before its statements were bounded by the period (benchmarks/kpi_before.py), in the same run and on the
same data, and both must give the same figures (those the earlier one has); `kpi_month_full` is the full
report with every work-order KPI and a row per day (`hotline report --by day`), the figure the < 1 s target
at 1 000 000 cases is for. So is the per-unit follow-up statement, the old one (every share ever
dispatched) beside the new one. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, and_, case, func, insert, make_url, select, text
from sqlalchemy.orm import Session

from ari_app.cases import Actor, CaseSettings, configure
from ari_app.cases.intake import create_case
from ari_app.cases.kpi import COUNTS, KpiReport, compute
from ari_app.cases.lookups import caller_history
from ari_app.cases.settings import HotlineRules
from ari_app.config import HotlineMode
from benchmarks import kpi_before
from schema.cases import (
    Case,
    Category,
    CooperatingUnit,
    Dispatch,
    DispatchReturn,
    DispatchStatus,
    FollowUp,
    Rating,
    RequestType,
)
from schema.db import make_engine, upgrade
from schema.users import Role, User

HOTLINES = {
    "12345": HotlineRules("12345", HotlineMode.COLLABORATIVE, ("市政设施", "环境卫生")),
    "12319": HotlineRules("12319", HotlineMode.COLLABORATIVE, ("供水", "供热")),
    "12358": HotlineRules("12358", HotlineMode.EXCHANGE, ("商品价格",)),
    "12350": HotlineRules("12350", HotlineMode.SUB_PLATFORM, ("安全隐患",)),
}
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
MONTH = (date(2026, 10, 1), date(2026, 11, 1))
BENCH_DB = "hotline_bench_cases"


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fresh_engine(backend: str, workdir: Path) -> Engine:
    if backend == "sqlite":
        path = workdir / "bench_cases.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{path}")
    else:
        url = os.environ.get("BENCH_POSTGRES_URL")
        if url:
            engine = make_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            engine = make_engine(_own_database(create=True))
    upgrade(engine)
    return engine


def _own_database(*, create: bool) -> str:
    """The benchmark's own database on the test cluster, (re)created empty or dropped; its URL."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        raise SystemExit('TEST_POSTGRES_URL is not set: eval "$(scripts/postgres.sh --env)"')
    base = make_url(url)
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        if create:
            conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    return base.set(database=BENCH_DB).render_as_string(hide_password=False)


def seed(engine: Engine) -> tuple[Actor, list[int]]:
    with Session(engine) as s, s.begin():
        units = [CooperatingUnit(name=f"协同单位{i:02d}", level=2) for i in range(91)]
        s.add_all(units)
        s.flush()
        for number, rules in HOTLINES.items():
            for name in rules.categories:
                s.add(Category(hotline=number, name=name, default_unit_id=units[0].id, deadline_hours=72))
        u = User(login="bench", display_name="bench", role=Role.AGENT)
        s.add(u)
        s.flush()
        return Actor(user_id=u.id, login="bench", role=Role.AGENT), [x.id for x in units]


def bulk_load(engine: Engine, n: int, unit_ids: list[int], callers: int, rng: random.Random) -> None:
    """A year of history up to NOW: callers who call again, 70 % dispatched (each share with its sign-for and
    first-feedback deadlines, signed in time or late), 4 % of the shares returned once (approved or refused),
    a few cases sent back or re-dispatched (and problem work orders), half followed up on five levels."""
    chunk = 20_000
    start = NOW - timedelta(days=365)
    numbers = list(HOTLINES)
    types = list(RequestType)
    t0 = time.perf_counter()
    next_id = 1_000_000_000
    for lo in range(0, n, chunk):
        cases, dispatches, returns, follow_ups = [], [], [], []
        for i in range(lo, min(n, lo + chunk)):
            next_id += 1
            created = start + timedelta(seconds=int(365 * 86400 * i / n))
            hotline = numbers[i % len(numbers)]
            caller = f"139{rng.randrange(callers):08d}"
            dispatched = hotline != "12358" and rng.random() < 0.7
            handled = dispatched and rng.random() < 0.95
            closed = handled and rng.random() < 0.97
            send_backs = rng.choice((0,) * 17 + (1, 2, 3)) if dispatched else 0
            redispatches = rng.choice((0,) * 17 + (1, 2, 3)) if dispatched else 0
            cases.append(
                {
                    "id": next_id,
                    "number": f"{hotline}-{created:%Y%m%d}-B{i:07d}",
                    "channel": "phone",
                    "hotline": hotline,
                    "caller": caller,
                    "contact": caller,
                    "request": "路灯不亮，请尽快维修",
                    "address": "某区某路",
                    "request_type": types[i % len(types)].value,
                    "urgency": "normal",
                    "language": "zh",
                    "handling": "dispatch" if dispatched else "direct",
                    "status": "closed" if closed or not dispatched else "in_progress",
                    "created_at": created,
                    "updated_at": created,
                    "handled_at": created + timedelta(hours=20) if handled or not dispatched else None,
                    "closed_at": created + timedelta(hours=30) if closed or not dispatched else None,
                    "supervision_level": 0,
                    "leader_escalated": False,
                    "created_by_login": f"agent{i % 40:02d}",
                    "send_back_count": send_backs,
                    "redispatch_count": redispatches,
                    "problem_at": created + timedelta(days=3) if max(send_backs, redispatches) >= 3 else None,
                }
            )
            if dispatched:
                due = created + timedelta(hours=72)
                handled_at = created + timedelta(hours=rng.choice((20, 50, 90))) if handled else None
                accepted_at = created + timedelta(minutes=rng.choice((20, 50, 200)))
                sign_for = created + timedelta(hours=1)
                unit_id = unit_ids[i % len(unit_ids)]
                dispatches.append(
                    {
                        "id": next_id,  # one share a case: the case's id
                        "case_id": next_id,
                        "unit_id": unit_id,
                        "lead": True,
                        "status": "handled" if handled else "accepted",
                        "dispatched_at": created,
                        "deadline_at": due,
                        "accepted_at": accepted_at,
                        "handled_at": handled_at,
                        "result": "已处理" if handled else None,
                        "sign_for_deadline_at": sign_for,
                        "signed_on_time": accepted_at <= sign_for,
                        "feedback_deadline_at": created + timedelta(hours=rng.choice((2, 24))),
                    }
                )
                if rng.random() < 0.04:
                    returns.append(
                        {
                            "case_id": next_id,
                            "dispatch_id": next_id,
                            "unit_id": unit_id,
                            "reason_code": "not_our_duty",
                            "reason": "非本单位职责",
                            "requested_at": created + timedelta(hours=2),
                            "status": rng.choice(("approved", "refused")),
                            "decided_at": created + timedelta(hours=4),
                        }
                    )
            if (closed or not dispatched) and rng.random() < 0.5:
                rating = rng.choice(
                    (Rating.VERY_SATISFIED, Rating.SATISFIED, Rating.BASICALLY_SATISFIED, Rating.UNSATISFIED)
                )
                follow_ups.append(
                    {
                        "case_id": next_id,
                        "at": created + timedelta(hours=25),
                        "reached": True,
                        "solved": rng.random() < 0.9,
                        "rating": rating.value,
                        "satisfaction": rating.satisfaction.value,
                        "channel": "phone",
                    }
                )
        with engine.begin() as conn:
            conn.execute(insert(Case), cases)
            if dispatches:
                conn.execute(insert(Dispatch), dispatches)
            if returns:
                conn.execute(insert(DispatchReturn), returns)
            if follow_ups:
                conn.execute(insert(FollowUp), follow_ups)
        done = min(n, lo + chunk)
        rate = done / (time.perf_counter() - t0)
        say(f"  loaded {done:,}/{n:,} cases ({rate:,.0f}/s)")
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def run(backend: str, n: int, intake_n: int, lookups: int, workdir: Path) -> dict[str, float]:
    rng = random.Random(4)
    say(f"[{backend}] preparing a fresh database")
    engine = fresh_engine(backend, workdir)
    actor, unit_ids = seed(engine)
    settings = CaseSettings(hotlines=HOTLINES, clock=lambda: NOW)
    callers = max(1, n // 3)
    bulk = max(0, n - intake_n)
    say(f"[{backend}] bulk-loading {bulk:,} cases")
    t = time.perf_counter()
    bulk_load(engine, bulk, unit_ids, callers, rng)
    load_s = time.perf_counter() - t

    say(f"[{backend}] intake: {intake_n:,} cases through create_case, one transaction each")
    t = time.perf_counter()
    for i in range(intake_n):
        with Session(engine, expire_on_commit=False) as s, s.begin():
            configure(s, settings)
            create_case(
                s,
                actor,
                hotline=("12345", "12319", "12350", "12358")[i % 4],
                caller=f"139{rng.randrange(callers):08d}",
                call_id=f"1764400000.{i}",
                category=None,
                request="井盖丢失",
                address="某路",
                urgency="normal",
                citizen_name="市民",
                contact=None,
                language="zh",
                handling="dispatch",
                now=NOW + timedelta(seconds=i),
            )
    intake_s = time.perf_counter() - t

    say(f"[{backend}] caller history: {lookups:,} lookups of random callers")
    lat: list[float] = []
    found = 0
    for _ in range(lookups):
        caller = f"139{rng.randrange(callers):08d}"
        t = time.perf_counter()
        with Session(engine, expire_on_commit=False) as s, s.begin():
            configure(s, settings)
            found += len(caller_history(s, actor, caller))
        lat.append(time.perf_counter() - t)
    lat.sort()

    say(f"[{backend}] KPI report for one month, before and after, twice each (the better time counts)")
    kpi_s, full_s, before_s = float("inf"), float("inf"), float("inf")
    for _ in range(2):
        t = time.perf_counter()
        with Session(engine) as s:
            before = kpi_before.compute(s, *MONTH, tz=UTC, now=NOW)
        before_s = min(before_s, time.perf_counter() - t)
        t = time.perf_counter()
        with Session(engine) as s:
            report = compute(s, *MONTH, tz=UTC, now=NOW)
        kpi_s = min(kpi_s, time.perf_counter() - t)
        t = time.perf_counter()
        with Session(engine) as s:
            full = compute(s, *MONTH, tz=UTC, now=NOW, by="day")
        full_s = min(full_s, time.perf_counter() - t)
    if _figures(report) != _figures(before) or _figures(full) != _figures(before):
        raise SystemExit(f"[{backend}] the KPI figures differ from the computation before the change")
    if any(getattr(full.total, name) != getattr(report.total, name) for name in COUNTS) or not full.total.sign_for_due:
        raise SystemExit(f"[{backend}] the report by day differs from the month's, or has no work-order figures")
    unit_before_s, unit_s = _per_unit_statements(engine)
    engine.dispose()
    if backend == "postgres" and not os.environ.get("BENCH_POSTGRES_URL"):
        _own_database(create=False)
    return {
        "cases": n,
        "bulk_load_s": load_s,
        "intake_per_s": intake_n / intake_s,
        "history_p50_ms": statistics.median(lat) * 1000,
        "history_p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
        "history_avg_found": found / lookups,
        "kpi_month_s": kpi_s,
        "kpi_month_before_s": before_s,
        "kpi_month_full_s": full_s,
        "per_unit_stmt_s": unit_s,
        "per_unit_stmt_before_s": unit_before_s,
        "kpi_month_intake": report.total.intake,
    }


def _figures(report: KpiReport) -> list[tuple[object, ...]]:
    """The figures the computation before the change has (its rows: total, hotline, unit, agent)."""
    old = [report.total, *report.by_hotline, *sorted(report.by_unit, key=lambda r: r.key), *report.by_agent]
    rows = [(r.scope, r.key, r.intake, r.handled, r.closed, r.on_time, r.due, r.reached, r.satisfied) for r in old]
    return [*rows, *report.per_day]


def _per_unit_statements(engine: Engine) -> tuple[float, float]:
    """The per-unit follow-up statement as it was (its (case, unit) pairs from every share ever dispatched)
    and as it is (from the period's cases only, within their id range): the better of three runs each."""
    lo, hi = (datetime.combine(d, datetime.min.time(), tzinfo=UTC) for d in MONTH)
    in_period = and_(Case.created_at >= lo, Case.created_at < hi)
    counted = (DispatchStatus.PENDING, DispatchStatus.ACCEPTED, DispatchStatus.HANDLED)
    reached = func.sum(case((FollowUp.reached.is_(True), 1), else_=0))
    old_pairs = select(Dispatch.case_id, Dispatch.unit_id).where(Dispatch.status.in_(counted)).distinct().subquery()
    old = (
        select(old_pairs.c.unit_id, reached)
        .select_from(FollowUp)
        .join(Case, FollowUp.case_id == Case.id)
        .join(old_pairs, old_pairs.c.case_id == Case.id)
        .where(in_period, FollowUp.survey_id.is_(None))
        .group_by(old_pairs.c.unit_id)
    )
    with Session(engine) as s:
        first, last = s.execute(select(func.min(Case.id), func.max(Case.id)).where(in_period)).one()
    pairs = (
        select(Dispatch.case_id, Dispatch.unit_id)
        .select_from(Case)
        .join(Dispatch, Dispatch.case_id == Case.id)
        .where(in_period, Dispatch.case_id.between(first, last), Dispatch.status.in_(counted))
        .distinct()
        .subquery()
    )
    new = (
        select(pairs.c.unit_id, reached)
        .select_from(pairs)
        .join(FollowUp, FollowUp.case_id == pairs.c.case_id)
        .where(FollowUp.case_id.between(first, last), FollowUp.survey_id.is_(None))
        .group_by(pairs.c.unit_id)
    )
    best = []
    for stmt in (old, new):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            with Session(engine) as s:
                rows = sorted(s.execute(stmt).all())
            times.append(time.perf_counter() - t)
        best.append((min(times), rows))
    if best[0][1] != best[1][1]:
        raise SystemExit("the per-unit follow-up statements disagree")
    return best[0][0], best[1][0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1_000_000, help="cases in the database (default 1 000 000)")
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--intake", type=int, default=2000, help="cases created through the service (default 2000)")
    p.add_argument("--lookups", type=int, default=2000, help="caller-history lookups (default 2000)")
    p.add_argument("--workdir", default=None, help="folder for the SQLite file (default: a temporary folder)")
    args = p.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory(prefix="bench_cases") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for backend in backends:
            r = run(backend, args.cases, min(args.intake, args.cases), args.lookups, workdir)
            print(
                f"{backend:8} cases={int(r['cases']):,} bulk_load={r['bulk_load_s']:.0f}s "
                f"intake={r['intake_per_s']:.0f} cases/s "
                f"caller_history p50={r['history_p50_ms']:.2f}ms p99={r['history_p99_ms']:.2f}ms "
                f"(avg {r['history_avg_found']:.1f} found) "
                f"kpi_month={r['kpi_month_s']:.2f}s (before: {r['kpi_month_before_s']:.2f}s; "
                f"{int(r['kpi_month_intake']):,} cases, same figures) "
                f"kpi_month_full={r['kpi_month_full_s']:.2f}s (every KPI, per day too; target < 1 s at 1M) "
                f"per_unit_follow_ups={r['per_unit_stmt_s'] * 1000:.0f}ms "
                f"(before: {r['per_unit_stmt_before_s'] * 1000:.0f}ms)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
