"""Agent sessions and the agent state machine (the agents domain: no transport here).

    signed_out ──sign-in/ready──> ready <──────> paused
        ^                          │  ^            │
        │                  answer  v  │ timer/ready│ answer (race)
        └──── removed ────── on_call ──> wrapup ───┘
                                 (call ended)

Every state can go to signed_out (sign-out, or removed from the queue elsewhere). The server holds one
AgentSession per agent, whether or not a desktop is connected: desktops come and go (the link counts them in
`desktops`), the state stays, and a desktop that (re)connects is told the state and any call in progress.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ari_app.config import Agent
from ari_app.protocol import AgentState, AgentStateInfo, CallInfo, CallPhase, ErrorId, MoveError, TransferInfo

if TYPE_CHECKING:
    from ari_app.cases.actor import Actor

S = AgentState
TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    S.SIGNED_OUT: frozenset({S.READY, S.PAUSED, S.ON_CALL}),
    S.READY: frozenset({S.PAUSED, S.ON_CALL, S.SIGNED_OUT}),
    S.PAUSED: frozenset({S.READY, S.ON_CALL, S.SIGNED_OUT}),
    S.ON_CALL: frozenset({S.WRAPUP, S.READY, S.PAUSED, S.SIGNED_OUT}),
    S.WRAPUP: frozenset({S.READY, S.PAUSED, S.ON_CALL, S.SIGNED_OUT}),
}
"""Allowed moves. Staying in a state (a new pause reason) is always allowed."""

WRAPUP_REASON = "wrapup"
OFFLINE_REASON = "desktop_offline"


class AgentStateError(MoveError[AgentState]):
    """A move the agent state machine does not allow (`AgentStateError(agent_id, current, target)`); `detail`
    has `current` and `target`."""

    error_id = ErrorId.STATE_FORBIDDEN
    subject = "agent"


@dataclass
class LiveCall:
    """The call an agent is being rung for or is talking on."""

    call_id: str
    hotline: str | None
    hotline_name_zh: str | None
    hotline_name_en: str | None
    caller: str | None
    waited_seconds: float
    rung_at: datetime
    phase: CallPhase = CallPhase.RINGING
    connected_at: datetime | None = None
    callback_of: str | None = None  # a callback the platform placed: the call that asked for it
    transfer: TransferInfo | None = None  # the call came to this agent by a transfer

    def info(self) -> CallInfo:
        out = CallInfo(
            call_id=self.call_id,
            phase=str(self.phase),
            hotline=self.hotline,
            hotline_name_zh=self.hotline_name_zh,
            hotline_name_en=self.hotline_name_en,
            caller=self.caller,
            waited_seconds=self.waited_seconds,
            rung_at=self.rung_at.isoformat(),
            connected_at=self.connected_at.isoformat() if self.connected_at else None,
            callback_of=self.callback_of,
        )
        if self.transfer is not None:
            out["transfer"] = self.transfer
        return out


@dataclass(eq=False)
class AgentSession:
    """One person's standing with the server. `agent` is their entry in config (None for people who are
    not queue agents, such as supervisors); `actor` is who they are to the case workflow, known once the
    user row has been read."""

    login: str
    agent: Agent | None
    since: datetime
    actor: Actor | None = None
    units: frozenset[int] = frozenset()
    """A department user's units (their own and the 3rd-level ones under it): whose case events they get."""
    display_name: str = ""
    state: AgentState = AgentState.SIGNED_OUT
    reason: str = ""
    wrapup_until: datetime | None = None
    call: LiveCall | None = None
    recent_calls: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    desktops: int = 0
    """How many desktops the person has signed in now (kept by the link)."""
    timer: asyncio.Task[None] | None = None
    pause_after: str | None = None  # a supervisor's pause that takes effect when the current call ends: its reason

    def move(self, target: AgentState, now: datetime, reason: str = "") -> bool:
        """Go to `target`; True if anything a desktop shows changed. AgentStateError if not allowed."""
        if target is not self.state and target not in TRANSITIONS[self.state]:
            raise AgentStateError(self.login, self.state, target)
        changed = target is not self.state or reason != self.reason
        if target is not self.state:
            self.since = now
        self.state = target
        self.reason = reason
        if target in (AgentState.READY, AgentState.PAUSED, AgentState.SIGNED_OUT):
            changed = changed or self.pause_after is not None
            self.pause_after = None
        if target is not AgentState.WRAPUP:
            self.wrapup_until = None
            self.cancel_timer()
        return changed

    def cancel_timer(self) -> None:
        if self.timer is not None and not self.timer.done() and self.timer is not asyncio.current_task():
            self.timer.cancel()
        self.timer = None

    def info(self, now: datetime) -> AgentStateInfo:
        remaining = None
        if self.state is AgentState.WRAPUP and self.wrapup_until is not None:
            remaining = round(max(0.0, (self.wrapup_until - now).total_seconds()), 3)
        return AgentStateInfo(
            state=str(self.state),
            reason=self.reason,
            wrapup_remaining=remaining,
            since=self.since.isoformat(),
            pause_after=self.pause_after,
        )
