"""Callback requests: a caller who chose to be called back instead of waiting. Durable: the dialer works
from this table, so a restart of the server loses none."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime


class CallbackStatus(StrEnum):
    PENDING = "pending"  # waiting for a free agent (or for its retry time)
    DIALING = "dialing"  # the citizen's phone is being called
    DONE = "done"  # the citizen answered and was put through to the queue
    FAILED = "failed"  # no answer after the configured attempts
    CANCELLED = "cancelled"  # an admin called it off before it was dialled (`hotline callbacks cancel`)


class CallbackRequest(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # the Linkedid of the call that asked
    hotline: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(40))  # canonical (ari_app.calls.numbers)
    number_raw: Mapped[str | None] = mapped_column(String(64))  # the caller id as the carrier delivered it
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_callbacks_status_next", "status", "next_attempt_at"),)
