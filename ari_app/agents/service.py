"""AgentService: agents' states and the Asterisk queue moves that go with them.

Each state an agent can be in has its queue membership (docs/architecture.md, "Agent states"):

    signed_out  not a member of the queue            ready    a member, not paused
    paused      a member, paused with the reason     on_call  a member the queue connected to a caller
    wrapup      a member paused with reason `wrapup` for `wrapup_seconds` after a call, then ready again

A request (the agent's desktop, a supervisor) changes the queue first (QueueAdd / QueueRemove / QueuePause
through the `QueueControl` port), then the state; a change seen in the queue (QueueMemberStatus,
QueueMemberPause) changes the state only. Every change is published as `AgentStateChanged` to the
listeners, synchronously and in order, so the link can push it between the call messages that caused it.

Which agent a call rings is kept here too (`rung`): it routes the call's later events, and decides who may
record a case against the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from ari_app.agents.events import AgentStateChanged
from ari_app.agents.session import OFFLINE_REASON, WRAPUP_REASON, AgentSession, AgentStateError, LiveCall
from ari_app.calls.events import (
    CallConnected,
    CallEnded,
    CallRinging,
    QueueControl,
    QueueMemberChanged,
    QueueMembership,
)
from ari_app.config import Config
from ari_app.protocol import AgentState, CallPhase, DomainError, ErrorId

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Listener = Callable[[AgentStateChanged], None]


class Spawn(Protocol):
    def __call__(self, coro: Awaitable[Any], what: str, /) -> asyncio.Task[Any]: ...


class Audit(Protocol):
    def __call__(self, action: str, login: str, role: str = "", user_id: int | None = None, **detail: Any) -> None: ...


class QueueUnavailable(DomainError):
    """Asterisk's queue did not take a move (AMI down, or the action failed); the state is unchanged."""

    error_id = ErrorId.QUEUE_UNAVAILABLE


class NotAnAgent(DomainError):
    """The person is not a queue agent in the configuration (a supervisor, a department user)."""

    error_id = ErrorId.NOT_AN_AGENT


class AgentService:
    def __init__(
        self,
        cfg: Config,
        queue: QueueControl,
        clock: Clock,
        spawn: Spawn,
        audit: Audit,
        *,
        queue_name: str,
        wrapup_seconds: float,
        offline_pause_seconds: float,
    ) -> None:
        """`queue_name`: the Asterisk queue all agents are members of; `wrapup_seconds`: wrap-up after each
        call (0: none); `offline_pause_seconds`: an agent whose desktops are all gone this long is paused
        (0: never); the service is their one holder (sign-in reports `wrapup_seconds` from here). `spawn` starts
        the timers (the caller keeps and cancels them); `audit` writes audit rows."""
        self.cfg = cfg
        self.queue = queue
        self.clock = clock
        self.spawn = spawn
        self.audit = audit
        self.queue_name = queue_name
        self.wrapup_seconds = wrapup_seconds
        self.offline_pause_seconds = offline_pause_seconds
        now = clock()
        self.sessions: dict[str, AgentSession] = {a.id: AgentSession(a.id, a, now) for a in cfg.agents}
        self.rung: dict[str, set[str]] = {}
        """Call id -> logins of the agents the queue rang for it (routing of the call's later events)."""
        self.queue_problems: tuple[str, ...] = ()
        """Agents the server has in the queue whom Asterisk's queue lacks and could not be given back (the
        health report is degraded while there are any)."""
        self._listeners: list[Listener] = []

    # --- publishing ------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every AgentStateChanged, synchronously, in the order of the changes."""
        self._listeners.append(listener)

    def changed(self, session: AgentSession, origin: object | None = None) -> None:
        """Publish the session's state as it is now (also for a change that is not a move, such as a
        supervisor's pause waiting for the call's end)."""
        event = AgentStateChanged(session.login, session.info(self.clock()), origin)
        for listener in self._listeners:
            listener(event)

    def move(self, session: AgentSession, target: AgentState, reason: str, origin: object | None = None) -> None:
        """Move the state machine (AgentStateError if it does not allow it); publish if anything changed."""
        if session.move(target, self.clock(), reason):
            self.changed(session, origin)

    # --- looking agents up -----------------------------------------------------------------------------
    def session(self, login: str) -> AgentSession:
        """The session of `login`, made for a person who is not a queue agent on their first sign-in."""
        session = self.sessions.get(login)
        if session is None:
            session = AgentSession(login, self.cfg.agent(login), self.clock())
            self.sessions[login] = session
        return session

    def session_for(self, agent_id: str | None, interface: str | None) -> AgentSession | None:
        """The queue agent an event names, by agent id, else by interface (`PJSIP/1001`)."""
        if agent_id and agent_id in self.sessions and self.sessions[agent_id].agent is not None:
            return self.sessions[agent_id]
        if interface:
            agent = self.cfg.agent_by_interface(interface)
            if agent is not None:
                return self.sessions.get(agent.id)
        return None

    def state_of(self, login: str) -> AgentState:
        return self.sessions[login].state

    # --- requests --------------------------------------------------------------------------------------
    async def join(self, session: AgentSession) -> None:
        """A queue agent signs in. Asterisk's queue is asked (QueueStatus) rather than the state the queue's
        events built, which can be a moment behind someone else's QueueAdd / QueueRemove: an agent who is not
        a member is added paused (they choose when to be ready); one who is keeps the state they have, or
        takes Asterisk's when the server had them signed out. Should QueueStatus fail, the server's state
        decides. QueueUnavailable if Asterisk did not take the QueueAdd (the agent stays signed out)."""
        agent = session.agent
        if agent is None or session.state in (AgentState.ON_CALL, AgentState.WRAPUP):
            return  # on a call the queue has them; what Asterisk lost is put back by reconcile_queue
        try:
            member = (await self.queue.queue_members(self.queue_name)).get(agent.interface.lower())
            present = member is not None
        except Exception as exc:
            log.warning("QueueStatus at the sign-in of %s failed (%s): going by the events", session.login, exc)
            member, present = None, session.state is not AgentState.SIGNED_OUT
        if present:
            if member is not None and session.state is AgentState.SIGNED_OUT:
                if member.paused:
                    self.move(session, AgentState.PAUSED, member.reason or "other")
                else:
                    self.move(session, AgentState.READY, "")
            return
        if session.state is not AgentState.SIGNED_OUT:
            self.move(session, AgentState.SIGNED_OUT, "")  # the events had not told of the removal yet
        try:
            await self.queue.queue_add(self.queue_name, agent.interface, agent.name, True)
        except Exception as exc:
            log.warning("queue_add for %s failed: %s", session.login, exc)
            raise QueueUnavailable("signed in, but the queue could not be joined") from None
        self.move(session, AgentState.PAUSED, "")

    async def set_state(
        self, session: AgentSession, target: AgentState, reason: str, origin: object | None = None
    ) -> None:
        """The agent asks for `target` (ready, or paused with a reason). NotAnAgent, AgentStateError
        (on a call), QueueUnavailable."""
        agent = session.agent
        if agent is None:
            raise NotAnAgent(f"{session.login} is not a queue agent in the configuration")
        if session.state is AgentState.ON_CALL:
            raise AgentStateError(session.login, session.state, target)
        reason = reason.strip() if target is AgentState.PAUSED else ""
        if target is AgentState.PAUSED and not reason:
            reason = "other"
        q, iface = self.queue_name, agent.interface
        try:
            if session.state is AgentState.SIGNED_OUT:
                await self.queue.queue_add(q, iface, agent.name, target is AgentState.PAUSED)
                if target is AgentState.PAUSED:
                    await self.queue.queue_pause(q, iface, True, reason)
            elif target is AgentState.READY and session.state is not AgentState.READY:
                await self.queue.queue_pause(q, iface, False)
            elif target is AgentState.PAUSED:
                await self.queue.queue_pause(q, iface, True, reason)
        except Exception as exc:
            log.warning("queue action for %s failed: %s", session.login, exc)
            raise QueueUnavailable("Asterisk's queue did not accept the change") from None
        self.move(session, target, reason, origin)

    async def sign_out(self, session: AgentSession) -> None:
        """The person signs out: out of the queue (QueueUnavailable if Asterisk did not take it)."""
        if session.agent is None or session.state is AgentState.SIGNED_OUT:
            return
        try:
            await self.queue.queue_remove(self.queue_name, session.agent.interface)
        except Exception as exc:
            log.warning("queue_remove for %s failed: %s", session.login, exc)
            raise QueueUnavailable("the queue could not be left; try again") from None
        self.move(session, AgentState.SIGNED_OUT, "")

    async def leave_queue(self, session: AgentSession) -> None:
        """A user signed out by someone else (disabled, signed out everywhere) no longer takes calls."""
        if session.agent is None or session.state is AgentState.SIGNED_OUT or session.desktops:
            return
        try:
            await self.queue.queue_remove(self.queue_name, session.agent.interface)
        except Exception as exc:
            log.warning("queue_remove for %s after its sessions ended failed: %s", session.login, exc)
            return
        self.move(session, AgentState.SIGNED_OUT, "")

    async def supervisor_pause(self, target: AgentSession, pause: bool, reason: str) -> None:
        """A supervisor pauses (`reason`) or resumes a queue agent in Asterisk's queue. On a call the queue
        stops offering the next call at once, and the agent's state waits for the call's end (`pause_after`,
        then wrap-up); a resume cancels that. QueueUnavailable if Asterisk did not take it."""
        if not await self._queue_pause(target, pause, reason, "supervisor's queue pause"):
            raise QueueUnavailable("Asterisk's queue did not accept the change")
        if target.state is AgentState.ON_CALL:
            target.pause_after = reason if pause else None
            self.changed(target)
        else:
            self.move(target, AgentState.PAUSED if pause else AgentState.READY, reason)

    def pause_after_own_call(self, session: AgentSession) -> None:
        """A paused agent places a call of their own (click-to-dial): after it and its wrap-up they are back in
        the same pause (`pause_after`), not ready. Nothing for an agent who is not paused."""
        if session.state is AgentState.PAUSED:
            session.pause_after = session.reason or "other"
            self.changed(session)

    # --- desktops coming and going ---------------------------------------------------------------------
    def desktop_attached(self, session: AgentSession) -> None:
        session.desktops += 1
        if session.state is not AgentState.WRAPUP:
            session.cancel_timer()  # the pending offline pause: a desktop is back

    def desktop_detached(self, session: AgentSession) -> None:
        session.desktops = max(0, session.desktops - 1)
        if (
            not session.desktops
            and session.agent is not None
            and session.state is AgentState.READY
            and self.offline_pause_seconds > 0
        ):
            session.timer = self.spawn(self._offline_pause(session), f"offline pause {session.login}")

    async def _offline_pause(self, session: AgentSession) -> None:
        """The agent's desktops are all gone: stop offering them calls if none comes back in time."""
        await asyncio.sleep(self.offline_pause_seconds)
        if session.desktops or session.state is not AgentState.READY or session.agent is None:
            return
        session.timer = None
        await self.queue.queue_pause(self.queue_name, session.agent.interface, True, OFFLINE_REASON)
        self.move(session, AgentState.PAUSED, OFFLINE_REASON)

    # --- calls -----------------------------------------------------------------------------------------
    def ringing(self, event: CallRinging) -> tuple[AgentSession, LiveCall] | None:
        """The queue rings an agent: the call is theirs to answer (None: not one of our agents)."""
        session = self.session_for(event.agent_id, event.interface)
        if session is None:
            return None
        hotline = self.cfg.hotline(event.hotline) if event.hotline else None
        call = LiveCall(
            call_id=event.call_id,
            hotline=event.hotline,
            hotline_name_zh=hotline.name_zh if hotline else None,
            hotline_name_en=hotline.name_en if hotline else None,
            caller=event.caller,
            waited_seconds=event.waited_seconds,
            rung_at=event.at,
            callback_of=event.callback_of,
        )
        self.offer(session, call)
        return session, call

    def offer(self, session: AgentSession, call: LiveCall) -> None:
        """`call` rings `session` (from the queue, or by a transfer)."""
        self.rung.setdefault(call.call_id, set()).add(session.login)
        session.call = call
        session.recent_calls.append(call.call_id)

    def connected(self, event: CallConnected) -> tuple[AgentSession | None, list[AgentSession]]:
        """An agent answered: (that agent, with the call now connected; the others it rang, whose ringing
        call is withdrawn). The answering agent's move to on_call is left to the caller (`answer`), so that
        whoever tells the desktops can say `call_connected` before the new state."""
        session = self.session_for(event.agent_id, event.interface)
        missed = []
        for login in self.rung.get(event.call_id, set()):
            other = self.sessions.get(login)
            if other is not None and other is not session and other.call and other.call.call_id == event.call_id:
                other.call = None
                missed.append(other)
        if session is None:
            return None, missed
        self.rung[event.call_id] = {session.login}
        if session.call is None or session.call.call_id != event.call_id:
            session.call = LiveCall(event.call_id, None, None, None, None, event.wait_seconds, event.at)
            session.recent_calls.append(event.call_id)
        session.call.phase = CallPhase.CONNECTED
        session.call.connected_at = event.at
        return session, missed

    def answer(self, session: AgentSession) -> None:
        self.move(session, AgentState.ON_CALL, "")

    def requeued(self, call_id: str) -> list[AgentSession]:
        """The call went back to the queue unanswered: the agents it rang, whose call is withdrawn."""
        withdrawn = []
        for login in self.rung.pop(call_id, set()):
            session = self.sessions.get(login)
            if session is not None and session.call and session.call.call_id == call_id:
                session.call = None
                withdrawn.append(session)
        return withdrawn

    def ended(self, event: CallEnded) -> list[tuple[AgentSession, bool]]:
        """The call ended: each agent who had it, and whether they were talking on it (then `end_call`)."""
        out = []
        for login in self.rung.pop(event.call_id, set()):
            session = self.sessions.get(login)
            if session is None or session.call is None or session.call.call_id != event.call_id:
                continue
            out.append((session, session.call.phase is CallPhase.CONNECTED))
            session.call = None
        return out

    def end_call(self, session: AgentSession) -> None:
        """The agent's call ended (or left them by a transfer): wrap-up, then ready (or a supervisor's pause)."""
        if session.state is AgentState.ON_CALL:
            self.start_wrapup(session)

    def may_record(self, session: AgentSession, call_id: str) -> str | None:
        """Why `session` may not record a case against `call_id` (offered to or taken by another agent), or
        None when they may."""
        rung = self.rung.get(call_id)
        if rung is not None and session.login not in rung:
            return "this call was offered to another agent"
        for other in self.sessions.values():
            if other is not session and call_id in other.recent_calls and call_id not in session.recent_calls:
                return "this call was taken by another agent"
        return None

    def holder_of(self, call_id: str) -> AgentSession | None:
        """The agent whose call `call_id` is now (ringing or connected)."""
        return next((s for s in self.sessions.values() if s.call and s.call.call_id == call_id), None)

    # --- wrap-up ---------------------------------------------------------------------------------------
    def start_wrapup(self, session: AgentSession) -> None:
        agent = session.agent
        seconds = self.wrapup_seconds
        if agent is None or seconds <= 0:
            if session.pause_after is not None:  # a supervisor's pause, already set in Asterisk's queue
                self.move(session, AgentState.PAUSED, session.pause_after)
            else:
                self.move(session, AgentState.READY, "")
            return
        session.move(AgentState.WRAPUP, self.clock(), WRAPUP_REASON)
        session.wrapup_until = self.clock() + timedelta(seconds=seconds)
        self.changed(session)
        session.timer = self.spawn(self._wrapup(session, seconds), f"wrapup {session.login}")

    async def _queue_pause(self, session: AgentSession, pause: bool, reason: str, what: str) -> bool:
        """Pause (`reason`) or resume the queue agent of `session` in Asterisk's queue; False, logged as `what`
        failing, if Asterisk did not take it."""
        assert session.agent is not None
        try:
            await self.queue.queue_pause(self.queue_name, session.agent.interface, pause, reason)
        except Exception as exc:
            log.warning("%s for %s failed: %s", what, session.login, exc)
            return False
        return True

    async def _wrapup(self, session: AgentSession, seconds: float) -> None:
        await self._queue_pause(session, True, WRAPUP_REASON, "wrap-up pause")
        await asyncio.sleep(seconds)
        if session.state is not AgentState.WRAPUP:
            return
        session.timer = None
        if session.pause_after is not None:  # a supervisor paused the agent during the call
            reason = session.pause_after
            if not await self._queue_pause(session, True, reason, "the supervisor's pause after the call"):
                reason = WRAPUP_REASON  # still paused in the queue by the wrap-up
            self.move(session, AgentState.PAUSED, reason)
            return
        if not await self._queue_pause(session, False, "", "end of wrap-up"):
            self.move(session, AgentState.PAUSED, WRAPUP_REASON)
            return
        self.move(session, AgentState.READY, "")

    def stop(self) -> None:
        for session in self.sessions.values():
            session.cancel_timer()

    # --- the queue as Asterisk has it ------------------------------------------------------------------
    def on_member(self, event: QueueMemberChanged) -> None:
        """A queue membership changed in Asterisk (by us or anyone): follow it."""
        if event.queue and event.queue != self.queue_name:
            return
        session = self.session_for(event.agent_id, event.interface)
        if session is None:
            return
        state = session.state
        if not event.in_queue:
            session.call = None if state is not AgentState.ON_CALL else session.call
            self.move(session, AgentState.SIGNED_OUT, "")
        elif event.paused:
            if event.reason == WRAPUP_REASON or state is AgentState.ON_CALL:
                return  # our own wrap-up pause, or a pause that takes effect after the call
            self.move(session, AgentState.PAUSED, event.reason or "other")
        elif state in (AgentState.SIGNED_OUT, AgentState.PAUSED, AgentState.WRAPUP):
            self.move(session, AgentState.READY, "")

    async def reconcile_queue(self, members: dict[str, QueueMembership]) -> tuple[str, ...]:
        """Put back every agent the server has signed in whom Asterisk's queue (`members`, by lower-case
        interface) lacks: after Asterisk restarted or crashed, app_queue was reloaded, or a membership was
        lost. Each is added as the server has them: paused with their reason (wrap-up included), or ready.
        Returns, and keeps in `queue_problems`, what could not be put back."""
        problems = []
        q = self.queue_name
        for session in list(self.sessions.values()):
            agent = session.agent
            if agent is None or session.state is AgentState.SIGNED_OUT or agent.interface.lower() in members:
                continue
            paused = session.state in (AgentState.PAUSED, AgentState.WRAPUP)
            reason = WRAPUP_REASON if session.state is AgentState.WRAPUP else (session.reason or "other")
            try:
                await self.queue.queue_add(q, agent.interface, agent.name, paused)
                if paused:
                    await self.queue.queue_pause(q, agent.interface, True, reason)
            except Exception as exc:
                log.warning("could not put %s back into the queue: %s", session.login, exc)
                problems.append(f"agent {session.login} is not in the queue and could not be added back ({exc})")
            else:
                log.warning(
                    "agent %s was missing from Asterisk's queue: added back %s",
                    session.login,
                    f"paused ({reason})" if paused else "ready",
                )
                actor = session.actor
                self.audit(
                    "queue_member_restored",
                    session.login,
                    str(actor.role) if actor is not None else "",
                    actor.user_id if actor is not None else None,
                    source="asterisk",
                    paused=paused,
                    reason=reason if paused else "",
                )
        self.queue_problems = tuple(problems)
        return self.queue_problems
