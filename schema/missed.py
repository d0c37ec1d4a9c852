"""The missed-call worklist (漏接回拨): one callback task per caller number a hotline missed.

A hotline call that ended without an agent (abandoned in the queue, refused by admission control, given up by
the queue, lost) from a caller who did not withhold their number opens a task; a later miss of the same
number joins the open task (`misses`), so one number has at most one open task (`open_number`, unique,
NULL once the task is closed). ari_app.missed tells the rules.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime


class MissedStatus(StrEnum):
    """A task's status. `open` is the only open one; a claim (`claimed_by` until `claim_until`) and a
    not-reached attempt (`last_outcome`) leave it open."""

    OPEN = "open"
    CALLED_BACK = "called_back"  # an agent called the citizen back and reached them
    CLOSED_BY_CONTACT = "closed_by_contact"  # the citizen called again and an agent answered
    WRONG_NUMBER = "wrong_number"  # an agent's attempt found the number is not the citizen's


class MissedReason(StrEnum):
    """Why the call was missed, from its end reason (schema.calls.EndReason)."""

    ABANDONED = "abandoned"  # the caller hung up before an agent answered
    OVERFLOW = "overflow"  # refused by admission control: queue full, or shed under load
    TIMEOUT = "timeout"  # the queue gave up (its timeout) with no agent answering
    LOST = "lost"  # Asterisk no longer had the call at a resynchronisation, never answered


class AttemptOutcome(StrEnum):
    REACHED = "reached"
    NOT_REACHED = "not_reached"
    WRONG_NUMBER = "wrong_number"


class MissedCall(Base):
    __tablename__ = "missed_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # Linkedid of the first missed call
    last_call_id: Mapped[str] = mapped_column(String(64))  # Linkedid of the latest missed call joined
    hotline: Mapped[str] = mapped_column(String(20))
    caller: Mapped[str] = mapped_column(String(40))  # canonical (ari_app.calls.numbers)
    caller_raw: Mapped[str | None] = mapped_column(String(64))  # as the carrier delivered it
    open_number: Mapped[str | None] = mapped_column(String(40), unique=True)  # `caller` while open, else NULL
    missed_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the first miss: the task's day and due time
    last_missed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    misses: Mapped[int] = mapped_column(default=1)
    reason: Mapped[str] = mapped_column(String(16))  # a MissedReason value (of the first miss)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))  # a MissedStatus value
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # login
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_outcome: Mapped[str | None] = mapped_column(String(16))  # an AttemptOutcome value
    last_attempt_by: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(String(4000))  # the latest attempt's notes
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_call: Mapped[str | None] = mapped_column(String(64))  # the answered call (closed_by_contact)

    __table_args__ = (
        Index("ix_missed_calls_status_due_at", "status", "due_at"),
        Index("ix_missed_calls_missed_at", "missed_at"),
    )
