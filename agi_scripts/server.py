"""The FastAGI listener of the CTI server: Asterisk connects to agi://host:4573/<route>?secret=<secret> and
the route's script drives the channel over the connection (panoramisk's FastAGI request object).

Only Asterisk may run a script: every request must carry the shared secret (config `asterisk.agi`, put in
the dialplan's AGI URLs as ${FASTAGI_SECRET} by ari_app.dialplan_render) in the query of
`agi_network_script`, or of `agi_request`. It is compared in constant time; a request without it, or with
another, is closed before any script runs. Refusals (a connection without complete headers is one too) are
logged at most once per REFUSAL_LOG_INTERVAL, with the count since, so a flood cannot fill the log; the
secret never appears in a log line. Asterisk has no FastAGI over a Unix socket (its AGI client speaks TCP
only), hence a secret rather than file permissions.

The connection handling is the project's own rather than panoramisk's `Application.handler`: that one
loops forever without yielding when a client closes the connection before the end of the AGI headers
(reading at end of stream returns at once), which would freeze the whole server's event loop, and it waits
for headers without a deadline. Here the headers must arrive within HEADER_TIMEOUT, an unknown route is
refused, every script's errors are logged with the channel, and the connection is always closed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from panoramisk.fast_agi import Request  # type: ignore[import-untyped]
from sqlalchemy.orm import Session, sessionmaker

from agi_scripts.conference import Conference
from agi_scripts.probe import probe
from agi_scripts.survey import AnswerLink, Survey, no_case_link

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 5.0
MAX_HEADERS = 64 * 1024
REFUSAL_LOG_INTERVAL = 60.0
"""Seconds between two log lines about refused requests (the ones between are counted, not logged)."""

Route = Callable[[Any], Awaitable[None]]


async def read_headers(reader: asyncio.StreamReader) -> dict[str, str] | None:
    """The `agi_*: value` lines up to the blank line, or None if the stream ended first."""
    headers: dict[str, str] = {}
    size = 0
    while True:
        line = await reader.readline()
        size += len(line)
        if not line or size > MAX_HEADERS:
            return None
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if not text:
            return headers
        name, sep, value = text.partition(": ")
        if sep:
            headers[name] = value


def requested(headers: dict[str, str]) -> tuple[str, str | None]:
    """(script name, secret or None) of a request: the script is `agi_network_script` up to its query; the
    secret is the query's `secret`, from `agi_network_script` or else from `agi_request` (the full URL)."""
    script, _, query = headers.get("agi_network_script", "").partition("?")
    found = parse_qs(query).get("secret")
    if not found:
        found = parse_qs(urlsplit(headers.get("agi_request", "")).query).get("secret")
    return script, (found[0] if found else None)


class RefusalLog:
    """Logs refused requests at most once per `interval` seconds, with how many were refused since."""

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.count = 0
        self.suppressed = 0
        self._last: float | None = None

    def refused(self, peer: object, script: str, why: str) -> None:
        self.count += 1
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self.suppressed += 1
            return
        more = f" ({self.suppressed} more refused since the last report)" if self.suppressed else ""
        log.warning("FastAGI: refused a request for %r from %s: %s%s", script, peer, why, more)
        self._last = now
        self.suppressed = 0


class FastAgiServer:
    """`secret`: what every request must carry (see the module's docstring); 16 characters or more.
    `on_answer`: the survey's case-side step for a stored answer (agi_scripts.survey.AnswerLink)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        host: str,
        port: int,
        secret: str,
        *,
        on_answer: AnswerLink = no_case_link,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the FastAGI secret must have 16 characters or more")
        self.host = host
        self.port = port
        self.routes: dict[str, Route] = {
            "survey": Survey(sessions, on_answer=on_answer),
            "conference": Conference(sessions),
            "probe": probe,
        }
        self.refusals = RefusalLog()
        self._secret = secret.encode()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self.handle, self.host, self.port)
        log.info("FastAGI on agi://%s:%s (routes: %s)", self.host, self.port, ", ".join(self.routes))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One FastAGI connection: read the headers, run the route's script, close."""
        try:
            try:
                headers = await asyncio.wait_for(read_headers(reader), HEADER_TIMEOUT)
            except TimeoutError:
                headers = None
            if headers is None:
                self.refusals.refused(writer.get_extra_info("peername"), "?", "gave no complete AGI headers")
                return
            name, secret = requested(headers)
            if secret is None or not hmac.compare_digest(secret.encode(), self._secret):
                why = "no secret" if secret is None else "wrong secret"
                self.refusals.refused(writer.get_extra_info("peername"), name, why)
                return
            route = self.routes.get(name)
            channel = headers.get("agi_channel", "?")
            if route is None:
                log.error("FastAGI: no script %r (channel %s)", name, channel)
                return
            try:
                await route(Request(app=None, headers=headers, reader=reader, writer=writer))
            except Exception:
                log.exception("FastAGI: script %r failed on channel %s", name, channel)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
