"""Accounts: the lifecycle of the people who sign in, one set of rules for every edge (`hotline users`, the
desktop link, and any later front end).

A user's sessions all end at once when their password changes, when they are disabled, or when an admin (or
the user) signs them out everywhere. Each of these raises `users.session_epoch`; every session token carries
the epoch it was issued in (`ari_app.auth.TokenRecord.epoch`). The link compares the two when a desktop
resumes and, for open connections, every `LinkSettings.session_check_seconds`, and closes what is stale with
a `session_ended` push (docs/protocol.md). The database decides, so a change made by another process (the
command line) or while the server was down takes effect all the same.

Every change here writes an audit entry in the caller's transaction (actions `password_set`,
`user_disabled`, `user_enabled`, `sessions_ended`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.protocol import DomainError, ErrorId
from schema.users import SessionEndReason, User


class AccountError(DomainError):
    """An account operation that cannot be done."""


@dataclass(frozen=True)
class SessionStanding:
    """What decides whether a user's open sessions may go on: active, and issued in the current epoch."""

    login: str
    active: bool
    epoch: int
    ended_reason: SessionEndReason | None


def _user(s: Session, login: str) -> User:
    user = s.scalars(select(User).where(User.login == login)).first()
    if user is None:
        raise AccountError(f"there is no user {login!r}", error_id=ErrorId.UNKNOWN_USER)
    return user


def _end(user: User, reason: SessionEndReason) -> None:
    user.session_epoch = (user.session_epoch or 0) + 1
    user.sessions_ended_reason = str(reason)


def set_password(s: Session, login: str, password_hash: str, by: Actor, now: datetime) -> None:
    """Store a new password hash and end every session the user had (`password_changed`)."""
    user = _user(s, login)
    user.password_hash = password_hash
    _end(user, SessionEndReason.PASSWORD_CHANGED)
    audit(s, by, "password_set", None, now, login=login)


def set_active(s: Session, login: str, active: bool, by: Actor, now: datetime) -> None:
    """Disable a user (they cannot sign in, their sessions end: `disabled`) or enable them again."""
    user = _user(s, login)
    if user.active == active:
        return
    user.active = active
    if not active:
        _end(user, SessionEndReason.DISABLED)
    audit(s, by, "user_enabled" if active else "user_disabled", None, now, login=login)


def end_sessions(s: Session, login: str, by: Actor, now: datetime) -> None:
    """Sign a user out everywhere (`signed_out_everywhere`): every token and open connection of theirs ends."""
    user = _user(s, login)
    _end(user, SessionEndReason.SIGNED_OUT_EVERYWHERE)
    audit(s, by, "sessions_ended", None, now, login=login)


def standings(s: Session, logins: Iterable[str]) -> dict[str, SessionStanding]:
    """The standing of each login that exists (a login missing from the result has no user any more)."""
    wanted = sorted(set(logins))
    if not wanted:
        return {}
    rows = s.execute(
        select(User.login, User.active, User.session_epoch, User.sessions_ended_reason).where(User.login.in_(wanted))
    )
    return {
        login: SessionStanding(login, bool(active), int(epoch or 0), SessionEndReason(reason) if reason else None)
        for login, active, epoch, reason in rows
    }
