"""The FastAGI listener of the CTI server (panoramisk's FastAGI application on asyncio streams)."""

from __future__ import annotations

import asyncio
import logging

from panoramisk.fast_agi import Application  # type: ignore[import-untyped]
from sqlalchemy.orm import Session, sessionmaker

from agi_scripts.survey import Survey

log = logging.getLogger(__name__)


class FastAgiServer:
    def __init__(self, sessions: sessionmaker[Session], host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.app = Application(loop=None)
        self.app.add_route("survey", Survey(sessions).__call__)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.app.loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self.app.handler, self.host, self.port)
        log.info("FastAGI on agi://%s:%s (routes: %s)", self.host, self.port, ", ".join(self.app._route))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
