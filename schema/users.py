"""People who sign in (agents, supervisors, QA, hotline-unit and department staff, admins) and their role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime, utcnow


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    QA = "qa"
    HOTLINE_UNIT = "hotline_unit"  # staff of a hotline's managing unit (sub-platform): sees only that hotline
    DEPARTMENT = "department"  # staff of a cooperating unit: sees only cases dispatched to that unit
    ADMIN = "admin"


class SessionEndReason(StrEnum):
    """Why a user's sessions were ended all at once (pushed to the desktops that are closed)."""

    PASSWORD_CHANGED = "password_changed"
    DISABLED = "disabled"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"


class User(Base):
    """A person who signs in. `login` is the agent id for agents. Passwords are stored only as a
    scrypt hash (see ari_app.auth); `hotline` scopes hotline-unit staff, `unit_id` department staff."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    hotline: Mapped[str | None] = mapped_column(String(20))
    unit_id: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    """Raised by every event that ends all of the user's sessions (password change, disable, an admin's
    "sign out everywhere"); a session token carries the epoch it was issued in and dies when they differ."""
    sessions_ended_reason: Mapped[str | None] = mapped_column(String(32))
    """Why the epoch was last raised (`SessionEndReason`), for the push to the desktops it closes."""
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    """The second factor's secret (base32, ari_app.totp) once enrolled; None: the password alone. Read only
    by the platform's processes, never shown after enrolment."""
    totp_last_step: Mapped[int | None]
    """The time step of the last one-time code accepted: that code and earlier ones are refused (no replay)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
