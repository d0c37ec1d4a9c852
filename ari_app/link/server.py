"""LinkServer: the websocket server agent desktops connect to (protocol: docs/protocol.md).

Contract for the wiring code:
    link = LinkServer(settings, sessions, queue_control)   # sessions carry the case settings
    bus.subscribe(link.on_call_event, CallEvent, QueueMemberChanged)  # every call/queue domain event
    await link.start(); ...; await link.stop()

Routing: an event about a call goes only to the desktops of the agent the queue rang (found by the event's
agent id, else by its interface); queue membership changes only to that agent's desktops. The server is the
source of truth: a desktop that signs in or resumes gets the agent's state and the call in progress.

Every connection has its own outgoing queue and writer task, so a slow desktop never delays the call tracker
or other agents; a desktop that falls too far behind is disconnected (it reconnects and resynchronises).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ari_app import accounts
from ari_app import protocol as p
from ari_app.auth import TokenExpired, TokenInvalid, TokenStore, verify_password
from ari_app.calls.events import (
    CallConnected,
    CallEnded,
    CallEvent,
    CallLegChanged,
    CallQueued,
    CallRinging,
    ConferenceStored,
    QueueControl,
    QueueMemberChanged,
    QueueMembership,
    TransferChanged,
)
from ari_app.cases.events import CaseEvent
from ari_app.cases.service import CENTRE_ROLES
from ari_app.conference import ThreeWay, participants
from ari_app.config import Config
from ari_app.link import cases, qa
from ari_app.link.agents import OFFLINE_REASON, WRAPUP_REASON, AgentSession, AgentStateError, LiveCall
from ari_app.link.audit import AuditTrail
from ari_app.link.guard import GuardPolicy, Refusal, SignInGuard
from ari_app.link.history import PopHistory
from ari_app.link.settings import LinkSettings
from ari_app.link.supervisor import Supervision
from ari_app.link.transfer import TransferDesk
from ari_app.protocol import AgentState, CallPhase, DomainError, ErrorId, Msg, ProtocolError
from schema.users import Role

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OUTBOX_LIMIT = 500
HISTORY_ON_POP = 5
CLOSE_SESSION_ENDED = 4001
"""Close code after a `session_ended` push (password changed, disabled, signed out everywhere, expired)."""
CLOSE_SIGN_IN_TIMEOUT = 4002
"""Close code for a connection that did not sign in within `sign_in_timeout`."""
CLOSE_TRY_AGAIN_LATER = 1013
"""Close code (RFC 6455 registry) for a connection over its address's limit."""
AUDITED_REFUSALS = frozenset(
    {ErrorId.NOT_SIGNED_IN, ErrorId.CALL_NOT_YOURS, ErrorId.NOT_AN_AGENT, ErrorId.NOT_PERMITTED}
)
"""Refusals of the link's own rules that are written to the audit trail (the case, QA, transfer and
supervisor desks audit their own)."""
ERROR_LOG_EVERY = 60.0
"""Seconds between two tracebacks of the same failing request type; the ones between are counted."""


class Connection:
    """One desktop's websocket: its outgoing queue, its writer task and (once signed in) its session."""

    def __init__(self, ws: ServerConnection, peer: str, source: str) -> None:
        self.ws = ws
        self.peer = peer
        self.source = source
        """The client's address (without its port): what the sign-in guard and the connection caps count."""
        self.unauthenticated_since: float | None = time.monotonic()
        self.expires: datetime | None = None
        self.epoch = 0
        self.refusal_audited = False
        self.hold_until = 0.0
        """After a refused sign-in the connection is not read until then (monotonic seconds): a client that
        will not wait is made to, by TCP's own back-pressure, and costs the server nothing meanwhile."""
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=OUTBOX_LIMIT)
        self.greeted = False
        self.session: AgentSession | None = None
        self.token: str | None = None
        self.writer: asyncio.Task[None] | None = None
        self.closing = False
        self.close_code, self.close_reason = 1000, ""

    def send(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        try:
            self.outbox.put_nowait(p.encode(message))
        except asyncio.QueueFull:
            log.warning("desktop %s is not reading; disconnecting it", self.peer)
            self.close_after_sending(4008, "too slow", drop=True)

    def close_after_sending(self, code: int, reason: str, drop: bool = False) -> None:
        """Let the writer finish what is queued (or drop it) and then close the connection."""
        self.closing = True
        self.close_code, self.close_reason = code, reason
        while drop and not self.outbox.empty():
            self.outbox.get_nowait()
        if not self.outbox.full():
            self.outbox.put_nowait(None)

    async def write(self) -> None:
        while True:
            text = await self.outbox.get()
            if text is None:
                await self.ws.close(self.close_code, self.close_reason)
                return
            await self.ws.send(text)


class LinkServer:
    def __init__(
        self,
        cfg: Config,
        sessions: sessionmaker[Session],
        queue: QueueControl,
        clock: Clock | None = None,
        settings: LinkSettings | None = None,
    ) -> None:
        self.cfg = cfg
        self.settings = settings or LinkSettings.from_config(cfg)
        self.sessions = sessions
        self.queue = queue
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.tokens = TokenStore(self.settings.token_ttl, self.clock, self.settings.token_file)
        now = self.clock()
        self.agents: dict[str, AgentSession] = {a.id: AgentSession(a.id, a, now) for a in cfg.agents}
        self._rung: dict[str, set[str]] = {}  # call id -> logins of the agents the queue rang for it
        self.guard = SignInGuard(
            self.clock,
            GuardPolicy(
                max_connections=self.settings.max_connections_per_address,
                max_unauthenticated=self.settings.max_unauthenticated_per_address,
                sign_in_timeout=self.settings.sign_in_timeout,
            ),
        )
        self.audit = AuditTrail(sessions, self.clock)
        self.history = PopHistory(sessions, HISTORY_ON_POP)
        # Password hashing has a thread of its own: a sign-in flood never queues in front of the database work
        # (screen-pop history, cases) that runs in the default pool, and takes at most one core.
        self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="link-scrypt")
        self._error_log: dict[str, tuple[float, int]] = {}
        self._connections: set[Connection] = set()
        self._per_source: Counter[str] = Counter()
        self._session_check: asyncio.TimerHandle | None = None
        self.queue_problems: tuple[str, ...] = ()
        """Agents the server has in the queue whom Asterisk's queue lacks and could not be given back (the
        health report is degraded while there are any)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: Server | None = None
        self.port: int | None = None
        self.conference: ThreeWay | None = None  # three-way calls, when the server wires them in
        self.supervisor = Supervision(self)  # the wallboard and supervisor actions (its spy is wired in)
        self.qa = qa.QaDesk(cfg, sessions, self.clock)
        self.transfer_desk: TransferDesk | None = None  # transfers, when the server wires them in

    # --- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await serve(
            self._serve,
            self.settings.host,
            self.settings.port,
            ssl=self.settings.ssl_context(),
            max_size=p.HARD_MAX_FRAME,
            max_queue=16,
            server_header=None,
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        self.audit.start()
        self._schedule_session_check()
        log.info("desktop link on %s://%s:%s", self.settings.scheme, self.settings.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._session_check is not None:
            self._session_check.cancel()
            self._session_check = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for session in self.agents.values():
            session.cancel_timer()
        if tasks:  # ended here, on the running loop, not left to whoever closes the loop
            await asyncio.wait(tasks, timeout=5)
        await self.audit.stop()
        self._hashing.shutdown(wait=False, cancel_futures=True)

    @property
    def url(self) -> str:
        return f"{self.settings.scheme}://{self.settings.host}:{self.port}"

    def signed_in(self) -> list[Connection]:
        """The open connections that are signed in (for pushes to people by role, such as alarms)."""
        return [c for c in self._connections if c.session is not None and not c.closing]

    def spawn(self, coro: Awaitable[Any], what: str) -> asyncio.Task[Any]:
        """Start a task the server keeps a reference to; its failure is logged, never lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("link task %s failed", what, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    # --- one connection --------------------------------------------------------------------------------
    async def _serve(self, ws: ServerConnection) -> None:
        peer = ":".join(str(x) for x in ws.remote_address[:2]) if ws.remote_address else "?"
        source = str(ws.remote_address[0]) if ws.remote_address else "?"
        policy = self.guard.policy
        unauthenticated = sum(1 for c in self._connections if c.source == source and c.session is None)
        if self._per_source[source] >= policy.max_connections or unauthenticated >= policy.max_unauthenticated:
            await ws.close(CLOSE_TRY_AGAIN_LATER, "too many connections from this address")
            return
        conn = Connection(ws, peer, source)
        self._connections.add(conn)
        self._per_source[source] += 1
        conn.writer = self.spawn(conn.write(), f"writer {peer}")
        closed: asyncio.Future[None] | None = None
        try:
            async for frame in ws:
                await self._handle_frame(conn, frame)
                hold = conn.hold_until - time.monotonic()
                if hold > 0:
                    closed = closed or asyncio.ensure_future(ws.wait_closed())
                    await asyncio.wait([closed], timeout=hold)
                    if closed.done():
                        break
        except ConnectionClosed:
            pass
        finally:
            if closed is not None:
                closed.cancel()
            if conn.closing and conn.writer is not None and not conn.writer.done():
                # what is queued before the close (a session_ended push) still goes out, briefly
                await asyncio.wait([conn.writer], timeout=1.0)
            self._connections.discard(conn)
            self._per_source[source] -= 1
            if self._per_source[source] <= 0:
                del self._per_source[source]
            self._detach(conn)
            if conn.writer is not None:
                conn.writer.cancel()

    async def _handle_frame(self, conn: Connection, frame: str | bytes) -> None:
        req_id: Any = None
        kind: str | None = None
        try:
            msg = p.decode(frame)
            req_id, kind = msg.get("id"), msg["type"]
            await self._dispatch(conn, msg, req_id)
        except DomainError as exc:
            if req_id is None and isinstance(exc, ProtocolError):
                req_id = exc.re
            conn.send(p.error(exc.error_id, exc.message, re=req_id, **_jsonable(exc.detail)))
            if exc.error_id == ErrorId.VERSION_UNSUPPORTED:
                conn.close_after_sending(1002, "protocol version unsupported")
            elif exc.error_id in AUDITED_REFUSALS:
                self._audit_refusal(conn, kind, exc)
        except Exception:
            self._log_failure(kind or "?")
            conn.send(p.error(ErrorId.INTERNAL_ERROR, "the server could not do this; it has been logged", re=req_id))

    def _log_failure(self, kind: str) -> None:
        """A request failed inside the server: its traceback once per ERROR_LOG_EVERY per request type, so a
        client repeating a failing request cannot fill the log; the repeats are counted in the next line."""
        now = time.monotonic()
        last, repeats = self._error_log.get(kind, (float("-inf"), 0))
        if now - last < ERROR_LOG_EVERY:
            self._error_log[kind] = (last, repeats + 1)
            return
        self._error_log[kind] = (now, 0)
        suffix = f" ({repeats} more since the last report)" if repeats else ""
        log.exception("link request %s failed%s", kind[:40], suffix)

    def _audit_refusal(self, conn: Connection, kind: str | None, exc: DomainError) -> None:
        """One audit row for a refusal of the link's own rules: every one for a signed-in person, the first
        one of a connection that is not signed in (its later ones would only measure a client's loop)."""
        session = conn.session
        if session is None:
            if conn.refusal_audited:
                return
            conn.refusal_audited = True
        self.audit.record(
            "refused",
            session.login if session is not None else "",
            _role(session) if session is not None else "",
            _user_id(session) if session is not None else None,
            source=conn.source,
            request=kind[:40] if kind is not None else None,
            error_id=exc.error_id,
        )

    async def _dispatch(self, conn: Connection, msg: dict[str, Any], req_id: Any) -> None:
        kind = msg["type"]
        if kind == Msg.PING:
            conn.send(_reply(Msg.PONG, req_id, at=self.clock().isoformat()))
            return
        if kind == Msg.HELLO:
            self._hello(conn, msg, req_id)
            return
        if not conn.greeted:
            raise ProtocolError(ErrorId.HELLO_REQUIRED, "send hello with the protocol version first")
        if kind == Msg.SIGN_IN:
            await self._sign_in(conn, msg["agent_id"], msg["password"], req_id)
            return
        if kind == Msg.RESUME:
            await self._resume(conn, msg["token"], req_id)
            return
        session = conn.session
        if session is None:
            raise ProtocolError(ErrorId.NOT_SIGNED_IN, "sign in first")
        if kind == Msg.SIGN_OUT:
            await self._sign_out(conn, session, req_id)
        elif kind == Msg.SET_STATE:
            await self._set_state(session, AgentState(msg["state"]), msg.get("reason") or "", req_id, conn)
        elif kind == Msg.CREATE_CASE:
            await self._create_case(conn, session, msg, req_id)
        elif kind == Msg.CALLER_HISTORY:
            actor = self._actor(session)
            found = await asyncio.to_thread(
                cases.caller_history, self.sessions, actor, msg["caller"], msg.get("limit") or 10
            )
            conn.send(_reply(Msg.HISTORY, req_id, caller=msg["caller"], cases=found))
        elif kind == Msg.SEARCH_CASES:
            actor = self._actor(session)
            text, mine = msg.get("text"), bool(msg.get("mine"))
            found = await asyncio.to_thread(
                cases.search_cases, self.sessions, actor, text, mine, msg.get("limit") or 50
            )
            conn.send(_reply(Msg.CASES, req_id, text=text, mine=mine, cases=found))
        elif kind == Msg.LIST_CASES:
            await self._list_cases(conn, session, msg, req_id)
        elif kind == Msg.GET_CASE:
            detail = await asyncio.to_thread(cases.get_case, self.sessions, self._actor(session), msg["case_id"])
            conn.send(_reply(Msg.CASE, req_id, case=detail))
        elif kind == Msg.CONFERENCE:
            await self._conference(conn, session, msg, req_id)
        elif kind == Msg.WALLBOARD_SUBSCRIBE:
            await self.supervisor.subscribe(conn, session, req_id)
        elif kind == Msg.WALLBOARD_UNSUBSCRIBE:
            self.supervisor.unsubscribe(conn, req_id)
        elif kind == Msg.SUPERVISE_AGENT:
            await self.supervisor.supervise(conn, session, msg, req_id)
        elif kind in qa.QA_REQUESTS:
            reply, fields = await self.qa.handle(conn, self._actor(session), msg)
            conn.send(_reply(reply, req_id, **fields))
        elif kind == Msg.TRANSFER:
            if self.transfer_desk is None:
                raise ProtocolError(ErrorId.INTERNAL_ERROR, "transfers are not available on this server")
            await self.transfer_desk.request(conn, session, msg, req_id)
        elif kind == Msg.END_SESSIONS:
            await self._end_sessions_request(conn, session, msg["login"], req_id)
        elif kind in cases.WORKFLOW_REQUESTS:
            detail = await asyncio.to_thread(cases.act, self.sessions, self._actor(session), kind, msg)
            conn.send(_reply(Msg.CASE_UPDATED, req_id, case=detail))
        else:  # pragma: no cover - decode() admits only the types above
            raise ProtocolError(ErrorId.UNKNOWN_TYPE, f"unknown message type {kind!r}")

    def _hello(self, conn: Connection, msg: dict[str, Any], req_id: Any) -> None:
        version: str = msg["version"]
        major = version.split(".", 1)[0]
        if not major.isdigit() or int(major) != p.PROTOCOL_MAJOR:
            raise ProtocolError(
                ErrorId.VERSION_UNSUPPORTED,
                f"this server speaks protocol {p.PROTOCOL_VERSION}; the client sent {version!r}",
                server_version=p.PROTOCOL_VERSION,
            )
        conn.greeted = True
        conn.send(
            _reply(
                Msg.WELCOME,
                req_id,
                version=p.PROTOCOL_VERSION,
                max_frame=p.MAX_FRAME,
                centre_name_zh=self.cfg.centre_name_zh,
                centre_name_en=self.cfg.centre_name_en,
            )
        )

    # --- sign-in, resume, sign-out ---------------------------------------------------------------------
    async def _sign_in(self, conn: Connection, login: str, password: str, req_id: Any) -> None:
        """Check a password under the sign-in guard (ari_app.link.guard): the attempt is counted before the
        check, the check runs in the hashing thread, and every outcome is audited with the client's address."""
        if conn.session is not None:
            raise ProtocolError(ErrorId.ALREADY_SIGNED_IN, "this connection is already signed in; sign out first")
        admission = self.guard.admit(conn.source, login)
        if admission.refused is not None:
            if admission.first_refusal:
                self.audit.record(
                    "sign_in_throttled",
                    login,
                    source=conn.source,
                    why=str(admission.refused),
                    refused=admission.refused_since,
                    retry_after=round(admission.retry_after, 1),
                )
            busy = admission.refused is Refusal.BUSY
            conn.hold_until = time.monotonic() + min(admission.retry_after, self.settings.refusal_hold_seconds)
            raise ProtocolError(
                ErrorId.TOO_MANY_ATTEMPTS,
                "the server is busy; try again in a moment" if busy else "too many sign-in attempts; wait a while",
                retry_after=int(admission.retry_after + 0.999),
            )

        def check() -> cases.UserRecord | None:
            user = cases.load_user(self.sessions, login)
            ok = verify_password(password, user.password_hash if user else None)
            return user if ok else None

        try:
            user = await asyncio.get_running_loop().run_in_executor(self._hashing, check)
        except BaseException:
            self.guard.settle(admission, ok=False)
            raise
        self.guard.settle(admission, ok=user is not None)
        if user is None:
            self.audit.record(
                "sign_in_failed", login, source=conn.source, failures=self.guard.failures(conn.source, login)
            )
            raise ProtocolError(ErrorId.BAD_CREDENTIALS, "wrong agent id or password")
        token, expires = self.tokens.issue(login, user.session_epoch)
        session = self._attach(conn, user, token, expires, user.session_epoch)
        self.audit.record("sign_in", login, str(user.role), user.user_id, source=conn.source)
        conn.send(self._signed_in(session, token, expires, req_id))
        if session.agent is not None and session.state is AgentState.SIGNED_OUT:
            try:
                await self.queue.queue_add(self.settings.queue, session.agent.interface, session.agent.name, True)
            except Exception as exc:
                log.warning("queue_add for %s failed: %s", login, exc)
                conn.send(p.error(ErrorId.QUEUE_UNAVAILABLE, "signed in, but the queue could not be joined"))
            else:
                self._move(session, AgentState.PAUSED, "")
        self._push_call(conn, session)

    async def _resume(self, conn: Connection, token: str, req_id: Any) -> None:
        if conn.session is not None:
            raise ProtocolError(ErrorId.ALREADY_SIGNED_IN, "this connection is already signed in")
        try:
            record = self.tokens.check(token)
        except TokenExpired as exc:
            raise ProtocolError(ErrorId.TOKEN_EXPIRED, str(exc)) from None
        except TokenInvalid as exc:
            raise ProtocolError(ErrorId.TOKEN_INVALID, str(exc)) from None
        user = await asyncio.to_thread(cases.load_user, self.sessions, record.login)
        if user is None or user.session_epoch != record.epoch:
            self.tokens.revoke(token)
            self.audit.record(
                "refused", record.login, source=conn.source, request="resume", error_id=ErrorId.TOKEN_INVALID
            )
            why = "was disabled or removed" if user is None else "signed out everywhere or changed their password"
            raise ProtocolError(ErrorId.TOKEN_INVALID, f"this session has ended: its user {why}; sign in again")
        session = self._attach(conn, user, token, record.expires, record.epoch)
        conn.send(self._signed_in(session, token, record.expires, req_id))
        self._push_call(conn, session)

    def _attach(
        self, conn: Connection, user: cases.UserRecord, token: str, expires: datetime, epoch: int
    ) -> AgentSession:
        session = self.agents.get(user.login)
        if session is None:
            session = AgentSession(user.login, self.cfg.agent(user.login), self.clock())
            self.agents[user.login] = session
        session.actor = user.actor
        session.units = user.units
        session.display_name = user.display_name
        session.connections.add(conn)
        conn.session = session
        conn.token = token
        conn.expires, conn.epoch = expires, epoch
        conn.unauthenticated_since = None
        if session.state is not AgentState.WRAPUP:
            session.cancel_timer()  # the pending offline pause: a desktop is back
        return session

    def _detach(self, conn: Connection) -> None:
        self.supervisor.forget(conn)
        session = conn.session
        if session is None:
            return
        session.connections.discard(conn)
        conn.session = None
        conn.expires = None
        conn.unauthenticated_since = time.monotonic()
        if (
            not session.connections
            and session.agent is not None
            and session.state is AgentState.READY
            and self.settings.offline_pause_seconds > 0
        ):
            session.timer = self.spawn(self._offline_pause(session), f"offline pause {session.login}")

    async def _offline_pause(self, session: AgentSession) -> None:
        """The agent's desktops are all gone: stop offering them calls if none comes back in time."""
        await asyncio.sleep(self.settings.offline_pause_seconds)
        if session.connections or session.state is not AgentState.READY or session.agent is None:
            return
        session.timer = None
        await self.queue.queue_pause(self.settings.queue, session.agent.interface, True, OFFLINE_REASON)
        self._move(session, AgentState.PAUSED, OFFLINE_REASON)

    def _signed_in(self, session: AgentSession, token: str, expires: datetime, req_id: Any) -> dict[str, Any]:
        agent = session.agent
        actor = session.actor
        return _reply(
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
                for h in self.cfg.hotlines
            ],
            wrapup_seconds=self.settings.wrapup_seconds,
            pause_reasons=list(p.PAUSE_REASONS),
            state=session.info(self.clock()),
        )

    def _push_call(self, conn: Connection, session: AgentSession) -> None:
        """Tell a desktop that just (re)joined about the call in progress, as a screen-pop marked resumed."""
        if session.call is not None:
            conn.send({"type": Msg.SCREEN_POP, "call": session.call.info(), "history": [], "resumed": True})

    async def _sign_out(self, conn: Connection, session: AgentSession, req_id: Any) -> None:
        if session.agent is not None and session.state is not AgentState.SIGNED_OUT:
            try:
                await self.queue.queue_remove(self.settings.queue, session.agent.interface)
            except Exception as exc:
                log.warning("queue_remove for %s failed: %s", session.login, exc)
                raise ProtocolError(ErrorId.QUEUE_UNAVAILABLE, "the queue could not be left; try again") from None
            self._move(session, AgentState.SIGNED_OUT, "")
        if conn.token:
            self.tokens.revoke(conn.token)
        self._detach(conn)
        conn.token = None
        self.audit.record("sign_out", session.login, _role(session), _user_id(session), source=conn.source)
        conn.send(_reply(Msg.SIGNED_OUT, req_id))

    # --- sessions that must end ------------------------------------------------------------------------
    def _schedule_session_check(self) -> None:
        """Every `session_check_seconds`: close connections that did not sign in in time, sessions past their
        expiry, and sessions whose user was disabled, changed password or was signed out everywhere (by any
        process: the decision is in the users table, ari_app.accounts). A timer that starts a short check, not
        a task that sleeps for ever: nothing is left suspended when the server stops."""
        if self._server is None:
            return
        loop = asyncio.get_running_loop()
        self._session_check = loop.call_later(
            self.settings.session_check_seconds, lambda: self.spawn(self._check_then_reschedule(), "session check")
        )

    async def _check_then_reschedule(self) -> None:
        try:
            await self.check_sessions()
        except Exception:
            log.exception("checking the desktop sessions failed; trying again")
        finally:
            self._schedule_session_check()

    async def check_sessions(self) -> None:
        now, now_mono = self.clock(), time.monotonic()
        for conn in list(self._connections):
            if conn.closing:
                continue
            if conn.session is None:
                since = conn.unauthenticated_since
                if since is not None and now_mono - since >= self.settings.sign_in_timeout:
                    conn.close_after_sending(CLOSE_SIGN_IN_TIMEOUT, "not signed in in time")
            elif conn.expires is not None and conn.expires <= now:
                self._end_connection(conn, "expired")
        logins = {c.session.login for c in self._connections if c.session is not None and not c.closing}
        if not logins:
            return
        standing = await asyncio.to_thread(self._standings, logins)
        for login in sorted(logins):
            st = standing.get(login)
            stale = [
                c
                for c in list(self._connections)
                if c.session is not None
                and c.session.login == login
                and not c.closing
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
            self.audit.record("session_ended", login, reason=reason, connections=len(stale))
            if session is not None and reason in ("disabled", "signed_out_everywhere"):
                await self._leave_queue(session)

    def _standings(self, logins: set[str]) -> dict[str, accounts.SessionStanding]:
        with self.sessions() as s:
            return accounts.standings(s, logins)

    def _end_connection(self, conn: Connection, reason: str) -> None:
        """Tell the desktop why its session ended, forget the session on this connection and close it."""
        conn.send({"type": Msg.SESSION_ENDED, "reason": reason, "message": SESSION_ENDED_MESSAGES.get(reason, reason)})
        if reason == "expired" and conn.token:
            self.tokens.revoke(conn.token)
        self._detach(conn)
        conn.token = None
        conn.close_after_sending(CLOSE_SESSION_ENDED, reason)

    async def _leave_queue(self, session: AgentSession) -> None:
        """A user signed out by someone else (disabled, signed out everywhere) no longer takes calls."""
        if session.agent is None or session.state is AgentState.SIGNED_OUT or session.connections:
            return
        try:
            await self.queue.queue_remove(self.settings.queue, session.agent.interface)
        except Exception as exc:
            log.warning("queue_remove for %s after its sessions ended failed: %s", session.login, exc)
            return
        self._move(session, AgentState.SIGNED_OUT, "")

    async def _end_sessions_request(self, conn: Connection, session: AgentSession, login: str, req_id: Any) -> None:
        """`end_sessions`: an admin signs anyone out everywhere; anyone may do it to their own login."""
        actor = self._actor(session)
        if login != session.login and actor.role is not Role.ADMIN:
            raise ProtocolError(ErrorId.NOT_PERMITTED, "only an admin may sign out another user", field="login")

        def end() -> None:
            with self.sessions() as s, s.begin():
                accounts.end_sessions(s, login, actor, self.clock())

        try:
            await asyncio.to_thread(end)
        except accounts.AccountError as exc:
            raise ProtocolError(ErrorId.UNKNOWN_USER, str(exc), field="login") from None
        conn.send(_reply(Msg.SESSIONS_ENDED, req_id, login=login))
        await self.check_sessions()

    # --- agent states ----------------------------------------------------------------------------------
    async def _set_state(
        self, session: AgentSession, target: AgentState, reason: str, req_id: Any, conn: Connection
    ) -> None:
        agent = session.agent
        if agent is None:
            raise ProtocolError(ErrorId.NOT_AN_AGENT, f"{session.login} is not a queue agent in the configuration")
        if session.state is AgentState.ON_CALL:
            raise AgentStateError(session.login, session.state, target)
        reason = reason.strip() if target is AgentState.PAUSED else ""
        if target is AgentState.PAUSED and not reason:
            reason = "other"
        q, iface = self.settings.queue, agent.interface
        try:
            if session.state is AgentState.SIGNED_OUT:
                await self.queue.queue_add(q, iface, agent.name, target is AgentState.PAUSED)
                if target is AgentState.PAUSED:
                    await self.queue.queue_pause(q, iface, True, reason)
            elif target is AgentState.READY and session.state is not AgentState.READY:
                await self.queue.queue_pause(q, iface, False)
            elif target is AgentState.PAUSED:
                await self.queue.queue_pause(q, iface, True, reason)
        except Exception as exc:
            log.warning("queue action for %s failed: %s", session.login, exc)
            raise ProtocolError(ErrorId.QUEUE_UNAVAILABLE, "Asterisk's queue did not accept the change") from None
        self._move(session, target, reason, exclude=conn)
        conn.send(_reply(Msg.AGENT_STATE, req_id, **session.info(self.clock())))

    def _move(self, session: AgentSession, target: AgentState, reason: str, exclude: Connection | None = None) -> None:
        if session.move(target, self.clock(), reason):
            self._broadcast(session, {"type": Msg.AGENT_STATE, **session.info(self.clock())}, exclude)
            self.supervisor.changed()

    def move_agent(self, session: AgentSession, target: AgentState, reason: str) -> None:
        """Change an agent's state from outside the agent's own desktops (a supervisor); pushed to them."""
        self._move(session, target, reason)

    def agent_state_changed(self, session: AgentSession) -> None:
        """Something the desktops show changed without a move (a pause waiting for the call's end)."""
        self._broadcast(session, {"type": Msg.AGENT_STATE, **session.info(self.clock())})
        self.supervisor.changed()

    def _broadcast(self, session: AgentSession, message: dict[str, Any], exclude: Connection | None = None) -> None:
        if session.held is not None:  # behind a screen-pop still waiting for its history: keep the order
            session.held.append((message, exclude))
            return
        for conn in list(session.connections):
            if conn is not exclude:
                conn.send(message)

    def _start_wrapup(self, session: AgentSession) -> None:
        agent = session.agent
        seconds = self.settings.wrapup_seconds
        if agent is None or seconds <= 0:
            if session.pause_after is not None:  # a supervisor's pause, already set in Asterisk's queue
                self._move(session, AgentState.PAUSED, session.pause_after)
            else:
                self._move(session, AgentState.READY, "")
            return
        session.move(AgentState.WRAPUP, self.clock(), WRAPUP_REASON)
        session.wrapup_until = self.clock() + timedelta(seconds=seconds)
        self._broadcast(session, {"type": Msg.AGENT_STATE, **session.info(self.clock())})
        self.supervisor.changed()
        session.timer = self.spawn(self._wrapup(session, seconds), f"wrapup {session.login}")

    async def _wrapup(self, session: AgentSession, seconds: float) -> None:
        agent = session.agent
        assert agent is not None
        try:
            await self.queue.queue_pause(self.settings.queue, agent.interface, True, WRAPUP_REASON)
        except Exception as exc:
            log.warning("wrap-up pause for %s failed: %s", session.login, exc)
        await asyncio.sleep(seconds)
        if session.state is not AgentState.WRAPUP:
            return
        session.timer = None
        if session.pause_after is not None:  # a supervisor paused the agent during the call
            reason = session.pause_after
            try:
                await self.queue.queue_pause(self.settings.queue, agent.interface, True, reason)
            except Exception as exc:
                log.warning("the supervisor's pause of %s after the call failed: %s", session.login, exc)
                reason = WRAPUP_REASON  # still paused in the queue by the wrap-up
            self._move(session, AgentState.PAUSED, reason)
            return
        try:
            await self.queue.queue_pause(self.settings.queue, agent.interface, False)
        except Exception as exc:
            log.warning("end of wrap-up for %s failed: %s", session.login, exc)
            self._move(session, AgentState.PAUSED, WRAPUP_REASON)
            return
        self._move(session, AgentState.READY, "")

    # --- the queue as Asterisk has it ------------------------------------------------------------------
    async def reconcile_queue(self, members: dict[str, QueueMembership]) -> tuple[str, ...]:
        """Put back every agent the server has signed in whom Asterisk's queue (`members`, by lower-case
        interface) lacks: after Asterisk restarted or crashed, app_queue was reloaded, or a membership was
        lost. Each is added as the server has them: paused with their reason (wrap-up included), or ready.
        Returns, and keeps in `queue_problems`, what could not be put back."""
        problems = []
        q = self.settings.queue
        for session in list(self.agents.values()):
            agent = session.agent
            if agent is None or session.state is AgentState.SIGNED_OUT or agent.interface.lower() in members:
                continue
            paused = session.state in (AgentState.PAUSED, AgentState.WRAPUP)
            reason = WRAPUP_REASON if session.state is AgentState.WRAPUP else (session.reason or "other")
            try:
                await self.queue.queue_add(q, agent.interface, agent.name, paused)
                if paused:
                    await self.queue.queue_pause(q, agent.interface, True, reason)
            except Exception as exc:
                log.warning("could not put %s back into the queue: %s", session.login, exc)
                problems.append(f"agent {session.login} is not in the queue and could not be added back ({exc})")
            else:
                log.warning(
                    "agent %s was missing from Asterisk's queue: added back %s",
                    session.login,
                    f"paused ({reason})" if paused else "ready",
                )
                self.audit.record(
                    "queue_member_restored",
                    session.login,
                    _role(session),
                    _user_id(session),
                    source="asterisk",
                    paused=paused,
                    reason=reason if paused else "",
                )
        self.queue_problems = tuple(problems)
        return self.queue_problems

    # --- domain events in ------------------------------------------------------------------------------
    def _session_for(self, agent_id: str | None, interface: str | None) -> AgentSession | None:
        if agent_id and agent_id in self.agents and self.agents[agent_id].agent is not None:
            return self.agents[agent_id]
        if interface:
            agent = self.cfg.agent_by_interface(interface)
            if agent is not None:
                return self.agents.get(agent.id)
        return None

    def on_case_event(self, event: CaseEvent) -> int:
        """Bus subscriber for committed case events: push each (`cases.push_for`) to exactly the signed-in
        people of its audience (`Audience.includes`: roles; a hotline unit only its hotline's cases, a
        department only its units'). Returns how many messages were queued."""
        message = cases.push_for(event)
        if message is None:
            return 0
        sent = 0
        for conn in list(self._connections):
            session = conn.session
            actor = session.actor if session is not None else None
            if conn.closing or session is None or actor is None:
                continue
            if event.audience.includes(actor.role, actor.hotline, session.units):
                conn.send(message)
                sent += 1
        return sent

    async def on_call_event(self, event: CallEvent | QueueMemberChanged) -> None:
        """The bus subscriber for call events: adapt one domain event into messages for whom it concerns."""
        self.history.on_call_event(event)
        if isinstance(event, CallRinging):
            await self._on_ringing(event)
        elif isinstance(event, CallConnected):
            self._on_connected(event)
        elif isinstance(event, CallQueued):
            self._on_requeued(event.call_id)
        elif isinstance(event, CallEnded):
            self._on_ended(event)
        elif isinstance(event, QueueMemberChanged):
            self._on_member(event)
        elif isinstance(event, ConferenceStored):
            await self._on_conference(event)
        elif isinstance(event, TransferChanged) and self.transfer_desk is not None:
            await self.transfer_desk.on_transfer(event)
        elif isinstance(event, CallLegChanged) and self.transfer_desk is not None:
            self.transfer_desk.on_leg(event)
        self.supervisor.on_event(event)

    async def _on_ringing(self, event: CallRinging) -> None:
        session = self._session_for(event.agent_id, event.interface)
        if session is None:
            return
        hotline = self.cfg.hotline(event.hotline) if event.hotline else None
        call = LiveCall(
            call_id=event.call_id,
            hotline=event.hotline,
            hotline_name_zh=hotline.name_zh if hotline else None,
            hotline_name_en=hotline.name_en if hotline else None,
            caller=event.caller,
            waited_seconds=event.waited_seconds,
            rung_at=event.at,
            callback_of=event.callback_of,
        )
        self._rung.setdefault(event.call_id, set()).add(session.login)
        session.call = call
        session.recent_calls.append(event.call_id)
        if not session.connections:
            return
        if not event.caller or session.actor is None or session.actor.role not in CENTRE_ROLES:
            self._pop(session, call, [])
            return
        history = self.history.ready(event.call_id)  # read when the call arrived: usually here already
        if history is not None and session.held is None:
            self._pop(session, call, history)
            return
        # This agent's pop waits for its own read only, never for another's; what this agent's desktops are
        # told meanwhile (the call connected, ended, a state) follows it, in order.
        if session.held is None:
            session.held = []
            self.spawn(self._release(session), f"screen-pop {event.call_id}")
        session.held.append(call)

    async def _release(self, session: AgentSession) -> None:
        """Send what was held behind a pop waiting for its history, in order, then stop holding."""
        held = session.held
        assert held is not None
        while held:
            item = held[0]
            history = await self.history.wait(item.call_id, item.caller or "") if isinstance(item, LiveCall) else []
            session.held = None  # send this one now, whatever is added to `held` meanwhile waits
            if isinstance(item, LiveCall):
                self._pop(session, item, history)
            else:
                self._broadcast(session, *item)
            session.held = held
            held.pop(0)
        session.held = None

    def _pop(self, session: AgentSession, call: LiveCall, history: list[p.CaseSummary]) -> None:
        """Send the screen-pop (the call as it is now: it may have been answered while its history was
        read); then audit that the agent was shown the caller's history, off the pop's path as the link's
        own audit rows are."""
        self._broadcast(session, {"type": Msg.SCREEN_POP, "call": call.info(), "history": history, "resumed": False})
        if call.caller and session.actor is not None and session.actor.role in CENTRE_ROLES:
            self.audit.record(
                "caller_history",
                session.login,
                str(session.actor.role),
                session.actor.user_id,
                source="screen_pop",
                call_id=call.call_id,
                caller=call.caller,
                found=len(history),
            )

    def _on_connected(self, event: CallConnected) -> None:
        session = self._session_for(event.agent_id, event.interface)
        for login in self._rung.get(event.call_id, set()):
            other = self.agents.get(login)
            if other is not None and other is not session and other.call and other.call.call_id == event.call_id:
                other.call = None
                self._broadcast(other, {"type": Msg.CALL_MISSED, "call_id": event.call_id, "reason": "answered"})
        if session is None:
            return
        self._rung[event.call_id] = {session.login}
        if session.call is None or session.call.call_id != event.call_id:
            session.call = LiveCall(event.call_id, None, None, None, None, event.wait_seconds, event.at)
            session.recent_calls.append(event.call_id)
        session.call.phase = CallPhase.CONNECTED
        session.call.connected_at = event.at
        self._broadcast(
            session, {"type": Msg.CALL_CONNECTED, "call_id": event.call_id, "wait_seconds": event.wait_seconds}
        )
        self._move(session, AgentState.ON_CALL, "")

    def _on_requeued(self, call_id: str) -> None:
        for login in self._rung.pop(call_id, set()):
            session = self.agents.get(login)
            if session is not None and session.call and session.call.call_id == call_id:
                session.call = None
                self._broadcast(session, {"type": Msg.CALL_MISSED, "call_id": call_id, "reason": "not_answered"})

    def _on_ended(self, event: CallEnded) -> None:
        logins = self._rung.pop(event.call_id, set())
        for login in logins:
            session = self.agents.get(login)
            if session is None or session.call is None or session.call.call_id != event.call_id:
                continue
            was_connected = session.call.phase is CallPhase.CONNECTED
            session.call = None
            self._broadcast(
                session,
                {
                    "type": Msg.CALL_ENDED,
                    "call_id": event.call_id,
                    "state": str(event.state),
                    "reason": str(event.reason),
                    "talk_seconds": event.talk_seconds,
                },
            )
            if was_connected and session.state is AgentState.ON_CALL:
                self._start_wrapup(session)

    def _on_member(self, event: QueueMemberChanged) -> None:
        if event.queue and event.queue != self.settings.queue:
            return
        session = self._session_for(event.agent_id, event.interface)
        if session is None:
            return
        state = session.state
        if not event.in_queue:
            session.call = None if state is not AgentState.ON_CALL else session.call
            self._move(session, AgentState.SIGNED_OUT, "")
        elif event.paused:
            if event.reason == WRAPUP_REASON or state is AgentState.ON_CALL:
                return  # our own wrap-up pause, or a pause that takes effect after the call
            self._move(session, AgentState.PAUSED, event.reason or "other")
        elif state in (AgentState.SIGNED_OUT, AgentState.PAUSED, AgentState.WRAPUP):
            self._move(session, AgentState.READY, "")

    # --- cases -----------------------------------------------------------------------------------------
    def _actor(self, session: AgentSession) -> Any:
        if session.actor is None:  # pragma: no cover - set on every sign-in and resume
            raise ProtocolError(ErrorId.NOT_SIGNED_IN, "sign in first")
        return session.actor

    async def _create_case(self, conn: Connection, session: AgentSession, msg: dict[str, Any], req_id: Any) -> None:
        actor = self._actor(session)
        call_id = msg.get("call_id")
        if call_id:
            rung = self._rung.get(call_id)
            if rung is not None and session.login not in rung:
                raise ProtocolError(ErrorId.CALL_NOT_YOURS, "this call was offered to another agent", field="call_id")
            for other in self.agents.values():
                if other is not session and call_id in other.recent_calls and call_id not in session.recent_calls:
                    raise ProtocolError(ErrorId.CALL_NOT_YOURS, "this call was taken by another agent", field="call_id")
        created = await asyncio.to_thread(cases.create_case, self.sessions, actor, msg)
        conn.send(_reply(Msg.CASE_CREATED, req_id, case=created))

    async def _conference(self, conn: Connection, session: AgentSession, msg: dict[str, Any], req_id: Any) -> None:
        """Three-way call commands from the agent on the call: start (bring a unit's number in), leave, end."""
        call_id, action = msg["call_id"], msg["action"]
        if session.call is None or session.call.call_id != call_id:
            raise ProtocolError(ErrorId.CALL_NOT_YOURS, "you are not on this call", field="call_id")
        if self.conference is None:
            raise ProtocolError(ErrorId.INTERNAL_ERROR, "three-way calls are not available on this server")
        if action == "start":
            if not msg.get("number"):
                raise ProtocolError(ErrorId.INVALID_FIELD, "start needs the unit's number", field="number")
            await self.conference.start(call_id, msg["number"])
        elif action == "leave":
            await self.conference.agent_leaves(call_id)
        else:
            await self.conference.end(call_id)
        conn.send(_reply(Msg.CONFERENCE_STATE, req_id, **await self._conference_state(call_id)))

    async def _conference_state(self, call_id: str) -> dict[str, Any]:
        with self.sessions() as s:
            people = await asyncio.to_thread(participants, s, call_id)
        present = [{"role": p_["role"], "number": p_["number"]} for p_ in people if p_["left_at"] is None]
        return {"call_id": call_id, "members": present, "participants": people}

    async def _on_conference(self, event: ConferenceStored) -> None:
        for session in self.agents.values():
            if session.call is not None and session.call.call_id == event.call_id:
                self._broadcast(session, {"type": Msg.CONFERENCE_STATE, **await self._conference_state(event.call_id)})

    async def _list_cases(self, conn: Connection, session: AgentSession, msg: dict[str, Any], req_id: Any) -> None:
        """The unit / supervisor view's list: what the signed-in person may see (checked by the service)."""
        filters: dict[str, Any] = {
            "status": msg.get("status"),
            "open_only": bool(msg.get("open")),
            "overdue": bool(msg.get("overdue")),
            "text": msg.get("text"),
            "limit": msg.get("limit") or 100,
        }
        found = await asyncio.to_thread(cases.list_cases, self.sessions, self._actor(session), **filters)
        conn.send(
            _reply(
                Msg.CASES,
                req_id,
                status=filters["status"],
                open=filters["open_only"],
                overdue=filters["overdue"],
                text=filters["text"],
                cases=found,
            )
        )

    # --- introspection for tests and health ------------------------------------------------------------
    def state_of(self, login: str) -> AgentState:
        return self.agents[login].state

    @property
    def connection_count(self) -> int:
        return len(self._connections)


SESSION_ENDED_MESSAGES = {
    "password_changed": "your password was changed; sign in with the new one",
    "disabled": "your account was disabled",
    "signed_out_everywhere": "you were signed out everywhere",
    "expired": "your session has expired; sign in again",
}


def _role(session: AgentSession) -> str:
    return str(session.actor.role) if session.actor is not None else ""


def _user_id(session: AgentSession) -> int | None:
    return session.actor.user_id if session.actor is not None else None


def _reply(kind: Msg, req_id: Any, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, **fields}
    if req_id is not None:
        out["re"] = req_id
    return out


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in detail.items()}
