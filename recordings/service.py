"""What the CTI server wires in (ari_app/server.py, with ari_app.qa.recordings): the check of an ended
call's recording and the creation of its transcription job, and optionally worker threads running inside
the server process.

    service = TranscriptionService(sessions, cfg.recordings_path, audit_failure=audit_recording_failure)
    bus.subscribe(stored_first(store, check_when_ended(service)), CallEnded)  # service.call_ended(call_id)
    service.publish = bus.publish                 # every recording that failed its check, as RecordingFailure
    extras.append(service)                        # start(): sweep for calls missed while down

This package knows the tables (schema) and nothing of the server: the server's side decides which ended
calls are checked (a refused call was never recorded) and writes the audit entry of a failed recording, in
the transaction that marks it (`audit_failure`).

The check (recordings.verify) runs when the call ends: a file that is missing, empty, a header only or
truncated (a full recordings disk) is looked at again every `SETTLE_STEP` s for `settle_seconds`, since
Asterisk writes a WAV's sizes when it closes the file, a moment after the hang-up. Still bad then: the call
is marked `recording_status = failed` with the reason (`recording_error`), an audit entry
(`recording_failed`, by `system`) and an error log line are written, no transcription job is made, and a
RecordingFailure is published (the supervisors' alarm subscribes to it). A good recording is marked `ok` and
gets its job. A call that ended `lost` had its recorder stop with Asterisk (a crash): a file left unclosed
then (recordings.verify `UNCLOSED`) is its recording, marked `ok` and transcribed.

Workers usually run as their own processes (`hotline transcribe`), on this or other machines; pass
`workers=N` and a loaded model to run them inside the server instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from recordings import jobs
from recordings.errors import RecordingFailedError
from recordings.speech import SpeechModel
from recordings.store import RecordingSet, recording_for_call, secure, sides
from recordings.verify import RecordingStatus, check_set, describe
from recordings.worker import Worker, WorkerSettings
from schema.base import utcnow
from schema.calls import CallRecord, EndReason
from schema.transcripts import JobStatus, TranscriptionJob

log = logging.getLogger(__name__)

SETTLE_SECONDS = 10.0
"""How long a bad-looking recording is given to become good after its call ended (Asterisk closing it)."""
SETTLE_STEP = 0.25


@dataclass(frozen=True)
class RecordingFailure:
    """A call whose recording failed its check: `reason` names each bad file and what is wrong with it."""

    call_id: str
    hotline: str | None
    recording: str
    reason: str


AuditFailure = Callable[[Session, RecordingFailure, datetime], None]
"""Writes the audit entry of a failed recording into the session's transaction, the one that marks the call
(the server's: ari_app.qa.recordings.audit_recording_failure)."""


class TranscriptionService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        recordings_root: Path,
        *,
        model: SpeechModel | None = None,
        workers: int = 0,
        settings: WorkerSettings | None = None,
        settle_seconds: float = SETTLE_SECONDS,
        audit_failure: AuditFailure,
    ) -> None:
        self.sessions = sessions
        self.audit_failure = audit_failure
        self.settle_seconds = settle_seconds
        self.publish: Callable[[RecordingFailure], None] = lambda failure: None
        """Where a RecordingFailure goes (the server's bus; the supervisors' alarm subscribes there)."""
        self._checks: set[asyncio.Task[RecordingFailure | None]] = set()
        self.root = recordings_root
        self.model = model
        self.workers = workers if model is not None else 0
        self.settings = settings or WorkerSettings()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def enqueue(self, call_id: str) -> int | None:
        """Secure the call's files and create its job (blocking; run off the event loop). No job for a
        recording marked failed."""
        with self.sessions() as s:
            files = recording_for_call(s, call_id)
            if files is not None:
                secure(files, self.root)
            job = jobs.enqueue_for_call(s, call_id, utcnow())
            return job.id if job is not None else None

    def recording_of(self, call_id: str) -> tuple[RecordingSet, bool] | None:
        """The call's recording and whether its recorder is gone for good (the call ended `lost`: Asterisk
        went away during it, so a file it left unclosed stays so); None if the call was not recorded."""
        with self.sessions() as s:
            files = recording_for_call(s, call_id)
            reason = s.scalar(select(CallRecord.end_reason).where(CallRecord.linkedid == call_id))
            return (files, reason == EndReason.LOST) if files is not None else None

    def mark(self, call_id: str, problems_text: str | None) -> RecordingFailure | None:
        """Store the check's result on the call (`ok`, or `failed` with the reason); a failure is also
        audited (`audit_failure`, in the same transaction), and a job still pending for the call (made by a
        worker's sweep while the check waited) is failed with `recording_failed`. Returns the failure, or
        None for `ok`."""
        now = utcnow()
        with self.sessions.begin() as s:
            call = s.scalar(select(CallRecord).where(CallRecord.linkedid == call_id))
            if call is None or call.recording is None:
                return None
            if problems_text is None:
                call.recording_status, call.recording_error = RecordingStatus.OK, None
                return None
            call.recording_status, call.recording_error = RecordingStatus.FAILED, problems_text
            # a worker's sweep may have made a job while the check waited: it must not be decoded
            s.execute(
                update(TranscriptionJob)
                .where(TranscriptionJob.call_id == call_id, TranscriptionJob.status == JobStatus.PENDING)
                .values(
                    status=JobStatus.FAILED,
                    error_id=RecordingFailedError.error_id,
                    error=f"the recording failed: {problems_text}"[:2000],
                    finished_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            failure = RecordingFailure(call_id, call.hotline, call.recording, problems_text)
            self.audit_failure(s, failure, now)
            return failure

    def call_ended(self, call_id: str) -> None:
        """Call `call_id` has ended and its record is stored: start the check of its recording, then its job,
        in a task of its own (the check may wait for Asterisk to close the files, and the caller must not).
        Runs on the event loop."""
        task = asyncio.create_task(self.finish(call_id))
        self._checks.add(task)
        task.add_done_callback(self._check_done)

    def _check_done(self, task: asyncio.Task[RecordingFailure | None]) -> None:
        self._checks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("checking a recording failed", exc_info=task.exception())

    async def finish(self, call_id: str) -> RecordingFailure | None:
        """Check the ended call's recording (waiting up to `settle_seconds` for a bad-looking one), mark it
        on the call, then either create its transcription job or tell the failed subscribers."""
        recorded = await asyncio.to_thread(self.recording_of, call_id)
        if recorded is None:
            return None  # not recorded
        files, recorder_gone = recorded
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_seconds
        while True:
            problems = await asyncio.to_thread(check_set, files, recorder_gone=recorder_gone)
            if not problems or loop.time() >= deadline:
                break
            await asyncio.sleep(SETTLE_STEP)
        failure = await asyncio.to_thread(self.mark, call_id, describe(problems) if problems else None)
        if failure is None:
            job_id = await asyncio.to_thread(self.enqueue, call_id)
            if job_id is not None:
                log.info("call %s: transcription job %s", call_id, job_id)
            return None
        log.error("call %s: recording failed, not transcribed: %s", call_id, failure.reason)
        self.publish(failure)
        return failure

    async def start(self) -> None:
        failures, created = await asyncio.to_thread(self._sweep)
        for failure in failures:
            log.error("call %s: recording failed, not transcribed: %s", failure.call_id, failure.reason)
            self.publish(failure)
        if created:
            log.info("transcription sweep: %s recorded calls had no job", created)
        assert self.model is not None or self.workers == 0
        for i in range(self.workers):
            assert self.model is not None
            worker = Worker(self.sessions, self.model, self.settings, self.root, name=None)
            t = threading.Thread(target=worker.run, args=(self._stop,), name=f"transcribe-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def _sweep(self, limit: int = 10_000) -> tuple[list[RecordingFailure], int]:
        """Check the recordings of ended calls that were never checked and have no job (the server was down
        when they ended), then create the missing jobs of the good ones."""
        with self.sessions() as s:
            unchecked = s.execute(
                select(CallRecord.linkedid, CallRecord.recording, CallRecord.end_reason)
                .where(
                    CallRecord.recording.is_not(None),
                    CallRecord.ended_at.is_not(None),
                    CallRecord.recording_status.is_(None),
                    ~exists().where(TranscriptionJob.call_id == CallRecord.linkedid),
                )
                .order_by(CallRecord.id)
                .limit(limit)
            ).all()
        failures = []
        for call_id, recording, end_reason in unchecked:
            problems = check_set(sides(Path(str(recording)), call_id), recorder_gone=end_reason == EndReason.LOST)
            failure = self.mark(call_id, describe(problems) if problems else None)
            if failure is not None:
                failures.append(failure)
        with self.sessions() as s:
            return failures, jobs.sweep(s, utcnow())

    async def stop(self) -> None:
        for task in list(self._checks):
            task.cancel()
        if self._checks:
            await asyncio.wait(list(self._checks), timeout=5)
        self._stop.set()
        for t in self._threads:
            await asyncio.to_thread(t.join)
        self._threads.clear()
