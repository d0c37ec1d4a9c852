"""The base of the link's desks for requests about the call an agent is on (transfers, three-way calls)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from ari_app.agents.desk import AgentDesk
    from ari_app.agents.service import AgentService
    from ari_app.link.server import LinkServer


class CallDesk:
    """A desk of requests about the call an agent is on: `attach`, as the desk registers, takes the link's
    database, agent service and agent desk."""

    sessions: sessionmaker[Session]
    agents: AgentService
    desk: AgentDesk

    def attach(self, link: LinkServer) -> None:
        self.sessions, self.agents, self.desk = link.sessions, link.agents, link.agent_desk
