"""Sign-in on the web front: the same users, scrypt passwords and sign-in guard as the desktop link.

A password is checked as the link checks it (ari_app.link.signin): the attempt is counted by the guard
(ari_app.signin_guard) on the event loop before the check, the check runs in a hashing thread of its own, and
every outcome is audited (`sign_in`, `sign_in_failed`, `sign_in_throttled` once per spell of refusals,
`sign_out`, `session_ended`) with the client's address and `channel: web`. Inside `hotline serve` the web
front is handed the link's own guard, so the desktop's and the browser's attempts share one set of
counters; `hotline web` on its own has a guard of its own (the guard lives in memory, per process).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

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

        def check() -> queries.UserRecord | None:
            user = queries.load_user(self.sessions, login)
            ok = verify_password(password, user.password_hash if user else None)
            return user if ok else None

        try:
            user = await asyncio.get_running_loop().run_in_executor(self._hashing, check)
        except BaseException:
            self.guard.settle(admission, ok=False)
            raise
        self.guard.settle(admission, ok=user is not None)
        if user is None:
            await self.audit("sign_in_failed", login, source=source, failures=self.guard.failures(source, login))
            return Outcome(None, "bad_credentials")
        await self.audit("sign_in", login, str(user.role), user.user_id, source=source)
        return Outcome(user)
