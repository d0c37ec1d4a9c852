"""The browser front's sessions (ari_app.web.sessions): one row per signed-in browser.

The cookie carries a random token; only its SHA-256 is kept here, like the desktop's session tokens
(ari_app.auth.TokenStore), so a copy of the table lets nobody in. A session ends at sign-out, after
`web.idle_minutes` without a request, `web.session_hours` after sign-in, and when its user's session epoch
moves on (password changed, disabled, signed out everywhere: ari_app.accounts).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, UTCDateTime


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 (hex) of the cookie's token; the token itself is never stored."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    login: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int]
    """The user's `session_epoch` at sign-in: the session dies when the user's moves on."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(64))
    """The client's address at sign-in."""

    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"),)
