"""What the agents domain publishes (ari_app.agents.service.AgentService.subscribe)."""

from __future__ import annotations

from dataclasses import dataclass

from ari_app.protocol import AgentStateInfo


@dataclass(frozen=True)
class AgentStateChanged:
    """An agent's state, reason, wrap-up or pending pause changed (`state`: as the desktops show it).

    `origin` is the requester whose own request made the change (the link answers it with the reply, so it
    is left out of the push); None when the change came from anywhere else (a call, the queue, a timer, a
    supervisor)."""

    login: str
    state: AgentStateInfo
    origin: object | None = None
