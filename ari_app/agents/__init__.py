"""The agents domain: who is signed in, their state machine, the queue moves that go with each state, wrap-up
and offline-pause timers, and which agent a call rings (screen-pop routing).

    session.py   AgentSession, LiveCall and the transition table
    service.py   AgentService: state moves and Asterisk queue moves (QueueControl port); publishes
                 AgentStateChanged
    events.py    AgentStateChanged
    desk.py      the link side: set_state, the pushes of call events and states to an agent's desktops

Only desk.py knows the link; the rest imports no transport (contract in pyproject.toml).
"""

from ari_app.agents.events import AgentStateChanged
from ari_app.agents.service import AgentService
from ari_app.agents.session import AgentSession, AgentStateError, LiveCall

__all__ = ["AgentService", "AgentSession", "AgentStateChanged", "AgentStateError", "LiveCall"]
