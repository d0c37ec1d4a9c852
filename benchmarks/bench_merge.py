"""并单 benchmark: precision and recall of the duplicate suggestions and the candidate lookup time (p50/p99)
on a generated year of --cases cases (default 100 000; tests/support/merge_data.py: 10 % duplicates in
three forms, 5 % hard negatives), on SQLite, beside a baseline in the same run on the same data: the same
scoring over every case of the window, read without the number and category indexes (what a lookup costs
without the index-bounded pool).

    .venv/bin/python benchmarks/bench_merge.py [--cases 100000] [--queries 1000] [--baseline-queries 100]

The figures are for --queries cases drawn at random (every duplicate among them counts for recall); the
baseline is timed on --baseline-queries of them. Also prints the word segmentation's start-up (rjieba's
dictionary is loaded at import) and the query plans of the pool's statements. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

t_import = time.perf_counter()
import rjieba  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - t_import

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from ari_app.cases import Actor, CaseSettings, configure  # noqa: E402
from ari_app.cases.merging import POOL_COLUMNS, THRESHOLD, PoolCase, candidates, score_pool  # noqa: E402
from ari_app.cases.settings import HotlineRules  # noqa: E402
from ari_app.config import HotlineMode  # noqa: E402
from schema.cases import Case  # noqa: E402
from schema.db import make_engine, upgrade  # noqa: E402
from schema.users import Role  # noqa: E402
from tests.support.merge_data import KINDS, generate, load  # noqa: E402

HOTLINES = {
    "12345": HotlineRules("12345", HotlineMode.COLLABORATIVE, tuple(c for h, c in KINDS if h == "12345")),
    "12319": HotlineRules("12319", HotlineMode.COLLABORATIVE, tuple(c for h, c in KINDS if h == "12319")),
}
START = datetime(2025, 12, 1, tzinfo=UTC)
AGENT = Actor(user_id=None, login="bench", role=Role.AGENT)


def say(msg: str) -> None:
    print(msg, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def naive(session: Session, case: Case, days: int) -> list[int]:
    """The baseline: every case of the window, scored the same way (no number or category prefilter)."""
    since = case.created_at - timedelta(days=days)
    rows = [
        PoolCase(*r) for r in session.execute(select(*POOL_COLUMNS).where(Case.created_at >= since, Case.id != case.id))
    ]
    return [row.id for row, sig in score_pool(case, rows) if sig.score >= THRESHOLD][:10]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--baseline-queries", type=int, default=100)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()

    t = time.perf_counter()
    rjieba.cut_for_search("幸福路12号小区停水两天了")
    first_ms = (time.perf_counter() - t) * 1000
    say(f"rjieba: import (dictionary load) {IMPORT_SECONDS * 1000:.0f} ms, first text {first_ms:.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench_merge.db'}")
        upgrade(engine)
        settings = CaseSettings(hotlines=HOTLINES, clock=lambda: START + timedelta(days=366))
        t = time.perf_counter()
        requests = generate(args.cases, seed=args.seed, start=START, days=365)
        with Session(engine) as s, s.begin():
            ids = load(s, requests, settings.numbers)
        say(f"generated and loaded {len(ids)} cases in {time.perf_counter() - t:.1f} s")
        index = {cid: i for i, cid in enumerate(ids)}

        rng = random.Random(args.seed)
        sample = rng.sample(range(len(ids)), min(args.queries, len(ids)))
        first: dict[int, int] = {}
        for i, r in enumerate(requests):
            first.setdefault(r.problem, i)
        times: list[float] = []
        suggestions = correct = dups = found = 0
        with Session(engine) as s:
            configure(s, settings)
            conn = s.connection()
            for stmt in (
                "EXPLAIN QUERY PLAN SELECT id FROM cases WHERE category_id = 1 AND created_at >= '2026-01-01' "
                "ORDER BY created_at DESC LIMIT 1000",
                "EXPLAIN QUERY PLAN SELECT id FROM cases WHERE caller = '13900000000' "
                "ORDER BY created_at DESC LIMIT 200",
            ):
                say("plan: " + "; ".join(str(row[-1]) for row in conn.execute(text(stmt))))
            for i in sample:
                t = time.perf_counter()
                got = [index[c.case.id] for c in candidates(s, AGENT, ids[i], limit=5)]
                times.append(time.perf_counter() - t)
                suggestions += len(got)
                correct += sum(1 for j in got if requests[j].problem == requests[i].problem)
                if first[requests[i].problem] != i:
                    dups += 1
                    found += any(requests[j].problem == requests[i].problem and j < i for j in got)
                s.expunge_all()
            base: list[float] = []
            for i in sample[: args.baseline_queries]:
                case = s.get(Case, ids[i])
                assert case is not None
                t = time.perf_counter()
                naive(s, case, settings.merge_window_days)
                base.append(time.perf_counter() - t)
                s.expunge_all()
        engine.dispose()

    say(
        f"suggestions for {len(sample)} cases: precision {correct / max(1, suggestions):.3f} "
        f"({correct}/{suggestions}), recall {found / max(1, dups):.3f} ({found}/{dups} duplicates)"
    )
    say(
        f"candidate lookup (index-bounded pool): p50 {statistics.median(times) * 1000:.1f} ms, "
        f"p99 {pct(times, 0.99) * 1000:.1f} ms over {len(times)}"
    )
    say(
        f"baseline (every case of the window, same scoring): p50 {statistics.median(base) * 1000:.1f} ms, "
        f"p99 {pct(base, 0.99) * 1000:.1f} ms over {len(base)}"
    )


if __name__ == "__main__":
    main()
