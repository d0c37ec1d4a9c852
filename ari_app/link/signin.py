"""Sign-in, resume and sign-out on the link, and the sessions that must end (docs/protocol.md, "Sessions").

A password is checked under the sign-in guard (ari_app.signin_guard): the attempt is counted before the
check, the check runs in a hashing thread of its own, and every outcome is audited with the client's
address. A signed-in desktop gets a session token (ari_app.auth.TokenStore) it can resume with after a
reconnect. Every `session_check_seconds` the link closes connections that did not sign in in time, sessions
past their expiry, and sessions whose user was disabled, changed password or was signed out everywhere (by
any process: the decision is in the users table, ari_app.accounts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ari_app import accounts
from ari_app import protocol as p
from ari_app.agents.service import QueueUnavailable
from ari_app.agents.session import AgentSession
from ari_app.auth import TokenExpired, TokenInvalid, TokenStore, verify_password
from ari_app.cases import queries
from ari_app.link.connection import Connection, reply
from ari_app.protocol import ErrorId, Msg, ProtocolError
from ari_app.signin_guard import Refusal
from schema.users import Role

if TYPE_CHECKING:
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer

log = logging.getLogger(__name__)

CLOSE_SESSION_ENDED = 4001
"""Close code after a `session_ended` push (password changed, disabled, signed out everywhere, expired)."""
CLOSE_SIGN_IN_TIMEOUT = 4002
"""Close code for a connection that did not sign in within `sign_in_timeout`."""
SESSION_ENDED_MESSAGES = {
    "password_changed": "your password was changed; sign in with the new one",
    "disabled": "your account was disabled",
    "signed_out_everywhere": "you were signed out everywhere",
    "expired": "your session has expired; sign in again",
}


PHONE_REGISTER_SECONDS = 120
"""How often the softphone registers again: Asterisk learns the phone's address from it, and a PC that
moved or a phone restarted is found again within this time (the aor's qualify_frequency is 30 s)."""


class SignIn:
    def __init__(self, link: LinkServer) -> None:
        self.link = link
        self.tokens = TokenStore(link.settings.token_ttl, link.clock, link.settings.token_file)
        # Password hashing has a thread of its own: a sign-in flood never queues in front of the database work
        # (screen-pop history, cases) that runs in the default pool, and takes at most one core.
        self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="link-scrypt")
        self._check: asyncio.TimerHandle | None = None
        self._desktops: dict[str, set[Connection]] = {}

    def register(self, link: LinkServer) -> None:
        link.routes.add(Msg.SIGN_OUT, self.sign_out)
        link.routes.add(Msg.END_SESSIONS, self.end_sessions)

    def stop(self) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
        self._hashing.shutdown(wait=False, cancel_futures=True)

    # --- who is signed in where ------------------------------------------------------------------------
    def desktops(self, login: str) -> list[Connection]:
        """The connections `login` is signed in on."""
        return list(self._desktops.get(login, ()))

    def attach(
        self, conn: Connection, user: queries.UserRecord, token: str, expires: datetime, epoch: int
    ) -> AgentSession:
        """`conn` is now signed in as `user` (a sign-in or a resume)."""
        session = self.link.agents.session(user.login)
        session.actor = user.actor
        session.units = user.units
        session.display_name = user.display_name
        self._desktops.setdefault(user.login, set()).add(conn)
        conn.session = session
        conn.token = token
        conn.expires, conn.epoch = expires, epoch
        conn.unauthenticated_since = None
        self.link.agents.desktop_attached(session)
        return session

    def detach(self, conn: Connection) -> None:
        """`conn` signed out, its session ended, or it closed."""
        self.link.supervisor.forget(conn)
        session = conn.session
        if session is None:
            return
        desktops = self._desktops.get(session.login, set())
        desktops.discard(conn)
        if not desktops:
            self._desktops.pop(session.login, None)
        conn.session = None
        conn.expires = None
        conn.unauthenticated_since = time.monotonic()
        self.link.agents.desktop_detached(session)

    # --- sign-in, resume, sign-out ---------------------------------------------------------------------
    async def sign_in(self, conn: Connection, login: str, password: str, req_id: Any) -> None:
        link = self.link
        if conn.session is not None:
            raise ProtocolError(ErrorId.ALREADY_SIGNED_IN, "this connection is already signed in; sign out first")
        admission = link.guard.admit(conn.source, login)
        if admission.refused is not None:
            if admission.first_refusal:
                link.audit.record(
                    "sign_in_throttled",
                    login,
                    source=conn.source,
                    why=str(admission.refused),
                    refused=admission.refused_since,
                    retry_after=round(admission.retry_after, 1),
                )
            busy = admission.refused is Refusal.BUSY
            conn.hold_until = time.monotonic() + min(admission.retry_after, link.settings.refusal_hold_seconds)
            raise ProtocolError(
                ErrorId.TOO_MANY_ATTEMPTS,
                "the server is busy; try again in a moment" if busy else "too many sign-in attempts; wait a while",
                retry_after=int(admission.retry_after + 0.999),
            )

        def check() -> queries.UserRecord | None:
            user = queries.load_user(link.sessions, login)
            ok = verify_password(password, user.password_hash if user else None)
            return user if ok else None

        try:
            user = await asyncio.get_running_loop().run_in_executor(self._hashing, check)
        except BaseException:
            link.guard.settle(admission, ok=False)
            raise
        link.guard.settle(admission, ok=user is not None)
        if user is None:
            link.audit.record(
                "sign_in_failed", login, source=conn.source, failures=link.guard.failures(conn.source, login)
            )
            raise ProtocolError(ErrorId.BAD_CREDENTIALS, "wrong agent id or password")
        token, expires = self.tokens.issue(login, user.session_epoch)
        session = self.attach(conn, user, token, expires, user.session_epoch)
        link.audit.record("sign_in", login, str(user.role), user.user_id, source=conn.source)
        conn.send(self._signed_in(session, token, expires, req_id))
        try:
            await link.agents.join(session)
        except QueueUnavailable as exc:
            conn.send(p.error(exc.error_id, exc.message))
        link.agent_desk.push_call(conn, session)

    async def resume(self, conn: Connection, token: str, req_id: Any) -> None:
        link = self.link
        if conn.session is not None:
            raise ProtocolError(ErrorId.ALREADY_SIGNED_IN, "this connection is already signed in")
        try:
            record = self.tokens.check(token)
        except TokenExpired as exc:
            raise ProtocolError(ErrorId.TOKEN_EXPIRED, str(exc)) from None
        except TokenInvalid as exc:
            raise ProtocolError(ErrorId.TOKEN_INVALID, str(exc)) from None
        user = await asyncio.to_thread(queries.load_user, link.sessions, record.login)
        if user is None or user.session_epoch != record.epoch:
            self.tokens.revoke(token)
            link.audit.record(
                "refused", record.login, source=conn.source, request="resume", error_id=ErrorId.TOKEN_INVALID
            )
            why = "was disabled or removed" if user is None else "signed out everywhere or changed their password"
            raise ProtocolError(ErrorId.TOKEN_INVALID, f"this session has ended: its user {why}; sign in again")
        session = self.attach(conn, user, token, record.expires, record.epoch)
        conn.send(self._signed_in(session, token, record.expires, req_id))
        link.agent_desk.push_call(conn, session)

    def _signed_in(self, session: AgentSession, token: str, expires: datetime, req_id: Any) -> dict[str, Any]:
        link = self.link
        agent, actor = session.agent, session.actor
        return reply(
            Msg.SIGNED_IN,
            req_id,
            token=token,
            expires_at=expires.isoformat(),
            agent=p.AgentInfo(
                id=session.login,
                name=session.display_name or (agent.name if agent else session.login),
                role=str(actor.role) if actor else "",
                extension=agent.extension if agent else None,
                languages=list(agent.languages) if agent else [],
            ),
            hotlines=[
                p.HotlineInfo(number=h.number, name_zh=h.name_zh, name_en=h.name_en, categories=list(h.categories))
                for h in link.cfg.hotlines
            ],
            wrapup_seconds=link.agents.wrapup_seconds,
            pause_reasons=list(p.PAUSE_REASONS),
            state=session.info(link.clock()),
            phone=self._phone(session),
            partners=[
                p.PartnerInfo(key=x.key, name_zh=x.name_zh, name_en=x.name_en, work_order=x.receiver is not None)
                for x in link.cfg.linkage
            ],
        )

    def _phone(self, session: AgentSession) -> p.PhoneAccount | None:
        """The agent's own SIP account for the desktop's softphone (None for an agent whose phone is reached at
        a fixed contact, and for people without a phone). Handed out audited."""
        agent = session.agent
        if agent is None or agent.contact is not None or agent.secret is None:
            return None
        sip = self.link.cfg.asterisk.sip
        actor = session.actor
        self.link.audit.record(
            "phone_account",
            session.login,
            str(actor.role) if actor else "",
            actor.user_id if actor else None,
            extension=agent.extension,
        )
        return p.PhoneAccount(
            aor=f"sip:{agent.extension}@{sip.host}:{sip.port}",
            password=agent.secret.value(),
            register_seconds=PHONE_REGISTER_SECONDS,
        )

    async def sign_out(self, req: Request) -> None:
        conn, session = req.conn, req.session
        await self.link.agents.sign_out(session)
        if conn.token:
            self.tokens.revoke(conn.token)
        self.detach(conn)
        conn.token = None
        actor = session.actor
        role, user_id = (str(actor.role), actor.user_id) if actor is not None else ("", None)
        self.link.audit.record("sign_out", session.login, role, user_id, source=conn.source)
        req.reply(Msg.SIGNED_OUT)

    # --- sessions that must end ------------------------------------------------------------------------
    def schedule_check(self) -> None:
        """Every `session_check_seconds`: `check_sessions`. A timer that starts a short check, not a task
        that sleeps for ever: nothing is left suspended when the server stops."""
        loop = asyncio.get_running_loop()
        self._check = loop.call_later(
            self.link.settings.session_check_seconds,
            lambda: self.link.spawn(self._check_then_reschedule(), "session check"),
        )

    async def _check_then_reschedule(self) -> None:
        try:
            await self.check_sessions()
        except Exception:
            log.exception("checking the desktop sessions failed; trying again")
        finally:
            if self.link.serving:
                self.schedule_check()

    async def check_sessions(self) -> None:
        link = self.link
        now, now_mono = link.clock(), time.monotonic()
        for conn in link.connections():
            if conn.closing:
                continue
            if conn.session is None:
                since = conn.unauthenticated_since
                if since is not None and now_mono - since >= link.settings.sign_in_timeout:
                    conn.close_after_sending(CLOSE_SIGN_IN_TIMEOUT, "not signed in in time")
            elif conn.expires is not None and conn.expires <= now:
                self._end_connection(conn, "expired")
        logins = {c.session.login for c in link.signed_in() if c.session is not None}
        if not logins:
            return
        standing = await asyncio.to_thread(self._standings, logins)
        for login in sorted(logins):
            st = standing.get(login)
            stale = [
                c
                for c in link.signed_in()
                if c.session is not None
                and c.session.login == login
                and (st is None or not st.active or c.epoch != st.epoch)
            ]
            if not stale:
                continue
            if st is None or not st.active:
                reason = "disabled"
                self.tokens.revoke_login(login)
            else:
                reason = str(st.ended_reason or "signed_out_everywhere")
                self.tokens.revoke_login(login, below_epoch=st.epoch)
            session = stale[0].session
            for conn in stale:
                self._end_connection(conn, reason)
            link.audit.record("session_ended", login, reason=reason, connections=len(stale))
            if session is not None and reason in ("disabled", "signed_out_everywhere"):
                await link.agents.leave_queue(session)

    def _standings(self, logins: set[str]) -> dict[str, accounts.SessionStanding]:
        with self.link.sessions() as s:
            return accounts.standings(s, logins)

    def _end_connection(self, conn: Connection, reason: str) -> None:
        """Tell the desktop why its session ended, forget the session on this connection and close it."""
        conn.send({"type": Msg.SESSION_ENDED, "reason": reason, "message": SESSION_ENDED_MESSAGES.get(reason, reason)})
        # an expired token is left to expire: a resume with it is told `token_expired`, not `token_invalid`,
        # whenever it comes (the store drops expired tokens when it next issues one)
        self.detach(conn)
        conn.token = None
        conn.close_after_sending(CLOSE_SESSION_ENDED, reason)

    async def end_sessions(self, req: Request) -> None:
        """`end_sessions`: an admin signs anyone out everywhere; anyone may do it to their own login."""
        login, actor = req.msg["login"], req.actor
        if login != req.session.login and actor.role is not Role.ADMIN:
            raise ProtocolError(ErrorId.NOT_PERMITTED, "only an admin may sign out another user", field="login")

        def end() -> None:
            with self.link.sessions() as s, s.begin():
                accounts.end_sessions(s, login, actor, self.link.clock())

        try:
            await asyncio.to_thread(end)
        except accounts.AccountError as exc:
            raise ProtocolError(ErrorId.UNKNOWN_USER, str(exc), field="login") from None
        req.reply(Msg.SESSIONS_ENDED, login=login)
        await self.check_sessions()
