"""One desktop's websocket on the link: what is written to it, and (once signed in) its session.

A message is written the moment it is sent (`Connection.send`, websockets' `broadcast`: framed and handed to
the socket's transport in the caller's turn of the loop, no task, no await), so messages to one desktop go in
the order they were sent and a burst of screen-pops to many desktops costs one write each, never a task
switch. A desktop that stops reading never delays anyone else: what it leaves unread waits in its own
transport's buffer, and past WRITE_BUFFER_LIMIT bytes it is disconnected (it reconnects and resynchronises).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast

from ari_app import protocol as p
from ari_app.agents.session import AgentSession
from ari_app.protocol import Msg

log = logging.getLogger(__name__)

WRITE_BUFFER_LIMIT = 2**20
"""Bytes written to a desktop and not yet taken by its socket (beyond what the kernel's socket buffer
holds) above which it is disconnected as too slow: a few hundred to a few thousand messages."""
CLOSE_TOO_SLOW = 4008
"""Close code for a desktop that stopped reading (WRITE_BUFFER_LIMIT)."""


class Connection:
    """One desktop's websocket: what is written to it, how it closes, and (once signed in) its session."""

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
        self.greeted = False
        self.session: AgentSession | None = None
        self.token: str | None = None
        self.closer: asyncio.Future[None] | None = None
        """The close handshake, once `close_after_sending` started it."""
        self.closing = False

    def send(self, message: dict[str, Any]) -> None:
        """Write `message` now (nothing once the connection is closing or closed)."""
        if self.closing:
            return
        broadcast([self.ws], p.encode_utf8(message), text=True)
        transport = self.ws.transport
        if transport is not None and transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            log.warning("desktop %s is not reading; disconnecting it", self.peer)
            self.close_after_sending(CLOSE_TOO_SLOW, "too slow")

    def close_after_sending(self, code: int, reason: str) -> None:
        """Close the connection after what was sent so far (a session_ended push still goes out first)."""
        if self.closing:
            return
        self.closing = True
        self.closer = asyncio.ensure_future(self.ws.close(code, reason))


def reply(kind: Msg, req_id: Any, **fields: Any) -> dict[str, Any]:
    """A reply message: `kind` with `fields`, and `re` = the request's id when it had one."""
    out: dict[str, Any] = {"type": kind, **fields}
    if req_id is not None:
        out["re"] = req_id
    return out
