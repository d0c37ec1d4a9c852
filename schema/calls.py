"""One row per call that reached the platform, keyed by Asterisk's Linkedid."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime


class CallState(StrEnum):
    """A call's place in its state machine (ari_app.calls.model holds the transitions); stored in `calls.state`."""

    ARRIVED = "arrived"
    QUEUED = "queued"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"
    ABANDONED = "abandoned"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        return self in (CallState.ENDED, CallState.ABANDONED, CallState.REJECTED)


class EndReason(StrEnum):
    """Why a call ended; stored in `calls.end_reason`."""

    CALLER_HANGUP = "caller_hangup"
    AGENT_HANGUP = "agent_hangup"
    ABANDONED = "abandoned"
    QUEUE_TIMEOUT = "queue_timeout"
    NOT_A_HOTLINE = "not_a_hotline"
    OVERFLOW = "overflow"  # admission control refused it: the caller heard the overflow message
    CALLBACK_REQUESTED = "callback_requested"  # the caller left the queue to be called back
    LOST = "lost"  # Asterisk no longer had the call when the tracker resynchronised
    NO_ANSWER = "no_answer"  # an outbound call the citizen did not answer (Dial's NOANSWER, or the agent gave up)
    BUSY = "busy"  # an outbound call to a busy number
    FAILED = "failed"  # an outbound call the trunk could not place (CONGESTION, CHANUNAVAIL)


class CallDirection(StrEnum):
    """Which way a call went; stored in `calls.direction`."""

    INBOUND = "inbound"  # a citizen called a hotline
    OUTBOUND = "outbound"  # an agent called a citizen from a case (ari_app.outbound: click-to-dial)


class OutboundPurpose(StrEnum):
    """What an outbound call serves; stored in `calls.purpose`."""

    FOLLOW_UP = "follow_up"  # 回访: asking the citizen about the case's handling
    MISSED_CALL = "missed_call"  # 漏接回拨: calling back a missed call's number
    CASE = "case"  # any other call to a case's citizen (more details, an appointment)


class CallRecord(Base):
    """The stored face of a tracked call (see ari_app.calls.model.Call for the live state machine).

    `linkedid` is unique: a call seen again after a reconnect updates its row instead of adding one.
    """

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    hotline: Mapped[str | None] = mapped_column(String(20))
    dialed: Mapped[str | None] = mapped_column(String(40))  # canonical (ari_app.calls.numbers)
    caller: Mapped[str | None] = mapped_column(String(40))  # canonical; matched for history and callbacks
    dialed_raw: Mapped[str | None] = mapped_column(String(64))  # as the carrier delivered it
    caller_raw: Mapped[str | None] = mapped_column(String(64))  # as the carrier delivered it
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # a CallState value
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    wait_seconds: Mapped[float | None]
    talk_seconds: Mapped[float | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))  # an EndReason value
    recording: Mapped[str | None] = mapped_column(String(512))
    channel: Mapped[str | None] = mapped_column(String(128))
    callback_of: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8), default=CallDirection.INBOUND, server_default="inbound")
    # An outbound call's case (cases.id, not a foreign key: the call table stands alone) and what it serves
    # (an OutboundPurpose value); the missed-call task it works on.
    case_id: Mapped[int | None]
    purpose: Mapped[str | None] = mapped_column(String(16))
    missed_call_id: Mapped[int | None]
    # The recording's check when the call ended (recordings.verify): "ok", "failed" (never served as available
    # nor transcribed), or None (not recorded, or not checked). recording_error says which file and why.
    recording_status: Mapped[str | None] = mapped_column(String(16))
    recording_error: Mapped[str | None] = mapped_column(String(512))

    __table_args__ = (
        Index("ix_calls_arrived_at", "arrived_at"),
        Index("ix_calls_caller", "caller"),
        Index("ix_calls_state", "state"),
        Index("ix_calls_case_id", "case_id"),
    )
