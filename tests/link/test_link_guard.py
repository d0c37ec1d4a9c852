"""The sign-in guard and the per-address limits over real websockets (ari_app.signin_guard, LinkServer):
parallel and distributed password guessing, a stranger who cannot lock the owner out, connections that never
sign in, and the audit rows all of it leaves. Client source addresses are real: each attacker binds its own
address of the loopback range (127.0.0.0/8)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ari_app import protocol as p
from ari_app.config import Config
from ari_app.link import LinkServer
from ari_app.link.server import CLOSE_TRY_AGAIN_LATER
from ari_app.link.signin import CLOSE_SIGN_IN_TIMEOUT
from ari_app.protocol import ErrorId
from schema.cases import AuditEntry
from tests.support.clock import Clock
from tests.support.link import Desktop, FakeQueue, link_settings
from tests.support.users import PASSWORD


async def open_desktop(link: LinkServer, source: str = "127.0.0.1") -> Desktop:
    ws = await connect(link.url, local_addr=(source, 0))
    d = Desktop(ws)
    assert (await d.request(p.Msg.HELLO, version=p.PROTOCOL_VERSION))["type"] == p.Msg.WELCOME
    return d


def audit_rows(sessions: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


@pytest.fixture
async def strict(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock
) -> AsyncIterator[LinkServer]:
    """A link with the shipped per-address limits (the other link tests raise them)."""
    link = LinkServer(
        cfg,
        sessions,
        queue,
        clock=clock,
        settings=link_settings(max_connections_per_address=32, max_unauthenticated_per_address=8, sign_in_timeout=30),
    )
    await link.start()
    yield link
    await link.stop()


async def attack(desks: list[Desktop], login: str, passwords: list[str]) -> Counter[str]:
    """Send one sign-in per desktop at once; the outcome of each, counted by reply type or error id."""

    async def one(d: Desktop, pw: str) -> str:
        # sixty sign-ins at once, a few of them scrypt checks in one thread: on a loaded 2-core machine the last
        # reply took over 3 s, so each may take up to 15 s (what is counted is the outcome, not the time)
        await d.ws.send(json.dumps({"type": p.Msg.SIGN_IN, "id": pw, "agent_id": login, "password": pw}))
        r = await d.reply_to(pw, within=15.0)
        return str(r.get("error_id") or r["type"])

    return Counter(await asyncio.gather(*(one(d, pw) for d, pw in zip(desks, passwords, strict=True))))


async def test_sixty_parallel_sign_ins_from_one_address_get_at_most_three_checks(
    server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    desks = [await open_desktop(server) for _ in range(60)]
    passwords = [f"guess number {i}" for i in range(59)] + [PASSWORD]  # the right one comes last
    outcome = await attack(desks, "1002", passwords)
    checked = outcome[ErrorId.BAD_CREDENTIALS] + outcome[p.Msg.SIGNED_IN]
    assert 1 <= checked <= 3, outcome
    assert outcome[p.Msg.SIGNED_IN] == 0, outcome  # the right password came after the allowed checks
    assert outcome[ErrorId.TOO_MANY_ATTEMPTS] == 60 - checked
    await server.audit.flush()
    failed = audit_rows(sessions, "sign_in_failed")
    assert len(failed) == outcome[ErrorId.BAD_CREDENTIALS]
    assert all(json.loads(r.detail or "{}")["source"] == "127.0.0.1" and r.login == "1002" for r in failed)
    throttled = audit_rows(sessions, "sign_in_throttled")
    assert 1 <= len(throttled) <= 4  # one row per spell of refusals, not one per refused attempt
    assert sum(json.loads(r.detail or "{}")["refused"] for r in throttled) <= outcome[ErrorId.TOO_MANY_ATTEMPTS]


async def test_sixty_addresses_guessing_one_login_get_at_most_its_budget_and_the_owner_still_signs_in(
    server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    owner = await open_desktop(server, "127.0.0.1")
    assert (await owner.sign_in("1002"))["type"] == p.Msg.SIGNED_IN  # the owner's desk is a known address
    await owner.request(p.Msg.SIGN_OUT)
    outcome: Counter[str] = Counter()
    for wave in range(3):  # three waves of sixty fresh addresses each, all at once within a wave
        desks = [await open_desktop(server, f"127.0.{wave + 1}.{10 + i}") for i in range(60)]
        outcome += await attack(desks, "1002", [f"guess {wave} {i}" for i in range(59)] + [PASSWORD])
    checked = outcome[ErrorId.BAD_CREDENTIALS] + outcome[p.Msg.SIGNED_IN]
    assert outcome[p.Msg.SIGNED_IN] == 0, outcome  # the right password, last in each wave, never got a check
    assert checked == server.guard.policy.login_burst, outcome
    assert outcome[ErrorId.TOO_MANY_ATTEMPTS] == 180 - checked
    # The budget is spent, yet the owner at their own desk is not locked out by it.
    assert (await owner.sign_in("1002"))["type"] == p.Msg.SIGNED_IN
    # A new address for that login now waits for the budget to refill.
    late = await open_desktop(server, "127.0.9.1")
    r = await late.sign_in("1002")
    assert r["error_id"] == ErrorId.TOO_MANY_ATTEMPTS and r["detail"]["retry_after"] >= 1


async def test_a_stranger_failing_all_day_does_not_lock_the_owner_out(server: LinkServer, clock: Clock) -> None:
    stranger = await open_desktop(server, "127.0.0.2")
    owner = await open_desktop(server, "127.0.0.1")  # never signed in before: an unfamiliar address too
    checked = 0
    for _round in range(24 * 12):  # five wrong passwords every five minutes, for a day
        for i in range(5):
            r = await stranger.sign_in("1001", f"wrong {i}")
            checked += r.get("error_id") == ErrorId.BAD_CREDENTIALS
            assert r.get("error_id") in (ErrorId.BAD_CREDENTIALS, ErrorId.TOO_MANY_ATTEMPTS)
        clock.advance(minutes=5)
        if _round % 24 == 0:  # the owner signs in every two hours
            assert (await owner.sign_in("1001"))["type"] == p.Msg.SIGNED_IN
            await owner.request(p.Msg.SIGN_OUT)
    # The stranger's checks thin out (growing delays); the day's total stays far below 5 x 288.
    assert checked < 120, checked
    assert server.guard.failures("127.0.0.2", "1001") >= 10


async def test_growing_delays_then_success_resets(server: LinkServer, clock: Clock) -> None:
    d = await open_desktop(server)
    for _ in range(3):
        assert (await d.sign_in("1002", "nope nope"))["error_id"] == ErrorId.BAD_CREDENTIALS
    r = await d.sign_in("1002", PASSWORD)
    assert r["error_id"] == ErrorId.TOO_MANY_ATTEMPTS and r["detail"]["retry_after"] == 1
    clock.advance(seconds=1)
    assert (await d.sign_in("1002", "nope nope"))["error_id"] == ErrorId.BAD_CREDENTIALS
    r = await d.sign_in("1002", PASSWORD)
    assert r["error_id"] == ErrorId.TOO_MANY_ATTEMPTS and r["detail"]["retry_after"] == 2
    clock.advance(seconds=2)
    assert (await d.sign_in("1002", PASSWORD))["type"] == p.Msg.SIGNED_IN
    assert server.guard.failures("127.0.0.1", "1002") == 0


async def test_a_sweep_of_random_logins_from_one_address_is_cut_off(
    server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    d = await open_desktop(server, "127.0.0.9")
    outcome: Counter[str] = Counter()
    for i in range(60):
        r = await d.sign_in(f"user{i}", "whatever pw")
        outcome[str(r.get("error_id"))] += 1
    assert outcome[ErrorId.BAD_CREDENTIALS] == server.guard.policy.source_burst, outcome
    assert outcome[ErrorId.TOO_MANY_ATTEMPTS] == 60 - server.guard.policy.source_burst
    await server.audit.flush()
    assert len(audit_rows(sessions, "sign_in_throttled")) == 1  # one spell of the address, not one per login
    other = await open_desktop(server, "127.0.0.1")
    assert (await other.sign_in("1001"))["type"] == p.Msg.SIGNED_IN  # another address is not affected


async def test_connections_over_the_address_limits_are_closed_at_once(strict: LinkServer) -> None:
    waiting = [await open_desktop(strict, "127.0.0.3") for _ in range(8)]
    extra = await connect(strict.url, local_addr=("127.0.0.3", 0))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(extra.recv(), 3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_TRY_AGAIN_LATER
    assert (await open_desktop(strict, "127.0.0.4")).ws.state.name == "OPEN"  # other addresses unaffected
    assert (await waiting[0].sign_in("1001"))["type"] == p.Msg.SIGNED_IN  # a signed-in one frees a place
    ninth = await open_desktop(strict, "127.0.0.3")
    assert (await ninth.request(p.Msg.PING))["type"] == p.Msg.PONG


async def test_a_connection_that_never_signs_in_is_closed(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock
) -> None:
    link = LinkServer(cfg, sessions, queue, clock=clock, settings=link_settings(sign_in_timeout=1))
    await link.start()
    try:
        idle, agent = await open_desktop(link), await open_desktop(link)
        assert (await agent.sign_in("1001"))["type"] == p.Msg.SIGNED_IN
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await idle.recv(within=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_SIGN_IN_TIMEOUT
        assert (await agent.request(p.Msg.PING))["type"] == p.Msg.PONG  # the signed-in one stays
        await agent.request(p.Msg.SIGN_OUT)  # signed out: the timeout runs again
        with pytest.raises(ConnectionClosed):
            while True:
                await agent.recv(within=5)
    finally:
        await link.stop()


async def test_requests_before_sign_in_are_audited_once_per_connection(
    server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    d = await open_desktop(server, "127.0.0.7")
    for _ in range(20):
        assert (await d.request(p.Msg.SEARCH_CASES))["error_id"] == ErrorId.NOT_SIGNED_IN
    await server.audit.flush()
    rows = audit_rows(sessions, "refused")
    assert len(rows) == 1
    detail = json.loads(rows[0].detail or "{}")
    assert detail == {"error_id": "not_signed_in", "request": "search_cases", "source": "127.0.0.7"}


async def test_a_refusal_of_a_signed_in_person_is_audited(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    d = await desktop()
    await d.sign_in("sup")
    assert (await d.request(p.Msg.SET_STATE, state="ready"))["error_id"] == ErrorId.NOT_AN_AGENT
    assert (await d.request(p.Msg.END_SESSIONS, login="1001"))["error_id"] == ErrorId.NOT_PERMITTED
    await server.audit.flush()
    refused = [(r.login, r.role, json.loads(r.detail or "{}")["error_id"]) for r in audit_rows(sessions, "refused")]
    assert refused == [("sup", "supervisor", "not_an_agent"), ("sup", "supervisor", "not_permitted")]
    assert [r.login for r in audit_rows(sessions, "sign_in")] == ["sup"]


async def test_invalid_unicode_gets_invalid_field_over_the_wire(desktop: Any, caplog: pytest.LogCaptureFixture) -> None:
    d = await desktop(hello=False)
    await d.request(p.Msg.HELLO, version=p.PROTOCOL_VERSION)
    for _ in range(200):
        await d.send_raw('{"type":"sign_in","id":1,"agent_id":"a\\udfffb","password":"x"}')
        r = await d.recv()
        assert r["error_id"] == ErrorId.INVALID_FIELD and r["detail"]["field"] == "agent_id"
    assert (await d.sign_in())["type"] == p.Msg.SIGNED_IN
    assert "Traceback" not in caplog.text


async def test_a_failing_request_logs_one_traceback_a_minute(
    desktop: Any, server: LinkServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("ari_app.cases.queries.search_cases", broken)
    d = await desktop()
    await d.sign_in()
    for _ in range(50):
        assert (await d.request(p.Msg.SEARCH_CASES))["error_id"] == ErrorId.INTERNAL_ERROR
    assert caplog.text.count("Traceback") == 1
    assert caplog.text.count("link request search_cases failed") == 1


def test_the_limits_come_from_config(cfg: Config) -> None:
    """Bad values are refused with file, line and key when config.yaml is loaded (tests/unit/test_config.py)."""
    from dataclasses import replace

    from ari_app.link import LinkSettings

    shipped = LinkSettings.from_config(cfg)
    assert (shipped.max_connections_per_address, shipped.max_unauthenticated_per_address) == (32, 8)
    assert (shipped.sign_in_timeout, shipped.refusal_hold_seconds) == (30.0, 3.0)
    server = replace(cfg.server, max_connections_per_address=200, sign_in_timeout=10, refusal_hold_seconds=0)
    tuned = LinkSettings.from_config(replace(cfg, server=server))
    assert (tuned.max_connections_per_address, tuned.sign_in_timeout, tuned.refusal_hold_seconds) == (200, 10.0, 0.0)
