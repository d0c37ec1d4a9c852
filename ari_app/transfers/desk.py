"""The link's side of transfers: the desktop's `transfer` request, and what each desktop is told as the call
moves (docs/protocol.md, "Transfers").

The agent who has the call asks; the server checks that the call is theirs and connected and that a target
agent is signed in and ready, then hands over to ari_app.transfers.Transfers. As the transfer moves on:

- the target agent's desktops get a `screen_pop` for the same call id with `call.transfer` (who transferred
  it, blind or attended) and `cases`, the cases already taken on the call, so they continue the same case;
- the transferring agent's desktops see the call leave (`call_ended`, reason `transferred`) and wrap up, at
  once for a blind transfer and on completion for an attended one;
- both get `transfer_state` pushes; a cancelled or failed transfer withdraws the target's pop.

A refused request (not connected, no such target, a transfer already going on, ...) leaves one `refused`
audit entry with the call, the action, the error id and the client's address (ari_app.cases.audit); the
refusals of the link's own rules (`call_not_yours`, `not_an_agent`: ari_app.protocol.LINK_REFUSALS)
are written by the link itself, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.agents.desk import ended_message
from ari_app.agents.session import AgentSession, LiveCall
from ari_app.calls.desk import CallDesk
from ari_app.calls.events import CallLegChanged, TransferChanged, transfer_info
from ari_app.cases.access import visible
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit, refusals_audited
from ari_app.cases.linkage import record_handoff
from ari_app.cases.queries import caller_history, summary
from ari_app.cases.settings import settings_of
from ari_app.config import Partner
from ari_app.protocol import (
    LINK_REFUSALS,
    AgentState,
    CallPhase,
    CaseSummary,
    ErrorId,
    Msg,
    ProtocolError,
)
from ari_app.transfers.service import TransferKind, Transfers, TransferState
from schema.cases import Case
from schema.users import Role

if TYPE_CHECKING:
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer

log = logging.getLogger(__name__)


def cases_on_call(sessions: sessionmaker[Session], actor: Actor, call_id: str) -> list[CaseSummary]:
    """The cases taken on this call that `actor` may see, oldest first (audited as one lookup)."""
    with sessions() as s, s.begin():
        stmt = select(Case).where(Case.call_id == call_id).order_by(Case.id)
        cond = visible(actor)
        if cond is not None:
            stmt = stmt.where(cond)
        found = list(s.scalars(stmt))
        audit(s, actor, "call_cases", None, settings_of(s).now(), call_id=call_id, found=len(found))
        return [summary(c, actor.role) for c in found]


LINKAGE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
"""Who may hand a call to a linkage partner (110/119/120): the centre's people who take calls."""


def check_partner(session: AgentSession, partner: str, partners: Mapping[str, Partner]) -> None:
    """A handoff to `partner` by the person of `session`: refused for a role that takes no calls
    (`not_permitted`) and for a key config does not list (`partner_unknown`). The key is all the desktop
    gives: the number dialled is the server's (config.yaml `linkage`), never one typed on the desktop."""
    if session.actor is None or session.actor.role not in LINKAGE_ROLES:
        raise ProtocolError(ErrorId.NOT_PERMITTED, "only the centre's agents and supervisors hand calls to partners")
    if partner not in partners:
        raise ProtocolError(ErrorId.PARTNER_UNKNOWN, f"{partner!r} is not a linkage partner", field="partner")


async def handed_to_partner(
    sessions: sessionmaker[Session], session: AgentSession, call_id: str, partner: str, kind: str
) -> None:
    """The handoff is under way: recorded and audited, and the case's work order enqueued for the partner's
    system (ari_app.cases.linkage.record_handoff). A failure here is logged, never undoes the handoff."""
    assert session.actor is not None
    actor = session.actor

    def record() -> None:
        with sessions() as s, s.begin():
            record_handoff(s, actor, call_id, partner, kind)

    try:
        await asyncio.to_thread(record)
    except Exception:
        log.exception("call %s: the handoff to %s was not recorded", call_id, partner)


class PartnerHandoffs:
    """The rules of a handoff to a linkage partner, for the transfer and the three-way call desks: refusals
    audited (`refused`, with the call, the action and the partner), the handoff recorded."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    async def run(
        self,
        req: Request,
        call_id: str,
        partner: str,
        kind: str,
        partners: Mapping[str, Partner],
        start: Callable[[], Awaitable[object]],
    ) -> None:
        async with refusals_audited(
            self.sessions,
            req.session.actor,
            Msg.CONFERENCE if kind == "three_way" else Msg.TRANSFER,
            others=LINK_REFUSALS,
            call_id=call_id,
            action=kind,
            partner=partner,
            source=req.conn.source,
        ):
            if req.session.agent is None:
                raise ProtocolError(ErrorId.NOT_AN_AGENT, f"{req.session.login} is not a queue agent")
            check_partner(req.session, partner, partners)
            await start()
        await handed_to_partner(self.sessions, req.session, call_id, partner, kind)


class TransferDesk(CallDesk):
    def __init__(self, transfers: Transfers) -> None:
        self.transfers = transfers

    def register(self, link: LinkServer) -> None:
        self.attach(link)
        link.routes.add(Msg.TRANSFER, self.request)
        link.listen(self.on_transfer, TransferChanged)
        link.listen(self.on_leg, CallLegChanged)

    # --- the request -----------------------------------------------------------------------------------
    async def request(self, req: Request) -> None:
        """One `transfer` request; a refusal is audited (in its own transaction), then raised."""
        async with refusals_audited(
            self.sessions,
            req.session.actor,
            Msg.TRANSFER,
            others=LINK_REFUSALS,  # the link itself writes the refusals of its own rules (call_not_yours, ...)
            call_id=req.msg["call_id"],
            action=req.msg["action"],
            source=req.conn.source,
        ):
            await self._request(req)

    async def _request(self, req: Request) -> None:
        session, msg = req.session, req.msg
        call_id, action = msg["call_id"], msg["action"]
        if session.agent is None:
            raise ProtocolError(ErrorId.NOT_AN_AGENT, f"{session.login} is not a queue agent in the configuration")
        if session.call is None or session.call.call_id != call_id:
            raise ProtocolError(ErrorId.CALL_NOT_YOURS, "you are not on this call", field="call_id")
        if session.call.phase is not CallPhase.CONNECTED:
            raise ProtocolError(ErrorId.CALL_NOT_CONNECTED, "answer the call before transferring it")
        if action in (TransferKind.BLIND, TransferKind.ATTENDED):
            agent_id, number = msg.get("agent_id") or None, msg.get("number") or None
            partner = msg.get("partner") or None
            if sum(1 for x in (agent_id, number, partner) if x) != 1:
                raise ProtocolError(
                    ErrorId.INVALID_FIELD,
                    "give one of agent_id, number and partner",
                    field="number" if agent_id else "agent_id",
                )
            if agent_id:
                self._check_target(session, agent_id)
            if partner:
                check_partner(session, partner, self.transfers.partners)
            transfer = await self.transfers.start(
                call_id, session.login, TransferKind(action), agent=agent_id, number=number, partner=partner
            )
            if partner:
                await handed_to_partner(self.sessions, session, call_id, partner, str(action))
        elif action == "complete":
            transfer = await self.transfers.complete(call_id, session.login)
        else:
            transfer = await self.transfers.cancel(call_id, session.login)
        req.reply(Msg.TRANSFER_STATE, call_id=call_id, transfer=transfer_info(transfer))

    def _check_target(self, session: AgentSession, agent_id: str) -> None:
        target = self.agents.sessions.get(agent_id)
        if target is None or target.agent is None or agent_id == session.login:
            raise ProtocolError(
                ErrorId.TRANSFER_TARGET_INVALID, f"{agent_id!r} is not another queue agent", field="agent_id"
            )
        if target.state is not AgentState.READY or target.call is not None:
            raise ProtocolError(
                ErrorId.AGENT_NOT_READY, f"agent {agent_id} is not ready for a call", state=str(target.state)
            )

    # --- events ----------------------------------------------------------------------------------------
    async def on_transfer(self, event: TransferChanged) -> None:
        """Bus subscriber: a transfer moved on."""
        source = self.agents.sessions.get(event.from_agent)
        target = self.agents.sessions.get(event.target_agent) if event.target_agent else None
        state = TransferState(event.state)
        push = {"type": Msg.TRANSFER_STATE, "call_id": event.call_id, "transfer": transfer_info(event)}
        holder = self.agents.holder_of(event.call_id)
        base = holder.call if holder is not None else None
        if state is TransferState.RINGING and target is not None:
            await self._pop(target, base, event)
        for session in (source, target):
            if session is not None:
                self.desk.push(session, push)
        leaves = (event.kind == TransferKind.BLIND and state is TransferState.RINGING) or (
            event.kind == TransferKind.ATTENDED and state is TransferState.COMPLETED
        )
        if leaves and source is not None:
            self._leave(source, event.call_id, "transferred")
        if state in (TransferState.CANCELLED, TransferState.FAILED) and target is not None:
            self._withdraw(target, event.call_id, f"transfer_{state}")
        if state is TransferState.FAILED and event.kind == TransferKind.BLIND and source is not None:
            await self._pop(source, base, event)  # the dialplan rings the transferring agent again

    def on_leg(self, event: CallLegChanged) -> None:
        """Bus subscriber: a transfer's leg answered by an agent: that agent is now on the call."""
        if event.status != "ANSWER" or not event.agent_id:
            return
        session = self.agents.sessions.get(event.agent_id)
        if session is None or session.call is None or session.call.call_id != event.call_id:
            return
        if session.call.phase is CallPhase.CONNECTED:
            return
        session.call.phase = CallPhase.CONNECTED
        session.call.connected_at = event.at
        self.desk.push(session, {"type": Msg.CALL_CONNECTED, "call_id": event.call_id, "wait_seconds": 0.0})
        self.agents.answer(session)

    async def _pop(self, session: AgentSession, base: LiveCall | None, event: TransferChanged) -> None:
        """Pop `session`'s desktops for the transferred call (`base`: the call as another agent had it)."""
        call = LiveCall(
            call_id=event.call_id,
            hotline=base.hotline if base else None,
            hotline_name_zh=base.hotline_name_zh if base else None,
            hotline_name_en=base.hotline_name_en if base else None,
            caller=base.caller if base else None,
            waited_seconds=0.0,
            rung_at=event.at,
            callback_of=base.callback_of if base else None,
            transfer=transfer_info(event),
        )
        self.agents.offer(session, call)
        if not session.desktops or session.actor is None:
            return
        found: list[CaseSummary] = []
        history: list[CaseSummary] = []
        try:
            found = await asyncio.to_thread(cases_on_call, self.sessions, session.actor, event.call_id)
            if call.caller:
                history = await asyncio.to_thread(caller_history, self.sessions, session.actor, call.caller, 5)
        except Exception:
            log.exception("cases for the transferred call %s", event.call_id)
        if session.call is call:
            self.desk.push(
                session,
                {"type": Msg.SCREEN_POP, "call": call.info(), "history": history, "cases": found, "resumed": False},
            )

    def _leave(self, session: AgentSession, call_id: str, reason: str) -> None:
        """The call left this agent (transferred away): `call_ended` for them, then wrap-up."""
        if session.call is None or session.call.call_id != call_id:
            return
        was_connected = session.call.phase is CallPhase.CONNECTED
        session.call = None
        self.desk.push(session, ended_message(call_id, "ended", reason, None))
        if was_connected:
            self.agents.end_call(session)

    def _withdraw(self, session: AgentSession, call_id: str, reason: str) -> None:
        if session.call is None or session.call.call_id != call_id:
            return
        if session.call.phase is CallPhase.CONNECTED:
            self._leave(session, call_id, reason)
            return
        session.call = None
        self.desk.push(session, {"type": Msg.CALL_MISSED, "call_id": call_id, "reason": reason})
