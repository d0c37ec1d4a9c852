"""Durable transcription jobs: one per recorded call, claimed by any number of workers on any machine.

A claim is a lease: the worker holds the job until `lease_until` and renews it while it decodes. A worker
that is killed stops renewing; once the lease has expired any worker takes the job again (attempt n+1).
A job whose lease expired `max_attempts` times fails with `worker_lost` instead of being taken forever.

Claiming is one atomic statement per backend:
- PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` picks a row no other transaction holds, then updates it;
- SQLite: `UPDATE ... WHERE id = (SELECT ...) AND <still claimable> RETURNING`, one writer at a time.

Every function here takes a Session and commits what it did, so a caller (a worker thread, the CTI
server's CallEnded subscriber, a command) never holds a job row locked across decoding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from recordings.errors import LeaseLostError, RecordingError, WorkerLostError
from recordings.speech import Sentence
from recordings.verify import RecordingStatus
from schema.calls import CallRecord
from schema.transcripts import JobStatus, Transcript, TranscriptionJob, TranscriptSentence


@dataclass(frozen=True)
class Claim:
    """A job this worker holds until its lease expires."""

    job_id: int
    call_id: str
    recording: str
    attempt: int
    worker: str


def enqueue_for_call(session: Session, call_id: str, now: datetime) -> TranscriptionJob | None:
    """Create the transcription job of an ended call that has a recording (idempotent: an existing job
    is returned as it is). Returns None if the call is unknown, not ended, was not recorded, or its recording
    failed (`calls.recording_status`, recordings.verify). Meant for the CTI server's CallEnded subscriber;
    commits."""
    call = session.scalar(select(CallRecord).where(CallRecord.linkedid == call_id))
    if (
        call is None
        or call.recording is None
        or call.ended_at is None
        or call.recording_status == RecordingStatus.FAILED
    ):
        return None
    return _add_job(session, call_id, call.recording, now)[0]


def _add_job(session: Session, call_id: str, recording: str, now: datetime) -> tuple[TranscriptionJob, bool]:
    """The call's job and whether this call created it."""
    existing = session.scalar(select(TranscriptionJob).where(TranscriptionJob.call_id == call_id))
    if existing is not None:
        session.commit()
        return existing, False
    job = TranscriptionJob(call_id=call_id, recording=recording, status=JobStatus.PENDING, attempts=0, created_at=now)
    session.add(job)
    try:
        session.commit()
    except IntegrityError:  # another server or sweep created it at the same moment
        session.rollback()
        return session.scalars(select(TranscriptionJob).where(TranscriptionJob.call_id == call_id)).one(), False
    return job, True


def sweep(session: Session, now: datetime, limit: int = 10_000) -> int:
    """Create the missing jobs of ended, recorded calls (the server was down, or its subscriber failed),
    except those whose recording failed. Returns how many jobs it created."""
    missing = session.execute(
        select(CallRecord.linkedid, CallRecord.recording)
        .where(
            CallRecord.recording.is_not(None),
            CallRecord.ended_at.is_not(None),
            func.coalesce(CallRecord.recording_status, "") != RecordingStatus.FAILED,
            ~exists().where(TranscriptionJob.call_id == CallRecord.linkedid),
        )
        .order_by(CallRecord.id)
        .limit(limit)
    ).all()
    session.rollback()
    created = 0
    for call_id, recording in missing:
        assert recording is not None
        created += _add_job(session, call_id, recording, now)[1]
    return created


def _claimable(now: datetime, max_attempts: int) -> ColumnElement[bool]:
    return and_(
        TranscriptionJob.attempts < max_attempts,
        or_(
            TranscriptionJob.status == JobStatus.PENDING,
            and_(TranscriptionJob.status == JobStatus.RUNNING, TranscriptionJob.lease_until < now),
        ),
    )


def expire_lost(session: Session, now: datetime, max_attempts: int) -> int:
    """Fail the jobs whose worker vanished as often as attempts allow (see WorkerLostError)."""
    result = session.execute(
        update(TranscriptionJob)
        .where(
            TranscriptionJob.status == JobStatus.RUNNING,
            TranscriptionJob.lease_until < now,
            TranscriptionJob.attempts >= max_attempts,
        )
        .values(
            status=JobStatus.FAILED,
            error_id=WorkerLostError.error_id,
            error=f"the worker stopped renewing its lease on all {max_attempts} attempts",
            lease_until=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def claim(session: Session, worker: str, now: datetime, lease_seconds: float, max_attempts: int) -> Claim | None:
    """Take the oldest claimable job for `worker`, or None if there is none. Commits."""
    expire_lost(session, now, max_attempts)
    claimable = _claimable(now, max_attempts)
    values = {
        "status": JobStatus.RUNNING,
        "worker": worker,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "attempts": TranscriptionJob.attempts + 1,
        "started_at": now,
    }
    returning = (TranscriptionJob.id, TranscriptionJob.call_id, TranscriptionJob.recording, TranscriptionJob.attempts)
    if session.get_bind().dialect.name == "postgresql":
        job_id = session.scalar(
            select(TranscriptionJob.id)
            .where(claimable)
            .order_by(TranscriptionJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job_id is None:
            session.commit()
            return None
        stmt = update(TranscriptionJob).where(TranscriptionJob.id == job_id)
    else:
        pick = select(TranscriptionJob.id).where(claimable).order_by(TranscriptionJob.id).limit(1)
        stmt = update(TranscriptionJob).where(TranscriptionJob.id == pick.scalar_subquery(), claimable)
    row = session.execute(
        stmt.values(**values).returning(*returning).execution_options(synchronize_session=False)
    ).first()
    session.commit()
    if row is None:
        return None
    return Claim(job_id=row[0], call_id=row[1], recording=row[2], attempt=row[3], worker=worker)


def renew(session: Session, held: Claim, now: datetime, lease_seconds: float) -> bool:
    """Extend the lease; False if the job is no longer this worker's (the lease expired and was taken)."""
    result = session.execute(
        update(TranscriptionJob)
        .where(*_mine(held))
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _mine(held: Claim) -> tuple[ColumnElement[bool], ...]:
    return (
        TranscriptionJob.id == held.job_id,
        TranscriptionJob.worker == held.worker,
        TranscriptionJob.status == JobStatus.RUNNING,
        TranscriptionJob.attempts == held.attempt,
    )


@dataclass(frozen=True)
class TranscriptData:
    recording: str
    model: str
    sample_rate: int
    duration_seconds: float
    sentences: Sequence[Sentence]


def complete(session: Session, held: Claim, data: TranscriptData, now: datetime) -> int:
    """Store the transcript and mark the job done, in one transaction, only if the job is still this
    worker's. Returns the transcript id; raises LeaseLostError (nothing stored) otherwise."""
    try:
        result = session.execute(
            update(TranscriptionJob)
            .where(*_mine(held))
            .values(status=JobStatus.DONE, lease_until=None, finished_at=now, error_id=None, error=None)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            raise LeaseLostError(f"job {held.job_id} (call {held.call_id}) is no longer held by {held.worker}")
        transcript = transcript_row(held.call_id, held.job_id, data, now)
        session.add(transcript)
        session.flush()
        session.commit()
    except IntegrityError as exc:  # unique call_id/job_id: already stored by another run of this job
        session.rollback()
        raise LeaseLostError(f"the transcript of call {held.call_id} is already stored") from exc
    except BaseException:
        session.rollback()
        raise
    return transcript.id


def transcript_row(call_id: str, job_id: int | None, data: TranscriptData, now: datetime) -> Transcript:
    """The Transcript (with its sentences) for decoded sentences; not added to any session."""
    return Transcript(
        call_id=call_id,
        job_id=job_id,
        recording=data.recording,
        model=data.model,
        sample_rate=data.sample_rate,
        duration_seconds=round(data.duration_seconds, 3),
        text=" ".join(s.text for s in data.sentences),
        created_at=now,
        sentences=[
            TranscriptSentence(
                position=i,
                speaker=s.speaker,
                start=s.start,
                end=s.end,
                text=s.text,
                words=json.dumps([[w.word, w.start, w.end, round(w.conf, 4)] for w in s.words], ensure_ascii=False),
            )
            for i, s in enumerate(data.sentences)
        ],
    )


def fail(session: Session, held: Claim, error: RecordingError, now: datetime, max_attempts: int) -> str:
    """Record a failed attempt: back to pending if the error may pass and attempts remain, else failed.
    Returns the job's new status."""
    final = not error.retryable or held.attempt >= max_attempts
    status = JobStatus.FAILED if final else JobStatus.PENDING
    session.execute(
        update(TranscriptionJob)
        .where(*_mine(held))
        .values(
            status=status,
            lease_until=None,
            error_id=error.error_id,
            error=str(error)[:2000],
            finished_at=now if final else None,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return str(status)
