"""Transcription jobs without decoding: creation (subscriber and sweep), leases, attempts, storing once,
and concurrent claimers never sharing a job. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from recordings import jobs
from recordings.errors import AudioCorruptError, LeaseLostError, RecordingMissingError
from recordings.jobs import TranscriptData
from recordings.speech import Sentence, Word
from schema.transcripts import JobStatus, Transcript, TranscriptionJob
from tests.support.db import Database as Db
from tests.support.speech import T0, AddCall

DATA = TranscriptData(
    recording="/r/c.wav",
    model="test",
    sample_rate=8000,
    duration_seconds=3.0,
    sentences=[Sentence("caller", 0.1, 0.9, "가격 문의", (Word("가격", 0.1, 0.5, 1.0), Word("문의", 0.5, 0.9, 0.8)))],
)


def _job(db: Db, call_id: str) -> TranscriptionJob:
    with db.sessions() as s:
        return s.scalars(select(TranscriptionJob).where(TranscriptionJob.call_id == call_id)).one()


def test_enqueue_is_idempotent_and_only_for_ended_recorded_calls(db: Db, add_call: AddCall) -> None:
    add_call(db, "c1", recording=Path("/r/c1.wav"))
    add_call(db, "c2")  # not recorded
    with db.sessions() as s:
        first = jobs.enqueue_for_call(s, "c1", T0)
        again = jobs.enqueue_for_call(s, "c1", T0 + timedelta(seconds=5))
        assert first is not None and again is not None and first.id == again.id
        assert first.status == JobStatus.PENDING and first.recording == "/r/c1.wav"
        assert jobs.enqueue_for_call(s, "c2", T0) is None
        assert jobs.enqueue_for_call(s, "nope", T0) is None
        assert s.scalar(select(func.count()).select_from(TranscriptionJob)) == 1


def test_sweep_finds_recorded_calls_without_a_job(db: Db, add_call: AddCall) -> None:
    for i in range(5):
        add_call(db, f"c{i}", recording=Path(f"/r/c{i}.wav"))
    add_call(db, "quiet")
    with db.sessions() as s:
        jobs.enqueue_for_call(s, "c0", T0)
        assert jobs.sweep(s, T0) == 4
        assert jobs.sweep(s, T0) == 0
        assert sorted(s.scalars(select(TranscriptionJob.call_id))) == [f"c{i}" for i in range(5)]


def test_lease_expiry_gives_the_job_to_another_worker_and_attempts_are_bounded(db: Db, add_call: AddCall) -> None:
    add_call(db, "c1", recording=Path("/r/c1.wav"))
    with db.sessions() as s:
        jobs.sweep(s, T0)
        a = jobs.claim(s, "A", T0, lease_seconds=10, max_attempts=2)
        assert a is not None and a.attempt == 1
        assert jobs.claim(s, "B", T0 + timedelta(seconds=9), 10, 2) is None  # A's lease still runs
        assert jobs.renew(s, a, T0 + timedelta(seconds=9), 10)  # heartbeat: lease until T0+19
        assert jobs.claim(s, "B", T0 + timedelta(seconds=18), 10, 2) is None
        b = jobs.claim(s, "B", T0 + timedelta(seconds=20), 10, 2)  # A is gone
        assert b is not None and b.attempt == 2 and b.job_id == a.job_id
        assert not jobs.renew(s, a, T0 + timedelta(seconds=21), 10)  # A learns it lost the job
        try:
            jobs.complete(s, a, DATA, T0 + timedelta(seconds=21))
            raise AssertionError("a worker that lost its lease stored a transcript")
        except LeaseLostError as exc:
            assert exc.error_id == "lease_lost"
        # B dies too: attempts are used up, the job fails instead of circling forever
        assert jobs.claim(s, "C", T0 + timedelta(seconds=40), 10, 2) is None
    job = _job(db, "c1")
    assert job.status == JobStatus.FAILED and job.error_id == "worker_lost" and job.attempts == 2


def test_transcript_is_stored_once(db: Db, add_call: AddCall) -> None:
    add_call(db, "c1", recording=Path("/r/c1.wav"))
    with db.sessions() as s:
        jobs.sweep(s, T0)
        held = jobs.claim(s, "A", T0, 10, 3)
        assert held is not None
        tid = jobs.complete(s, held, DATA, T0 + timedelta(seconds=1))
        try:
            jobs.complete(s, held, DATA, T0 + timedelta(seconds=2))
            raise AssertionError("stored twice")
        except LeaseLostError:
            pass
        t = s.get(Transcript, tid)
        assert t is not None and t.text == "가격 문의" and t.sentences[0].speaker == "caller"
        assert s.scalar(select(func.count()).select_from(Transcript)) == 1
        assert jobs.claim(s, "B", T0 + timedelta(hours=1), 10, 3) is None  # done jobs are never claimed
    job = _job(db, "c1")
    assert job.status == JobStatus.DONE and job.finished_at is not None and job.finished_at.tzinfo is not None


def test_failures_permanent_or_retried_up_to_max_attempts(db: Db, add_call: AddCall) -> None:
    add_call(db, "bad", recording=Path("/r/bad.wav"))
    add_call(db, "late", recording=Path("/r/late.wav"))
    with db.sessions() as s:
        jobs.sweep(s, T0)
        held = jobs.claim(s, "A", T0, 10, 3)
        assert held is not None and held.call_id == "bad"
        assert jobs.fail(s, held, AudioCorruptError("/r/bad.wav: not a WAV file"), T0, 3) == "failed"
        statuses = []
        for i in range(3):
            h = jobs.claim(s, "A", T0 + timedelta(seconds=i), 10, 3)
            assert h is not None and h.call_id == "late" and h.attempt == i + 1
            statuses.append(jobs.fail(s, h, RecordingMissingError("/r/late.wav: no such file"), T0, 3))
        assert statuses == ["pending", "pending", "failed"]
        assert jobs.claim(s, "A", T0 + timedelta(hours=1), 10, 3) is None
    bad, late = _job(db, "bad"), _job(db, "late")
    assert (bad.status, bad.error_id, bad.attempts) == ("failed", "audio_corrupt", 1)
    assert bad.error is not None and "not a WAV file" in bad.error
    assert (late.status, late.error_id, late.attempts) == ("failed", "recording_missing", 3)


def test_concurrent_claimers_never_share_a_job(db: Db, add_call: AddCall) -> None:
    n_jobs, n_workers = 40, 4
    for i in range(n_jobs):
        add_call(db, f"c{i:03}", recording=Path(f"/r/c{i}.wav"))
    with db.sessions() as s:
        assert jobs.sweep(s, T0) == n_jobs
    taken: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(n_workers)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            with db.sessions() as s:
                while (held := jobs.claim(s, name, T0, 60, 3)) is not None:
                    with lock:
                        taken.append((name, held.job_id))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    ids = [job_id for _, job_id in taken]
    assert len(ids) == n_jobs and len(set(ids)) == n_jobs
    with db.sessions() as s:
        rows = s.execute(select(TranscriptionJob.id, TranscriptionJob.worker, TranscriptionJob.attempts)).all()
    assert all(attempts == 1 for _, _, attempts in rows)
    assert {job_id: worker for job_id, worker, _ in rows} == {job_id: name for name, job_id in taken}
