"""What the CTI server wires in (ari_app/server.py): a CallEnded subscriber that creates the call's
transcription job, and optionally worker threads running inside the server process.

    service = TranscriptionService(sessions, cfg.recordings_path)
    tracker.subscribe(service.on_call_event)      # a job per ended, recorded call
    extras.append(service)                        # start(): sweep for calls missed while down

Workers usually run as their own processes (`hotline transcribe`), on this or other machines; pass
`workers=N` and a loaded model to run them inside the server instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallEnded, CallEvent, QueueMemberChanged
from ari_app.calls.model import CallState
from recordings import jobs
from recordings.speech import SpeechModel
from recordings.store import recording_for_call, secure
from recordings.worker import Worker, WorkerSettings
from schema.base import utcnow

log = logging.getLogger(__name__)


class TranscriptionService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        recordings_root: Path,
        *,
        model: SpeechModel | None = None,
        workers: int = 0,
        settings: WorkerSettings | None = None,
    ) -> None:
        self.sessions = sessions
        self.root = recordings_root
        self.model = model
        self.workers = workers if model is not None else 0
        self.settings = settings or WorkerSettings()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def enqueue(self, call_id: str) -> int | None:
        """Secure the call's files and create its job (blocking; run off the event loop)."""
        with self.sessions() as s:
            files = recording_for_call(s, call_id)
            if files is not None:
                secure(files, self.root)
            job = jobs.enqueue_for_call(s, call_id, utcnow())
            return job.id if job is not None else None

    async def on_call_event(self, event: CallEvent | QueueMemberChanged) -> None:
        """Tracker subscriber: a CallEnded creates the job of the call's recording. The call store has
        already written the ended call (the AMI link stores before it publishes). A refused call (overflow,
        not a hotline) was never recorded: in a storm those are most calls, and cost no database read."""
        if isinstance(event, CallEnded) and event.state is not CallState.REJECTED:
            job_id = await asyncio.to_thread(self.enqueue, event.call_id)
            if job_id is not None:
                log.info("call %s: transcription job %s", event.call_id, job_id)

    async def start(self) -> None:
        created = await asyncio.to_thread(self._sweep)
        if created:
            log.info("transcription sweep: %s recorded calls had no job", created)
        assert self.model is not None or self.workers == 0
        for i in range(self.workers):
            assert self.model is not None
            worker = Worker(self.sessions, self.model, self.settings, self.root, name=None)
            t = threading.Thread(target=worker.run, args=(self._stop,), name=f"transcribe-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def _sweep(self) -> int:
        with self.sessions() as s:
            return jobs.sweep(s, utcnow())

    async def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            await asyncio.to_thread(t.join)
        self._threads.clear()
