"""The click-to-dial desk on the link (`dial_citizen`, docs/protocol.md "Click-to-dial"): a signed-in agent
or supervisor with a phone asks for a call to a case's citizen or a missed-call task's caller; the target is
read and audited in a worker thread (a refusal rolled back, then audited on its own), then Asterisk calls the
agent's phone and, once it answers, the citizen. The reply `dialing` says the agent's phone is about to
ring; the call's progress reaches the desktop as any call's does (`call_connected`, `call_ended`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases.audit import refusals_audited
from ari_app.outbound.service import DialTarget, OutboundDialer, check_calling_hours, target_of_case, target_of_task
from ari_app.protocol import LINK_REFUSALS, AgentState, ErrorId, Msg, ProtocolError
from schema.calls import OutboundPurpose

if TYPE_CHECKING:
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer


class OutboundDesk:
    def __init__(self, dialer: OutboundDialer) -> None:
        self.dialer = dialer

    def register(self, link: LinkServer) -> None:
        self.link = link
        self.sessions: sessionmaker[Session] = link.sessions
        link.routes.add(Msg.DIAL_CITIZEN, self.dial_citizen)

    async def dial_citizen(self, req: Request) -> None:
        msg, actor, now = req.msg, req.actor, self.link.clock()
        case_id: int | None = msg.get("case_id")
        task_id: int | None = msg.get("task_id")
        async with refusals_audited(
            self.sessions, actor, msg["type"], case=case_id, others=LINK_REFUSALS, source=req.conn.source
        ):
            if (case_id is None) == (task_id is None):
                raise ProtocolError(ErrorId.INVALID_FIELD, "give case_id or task_id, one of them", field="case_id")
            session = req.session
            agent = session.agent
            if agent is None:
                raise ProtocolError(ErrorId.NOT_AN_AGENT, f"{session.login} has no phone on the platform")
            if session.state is AgentState.ON_CALL or session.call is not None:
                raise ProtocolError(ErrorId.STATE_FORBIDDEN, "finish the call you are on first")
            cfg = self.link.cfg
            check_calling_hours(now, cfg.timezone, cfg.callback.calling_hours)
            purpose = OutboundPurpose(msg.get("purpose") or OutboundPurpose.FOLLOW_UP.value)

            def target() -> DialTarget:
                with self.sessions.begin() as s:
                    if task_id is not None:
                        return target_of_task(s, actor, task_id, now)
                    assert case_id is not None
                    return target_of_case(s, actor, case_id, purpose, now)

            found = await asyncio.to_thread(target)
            self.link.agents.pause_after_own_call(session)
            await self.dialer.dial(agent.id, agent.interface, found)
        req.reply(
            Msg.DIALING,
            case_id=found.case_id,
            task_id=found.missed_call_id,
            hotline=found.hotline,
            number=found.number,
            purpose=found.purpose.value,
        )
