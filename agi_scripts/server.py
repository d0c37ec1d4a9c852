"""The FastAGI listener of the CTI server: Asterisk connects to agi://host:4573/<route> and the route's
script drives the channel over the connection (panoramisk's FastAGI request object).

The connection handling is the project's own rather than panoramisk's `Application.handler`: that one
loops forever without yielding when a client closes the connection before the end of the AGI headers
(reading at end of stream returns at once), which would freeze the whole server's event loop, and it waits
for headers without a deadline. Here the headers must arrive within HEADER_TIMEOUT, an unknown route is
refused, every script's errors are logged with the channel, and the connection is always closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk.fast_agi import Request  # type: ignore[import-untyped]
from sqlalchemy.orm import Session, sessionmaker

from agi_scripts.probe import probe
from agi_scripts.survey import Survey

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 5.0
MAX_HEADERS = 64 * 1024

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


class FastAgiServer:
    def __init__(self, sessions: sessionmaker[Session], host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.routes: dict[str, Route] = {"survey": Survey(sessions), "probe": probe}
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
                log.warning(
                    "FastAGI: connection from %s gave no complete AGI headers", writer.get_extra_info("peername")
                )
                return
            name = headers.get("agi_network_script", "")
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
