"""The lockout on a controlled clock: the web front in this process (`build_app` with the test's clock, served
by uvicorn on a loopback port), a plain HTTP client. Twenty wrong passwords lock the login (refused before any
check, 429 with the wait); the right password is refused too while the wait lasts; once the clock passes the
wait the owner gets in, and the counters are forgiven."""

from __future__ import annotations

import asyncio
import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.config import Config
from ari_app.web.app import WebServer, build_app
from schema.cases import AuditEntry
from schema.users import Role
from tests.support.clock import Clock
from tests.support.users import user
from tests.support.web import Client, free_port


async def test_twenty_wrong_passwords_lock_the_login_until_the_clock_passes_the_wait(
    cfg: Config, sessions: sessionmaker[Session], clock: Clock
) -> None:
    with sessions.begin() as s:
        s.add(user("locked", Role.SUPERVISOR, display_name="值班长 郑"))
    web_cfg = dataclasses.replace(cfg, web=dataclasses.replace(cfg.web, enabled=True, port=free_port()))
    web = WebServer(web_cfg, build_app(web_cfg, sessions, standalone=False, clock=clock))
    await web.start()
    try:
        client = Client(web.url)
        statuses = [(await asyncio.to_thread(client.sign_in, "locked", "wrong")).status for _ in range(20)]
        assert statuses[:3] == [401, 401, 401]  # three free failures, each checked
        assert statuses[3:] == [429] * 17  # the clock stands still: every later one is refused unchecked

        locked = await asyncio.to_thread(client.sign_in, "locked")
        assert locked.status == 429 and "尝试次数过多" in locked.body
        wait = int(locked.headers["Retry-After"])
        assert wait >= 1
        clock.advance(seconds=wait - 1)
        assert (await asyncio.to_thread(client.sign_in, "locked")).status == 429  # not yet
        clock.advance(seconds=1)
        done = await asyncio.to_thread(client.sign_in, "locked")
        assert (done.status, done.headers["Location"]) == (303, "/cases")
        assert (await asyncio.to_thread(client.request, "/cases")).status == 200

        other = Client(web.url)  # forgiven: a later slip is free again
        assert (await asyncio.to_thread(other.sign_in, "locked", "wrong")).status == 401
    finally:
        await web.stop()
    with sessions() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.login == "locked").order_by(AuditEntry.id)))
    signs = [a for a in actions if a.startswith("sign_in")]  # (the list read is audited too)
    assert signs == [*["sign_in_failed"] * 3, "sign_in_throttled", "sign_in", "sign_in_failed"]
