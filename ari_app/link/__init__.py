"""The desktop link: the websocket edge between the CTI server and agent desktops.

    settings.py   what the link reads from config (listener, TLS, session lifetime, wrap-up)
    agents.py     AgentSession and the agent state machine (one transition table)
    cases.py      the case operations the desktop may ask for, run on the case workflow service
    server.py     LinkServer: handshake, sign-in, per-connection sessions, routing of call events

The link adapts domain events (ari_app.calls.events) into protocol messages (ari_app.protocol); it holds no
call or case logic of its own.
"""

from ari_app.link.agents import AgentSession, AgentStateError
from ari_app.link.server import LinkServer
from ari_app.link.settings import LinkSettings

__all__ = ["AgentSession", "AgentStateError", "LinkServer", "LinkSettings"]
