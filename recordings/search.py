"""Finding and reading transcripts: the API the QA view (desktop, over the CTI server's link) uses.

`search_calls` finds recorded calls by words said in them (full text: SQLite FTS5, PostgreSQL text
search with the `simple` configuration), hotline, time range and agent; `get_transcript` returns a call's
transcript with sentence and word times, its recording files and the cases taken on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Integer, column, func, select, text
from sqlalchemy.orm import Session

from recordings.speech import Sentence, Word
from recordings.store import cases_for_call, sides
from recordings.verify import RecordingStatus
from schema.calls import CallRecord
from schema.transcripts import FTS_TABLE, Transcript, TranscriptionJob

_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class CallHit:
    """A call found by a search."""

    call_id: str
    hotline: str | None
    caller: str | None
    agent: str | None
    arrived_at: datetime
    talk_seconds: float | None
    snippet: str  # the start of the transcript
    transcript_id: int


@dataclass(frozen=True)
class CallTranscript:
    call_id: str
    hotline: str | None
    agent: str | None
    arrived_at: datetime | None
    recording: str
    caller_recording: str | None
    agent_recording: str | None
    recording_available: bool  # False once retention removed the files, or when the recording failed
    model: str
    duration_seconds: float
    sentences: tuple[Sentence, ...]
    cases: tuple[str, ...]
    job_status: str | None


def words_of(query: str) -> list[str]:
    """The search words of a query: word characters only, so no query syntax can be injected."""
    return _TOKEN.findall(query)


def _match(session: Session, words: list[str]) -> ColumnElement[bool]:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        expr = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        ids = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts").bindparams(fts=expr)
        return Transcript.id.in_(ids.columns(column("rowid", Integer)))
    if dialect == "postgresql":
        return func.to_tsvector("simple", Transcript.text).op("@@")(func.plainto_tsquery("simple", " ".join(words)))
    return Transcript.text.contains(words[0])  # other backends: a plain scan of the first word


def call_conditions(
    session: Session,
    words: str,
    hotline: str | None,
    agent: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    """The conditions of a search on a select of calls (`CallRecord`) with their `Transcript`: every one of
    `words` said (see `words_of`), of `hotline`, taken by `agent`, arrived from `since` to before `until`
    (aware times); a condition not given adds none. For `search_calls` and queries of their own (the QA
    view's search also lists calls that have no transcript yet)."""
    tokens = words_of(words)
    conditions = [_match(session, tokens)] if tokens else []
    if hotline:
        conditions.append(CallRecord.hotline == hotline)
    if agent:
        conditions.append(CallRecord.agent == agent)
    if since is not None:
        conditions.append(CallRecord.arrived_at >= since)
    if until is not None:
        conditions.append(CallRecord.arrived_at < until)
    return conditions


def search_calls(
    session: Session,
    words: str = "",
    *,
    hotline: str | None = None,
    agent: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[CallHit]:
    """Transcribed calls matching every given condition, newest first. `words`: all of them must have
    been said (in any order, by either side). `since`/`until` bound the call's arrival (aware times)."""
    stmt = (
        select(Transcript, CallRecord)
        .join(CallRecord, CallRecord.linkedid == Transcript.call_id)
        .where(*call_conditions(session, words, hotline, agent, since, until))
        .order_by(CallRecord.arrived_at.desc())
        .limit(limit)
    )
    return [
        CallHit(
            call_id=c.linkedid,
            hotline=c.hotline,
            caller=c.caller,
            agent=c.agent,
            arrived_at=c.arrived_at,
            talk_seconds=c.talk_seconds,
            snippet=t.text[:120],
            transcript_id=t.id,
        )
        for t, c in session.execute(stmt).all()
    ]


def get_transcript(session: Session, call_id: str) -> CallTranscript | None:
    """A call's transcript, sentences in time order with their words; None if not transcribed (yet)."""
    t = session.scalar(select(Transcript).where(Transcript.call_id == call_id))
    if t is None:
        return None
    call = session.scalar(select(CallRecord).where(CallRecord.linkedid == call_id))
    status = session.scalar(select(TranscriptionJob.status).where(TranscriptionJob.call_id == call_id))
    mix = Path(t.recording)
    files = sides(mix, call_id)
    return CallTranscript(
        call_id=call_id,
        hotline=call.hotline if call else None,
        agent=call.agent if call else None,
        arrived_at=call.arrived_at if call else None,
        recording=t.recording,
        caller_recording=str(files.caller) if files.caller else None,
        agent_recording=str(files.agent) if files.agent else None,
        recording_available=mix.exists() and (call is None or call.recording_status != RecordingStatus.FAILED),
        model=t.model,
        duration_seconds=t.duration_seconds,
        sentences=tuple(
            Sentence(
                speaker=s.speaker,
                start=s.start,
                end=s.end,
                text=s.text,
                words=tuple(Word(str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in json.loads(s.words)),
            )
            for s in t.sentences
        ),
        cases=tuple(cases_for_call(session, call_id)),
        job_status=status,
    )


def transcript_for_case(session: Session, case_id: int) -> CallTranscript | None:
    """The transcript of the call a case was taken on (cases.call_id), if any."""
    from schema.cases import Case

    call_id = session.scalar(select(Case.call_id).where(Case.id == case_id))
    return get_transcript(session, call_id) if call_id else None
