"""The missed-call worklist's desk on the link (docs/protocol.md, "Missed calls"): `list_missed_calls`,
`claim_missed_call` and `missed_call_attempt` for agents and supervisors, each run in a worker thread in its
own transaction with its audit row (a refusal rolled back, then audited on its own: ari_app.cases.audit), and
the live `missed_call` push of every change (MissedCallChanged on the bus: a task appeared, joined another
miss, was claimed, had an attempt, closed) to every signed-in agent and supervisor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases.actor import Actor
from ari_app.cases.audit import refusals_audited
from ari_app.missed.service import (
    MISSED_ROLES,
    MissedCallChanged,
    MissedSettings,
    attempt,
    claim,
    list_missed,
    task_info,
)
from ari_app.protocol import LINK_REFUSALS, Msg
from schema.missed import AttemptOutcome

if TYPE_CHECKING:
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer


class MissedDesk:
    def __init__(self, settings: MissedSettings, publish: Callable[[object], None]) -> None:
        self.settings = settings
        self.publish = publish
        """Where the desk's own changes go (the bus): they reach every desktop through `on_changed`, as the
        changes the call events make."""

    def register(self, link: LinkServer) -> None:
        self.link = link
        self.sessions: sessionmaker[Session] = link.sessions
        link.routes.add(Msg.LIST_MISSED_CALLS, self.list_missed_calls)
        link.routes.add(Msg.CLAIM_MISSED_CALL, self.claim_missed_call)
        link.routes.add(Msg.MISSED_CALL_ATTEMPT, self.missed_call_attempt)

    def on_changed(self, event: MissedCallChanged) -> int:
        """Bus subscriber: push `missed_call` (`change`, `task`) to every signed-in agent, supervisor and
        administrator (MISSED_ROLES). Returns how many messages were queued."""
        message = {"type": Msg.MISSED_CALL, "change": event.change, "task": event.task}
        sent = 0
        for conn in self.link.signed_in():
            actor = conn.session.actor if conn.session is not None else None
            if actor is not None and actor.role in MISSED_ROLES:
                conn.send(message)
                sent += 1
        return sent

    async def list_missed_calls(self, req: Request) -> None:
        msg = req.msg
        which, limit, offset = msg.get("filter") or "open", msg.get("limit") or 50, msg.get("offset") or 0
        actor, now = req.actor, self.link.clock()

        def read() -> tuple[list[dict[str, Any]], int]:
            with self.sessions.begin() as s:
                return list_missed(s, actor, now, which, limit, offset)

        async with self._audited(actor, req):
            tasks, total = await asyncio.to_thread(read)
        req.reply(Msg.MISSED_CALLS, filter=which, offset=offset, total=total, tasks=tasks)

    async def claim_missed_call(self, req: Request) -> None:
        actor, now, task_id = req.actor, self.link.clock(), req.msg["task_id"]

        def change() -> dict[str, Any]:
            with self.sessions.begin() as s:
                task = claim(s, self.settings, actor, task_id, now)
                s.flush()
                return task_info(task, now)

        async with self._audited(actor, req, task=task_id):
            task = await asyncio.to_thread(change)
        req.reply(Msg.MISSED_CALL, change="claimed", task=task)
        self.publish(MissedCallChanged("claimed", task))

    async def missed_call_attempt(self, req: Request) -> None:
        msg = req.msg
        actor, now, task_id = req.actor, self.link.clock(), msg["task_id"]
        outcome = AttemptOutcome(msg["outcome"])

        def change() -> dict[str, Any]:
            with self.sessions.begin() as s:
                task = attempt(s, actor, task_id, outcome, (msg.get("notes") or "").strip(), now)
                s.flush()
                return task_info(task, now)

        async with self._audited(actor, req, task=task_id):
            task = await asyncio.to_thread(change)
        kind = "attempt" if task["status"] == "open" else "closed"
        req.reply(Msg.MISSED_CALL, change=kind, task=task)
        self.publish(MissedCallChanged(kind, task))

    def _audited(self, actor: Actor, req: Request, **detail: Any) -> Any:
        return refusals_audited(
            self.sessions, actor, req.msg["type"], others=LINK_REFUSALS, source=req.conn.source, **detail
        )
