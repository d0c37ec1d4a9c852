"""Server-side web sessions and CSRF tokens (docs/web.md, "Sessions").

A session is a random token (32 bytes) in an HttpOnly, SameSite=Strict cookie (Secure and `__Host-` named
under TLS); the database keeps only its SHA-256 (schema.web.WebSession), like the desktop's tokens
(ari_app.auth). A session ends at sign-out, after `idle` without a request, `lifetime` after sign-in, and
when its user is disabled or their session epoch moves on (ari_app.accounts: password changed, signed out
everywhere): the users table decides at every request, so a change made by any process holds at once.

CSRF: every form carries `csrf_token(token)`, an HMAC of the session's token that only its browser can
compute (the cookie is HttpOnly and another site cannot read the page); every POST is checked against it.
The sign-in form, before there is a session, carries a random value that must equal a cookie of its own
(`LOGIN_CSRF_COOKIE`, double submit), which another site can neither read nor set (SameSite=Strict).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases import queries
from schema.web import WebSession

COOKIE = "hl_session"
TLS_COOKIE = "__Host-hl_session"
LOGIN_CSRF_COOKIE = "hl_login_csrf"
TOUCH_EVERY = timedelta(seconds=15)
"""A session's `last_seen_at` is written at most this often (a page and its fragments in a burst: one write)."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token of the session whose cookie token is `token` (hex HMAC-SHA256)."""
    return hmac.new(token.encode("utf-8", "surrogatepass"), b"hotline-web-csrf", hashlib.sha256).hexdigest()


def csrf_ok(token: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(csrf_token(token), given)


@dataclass(frozen=True)
class Signed:
    """A live session: its user (as the case service reads them at sign-in, `queries.load_user`) and token."""

    user: queries.UserRecord
    token: str
    session_id: int


@dataclass(frozen=True)
class Ended:
    """A session that has just ended: whose, and why (`expired`, `idle`, `disabled`,
    `signed_out_everywhere`)."""

    login: str
    reason: str


class WebSessions:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        idle: timedelta,
        lifetime: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.idle = idle
        self.lifetime = lifetime
        self.clock = clock

    def open(self, user: queries.UserRecord, source: str) -> str:
        """A new session for `user` (just signed in from `source`); returns the cookie's token."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.sessions() as s, s.begin():
            s.execute(delete(WebSession).where(WebSession.expires_at <= now))  # the long-dead ones
            s.add(
                WebSession(
                    token_hash=digest(token),
                    user_id=user.user_id,
                    login=user.login,
                    epoch=user.session_epoch,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.lifetime,
                    source=source[:64],
                )
            )
        return token

    def check(self, token: str, *, touch: bool = True) -> tuple[Signed | None, Ended | None]:
        """The live session of `token`, or None and how it ended (None when there is no such session). An
        ended session's row is removed.
        `touch`: count this as the person's activity (a page or an action; not the live-update stream)."""
        now = self.clock()
        key = digest(token)
        with self.sessions() as s:
            row = s.scalars(select(WebSession).where(WebSession.token_hash == key)).one_or_none()
            if row is None:
                return None, None
            row_id, login, epoch, seen = row.id, row.login, row.epoch, row.last_seen_at
            why: str | None = "expired" if row.expires_at <= now else "idle" if now - seen >= self.idle else None
        user = None if why else queries.load_user(self.sessions, login)
        if why is None and user is None:
            why = "disabled"
        elif why is None and user is not None and user.session_epoch != epoch:
            why = "signed_out_everywhere"
        if why is not None or user is None:
            with self.sessions() as s, s.begin():
                s.execute(delete(WebSession).where(WebSession.id == row_id))
            return None, Ended(login, why or "disabled")
        if touch and now - seen >= TOUCH_EVERY:
            with self.sessions() as s, s.begin():
                s.execute(update(WebSession).where(WebSession.id == row_id).values(last_seen_at=now))
        return Signed(user, token, row_id), None

    def close(self, token: str) -> None:
        with self.sessions() as s, s.begin():
            s.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))
