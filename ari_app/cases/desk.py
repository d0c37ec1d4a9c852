"""The cases' desk on the link: the case requests a signed-in desktop may send (docs/protocol.md, "Cases").

Each runs its blocking query or operation (ari_app.cases.queries, on intake, the lookups and the workflow,
which check roles and visibility and audit) in a worker thread, and replies. A case may be recorded against a call
only by the agent the call rang (AgentService.may_record).

Live case updates (docs/protocol.md, "Live case updates"): each committed case event is pushed to exactly
the signed-in people of its audience.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases import queries
from ari_app.cases.events import CaseEvent
from ari_app.protocol import ErrorId, Msg, ProtocolError

if TYPE_CHECKING:
    from ari_app.agents.service import AgentService
    from ari_app.cases.actor import Actor
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer

P = ParamSpec("P")
T = TypeVar("T")


class CaseDesk:
    def __init__(self, sessions: sessionmaker[Session], agents: AgentService) -> None:
        self.sessions = sessions
        self.agents = agents

    def register(self, link: LinkServer) -> None:
        self.link = link
        routes = link.routes
        routes.add(Msg.CREATE_CASE, self.create_case)
        routes.add(Msg.CALLER_HISTORY, self.caller_history)
        routes.add(Msg.SEARCH_CASES, self.search_cases)
        routes.add(Msg.LIST_CASES, self.list_cases)
        routes.add(Msg.GET_CASE, self.get_case)
        routes.add(Msg.SUGGEST_DISPATCH, self.suggest_dispatch)
        routes.add(Msg.LIST_CLASSIFICATIONS, self.list_classifications)
        routes.add(queries.WORKFLOW_REQUESTS, self.act)
        routes.add(Msg.REVEAL_CONTACT, self.reveal_contact)
        routes.add(Msg.MERGE_CANDIDATES, self.merge_candidates)
        routes.add(Msg.FOLLOW_UPS_DUE, self.follow_ups_due)
        routes.add(Msg.ADD_ATTACHMENT, self.add_attachment)
        routes.add(Msg.LIST_ATTACHMENTS, self.list_attachments)
        routes.add(Msg.GET_ATTACHMENT, self.get_attachment)

    async def _query(
        self,
        req: Request,
        query: Callable[Concatenate[sessionmaker[Session], Actor, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`query(sessions, actor, *args, **kwargs)` for the request's signed-in actor, in a worker thread."""
        return await asyncio.to_thread(query, self.sessions, req.actor, *args, **kwargs)

    def on_case_event(self, event: CaseEvent) -> int:
        """Bus subscriber for committed case events: push each (`queries.push_for`) to exactly the signed-in
        people of its audience (`Audience.includes`: roles; a hotline unit only its hotline's cases, a
        department only its units'). Returns how many messages were queued."""
        message = queries.push_for(event)
        if message is None:
            return 0
        sent = 0
        for conn in self.link.signed_in():
            session = conn.session
            actor = session.actor if session is not None else None
            if (
                session is not None
                and actor is not None
                and event.audience.includes(actor.role, actor.hotline, session.units)
            ):
                conn.send(message)
                sent += 1
        return sent

    async def create_case(self, req: Request) -> None:
        call_id = req.msg.get("call_id")
        if call_id:
            why = self.agents.may_record(req.session, call_id)
            if why is not None:
                raise ProtocolError(ErrorId.CALL_NOT_YOURS, why, field="call_id")
        created, candidates = await self._query(req, queries.create_case, req.msg)
        req.reply(Msg.CASE_CREATED, case=created, candidates=candidates)

    async def merge_candidates(self, req: Request) -> None:
        """并单: the likely duplicates of a case (the centre's roles; checked by the service)."""
        case_id = req.msg["case_id"]
        found = await self._query(req, queries.merge_candidates, case_id, req.msg.get("limit") or 10)
        req.reply(Msg.CANDIDATES, case_id=case_id, candidates=found)

    async def follow_ups_due(self, req: Request) -> None:
        """The citizens waiting for the follow-up call (回访): handled cases and the duplicates of handled
        masters, the earliest due first, paged; `overdue` only those past their due time."""
        msg = req.msg
        limit, offset, overdue = msg.get("limit") or 100, msg.get("offset") or 0, bool(msg.get("overdue"))
        found = await self._query(req, queries.follow_ups_due, limit, offset, overdue)
        req.reply(Msg.CASES, follow_ups_due=True, offset=offset, overdue=overdue, cases=found)

    async def caller_history(self, req: Request) -> None:
        caller = req.msg["caller"]
        found = await self._query(req, queries.caller_history, caller, req.msg.get("limit") or 10)
        req.reply(Msg.HISTORY, caller=caller, cases=found)

    async def search_cases(self, req: Request) -> None:
        text, mine = req.msg.get("text"), bool(req.msg.get("mine"))
        found = await self._query(req, queries.search_cases, text, mine, req.msg.get("limit") or 50)
        req.reply(Msg.CASES, text=text, mine=mine, cases=found)

    async def list_cases(self, req: Request) -> None:
        """The unit / supervisor view's list: what the signed-in person may see (checked by the service)."""
        msg = req.msg
        filters: dict[str, Any] = {
            "status": msg.get("status"),
            "open_only": bool(msg.get("open")),
            "overdue": bool(msg.get("overdue")),
            "text": msg.get("text"),
            "limit": msg.get("limit") or 100,
        }
        found = await self._query(req, queries.list_cases, **filters)
        req.reply(
            Msg.CASES,
            status=filters["status"],
            open=filters["open_only"],
            overdue=filters["overdue"],
            text=filters["text"],
            cases=found,
        )

    async def get_case(self, req: Request) -> None:
        detail = await self._query(req, queries.get_case, req.msg["case_id"])
        req.reply(Msg.CASE, case=detail)

    async def suggest_dispatch(self, req: Request) -> None:
        """The dispatch catalogue's rule for a case (ari_app.cases.routing), for the dispatch form."""
        found = await self._query(req, queries.suggest_dispatch, req.msg["case_id"])
        req.reply(Msg.DISPATCH_SUGGESTION, suggestion=found)

    async def list_classifications(self, req: Request) -> None:
        """The classification catalogue's selectable nodes, for the intake form (reference data: not audited,
        like the hotlines at sign-in)."""
        nodes = await asyncio.to_thread(queries.classifications, self.sessions)
        req.reply(Msg.CLASSIFICATIONS, classifications=nodes)

    async def reveal_contact(self, req: Request) -> None:
        """A confidential case's citizen in clear, for the centre's roles only; every reveal and every
        refusal of one is audited (queries.reveal, ari_app.cases.disclosure)."""
        case_id = req.msg["case_id"]
        revealed = await self._query(req, queries.reveal, case_id)
        req.reply(Msg.CONTACT_REVEALED, contact=revealed)

    async def add_attachment(self, req: Request) -> None:
        """A photo, audio file or document on a case or a unit's result (ari_app.cases.attachments)."""
        added = await self._query(req, queries.add_attachment, req.msg)
        req.reply(Msg.ATTACHMENT_ADDED, attachment=added)

    async def list_attachments(self, req: Request) -> None:
        case_id = req.msg["case_id"]
        found = await self._query(req, queries.list_attachments, case_id)
        req.reply(Msg.ATTACHMENTS, case_id=case_id, attachments=found)

    async def get_attachment(self, req: Request) -> None:
        """One piece of an attachment's bytes (ATTACHMENT_CHUNK from `offset`), base64."""
        offset = req.msg.get("offset") or 0
        found, data = await self._query(req, queries.get_attachment, req.msg["token"], offset)
        req.reply(
            Msg.ATTACHMENT_DATA,
            attachment=found,
            offset=offset,
            data=base64.b64encode(data).decode("ascii"),
            eof=offset + len(data) >= found["size"],
        )

    async def act(self, req: Request) -> None:
        """A workflow action (dispatch, handle, review, merge, ...: queries.WORKFLOW_REQUESTS)."""
        detail = await self._query(req, queries.act, req.msg["type"], req.msg)
        req.reply(Msg.CASE_UPDATED, case=detail)
