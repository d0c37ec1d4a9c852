"""The browser front (网页端): departments and cooperating units work their cases in a browser, on the same
case service as the desktop (docs/web.md).

A room of its own: it imports the case service (ari_app.cases: queries, workflow through `queries.act`,
access, disclosure, audit), the accounts and passwords (ari_app.auth, ari_app.accounts) and the sign-in
guard (ari_app.signin_guard), never the desktop link, the AMI or Qt. Every rule (who sees which case, what
each role may do, what a unit sees of a confidential case, what is audited) is the service's; the pages
only show what it returns and send what the person asks.

- `app.py`: the ASGI app from the config and a sessionmaker (`build_app`), and `WebServer`, which serves it
  with uvicorn inside `hotline serve` or on its own (`hotline web`);
- `sessions.py`: server-side sessions (cookie token stored hashed), idle and absolute expiry, CSRF tokens;
- `signin.py`: sign-in under the shared sign-in guard, each outcome audited;
- `live.py`: live updates (Server-Sent Events) from the committed case events, or from the audit trail;
- `pages.py`: the routes; `i18n.py`: the message catalogue (Chinese by default, English on switch);
  `templates/`, `static/`.
"""
