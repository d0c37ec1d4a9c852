"""Satisfaction survey answers given by citizens on the keypad at the end of a call."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意 (key 1)
    BASICALLY = "basically_satisfied"  # 基本满意 (key 2)
    UNSATISFIED = "unsatisfied"  # 不满意 (key 3)


class SurveyResponse(Base):
    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # the call's Linkedid
    rating: Mapped[str] = mapped_column(String(24))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
