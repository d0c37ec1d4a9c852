"""The link's routing table: each request type a signed-in desktop may send, to the desk that answers it.

Every desk has one handler shape:

    async def handler(req: Request) -> None      # answers with req.reply(...), or raises a DomainError

A DomainError becomes the `error` reply to the request (docs/protocol.md, "Errors"); the link audits its own
refusals, each desk its feature's. Desks register their routes in the wiring (`Routes.add`); a request type
that no desk registered is answered `internal_error` "not available on this server".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ari_app.agents.session import AgentSession
from ari_app.cases.actor import Actor
from ari_app.link.audit import AuditTrail
from ari_app.link.connection import Connection, reply
from ari_app.protocol import DomainError, ErrorId, Msg, ProtocolError

log = logging.getLogger(__name__)

ERROR_LOG_EVERY = 60.0
"""Seconds between two tracebacks of the same failing request type; the ones between are counted."""


@dataclass(frozen=True)
class Request:
    """One request of a signed-in desktop: the connection it came on, its person's session, the decoded
    message (checked against docs/protocol.md's schema) and its id."""

    conn: Connection
    session: AgentSession
    msg: dict[str, Any]
    id: Any

    @property
    def actor(self) -> Actor:
        """Who the person is to the case workflow (read at sign-in)."""
        if self.session.actor is None:  # pragma: no cover - set on every sign-in and resume
            raise ProtocolError(ErrorId.NOT_SIGNED_IN, "sign in first")
        return self.session.actor

    def reply(self, kind: Msg, **fields: Any) -> None:
        self.conn.send(reply(kind, self.id, **fields))


Handler = Callable[[Request], Awaitable[None]]


class Routes:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, kinds: Msg | Iterable[Msg], handler: Handler) -> None:
        """Route `kinds` to `handler`; a type routed twice is a wiring mistake (ValueError)."""
        for kind in [kinds] if isinstance(kinds, Msg) else kinds:
            if kind in self._handlers:
                raise ValueError(f"{kind} is routed twice")
            self._handlers[kind] = handler

    async def dispatch(self, req: Request) -> None:
        kind = req.msg["type"]
        handler = self._handlers.get(kind)
        if handler is None:
            raise ProtocolError(ErrorId.INTERNAL_ERROR, f"{kind} is not available on this server")
        await handler(req)


class FailureLog:
    """A request failed inside the server: its traceback once per ERROR_LOG_EVERY per request type, so a
    client repeating a failing request cannot fill the log; the repeats are counted in the next line."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}

    def log(self, kind: str) -> None:
        now = time.monotonic()
        last, repeats = self._last.get(kind, (float("-inf"), 0))
        if now - last < ERROR_LOG_EVERY:
            self._last[kind] = (last, repeats + 1)
            return
        self._last[kind] = (now, 0)
        suffix = f" ({repeats} more since the last report)" if repeats else ""
        log.exception("link request %s failed%s", kind[:40], suffix)


def audit_refusal(audit: AuditTrail, conn: Connection, kind: str | None, exc: DomainError) -> None:
    """One audit row for a refusal of the link's own rules (protocol.LINK_REFUSALS): every one for a
    signed-in person, the first one of a connection that is not signed in (its later ones would only measure
    a client's loop)."""
    session = conn.session
    if session is None:
        if conn.refusal_audited:
            return
        conn.refusal_audited = True
    actor = session.actor if session is not None else None
    audit.record(
        "refused",
        session.login if session is not None else "",
        str(actor.role) if actor is not None else "",
        actor.user_id if actor is not None else None,
        source=conn.source,
        request=kind[:40] if kind is not None else None,
        error_id=exc.error_id,
    )
