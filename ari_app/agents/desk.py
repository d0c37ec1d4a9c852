"""The agents' desk on the link: `set_state`, and what an agent's desktops are told about their calls and state.

Routing (docs/protocol.md, "Calls"): an event about a call goes only to the desktops of the agent the queue
rang (AgentService.ringing / connected / requeued / ended decide who); a queue membership change only to that
agent's. A screen-pop carries the caller's recent cases, read in a batch when the call arrived
(ari_app.link.history.PopHistory); a pop whose history is not read yet waits for its own read only, and what
the agent's desktops are told meanwhile (the call connected, ended, a state) follows it, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ari_app import protocol as p
from ari_app.agents.events import AgentStateChanged
from ari_app.agents.service import AgentService
from ari_app.agents.session import AgentSession, LiveCall
from ari_app.calls.events import CallConnected, CallEnded, CallEvent, CallQueued, CallRinging, QueueMemberChanged
from ari_app.cases.access import CENTRE_ROLES
from ari_app.protocol import AgentState, Msg

if TYPE_CHECKING:
    from ari_app.link.history import PopHistory
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer

Held = list[LiveCall | tuple[dict[str, Any], object | None]]


class AgentDesk:
    def __init__(self, link: LinkServer, agents: AgentService, history: PopHistory) -> None:
        self.link = link
        self.agents = agents
        self.history = history
        self._held: dict[str, Held] = {}
        """Per login, while a screen-pop waits for its caller history: that pop (a LiveCall) and the (message,
        excluded connection) pairs to send after it, in order (`_release`)."""
        agents.subscribe(self.on_state)

    def register(self, link: LinkServer) -> None:
        link.routes.add(Msg.SET_STATE, self.set_state)
        link.listen(self.on_call_event, CallEvent, QueueMemberChanged)

    async def set_state(self, req: Request) -> None:
        target, reason = AgentState(req.msg["state"]), req.msg.get("reason") or ""
        await self.agents.set_state(req.session, target, reason, origin=req.conn)
        req.reply(Msg.AGENT_STATE, **req.session.info(self.agents.clock()))

    # --- pushes ----------------------------------------------------------------------------------------
    def push(self, session: AgentSession, message: dict[str, Any], exclude: object | None = None) -> None:
        """Send `message` to the agent's desktops (but `exclude`), after any screen-pop still held."""
        held = self._held.get(session.login)
        if held is not None:
            held.append((message, exclude))
            return
        for conn in self.link.desktops(session.login):
            if conn is not exclude:
                conn.send(message)

    def on_state(self, event: AgentStateChanged) -> None:
        """AgentService listener: the new state to the agent's desktops (the requester has its reply)."""
        session = self.agents.sessions.get(event.login)
        if session is not None:
            self.push(session, {"type": Msg.AGENT_STATE, **event.state}, event.origin)

    def push_call(self, conn: Any, session: AgentSession) -> None:
        """Tell a desktop that just (re)joined about the call in progress, as a screen-pop marked resumed."""
        if session.call is not None:
            conn.send({"type": Msg.SCREEN_POP, "call": session.call.info(), "history": [], "resumed": True})

    # --- call events in --------------------------------------------------------------------------------
    async def on_call_event(self, event: CallEvent | QueueMemberChanged) -> None:
        self.history.on_call_event(event)
        if isinstance(event, CallRinging):
            self._on_ringing(event)
        elif isinstance(event, CallConnected):
            session, missed = self.agents.connected(event)
            for other in missed:
                self.push(other, {"type": Msg.CALL_MISSED, "call_id": event.call_id, "reason": "answered"})
            if session is not None:
                connected: dict[str, object] = {"call_id": event.call_id, "wait_seconds": event.wait_seconds}
                if event.case_id is not None:  # the agent's own call to a case's citizen (dial_citizen)
                    connected["case_id"] = event.case_id
                self.push(session, {"type": Msg.CALL_CONNECTED, **connected})
                self.agents.answer(session)
        elif isinstance(event, CallQueued):
            for session in self.agents.requeued(event.call_id):
                self.push(session, {"type": Msg.CALL_MISSED, "call_id": event.call_id, "reason": "not_answered"})
        elif isinstance(event, CallEnded):
            for session, was_connected in self.agents.ended(event):
                self.push(
                    session, ended_message(event.call_id, str(event.state), str(event.reason), event.talk_seconds)
                )
                if was_connected:
                    self.agents.end_call(session)
        elif isinstance(event, QueueMemberChanged):
            self.agents.on_member(event)

    def _on_ringing(self, event: CallRinging) -> None:
        rung = self.agents.ringing(event)
        if rung is None:
            return
        session, call = rung
        if not session.desktops:
            return
        if not event.caller or session.actor is None or session.actor.role not in CENTRE_ROLES:
            self.pop(session, call, [])
            return
        history = self.history.ready(event.call_id)  # read when the call arrived: usually here already
        held = self._held.get(session.login)
        if history is not None and held is None:
            self.pop(session, call, history)
            return
        if held is None:
            held = self._held[session.login] = []
            self.link.spawn(self._release(session, held), f"screen-pop {event.call_id}")
        held.append(call)

    async def _release(self, session: AgentSession, held: Held) -> None:
        """Send what was held behind a pop waiting for its history, in order, then stop holding."""
        while held:
            item = held[0]
            history = await self.history.wait(item.call_id, item.caller or "") if isinstance(item, LiveCall) else []
            del self._held[session.login]  # send this one now, whatever is added to `held` meanwhile waits
            if isinstance(item, LiveCall):
                self.pop(session, item, history)
            else:
                self.push(session, *item)
            self._held[session.login] = held
            held.pop(0)
        del self._held[session.login]

    def pop(self, session: AgentSession, call: LiveCall, history: list[p.CaseSummary], **extra: Any) -> None:
        """Send the screen-pop (the call as it is now: it may have been answered while its history was
        read); then audit that the agent was shown the caller's history, off the pop's path as the link's
        own audit rows are. `extra`: more fields (a transfer's cases on the call)."""
        message = {"type": Msg.SCREEN_POP, "call": call.info(), "history": history, **extra, "resumed": False}
        self.push(session, message)
        if call.caller and session.actor is not None and session.actor.role in CENTRE_ROLES:
            self.link.audit.record(
                "caller_history",
                session.login,
                str(session.actor.role),
                session.actor.user_id,
                source="screen_pop",
                call_id=call.call_id,
                caller=call.caller,
                found=len(history),
            )


def ended_message(call_id: str, state: str, reason: str, talk_seconds: float | None) -> dict[str, Any]:
    return {
        "type": Msg.CALL_ENDED,
        "call_id": call_id,
        "state": state,
        "reason": reason,
        "talk_seconds": talk_seconds,
    }
