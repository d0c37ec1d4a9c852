"""The transcription worker: claims a job, decodes the call's sides with Vosk, stores the transcript.

`Transcriber` turns recording files into sentences (no database); `Worker` is one claiming loop (one
thread); `run_workers` runs N of them on one loaded model. A heartbeat thread renews a job's lease while
it decodes; if the lease is lost anyway (the worker was paused longer than the lease), decoding stops
and nothing is stored, since another worker has the job by then.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from recordings import jobs
from recordings.audio import Audio, read_wav
from recordings.errors import AudioEmptyError, LeaseLostError, RecordingError
from recordings.jobs import Claim, TranscriptData
from recordings.speech import Sentence, SpeechModel, merge
from recordings.store import purge_expired, secure, sides
from schema.base import utcnow
from schema.transcripts import Speaker

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


class Transcriber:
    """Recording files in, sentences out. The caller's and agent's sides (`<id>-caller.wav`,
    `<id>-agent.wav` beside the mix) are decoded separately so each sentence has its speaker; without
    them a stereo mix is split (left caller, right agent) and a mono mix is one `mixed` speaker."""

    def __init__(self, model: SpeechModel) -> None:
        self.model = model

    def plan(self, mix: Path) -> list[tuple[str, Path, int | None]]:
        """(speaker, file, channel) to decode; channel None means the file is mono."""
        found = sides(mix)
        if found.caller is not None or found.agent is not None:
            plan: list[tuple[str, Path, int | None]] = []
            if found.caller is not None:
                plan.append((Speaker.CALLER, found.caller, None))
            if found.agent is not None:
                plan.append((Speaker.AGENT, found.agent, None))
            return plan
        return [(Speaker.MIXED, mix, None)]

    def transcribe(self, mix: Path, progress: Progress | None = None) -> TranscriptData:
        audio: list[tuple[str, Audio]] = []
        empty: list[str] = []
        for speaker, path, _ in self.plan(mix):
            try:
                clip = read_wav(path)
            except AudioEmptyError as exc:
                empty.append(str(exc))
                continue
            if speaker == Speaker.MIXED and len(clip.channels) == 2:
                audio.append((Speaker.CALLER, Audio(clip.rate, clip.channels[:1])))
                audio.append((Speaker.AGENT, Audio(clip.rate, clip.channels[1:])))
            else:
                audio.append((speaker, clip))
        if not audio:
            raise AudioEmptyError("; ".join(empty))
        total = sum(a.duration for _, a in audio)
        done = 0.0
        results: list[list[Sentence]] = []
        for speaker, clip in audio:
            base = done

            def report(seconds: float, base: float = base) -> None:
                if progress is not None:
                    progress((base + seconds) / total if total else 1.0)

            results.append(self.model.decode(clip.channels[0], clip.rate, speaker, report))
            done += clip.duration
        return TranscriptData(
            recording=str(mix),
            model=self.model.name,
            sample_rate=audio[0][1].rate,
            duration_seconds=max(a.duration for _, a in audio),
            sentences=merge(*results),
        )


@dataclass(frozen=True)
class WorkerSettings:
    lease_seconds: float = 120
    max_attempts: int = 3
    poll_seconds: float = 1.0
    sweep_seconds: float = 60.0


@dataclass(frozen=True)
class Outcome:
    job_id: int
    call_id: str
    status: str  # done, pending (will be retried), failed, lease_lost
    transcript_id: int | None = None
    error_id: str | None = None


class Worker:
    """One claiming loop. Any number of these, in any number of processes and machines, share the jobs."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        model: SpeechModel,
        settings: WorkerSettings,
        recordings_root: Path | None = None,
        name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.transcriber = Transcriber(model)
        self.settings = settings
        self.root = recordings_root
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.clock = clock

    def sweep(self) -> int:
        with self.sessions() as s:
            return jobs.sweep(s, self.clock())

    def run_one(self) -> Outcome | None:
        """Claim and process one job; None when there is nothing to claim."""
        st = self.settings
        with self.sessions() as s:
            held = jobs.claim(s, self.name, self.clock(), st.lease_seconds, st.max_attempts)
        if held is None:
            return None
        log.info("transcribing call %s (job %s, attempt %s) on %s", held.call_id, held.job_id, held.attempt, self.name)
        lost = threading.Event()
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(held, done, lost), daemon=True)
        beat.start()
        try:
            return self._process(held, lost)
        finally:
            done.set()
            beat.join()

    def _heartbeat(self, held: Claim, done: threading.Event, lost: threading.Event) -> None:
        interval = max(self.settings.lease_seconds / 3, 0.05)
        while not done.wait(interval):
            try:
                with self.sessions() as s:
                    if not jobs.renew(s, held, self.clock(), self.settings.lease_seconds):
                        lost.set()
                        return
            except Exception:  # a database hiccup: the next beat tries again before the lease runs out
                log.exception("renewing the lease of job %s failed", held.job_id)

    def _process(self, held: Claim, lost: threading.Event) -> Outcome:
        st = self.settings
        mix = Path(held.recording)

        def check(_fraction: float) -> None:
            if lost.is_set():
                raise LeaseLostError(f"job {held.job_id}: lease lost while decoding")

        try:
            if self.root is not None:
                secure(sides(mix, held.call_id), self.root)
            data = self.transcriber.transcribe(mix, check)
            with self.sessions() as s:
                transcript_id = jobs.complete(s, held, data, self.clock())
        except LeaseLostError as exc:
            log.warning("%s", exc)
            return Outcome(held.job_id, held.call_id, "lease_lost", error_id=exc.error_id)
        except RecordingError as exc:
            with self.sessions() as s:
                status = jobs.fail(s, held, exc, self.clock(), st.max_attempts)
            log.warning("job %s (call %s) %s: %s: %s", held.job_id, held.call_id, status, exc.error_id, exc)
            return Outcome(held.job_id, held.call_id, status, error_id=exc.error_id)
        except Exception as exc:  # a decoder or database fault: count the attempt, keep the reason
            wrapped = RecordingError(f"{type(exc).__name__}: {exc}")
            wrapped.retryable = True
            with self.sessions() as s:
                status = jobs.fail(s, held, wrapped, self.clock(), st.max_attempts)
            log.exception("job %s (call %s) %s", held.job_id, held.call_id, status)
            return Outcome(held.job_id, held.call_id, status, error_id=wrapped.error_id)
        log.info("call %s transcribed: transcript %s (%s sentences)", held.call_id, transcript_id, len(data.sentences))
        return Outcome(held.job_id, held.call_id, "done", transcript_id=transcript_id)

    def drain(self, stop: threading.Event | None = None) -> list[Outcome]:
        """Process jobs until none is claimable (or `stop` is set)."""
        out: list[Outcome] = []
        while stop is None or not stop.is_set():
            outcome = self.run_one()
            if outcome is None:
                break
            out.append(outcome)
        return out

    def run(self, stop: threading.Event) -> None:
        """Process jobs until `stop` is set, sweeping for missed calls now and then and waiting
        `poll_seconds` (or until stopped) when there is nothing to do."""
        next_sweep = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_sweep:
                created = self.sweep()
                if created:
                    log.info("sweep: %s recorded calls had no transcription job", created)
                next_sweep = time.monotonic() + self.settings.sweep_seconds
            if self.drain(stop):
                continue
            stop.wait(self.settings.poll_seconds)


def run_workers(
    count: int,
    make_worker: Callable[[int], Worker],
    stop: threading.Event,
    once: bool,
) -> list[Outcome]:
    """Run `count` workers as threads (one shared model); with `once`, until no job is left."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    workers = [make_worker(i) for i in range(count)]
    if workers:
        workers[0].sweep()

    def body(w: Worker) -> None:
        if once:
            got = w.drain(stop)
            with lock:
                outcomes.extend(got)
        else:
            w.run(stop)

    threads = [threading.Thread(target=body, args=(w,), name=f"transcribe-{i}") for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def purge(root: Path, retention_days: int) -> None:
    report = purge_expired(root, retention_days, utcnow().date())
    if report.days:
        log.info("retention: removed %s day folders (%s files, %s bytes)", len(report.days), report.files, report.bytes)
