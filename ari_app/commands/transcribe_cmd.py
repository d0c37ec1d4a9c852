"""`hotline transcribe`: the transcription worker, and batch transcription of given files.

hotline transcribe                 run workers until stopped (SIGINT/SIGTERM)
hotline transcribe --once          create missing jobs, transcribe every claimable one, exit
hotline transcribe --workers N     N worker processes, each with its own model (Vosk decodes one stream per
                                   process at a time: threads would share one core's worth of decoding)
hotline transcribe --purge         remove recordings older than recordings.retention_days, exit
hotline transcribe FILE...         transcribe files and print the transcripts (progress on stderr)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ari_app.commands.common import needs_config, within
from ari_app.config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("transcribe", help="transcribe call recordings with Vosk (worker, or given files)")
    p.add_argument("files", nargs="*", metavar="FILE", help="WAV files to transcribe and print (no database)")
    p.add_argument("--once", action="store_true", help="process every claimable job, then exit")
    p.add_argument(
        "--workers", type=within(1, 64), default=1, help="worker processes, each loading the model (default 1)"
    )
    p.add_argument("--model", help="Vosk model directory (default: speech.model in the config)")
    p.add_argument("--json", action="store_true", help="with FILE: print the transcripts as JSON")
    p.add_argument("--purge", action="store_true", help="apply recordings.retention_days and exit")
    p.set_defaults(func=cmd_transcribe)


def _fail(message: str, code: int = 1) -> int:
    print(f"hotline transcribe: {message}", file=sys.stderr)
    return code


@needs_config
def cmd_transcribe(args: argparse.Namespace, cfg: Config) -> int:
    if args.purge:
        from recordings.store import purge_expired
        from schema.base import utcnow

        report = purge_expired(cfg.recordings_path, cfg.retention_days, utcnow().date())
        print(f"removed {len(report.days)} day folders, {report.files} files, {report.bytes} bytes")
        return 0
    if args.workers > 1 and not args.files:
        return _processes(args)
    from recordings.errors import ModelError
    from recordings.speech import SpeechModel

    model_dir = Path(args.model) if args.model else cfg.speech.model
    if model_dir is None:
        return _fail("no speech model: set speech.model in the config (see docs/recordings.md) or pass --model", 2)
    try:
        model = SpeechModel(model_dir, cfg.speech.grammar)
    except ModelError as exc:
        return _fail(f"{exc.error_id}: {exc}", 2)
    if args.files:
        return _batch(model, [Path(f) for f in args.files], args.json, sys.stdout, sys.stderr)
    return _work(cfg, model, args.workers, args.once)


def _processes(args: argparse.Namespace) -> int:
    """Run `--workers` single-worker processes (jobs are claimed safely across processes) and wait for them;
    SIGINT/SIGTERM are passed on."""
    import subprocess

    cmd = [sys.executable, "-m", "ari_app.cli", "-c", str(args.config), "transcribe", "--workers", "1"]
    if args.once:
        cmd.append("--once")
    if args.model:
        cmd += ["--model", args.model]
    children = [subprocess.Popen(cmd) for _ in range(args.workers)]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    return max(child.wait() for child in children)


def _work(cfg: Config, model: Any, workers: int, once: bool) -> int:
    import logging

    from recordings.worker import Worker, WorkerSettings, purge, run_workers
    from schema.db import make_engine, make_sessionmaker, upgrade

    log = logging.getLogger("hotline.transcribe")
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    settings = WorkerSettings(lease_seconds=cfg.speech.lease_seconds, max_attempts=cfg.speech.max_attempts)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if not once:
        purge(cfg.recordings_path, cfg.retention_days)
    log.info("transcription: %s worker(s), model %s", workers, model.path)
    outcomes = run_workers(
        workers,
        lambda i: Worker(sessions, model, settings, cfg.recordings_path),
        stop,
        once,
    )
    engine.dispose()
    if once:
        by_status: dict[str, int] = {}
        for o in outcomes:
            by_status[o.status] = by_status.get(o.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "nothing to do"
        print(f"transcription jobs: {summary}")
    return 0


class ProgressBar:
    """A one-line progress bar on a terminal stream (plain lines when the stream is not a terminal)."""

    WIDTH = 30

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.tty = stream.isatty()
        self._last = 0.0

    def within(self, index: int, label: str) -> Callable[[float], None]:
        """The progress callback of file `index` (from 0): the fraction of it done moves the bar within it."""
        return lambda fraction: self.show(index + fraction, label)

    def show(self, done: float, label: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        fraction = min(done / self.total, 1.0) if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        line = f"[{bar}] {fraction * 100:5.1f}% {int(done)}/{self.total} {label}"
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        elif force:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"


def _batch(model: Any, files: list[Path], as_json: bool, out: TextIO, err: TextIO) -> int:
    from recordings.errors import RecordingError
    from recordings.worker import Transcriber

    transcriber = Transcriber(model)
    bar = ProgressBar(err, len(files))
    results: list[dict[str, Any]] = []
    failed = 0
    for i, path in enumerate(files):
        bar.show(i, path.name, force=True)
        try:
            data = transcriber.transcribe(path, bar.within(i, path.name))
        except RecordingError as exc:
            failed += 1
            results.append({"file": str(path), "error_id": exc.error_id, "error": str(exc)})
            if not as_json:
                print(f"== {path}: FAILED {exc.error_id}: {exc}", file=out)
            continue
        sentences = [
            {
                "speaker": s.speaker,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "words": [{"word": w.word, "start": w.start, "end": w.end, "conf": w.conf} for w in s.words],
            }
            for s in data.sentences
        ]
        results.append(
            {
                "file": str(path),
                "duration_seconds": round(data.duration_seconds, 3),
                "sample_rate": data.sample_rate,
                "model": data.model,
                "sentences": sentences,
            }
        )
        if not as_json:
            print(f"== {path} ({data.duration_seconds:.1f} s, {data.sample_rate} Hz)", file=out)
            for s in data.sentences:
                print(f"[{_clock(s.start)}-{_clock(s.end)}] {s.speaker}: {s.text}", file=out)
            out.flush()
    bar.show(len(files), "done", force=True)
    bar.close()
    if as_json:
        json.dump(results, out, ensure_ascii=False, indent=2)
        print(file=out)
    return 1 if failed else 0
