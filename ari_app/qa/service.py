"""Quality assurance (the QA view's domain): find recorded calls, read one call (transcript, cases, scores),
play its recording, and score it (docs/protocol.md, "Quality assurance"; the link side is ari_app.qa.desk).

Who may: the QA role, supervisors and admins do everything; a hotline unit's staff may search, read and
listen to its own hotline's calls (a call of another hotline is `call_not_found`, exactly as a call that
does not exist) but not score; agents and departments are refused with `qa_permission_denied`.

Recordings are readable only by the service user (files 0600), so the server reads them and delivers the
bytes over the link: `qa_open_recording` opens a playback (audited: who, when, which call and side) and
answers its size; `qa_read_recording` then fetches it in chunks of `RECORDING_CHUNK` bytes, base64 in a
frame under the frame limit. A playback belongs to the connection that opened it, so every byte a desktop
receives is covered by one audit entry. The client asks for the next chunk when it has the previous one,
which is the flow control: a slow desktop slows only itself.

The database work is plain blocking functions run in a worker thread, as in ari_app.cases.queries. A refused
QA request (`qa_permission_denied`, `call_not_found`, `playback_not_found`, ...) leaves one `refused` audit
entry with the request, the error id, the call asked for and the client's address, written in its own
transaction (ari_app.cases.audit.refusals_audited, around each request in ari_app.qa.desk) after the
request's own transaction was rolled back.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.config import Config
from ari_app.protocol import (
    RECORDING_CHUNK,
    ErrorId,
    ProtocolError,
    QaCallDetail,
    QaCallRow,
    QaScoreInfo,
    QaSentence,
    iso,
)
from recordings.search import call_conditions, get_transcript
from recordings.store import RecordingSet, sides
from recordings.verify import RecordingStatus, closed_header
from schema.calls import CallRecord
from schema.cases import Case
from schema.qa import QaScore
from schema.transcripts import Transcript, TranscriptionJob
from schema.users import Role

REVIEW_ROLES = frozenset({Role.QA, Role.SUPERVISOR, Role.ADMIN})
"""May search, read, listen to and score every call."""
LISTEN_ROLES = REVIEW_ROLES | {Role.HOTLINE_UNIT}
"""May search, read and listen (a hotline unit: its own hotline's calls only)."""
MAX_PLAYBACKS = 8
"""Open playbacks kept per connection; opening another forgets the oldest."""
SNIPPET_CHARS = 120

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Playback:
    playback_id: str
    call_id: str
    side: str
    path: Path
    size: int
    header: bytes = b""
    """Served in place of the file's first bytes: the sizes a recorder stopped by a crash never wrote
    (recordings.verify.closed_header); empty for a file as it should be."""


def _refuse(actor: Actor, allowed: frozenset[Role], what: str) -> None:
    if actor.role not in allowed:
        raise ProtocolError(ErrorId.QA_PERMISSION_DENIED, f"the {actor.role} role may not {what}", role=str(actor.role))


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ProtocolError(ErrorId.INVALID_FIELD, f"{field} must be a date, YYYY-MM-DD", field=field) from None


def _scope(actor: Actor, call: CallRecord | None) -> CallRecord:
    """The call if `actor` may see it; a hotline unit sees only its own hotline's calls."""
    if call is None or (actor.role is Role.HOTLINE_UNIT and (not actor.hotline or call.hotline != actor.hotline)):
        raise ProtocolError(ErrorId.CALL_NOT_FOUND, "no such call, or not one you may see", field="call_id")
    return call


def _files(call: CallRecord) -> dict[str, Path]:
    """The call's recording files that exist now, by side; none for a recording that failed its check when
    the call ended (recordings.verify: missing, 0 bytes, a header only, truncated), whatever is on disk."""
    if not call.recording or call.recording_status == RecordingStatus.FAILED:
        return {}
    found: RecordingSet = sides(Path(call.recording), call.linkedid)
    out = {"mix": found.mix} if found.mix.is_file() else {}
    if found.caller is not None:
        out["caller"] = found.caller
    if found.agent is not None:
        out["agent"] = found.agent
    return out


def _score_info(row: QaScore) -> QaScoreInfo:
    return QaScoreInfo(score=row.score, comment=row.comment, by=row.login, role=row.role, at=row.at.isoformat())


def _scores(s: Session, call_id: str) -> list[QaScoreInfo]:
    stmt = select(QaScore).where(QaScore.call_id == call_id).order_by(QaScore.at.desc(), QaScore.id.desc())
    return [_score_info(r) for r in s.scalars(stmt)]


def search(
    sessions: sessionmaker[Session],
    actor: Actor,
    tz: ZoneInfo,
    now: datetime,
    *,
    hotline: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    agent: str | None = None,
    words: str | None = None,
    limit: int = 50,
) -> list[QaCallRow]:
    """Recorded or transcribed calls, newest first. `date_from`/`date_to` are days in the centre's time zone
    (both included); `words` must all have been said (full-text search of the transcript). Audited."""
    _refuse(actor, LISTEN_ROLES, "review calls")
    first, last = _day(date_from, "date_from"), _day(date_to, "date_to")
    if first and last and first > last:
        raise ProtocolError(ErrorId.INVALID_FIELD, "date_from is after date_to", field="date_from")
    with sessions() as s, s.begin():
        since = datetime.combine(first, time(), tz).astimezone(UTC) if first is not None else None
        until = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC) if last is not None else None
        stmt = select(CallRecord, Transcript).outerjoin(Transcript, Transcript.call_id == CallRecord.linkedid)
        stmt = stmt.where(or_(CallRecord.recording.is_not(None), Transcript.id.is_not(None)))
        stmt = stmt.where(*call_conditions(s, words or "", hotline, agent, since, until))
        if actor.role is Role.HOTLINE_UNIT:
            stmt = stmt.where(CallRecord.hotline == actor.hotline if actor.hotline else false())
        stmt = stmt.order_by(CallRecord.arrived_at.desc(), CallRecord.id.desc()).limit(max(1, min(limit, 200)))
        found = s.execute(stmt).all()
        ids = [c.linkedid for c, _t in found]
        last_score: dict[str, int] = {}
        if ids:
            q = select(QaScore.call_id, QaScore.score).where(QaScore.call_id.in_(ids))
            for call_id, score in s.execute(q.order_by(QaScore.at, QaScore.id)):
                last_score[call_id] = score  # the newest wins
        audit(
            s, actor, "qa_search", None, now,
            hotline=hotline, date_from=date_from, date_to=date_to, agent=agent, words=words, found=len(found),
        )  # fmt: skip
        return [
            QaCallRow(
                call_id=c.linkedid,
                hotline=c.hotline,
                caller=c.caller,
                agent=c.agent,
                arrived_at=c.arrived_at.isoformat(),
                talk_seconds=c.talk_seconds,
                transcribed=t is not None,
                snippet=t.text[:SNIPPET_CHARS] if t is not None else "",
                recording_available="mix" in _files(c),
                last_score=last_score.get(c.linkedid),
                recording_status=c.recording_status,
                recording_error=c.recording_error,
            )
            for c, t in found
        ]


def get_call(sessions: sessionmaker[Session], actor: Actor, cfg: Config, now: datetime, call_id: str) -> QaCallDetail:
    """One call for the QA view: what happened, what was said (sentences in time order), which recording
    sides can be played, the cases taken on it and its scores. Audited."""
    _refuse(actor, LISTEN_ROLES, "review calls")
    with sessions() as s, s.begin():
        call = _scope(actor, s.scalar(select(CallRecord).where(CallRecord.linkedid == call_id)))
        transcript = get_transcript(s, call_id)
        status = s.scalar(select(TranscriptionJob.status).where(TranscriptionJob.call_id == call_id))
        sentences = [
            QaSentence(
                speaker=x.speaker,
                start=round(x.start, 3),
                end=round(x.end, 3),
                text=x.text,
                confidence=round(sum(w.conf for w in x.words) / len(x.words), 3) if x.words else None,
            )
            for x in (transcript.sentences if transcript else ())
        ]
        cases = [
            {"id": c.id, "number": c.number, "status": str(c.status)}
            for c in s.scalars(select(Case).where(Case.call_id == call_id).order_by(Case.id))
        ]
        hotline = cfg.hotline(call.hotline) if call.hotline else None
        audit(s, actor, "qa_view", None, now, call_id=call_id)
        return QaCallDetail(
            call_id=call.linkedid,
            hotline=call.hotline,
            hotline_name_zh=hotline.name_zh if hotline else None,
            hotline_name_en=hotline.name_en if hotline else None,
            caller=call.caller,
            agent=call.agent,
            state=call.state,
            arrived_at=call.arrived_at.isoformat(),
            answered_at=iso(call.answered_at),
            ended_at=iso(call.ended_at),
            wait_seconds=call.wait_seconds,
            talk_seconds=call.talk_seconds,
            end_reason=call.end_reason,
            recording_sides=list(_files(call)),
            transcription_status=status,
            recording_status=call.recording_status,
            recording_error=call.recording_error,
            transcript_model=transcript.model if transcript else None,
            duration_seconds=transcript.duration_seconds if transcript else None,
            sentences=sentences,
            cases=cases,
            scores=_scores(s, call_id),
        )


def open_recording(sessions: sessionmaker[Session], actor: Actor, now: datetime, call_id: str, side: str) -> Playback:
    """Check the person may listen and the side's file exists; audit the playback (who, when, call, side)."""
    _refuse(actor, LISTEN_ROLES, "listen to recordings")
    with sessions() as s, s.begin():
        call = _scope(actor, s.scalar(select(CallRecord).where(CallRecord.linkedid == call_id)))
        path = _files(call).get(side)
        if path is None and call.recording_status == RecordingStatus.FAILED:
            raise ProtocolError(
                ErrorId.RECORDING_UNAVAILABLE,
                f"this call's recording failed: {call.recording_error}",
                side=side,
                recording_status=RecordingStatus.FAILED.value,
            )
        if path is None:
            raise ProtocolError(
                ErrorId.RECORDING_UNAVAILABLE,
                "this call has no such recording now (not recorded, or removed by retention)",
                side=side,
            )
        size = path.stat().st_size
        playback = Playback(secrets.token_urlsafe(12), call_id, side, path, size, closed_header(path) or b"")
        audit(s, actor, "qa_playback", None, now, call_id=call_id, side=side, size=size, playback=playback.playback_id)
    return playback


def sha256_of(playback: Playback) -> str:
    """The SHA-256 of the bytes `read_chunk` serves: the file, with `playback.header` in place of its start."""
    digest = hashlib.sha256(playback.header)
    with playback.path.open("rb") as f:
        f.seek(len(playback.header))
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_chunk(playback: Playback, offset: int) -> bytes:
    if offset > playback.size:
        raise ProtocolError(ErrorId.INVALID_FIELD, f"offset is past the end ({playback.size} bytes)", field="offset")
    try:
        with playback.path.open("rb") as f:
            f.seek(offset)
            chunk = f.read(min(RECORDING_CHUNK, playback.size - offset))
    except FileNotFoundError:
        raise ProtocolError(ErrorId.RECORDING_UNAVAILABLE, "the recording was removed", side=playback.side) from None
    header = playback.header[offset:]
    return header[: len(chunk)] + chunk[len(header) :] if header else chunk


def score_call(
    sessions: sessionmaker[Session], actor: Actor, now: datetime, call_id: str, score: int, comment: str | None
) -> tuple[QaScoreInfo, list[QaScoreInfo]]:
    """Store one score of a call (a new row; earlier scores stay) and audit it."""
    _refuse(actor, REVIEW_ROLES, "score calls")
    comment = (comment or "").strip() or None
    with sessions() as s, s.begin():
        _scope(actor, s.scalar(select(CallRecord).where(CallRecord.linkedid == call_id)))
        row = QaScore(
            call_id=call_id, score=score, comment=comment, user_id=actor.user_id, login=actor.login,
            role=str(actor.role), at=now,
        )  # fmt: skip
        s.add(row)
        audit(s, actor, "qa_score", None, now, call_id=call_id, score=score, comment=comment)
        s.flush()
        return _score_info(row), _scores(s, call_id)
