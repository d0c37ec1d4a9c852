"""Transcription jobs and transcripts of call recordings.

One `TranscriptionJob` per recorded call (unique `call_id`, the call's Linkedid): it is the durable
to-do item workers claim. One `Transcript` per call (unique `call_id` and `job_id`), so a job that
is run twice (its worker died after decoding) still stores its transcript once. A transcript is attached
to its case through the call: `cases.call_id` is the same Linkedid.

Full-text search: on SQLite an FTS5 index (`transcripts_fts`, external content = `transcripts.text`,
kept in sync by triggers the migration creates); on PostgreSQL a GIN index over
`to_tsvector('simple', text)`. The FTS5 virtual table and its shadow tables are declared below only so
that the models describe exactly what the migrations build; nothing reads them through the ORM. On
PostgreSQL they exist as empty plain tables.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from schema.base import Base, UTCDateTime, utcnow


class JobStatus(StrEnum):
    PENDING = "pending"  # waiting for a worker (new, or retried after a transient failure)
    RUNNING = "running"  # claimed; the worker renews `lease_until` while it decodes
    DONE = "done"  # the transcript is stored
    FAILED = "failed"  # gave up: `error_id` and `error` say why


class Speaker(StrEnum):
    CALLER = "caller"  # the citizen (MixMonitor's receive side)
    AGENT = "agent"  # what the caller heard: the agent and prompts (transmit side)
    MIXED = "mixed"  # a mono recording with both sides mixed: who spoke is unknown


class TranscriptionJob(Base):
    """The durable job of transcribing one call's recording."""

    __tablename__ = "transcription_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    recording: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error_id: Mapped[str | None] = mapped_column(String(48))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_transcription_jobs_status_lease_until", "status", "lease_until"),)


class Transcript(Base):
    """What was said on one call. `text` is every sentence's text in time order (the search column)."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("transcription_jobs.id"), unique=True)
    recording: Mapped[str] = mapped_column(String(512))
    model: Mapped[str] = mapped_column(String(256))
    sample_rate: Mapped[int]
    duration_seconds: Mapped[float]
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    sentences: Mapped[list[TranscriptSentence]] = relationship(
        back_populates="transcript", order_by="TranscriptSentence.position", cascade="all, delete-orphan"
    )


class TranscriptSentence(Base):
    """One utterance of one side of the call, with its words as JSON: `[[word, start, end, conf], ...]`
    (seconds from the start of the recording; confidence 0..1)."""

    __tablename__ = "transcript_sentences"

    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"))
    position: Mapped[int]
    speaker: Mapped[str] = mapped_column(String(16))
    start: Mapped[float]
    end: Mapped[float]
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[str] = mapped_column(Text)

    transcript: Mapped[Transcript] = relationship(back_populates="sentences")

    __table_args__ = (Index("ix_transcript_sentences_transcript_id_position", "transcript_id", "position"),)


# SQLite's FTS5 index of transcripts.text and its shadow tables (see the module docstring).
FTS_TABLE = "transcripts_fts"
Table(FTS_TABLE, Base.metadata, Column("text", Text))
# SQLite reports a rowid alias (INTEGER PRIMARY KEY) as nullable; so do these declarations.
Table(
    f"{FTS_TABLE}_data",
    Base.metadata,
    Column("id", Integer, primary_key=True, nullable=True),
    Column("block", LargeBinary),
)
Table(
    f"{FTS_TABLE}_idx",
    Base.metadata,
    Column("segid", Integer, primary_key=True),
    Column("term", LargeBinary, primary_key=True),
    Column("pgno", Integer),
)
Table(
    f"{FTS_TABLE}_docsize",
    Base.metadata,
    Column("id", Integer, primary_key=True, nullable=True),
    Column("sz", LargeBinary),
)
Table(f"{FTS_TABLE}_config", Base.metadata, Column("k", Text, primary_key=True), Column("v", Text))
