"""The web front's ASGI app (`build_app`) and the server that runs it (`WebServer`, uvicorn).

Inside `hotline serve` (config `web.enabled`) the app is handed the desktop link's sign-in guard, and its
`LiveHub` subscribes to the committed case events on the server's bus (ari_app.server); `hotline web` runs it
on its own, with a guard of its own and the audit-trail poller for live updates (ari_app.web.live).

Every response carries the security headers (`SECURITY_HEADERS`: a CSP without inline script or style and
`frame-ancestors 'none'`, no sniffing, no referrer; HSTS under TLS); a request body over `MAX_BODY` bytes is
refused (413) before it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ari_app.cases.calendar import WorkCalendar
from ari_app.config import Config
from ari_app.signin_guard import SignInGuard
from ari_app.web.live import AuditPoller, LiveHub
from ari_app.web.pages import UPLOAD_PATH, Context, routes
from ari_app.web.sessions import WebSessions
from ari_app.web.signin import WebSignIn

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
MAX_BODY = 256 * 1024
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
UPLOAD_SLACK = 64 * 1024
"""An upload's form around its file: the CSRF field, the result text, the multipart boundaries."""
TOO_LARGE = "请求过大：文件超过大小限制 / The request is too large: the file is over the size limit".encode()


class SecurityHeaders:
    """ASGI middleware: the security headers on every response; `Cache-Control: no-store` on every page
    (not on /static); a body declared over `MAX_BODY` refused with 413, or over `upload_body` for a form
    that carries a file (ari_app.web.pages.UPLOAD_PATH), and a POST that does not declare its length (411):
    nothing is read of either."""

    def __init__(self, app: ASGIApp, tls: bool, upload_body: int = MAX_BODY) -> None:
        self.app = app
        self.tls = tls
        self.upload_body = max(upload_body, MAX_BODY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")
        extra = (*SECURITY_HEADERS, *((HSTS,) if self.tls else ()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in {k for k, _ in extra}]
                headers.extend(extra)
                if not static and not any(h[0].lower() == b"cache-control" for h in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        limit = self.upload_body if UPLOAD_PATH.match(str(scope.get("path", ""))) else MAX_BODY
        length = next((v for n, v in scope.get("headers", []) if n == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(send_with_headers, 413, TOO_LARGE)
            return
        if length is None and scope.get("method") == "POST":
            await self._refuse(send_with_headers, 411, b"Content-Length required")
            return
        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _refuse(send: Callable[[Message], Awaitable[None]], status: int, text: bytes) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": text})


@dataclass
class WebApp:
    asgi: ASGIApp
    hub: LiveHub
    signin: WebSignIn
    poller: AuditPoller | None
    """Only when the web front runs on its own (`hotline web`): the audit trail read for live updates."""


def build_app(
    cfg: Config,
    sessions: sessionmaker[Session],
    *,
    guard: SignInGuard | None = None,
    standalone: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> WebApp:
    """The web front on the database `sessions` (configured for the case service, ari_app.cases.configure).
    `guard`: the desktop link's sign-in guard inside `hotline serve` (shared counters); None makes one.
    `standalone`: live updates from the audit trail (`hotline web`) rather than from the bus."""
    now = clock or (lambda: datetime.now(UTC))
    web = cfg.web
    tls = web.tls_cert is not None
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    hub = LiveHub()
    signin = WebSignIn(sessions, guard or SignInGuard(now), now)
    ctx = Context(
        sessions=sessions,
        web_sessions=WebSessions(
            sessions, timedelta(minutes=web.idle_minutes), timedelta(hours=web.session_hours), now
        ),
        signin=signin,
        hub=hub,
        templates=templates,
        zone=ZoneInfo(cfg.timezone),
        calendar=WorkCalendar.from_config(cfg),
        tls=tls,
        clock=now,
        max_file_bytes=cfg.cases.attachments.max_file_bytes,
    )
    app = Starlette(routes=[*routes(ctx), Mount("/static", StaticFiles(directory=HERE / "static"), name="static")])
    poller = AuditPoller(sessions, hub, web.poll_seconds) if standalone else None
    upload_body = cfg.cases.attachments.max_file_bytes + UPLOAD_SLACK
    return WebApp(SecurityHeaders(app, tls, upload_body), hub, signin, poller)


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: the process's owner (`hotline serve`, `hotline web`)
    decides when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """Serves a WebApp on `web.listen` (HTTPS with `web.tls_cert` and `web.tls_key`). `start` returns once
    the port is listening; `stop` ends the live streams, then the server."""

    def __init__(self, cfg: Config, app: WebApp) -> None:
        web = cfg.web
        self.app = app
        self.config = uvicorn.Config(
            app.asgi,
            host=web.host,
            port=web.port,
            ssl_certfile=str(web.tls_cert) if web.tls_cert else None,
            ssl_keyfile=str(web.tls_key) if web.tls_key else None,
            lifespan="off",
            proxy_headers=bool(web.forwarded_allow_ips),
            forwarded_allow_ips=list(web.forwarded_allow_ips) or None,
            server_header=False,
            timeout_graceful_shutdown=3,
            log_level="warning",
            access_log=False,
        )
        self.server = _Server(self.config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        web_scheme = "https" if self.config.ssl_certfile else "http"
        return f"{web_scheme}://{self.config.host}:{self.config.port}"

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.server.serve(), name="web front")
        while not self.server.started:
            if self._task.done():
                self._task.result()  # the listener could not start: its error goes to the caller
                raise RuntimeError(f"the web front did not start on {self.url}")
            await asyncio.sleep(0.02)
        if self.app.poller is not None:
            self.app.poller.start()
        log.info("web front on %s", self.url)

    async def stop(self) -> None:
        self.app.hub.close()
        if self.app.poller is not None:
            await self.app.poller.stop()
        self.server.should_exit = True
        if self._task is not None:
            await self._task
            self._task = None
        self.app.signin.stop()


async def run(cfg: Config) -> None:
    """`hotline web`: the web front on its own, on a migrated database, until SIGINT or SIGTERM."""
    import signal

    from ari_app.cases import CaseSettings, configure
    from schema.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(cfg.database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    configure(sessions, CaseSettings.from_config(cfg))
    server = WebServer(cfg, build_app(cfg, sessions, standalone=True))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    print(f"web front on {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
        engine.dispose()
