"""Transfers of a call (blind or attended, to another agent or to a unit's number): who, to whom, when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime


class CallTransfer(Base):
    """One transfer the agent on a call started from the desktop.

    `call_id` is the call's Linkedid (cases link to it by call_id); `kind` is `blind` or `attended`;
    `target_agent` is set when the target is an agent, `target_number` when it is a unit's number.
    `state` is an ari_app.transfer.TransferState value (ringing, answered, completed, cancelled, failed).
    """

    __tablename__ = "call_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    from_agent: Mapped[str] = mapped_column(String(64))
    target_agent: Mapped[str | None] = mapped_column(String(64))
    target_number: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_call_transfers_call_id", "call_id"),)
