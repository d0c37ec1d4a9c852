"""The desktop link: the websocket edge between the CTI server and agent desktops.

    server.py      LinkServer: the websocket server, handshake, the routing of requests and call events
    connection.py  one desktop's websocket: its outbox and writer
    routes.py      the routing table (Request, one handler shape) and the link's own audited refusals
    signin.py      sign-in, resume, sign-out, and the sessions that must end
    guard.py       the sign-in guard: attempt and connection limits per address and login
    settings.py    what the link reads from config (listener, TLS, session lifetime, wrap-up)
    audit.py       the link's audit rows, written off the event loop
    history.py     screen-pop caller histories, read in batches when calls arrive

The features' own desks live with them (ari_app.agents.desk, ari_app.cases.desk, ari_app.qa.desk,
ari_app.supervision.desk, ari_app.transfers.desk, ari_app.conference.desk) and register with the link; the
link holds no call or case logic of its own.
"""

from ari_app.link.server import LinkServer
from ari_app.link.settings import LinkSettings

__all__ = ["LinkServer", "LinkSettings"]
