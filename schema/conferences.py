"""Who took part in a call's three-way conference (citizen, agent, cooperating unit), and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime


class ConferenceParticipant(Base):
    __tablename__ = "conference_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))  # the call's Linkedid (cases link to it by call_id)
    room: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # citizen / agent / unit
    number: Mapped[str | None] = mapped_column(String(40))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_conference_participants_call_id", "call_id"),)
