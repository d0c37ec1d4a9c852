"""Sign-in on the web front: the same users, scrypt passwords and sign-in guard as the desktop link.

A password is checked as the link checks it (ari_app.link.signin): the attempt is counted by the guard
(ari_app.signin_guard) on the event loop before the check, the check runs in a hashing thread of its own, and
every outcome is audited (`sign_in`, `sign_in_failed`, `sign_in_throttled` once per spell of refusals,
`sign_out`, `session_ended`) with the client's address and `channel: web`.

A user enrolled in the second factor (ari_app.totp: admins and supervisors who chose it) is not signed in by
the password: it opens a `Pending` second step (a random token in a cookie of its own, `PENDING_FOR`, at most
`PENDING_TRIES` codes), and `second_factor` checks the 6-digit code under the same guard, so a wrong code
counts as a wrong password does, and the failures before are forgiven only when the code is right too.
Audited: `sign_in_code_asked` after the password, then `sign_in` (`second_factor: totp`) or
`sign_in_failed` (`step: totp`, `why: wrong | replayed`). Inside `hotline serve` the web
front is handed the link's own guard, so the desktop's and the browser's attempts share one set of
counters; `hotline web` on its own has a guard of its own (the guard lives in memory, per process).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from ari_app import totp
from ari_app.auth import verify_password
from ari_app.cases import queries
from ari_app.signin_guard import SignInGuard
from schema.cases import AuditEntry


@dataclass(frozen=True)
class Outcome:
    """A sign-in's result: the user, or why not (`bad_credentials`, `too_many_attempts` with `retry_after`
    seconds)."""

    user: queries.UserRecord | None
    refused: str | None = None
    retry_after: int = 0
    code_asked: bool = False
    """The password was right and the user is enrolled in the second factor: `user` is set, but signed in
    only once `second_factor` accepts their code."""


PENDING_FOR = timedelta(minutes=5)
"""How long after the password the one-time code may be given."""
PENDING_TRIES = 5
"""Wrong codes a second step takes before the password must be given again."""
MAX_PENDING = 10_000


@dataclass
class Pending:
    """A second step under way: whose, from where, until when, and the wrong codes given so far."""

    user: queries.UserRecord
    source: str
    expires_at: datetime
    wrong: int = 0


def write_audit(
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    action: str,
    login: str,
    role: str = "",
    user_id: int | None = None,
    **detail: Any,
) -> None:
    """One audit row of the web front's own (sign-ins and sessions), committed on its own (blocking)."""
    text = json.dumps({"channel": "web", **detail}, ensure_ascii=False, sort_keys=True, default=str)
    row = {"at": clock(), "user_id": user_id, "login": login[:64], "role": role[:16], "action": action, "detail": text}
    with sessions() as s, s.begin():
        s.execute(insert(AuditEntry), [row])


class WebSignIn:
    def __init__(self, sessions: sessionmaker[Session], guard: SignInGuard, clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.guard = guard
        self.clock = clock
        self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-scrypt")
        self._pending: OrderedDict[str, Pending] = OrderedDict()

    def stop(self) -> None:
        self._hashing.shutdown(wait=False, cancel_futures=True)

    async def audit(self, action: str, login: str, role: str = "", user_id: int | None = None, **detail: Any) -> None:
        await asyncio.to_thread(write_audit, self.sessions, self.clock, action, login, role, user_id, **detail)

    async def sign_in(self, login: str, password: str, source: str) -> Outcome:
        """Check `login`'s password from `source` under the guard; audits the outcome."""
        login = login.strip()[:64]
        admission = self.guard.admit(source, login)
        if admission.refused is not None:
            if admission.first_refusal:
                await self.audit(
                    "sign_in_throttled",
                    login,
                    source=source,
                    why=str(admission.refused),
                    refused=admission.refused_since,
                    retry_after=round(admission.retry_after, 1),
                )
            return Outcome(None, "too_many_attempts", int(admission.retry_after + 0.999))

        def check() -> tuple[queries.UserRecord | None, bool]:
            user = queries.load_user(self.sessions, login)
            ok = verify_password(password, user.password_hash if user else None)
            if user is None or not ok:
                return None, False
            return user, totp.enrolled(self.sessions, user.user_id)

        try:
            user, code_asked = await asyncio.get_running_loop().run_in_executor(self._hashing, check)
        except BaseException:
            self.guard.settle(admission, ok=False)
            raise
        if user is None:
            self.guard.settle(admission, ok=False)
            await self.audit("sign_in_failed", login, source=source, failures=self.guard.failures(source, login))
            return Outcome(None, "bad_credentials")
        if code_asked:
            self.guard.settle(admission, ok=True, final=False)
            await self.audit("sign_in_code_asked", login, str(user.role), user.user_id, source=source)
            return Outcome(user, code_asked=True)
        self.guard.settle(admission, ok=True)
        await self.audit("sign_in", login, str(user.role), user.user_id, source=source)
        return Outcome(user)

    # --- the second step ------------------------------------------------------------------------------
    def open_pending(self, user: queries.UserRecord, source: str) -> str:
        """A second step for `user` (their password was right); returns its token (the step's cookie)."""
        now = self.clock()
        for token in [t for t, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[token]
        token = secrets.token_urlsafe(32)
        self._pending[token] = Pending(user, source, now + PENDING_FOR)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        return token

    def pending(self, token: str | None) -> Pending | None:
        """The live second step of `token`, or None (none, ended, or past `PENDING_FOR`)."""
        found = self._pending.get(token) if token else None
        if found is not None and found.expires_at <= self.clock():
            self._pending.pop(token or "", None)
            return None
        return found

    def end_pending(self, token: str) -> None:
        self._pending.pop(token, None)

    async def second_factor(self, token: str, code: str, source: str) -> Outcome:
        """Check the one-time code of the second step `token` from `source` under the guard (a wrong or
        replayed code is a failed attempt, as a wrong password); audits the outcome. The step ends when the
        code is right and after `PENDING_TRIES` wrong ones. `bad_credentials` also when the step is gone."""
        step = self.pending(token)
        if step is None:
            return Outcome(None, "bad_credentials")
        user = step.user
        admission = self.guard.admit(source, user.login)
        if admission.refused is not None:
            if admission.first_refusal:
                await self.audit(
                    "sign_in_throttled",
                    user.login,
                    source=source,
                    why=str(admission.refused),
                    step="totp",
                    refused=admission.refused_since,
                    retry_after=round(admission.retry_after, 1),
                )
            return Outcome(None, "too_many_attempts", int(admission.retry_after + 0.999))
        try:
            verdict = await asyncio.to_thread(totp.check, self.sessions, user.user_id, code[:16], self.clock())
        except BaseException:
            self.guard.settle(admission, ok=False)
            raise
        ok = verdict is totp.Verdict.OK
        self.guard.settle(admission, ok=ok)
        if not ok:
            step.wrong += 1
            if step.wrong >= PENDING_TRIES or verdict is totp.Verdict.NOT_ENROLLED:
                self.end_pending(token)
            failures = self.guard.failures(source, user.login)
            await self.audit(
                "sign_in_failed", user.login, source=source, step="totp", why=str(verdict), failures=failures
            )
            return Outcome(None, "bad_code")
        self.end_pending(token)
        await self.audit("sign_in", user.login, str(user.role), user.user_id, source=source, second_factor="totp")
        return Outcome(user)
