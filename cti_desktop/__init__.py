"""The agent CTI desktop (PySide6, asyncio through qasync). It talks only to the CTI server over the desktop
link (ari_app.protocol, docs/protocol.md), never to Asterisk or the database.

    i18n.py     Chinese by default, English on a switch
    link.py     LinkClient: the websocket client, reconnect with backoff and jitter, token resume
    drafts.py   the case form's draft, saved to a local file as it is typed
    models.py   Qt table models (column constants, tested without widgets) and the agent state view
    widgets.py  sign-in dialog, screen-pop panel, case form, state bar
    window.py   MainWindow: wires link messages to the widgets
    app.py      `hotline desktop`: builds it all on a qasync event loop
"""
