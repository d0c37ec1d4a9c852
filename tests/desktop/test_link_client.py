"""The desktop's LinkClient against a real LinkServer: sign-in, pushes, offline and reconnect with resume
after a server restart, a lost session, and the backoff's jitter."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallRinging, QueueMemberChanged
from ari_app.config import Config
from ari_app.link import LinkServer
from cti_desktop.link import LinkClient, LinkError, Status
from tests.support.clock import T0, Clock
from tests.support.link import FakeQueue, link_settings
from tests.support.users import PASSWORD
from tests.support.waiting import until


class Recorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.statuses: list[str] = []

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]


def client(url: str, rec: Recorder) -> LinkClient:
    return LinkClient(
        url, rec.messages.append, rec.statuses.append, backoff_base=0.02, backoff_max=0.1, rng=random.Random(1)
    )


async def signed_in_client(url: str, rec: Recorder) -> LinkClient:
    """A client online and signed in as agent 1001."""
    link = client(url, rec)
    link.start()
    await link.wait_online(3)
    await link.sign_in("1001", PASSWORD)
    return link


async def test_sign_in_pushes_and_requests(server: LinkServer) -> None:
    rec = Recorder()
    link = client(server.url, rec)
    with pytest.raises(LinkError) as info:
        await link.request("ping")
    assert info.value.error_id == "offline"
    link.start()
    await link.wait_online(3)
    assert rec.statuses == [Status.ONLINE]
    with pytest.raises(LinkError) as info:
        await link.sign_in("1001", "wrong password")
    assert info.value.error_id == "bad_credentials"
    await link.sign_in("1001", PASSWORD)
    assert link.token
    await until(lambda: rec.of("signed_in") and rec.of("agent_state"))
    await server.on_call_event(CallRinging("c1", T0, "1001", "PJSIP/1001", "12319", "13800000001", 2.0))
    await until(lambda: rec.of("screen_pop"))
    assert rec.of("screen_pop")[0]["call"]["hotline"] == "12319"
    reply = await link.request("set_state", state="ready")
    assert reply["state"] == "ready"
    await link.sign_out()
    assert link.token is None
    await link.stop()


async def test_server_restart_goes_offline_then_resumes_with_the_same_state(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock, tmp_path: Path
) -> None:
    settings = link_settings(token_file=tmp_path / "tokens.json")
    first = LinkServer(cfg, sessions, queue, clock=clock, settings=settings)
    await first.start()
    port = first.port
    rec = Recorder()
    link = await signed_in_client(first.url, rec)
    await link.request("set_state", state="paused", reason="meal")
    await first.stop()
    await until(lambda: link.status == Status.OFFLINE)
    with pytest.raises(LinkError):
        await link.request("ping")
    # a new server process: same port, same token file; Asterisk's QueueStatus replays the membership
    second = LinkServer(
        cfg, sessions, queue, clock=clock, settings=link_settings(token_file=tmp_path / "tokens.json", port=port)
    )

    await second.on_call_event(QueueMemberChanged("hotline", "PJSIP/1001", "1001", True, True, "meal", T0))
    rec.messages.clear()
    await second.start()
    try:
        await until(lambda: link.status == Status.ONLINE, within=5)
        await until(lambda: rec.of("signed_in"))
        state = rec.of("signed_in")[0]["state"]
        assert (state["state"], state["reason"]) == ("paused", "meal")
        assert rec.statuses[-2:] == [Status.OFFLINE, Status.ONLINE]
        assert link.connects == 2
    finally:
        await link.stop()
        await second.stop()


async def test_token_refused_after_restart_without_a_token_file_reports_session_lost(
    cfg: Config, sessions: sessionmaker[Session], queue: FakeQueue, clock: Clock
) -> None:
    first = LinkServer(cfg, sessions, queue, clock=clock, settings=link_settings())
    await first.start()
    rec = Recorder()
    link = await signed_in_client(first.url, rec)
    port = first.port
    await first.stop()
    second = LinkServer(cfg, sessions, queue, clock=clock, settings=link_settings(port=port))
    await second.start()
    try:
        await until(lambda: rec.of("session_lost"), within=5)
        assert rec.of("session_lost")[0]["error_id"] == "token_invalid"
        assert link.token is None and link.status == Status.ONLINE
    finally:
        await link.stop()
        await second.stop()


async def test_a_session_ended_push_drops_the_token_and_reports_why(server: LinkServer, clock: Clock) -> None:
    rec = Recorder()
    link = client(server.url, rec)
    link.start()
    try:
        await link.wait_online(3)
        await link.sign_in("1001", PASSWORD)
        clock.advance(hours=13)  # past the token's expiry: the server ends the session
        await until(lambda: rec.of("session_lost"), within=5)
        lost = rec.of("session_lost")[0]
        assert lost["error_id"] == "expired" and "expired" in lost["message"]
        assert link.token is None
        await until(lambda: link.status == Status.ONLINE and link.connects == 2, within=10)
        assert len(rec.of("session_lost")) == 1  # it reconnects without trying the dead token
    finally:
        await link.stop()


def test_backoff_is_jittered_and_capped() -> None:
    link = LinkClient("ws://127.0.0.1:1", backoff_base=0.5, backoff_max=30, rng=random.Random(7))
    seen = []
    for attempts in (0, 1, 5, 20):
        link.attempts = attempts
        values = [link.delay() for _ in range(200)]
        cap = min(30, 0.5 * 2**attempts)
        assert all(0 <= v <= cap for v in values)
        assert len(set(values)) > 150  # jitter: no two desktops retry in lockstep
        seen.append(max(values))
    assert seen[-1] > 20
