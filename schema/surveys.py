"""Satisfaction survey answers given by citizens on the keypad at the end of a call."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime
from schema.cases import Rating


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意 (key 1)
    BASICALLY = "basically_satisfied"  # 基本满意 (key 2)
    UNSATISFIED = "unsatisfied"  # 不满意 (key 3)

    @property
    def level(self) -> Rating:
        """The answer on the five-level scale (一次一评): the same words, so key 1 is 满意 `satisfied`, 2 基本满意
        `basically_satisfied`, 3 不满意 `unsatisfied`; the three-key prompt offers neither 非常满意 nor 非常不满意
        (docs/calls.md)."""
        return Rating(self.value)


KEYS: dict[str, Satisfaction] = {
    "1": Satisfaction.SATISFIED,
    "2": Satisfaction.BASICALLY,
    "3": Satisfaction.UNSATISFIED,
}
"""The survey prompt's keys (ari_app.prompts `survey-question`: 满意请按1，基本满意请按2，不满意请按3)."""
DIGITS: dict[Satisfaction, str] = {answer: key for key, answer in KEYS.items()}


class SurveyResponse(Base):
    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # the call's Linkedid
    rating: Mapped[str] = mapped_column(String(24))
    """The three-key answer (a `Satisfaction` value), as stored since 0006."""
    digit: Mapped[str | None] = mapped_column(String(1))
    """The key the citizen pressed (`KEYS`); migration 0020 derived it for older rows."""
    level: Mapped[Rating | None] = mapped_column(String(24))
    """The answer on the five-level scale (`Satisfaction.level`); migration 0020 filled it for older rows."""
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
