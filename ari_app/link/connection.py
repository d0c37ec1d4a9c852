"""One desktop's websocket on the link: its outgoing queue and writer task, and (once signed in) its session.

Every connection has its own outgoing queue and writer task, so a slow desktop never delays the call tracker
or other agents; a desktop that falls too far behind (OUTBOX_LIMIT messages) is disconnected (it reconnects
and resynchronises).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from websockets.asyncio.server import ServerConnection

from ari_app import protocol as p
from ari_app.agents.session import AgentSession
from ari_app.protocol import Msg

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 500
CLOSE_TOO_SLOW = 4008
"""Close code for a desktop that stopped reading (its outbox is full)."""


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
            self.close_after_sending(CLOSE_TOO_SLOW, "too slow", drop=True)

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


def reply(kind: Msg, req_id: Any, **fields: Any) -> dict[str, Any]:
    """A reply message: `kind` with `fields`, and `re` = the request's id when it had one."""
    out: dict[str, Any] = {"type": kind, **fields}
    if req_id is not None:
        out["re"] = req_id
    return out
