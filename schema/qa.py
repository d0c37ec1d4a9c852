"""Quality-assurance scores of calls: a QA reviewer's mark (0–100) and comment on one recorded call.

A call may be scored more than once (by several reviewers, or again after a second listening): every score
is a row of its own and none is changed afterwards (the ORM refuses to update or delete one), so the scores
are their own history. Who listened to which call, and who scored it, is also in the append-only audit log
(schema.cases.AuditEntry).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime, kept_as_written


class QaScore(Base):
    __tablename__ = "qa_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))  # the call's Linkedid (calls.linkedid)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None]
    login: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_qa_scores_call_id", "call_id"),)


class QaScoreChangeError(Exception):
    """Someone tried to change or remove a QA score."""

    error_id = "qa_score_append_only"


kept_as_written(QaScore, lambda score: QaScoreChangeError(f"QA score {score.id} is kept as given"))
