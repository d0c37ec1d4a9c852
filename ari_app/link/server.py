"""LinkServer: the websocket server agent desktops connect to (protocol: docs/protocol.md).

The link is transport plus two tables: handshake, sign-in and resume (ari_app.link.signin), rate limits
(ari_app.signin_guard), then each request type to the desk that registered it (ari_app.link.routes) and each
call event to the desks that listen for it, in the order they registered, so a desktop is told about its
call in the order things happened. Contract for the wiring code:

    link = LinkServer(cfg, sessions, queue_control)       # the agents, cases, QA and supervision desks
    link.add(TransferDesk(transfers)); link.add(ConferenceDesk(three_way))   # the optional ones
    bus.subscribe(link.on_call_event, CallEvent, QueueMemberChanged)       # every call/queue domain event
    bus.subscribe(link.cases.on_case_event, CaseEvent)                     # every committed case event
    await link.start(); ...; await link.stop()

The server is the source of truth: a desktop that signs in or resumes gets the agent's state and the call in
progress.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ari_app import protocol as p
from ari_app.agents.desk import AgentDesk
from ari_app.agents.service import AgentService
from ari_app.calls.events import CallEvent, QueueControl, QueueMemberChanged
from ari_app.cases.desk import CaseDesk
from ari_app.config import Config
from ari_app.link.audit import AuditTrail
from ari_app.link.connection import Connection, reply
from ari_app.link.history import PopHistory
from ari_app.link.routes import FailureLog, Request, Routes, audit_refusal
from ari_app.link.settings import LinkSettings
from ari_app.link.signin import SignIn
from ari_app.protocol import AgentState, DomainError, ErrorId, Msg, ProtocolError
from ari_app.qa.desk import QaDesk
from ari_app.signin_guard import GuardPolicy, SignInGuard
from ari_app.supervision.desk import Supervision

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
HISTORY_ON_POP = 5
CLOSE_TRY_AGAIN_LATER = 1013
"""Close code (RFC 6455 registry) for a connection over its address's limit."""
EventHandler = Callable[[Any], Awaitable[None] | None]


class Desk(Protocol):
    def register(self, link: LinkServer) -> None:
        """Add the desk's routes (`link.routes.add`) and event listeners (`link.listen`)."""


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
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.guard = SignInGuard(
            self.clock,
            GuardPolicy(
                max_connections=self.settings.max_connections_per_address,
                max_unauthenticated=self.settings.max_unauthenticated_per_address,
                sign_in_timeout=self.settings.sign_in_timeout,
            ),
        )
        self.audit = AuditTrail(sessions, self.clock)
        self.routes = Routes()
        self._listeners: list[tuple[tuple[type, ...], EventHandler]] = []
        self._failures = FailureLog()
        self._connections: set[Connection] = set()
        self._per_source: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: Server | None = None
        self.port: int | None = None
        self.agents = AgentService(
            cfg,
            queue,
            self.clock,
            self.spawn,
            self.audit.record,
            queue_name=self.settings.queue,
            wrapup_seconds=self.settings.wrapup_seconds,
            offline_pause_seconds=self.settings.offline_pause_seconds,
        )
        self.history = PopHistory(sessions, HISTORY_ON_POP)
        self.agent_desk = AgentDesk(self, self.agents, self.history)
        self.signin = SignIn(self)
        self.supervisor = Supervision(self)  # the wallboard and supervisor actions (its spy is wired in)
        self.qa = QaDesk(cfg, sessions, self.clock)
        self.cases = CaseDesk(sessions, self.agents)
        for desk in (self.agent_desk, self.signin, self.cases, self.qa, self.supervisor):
            self.add(desk)

    def add(self, desk: Desk) -> None:
        """Register a feature's desk: its request routes and event listeners."""
        desk.register(self)

    def listen(self, handler: EventHandler, *kinds: type) -> None:
        """Give `handler` every call event of `kinds` that reaches `on_call_event`, after the listeners
        registered before it (awaited when it returns an awaitable)."""
        self._listeners.append((kinds, handler))

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
            compression=p.COMPRESSION,
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        self.audit.start()
        self.signin.schedule_check()
        log.info("desktop link on %s://%s:%s", self.settings.scheme, self.settings.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.signin.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        self.agents.stop()
        if tasks:  # ended here, on the running loop, not left to whoever closes the loop
            await asyncio.wait(tasks, timeout=5)
        await self.audit.stop()

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"{self.settings.scheme}://{self.settings.host}:{self.port}"

    def connections(self) -> list[Connection]:
        return list(self._connections)

    def signed_in(self) -> list[Connection]:
        """The open connections that are signed in (for pushes to people by role, such as alarms)."""
        return [c for c in self._connections if c.session is not None and not c.closing]

    def desktops(self, login: str) -> list[Connection]:
        """The connections `login` is signed in on."""
        return self.signin.desktops(login)

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
            if conn.closer is not None and not conn.closer.done():
                # the close handshake after what was sent before it (a session_ended push), briefly
                await asyncio.wait([conn.closer], timeout=1.0)
            self._connections.discard(conn)
            self._per_source[source] -= 1
            if self._per_source[source] <= 0:
                del self._per_source[source]
            self.signin.detach(conn)
            if conn.closer is not None:
                conn.closer.cancel()

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
            elif exc.error_id in p.LINK_REFUSALS:
                audit_refusal(self.audit, conn, kind, exc)
        except Exception:
            self._failures.log(kind or "?")
            conn.send(p.error(ErrorId.INTERNAL_ERROR, "the server could not do this; it has been logged", re=req_id))

    async def _dispatch(self, conn: Connection, msg: dict[str, Any], req_id: Any) -> None:
        kind = msg["type"]
        if kind == Msg.PING:
            conn.send(reply(Msg.PONG, req_id, at=self.clock().isoformat()))
        elif kind == Msg.HELLO:
            self._hello(conn, msg, req_id)
        elif not conn.greeted:
            raise ProtocolError(ErrorId.HELLO_REQUIRED, "send hello with the protocol version first")
        elif kind == Msg.SIGN_IN:
            await self.signin.sign_in(conn, msg["agent_id"], msg["password"], req_id)
        elif kind == Msg.RESUME:
            await self.signin.resume(conn, msg["token"], req_id)
        elif conn.session is None:
            raise ProtocolError(ErrorId.NOT_SIGNED_IN, "sign in first")
        else:
            await self.routes.dispatch(Request(conn, conn.session, msg, req_id))

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
        welcome = reply(
            Msg.WELCOME,
            req_id,
            version=p.PROTOCOL_VERSION,
            max_frame=p.MAX_FRAME,
            centre_name_zh=self.cfg.centre_name_zh,
            centre_name_en=self.cfg.centre_name_en,
        )
        conn.send(welcome)

    # --- domain events in ------------------------------------------------------------------------------
    async def on_call_event(self, event: CallEvent | QueueMemberChanged) -> None:
        """The bus subscriber for call events: each listening desk in turn (`listen`)."""
        for kinds, handler in self._listeners:
            if isinstance(event, kinds):
                result = handler(event)
                if inspect.isawaitable(result):
                    await result

    # --- introspection for tests and health ------------------------------------------------------------
    def state_of(self, login: str) -> AgentState:
        return self.agents.state_of(login)

    @property
    def connection_count(self) -> int:
        return len(self._connections)


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in detail.items()}
