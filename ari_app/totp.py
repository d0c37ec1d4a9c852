"""The optional second factor: a time-based one-time code (TOTP, RFC 6238) for admins and supervisors, asked
by the web front after the password (docs/security.md, "Second factor").

- **Who**: a user of role `admin` or `supervisor`, enrolled one by one (`hotline users totp enable LOGIN`,
  which prints the `otpauth://` URI and the secret once; `... disable` removes it). Other roles are refused
  (`totp_not_for_role`): they work cases in their unit's scope, not the platform's.
- **The code**: 6 digits, SHA-1, 30-second steps (RFC 6238's defaults, what every authenticator app reads
  from the URI), computed by `pyotp`. A code of the step of `now`, the one before or the one after is taken
  (±1 step: a phone's clock a little off, a code typed as it turned), and each step's code is taken once:
  the user's `totp_last_step` records the step of the last code accepted, and a code of that step or an
  earlier one is refused (`replayed`), written with a conditional UPDATE so two requests with one code
  cannot both pass.
- **The secret**: 160 random bits (base32, `pyotp.random_base32`), kept in `users.totp_secret`, which only
  the platform's own processes read (the database account is the server's); it is never shown again after
  enrolment, never listed, never logged, never sent over the link. It is not encrypted at rest: a key to
  encrypt it would sit beside the database on the same server, readable by the same account.
- Enrolment and removal are audited here (`totp_enabled`, `totp_disabled`); the web front audits each
  code's outcome with its sign-in rows (ari_app.web.signin).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pyotp
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.protocol import DomainError, ErrorId
from schema.users import Role, User

ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})
"""Who may enrol (issue 16: 'optional TOTP second factor for admins and supervisors')."""
DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1
"""Steps either side of now whose code is still taken."""
ISSUER = "12345 Hotline"


class TotpError(DomainError):
    """An enrolment that cannot be done: no such user, or a role the second factor is not for."""


class Verdict(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # not the code of any step in the window, or not 6 digits
    REPLAYED = "replayed"  # the code of a step already used (or an earlier one)
    NOT_ENROLLED = "not_enrolled"


@dataclass(frozen=True)
class Enrolment:
    """What enrolment hands out once: the secret and the URI an authenticator app scans."""

    login: str
    secret: str
    uri: str


def step_of(now: datetime) -> int:
    """The TOTP time step of `now` (aware): whole 30-second periods since the Unix epoch."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The 6-digit code of `secret` for time step `step` (what the user's app shows then)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The step within ±WINDOW of `now` whose code `code` is (compared in constant time), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = step_of(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            found = step
    return found


def enable(s: Session, login: str, by: Actor, now: datetime) -> Enrolment:
    """Enrol `login` (an admin or a supervisor): a new secret, replacing any earlier one, so a lost phone is
    enrolled again with the same command. Audited (`totp_enabled`). TotpError for no such user or another
    role."""
    user = _user(s, login)
    if Role(user.role) not in ROLES:
        raise TotpError(
            f"{login} is a {user.role}: the second factor is for admins and supervisors",
            error_id=ErrorId.TOTP_NOT_FOR_ROLE,
        )
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_last_step = None
    audit(s, by, "totp_enabled", None, now, login=login)
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=login, issuer_name=ISSUER)
    return Enrolment(login, secret, uri)


def disable(s: Session, login: str, by: Actor, now: datetime) -> bool:
    """Remove `login`'s second factor; False when they had none. Audited (`totp_disabled`) when removed."""
    user = _user(s, login)
    if user.totp_secret is None:
        return False
    user.totp_secret = None
    user.totp_last_step = None
    audit(s, by, "totp_disabled", None, now, login=login)
    return True


def enrolled(sessions: sessionmaker[Session], user_id: int) -> bool:
    """Whether the user must give a code after their password."""
    with sessions() as s:
        return s.scalar(select(User.totp_secret).where(User.id == user_id)) is not None


def check(sessions: sessionmaker[Session], user_id: int, code: str, now: datetime) -> Verdict:
    """Check the code `code` of the user at `now`; an accepted code's step becomes the user's last (so the
    same code, or any earlier one, is `replayed` from then on). Blocking (a database round trip)."""
    with sessions() as s:
        secret = s.scalar(select(User.totp_secret).where(User.id == user_id))
    if secret is None:
        return Verdict.NOT_ENROLLED
    step = matching_step(secret, code, now)
    if step is None:
        return Verdict.WRONG
    with sessions() as s, s.begin():
        taken = s.execute(
            update(User)
            .where(
                User.id == user_id,
                User.totp_secret == secret,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return Verdict.OK if taken.rowcount == 1 else Verdict.REPLAYED  # type: ignore[attr-defined]


def _user(s: Session, login: str) -> User:
    user = s.scalars(select(User).where(User.login == login)).first()
    if user is None:
        raise TotpError(f"there is no user {login!r}", error_id=ErrorId.UNKNOWN_USER)
    return user
