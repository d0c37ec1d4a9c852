"""The agent CTI desktop (PySide6, asyncio through qasync). It talks only to the CTI server over the desktop
link (ari_app.protocol, docs/protocol.md), never to Asterisk or the database.

    i18n.py     Chinese by default, English on a switch
    link.py     LinkClient: the websocket client, reconnect with backoff and jitter, token resume
    drafts.py   the case form's draft, saved to a local file as it is typed
    table.py    RowTableModel, the base of every table model, and the view they are shown in
    models.py   the case table models (column constants, tested without widgets) and the agent state view
    widgets.py  sign-in dialog, screen-pop panel, three-way call bar, case form
    transfer.py the transfer bar, and the note a transferred call's pop carries
    tab.py      Tab: a tab of the window, given the link's `request` and the window's `spawn`
    call_tab.py, cases_tab.py, work_tab.py, wallboard_view.py, qa_view.py: the tabs
    window.py   MainWindow: the top bar, signing in and out, pushed messages routed to the tabs
    app.py      `hotline desktop`: builds it all on a qasync event loop
"""
