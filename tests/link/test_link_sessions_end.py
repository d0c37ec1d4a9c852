"""Sessions end when they should: a password change, a disabled account, a sign-out everywhere (from the
command line, a separate process, or from a desktop) and expiry close every connection of that session at
once, with a push that says why, and its token no longer resumes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from websockets.exceptions import ConnectionClosed

from ari_app import protocol as p
from ari_app.link import LinkServer
from ari_app.link.signin import CLOSE_SESSION_ENDED
from ari_app.protocol import AgentState, ErrorId
from schema.cases import AuditEntry
from schema.users import Role, User
from tests.support.clock import Clock
from tests.support.e2e import ROOT
from tests.support.link import Desktop, FakeQueue
from tests.support.users import user

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def cli_config(tmp_path: Path, sessions: sessionmaker[Session]) -> Path:
    """config.yaml with the link test's database, for `hotline users` run as its own process."""
    engine = sessions.kw["bind"]
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["database"] = {"url": str(engine.url)}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def hotline(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ari_app.cli", "-c", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def ended(d: Desktop) -> tuple[dict[str, Any], int]:
    """The `session_ended` push a desktop gets, and the close code that follows it."""
    push = await d.push(p.Msg.SESSION_ENDED, within=5)
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await d.recv(within=5)
    assert closed.value.rcvd is not None
    return push, closed.value.rcvd.code


async def test_password_change_from_the_command_line_ends_every_desktop_of_that_user(
    desktop: Any, server: LinkServer, cli_config: Path, sessions: sessionmaker[Session]
) -> None:
    a, b, other = await desktop(), await desktop(), await desktop()
    token = (await a.sign_in("1001"))["token"]
    await b.request(p.Msg.RESUME, token=token)
    await other.sign_in("1002")
    done = hotline(cli_config, "users", "passwd", "1001", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    for d in (a, b):
        push, code = await ended(d)
        assert push["reason"] == "password_changed" and "password" in push["message"]
        assert code == CLOSE_SESSION_ENDED
    assert (await other.request(p.Msg.PING))["type"] == p.Msg.PONG  # another user's session goes on
    fresh = await desktop()
    assert (await fresh.request(p.Msg.RESUME, token=token))["error_id"] == ErrorId.TOKEN_INVALID
    assert (await fresh.sign_in("1001"))["error_id"] == ErrorId.BAD_CREDENTIALS  # the old password is gone
    assert (await (await desktop()).sign_in("1001", NEW_PASSWORD))["type"] == p.Msg.SIGNED_IN
    with sessions() as s:
        actions = [r.action for r in s.scalars(select(AuditEntry).where(AuditEntry.action == "password_set"))]
        assert actions == ["password_set"]
        login = s.scalars(select(AuditEntry.login).where(AuditEntry.action == "password_set")).one()
        assert login.startswith("cli:")


async def test_a_disabled_agent_is_closed_out_and_leaves_the_queue_then_enabled_again(
    desktop: Any, server: LinkServer, cli_config: Path, queue: FakeQueue
) -> None:
    d = await desktop()
    token = (await d.sign_in("1001"))["token"]
    await d.request(p.Msg.SET_STATE, state="ready")
    assert hotline(cli_config, "users", "disable", "1001").returncode == 0
    push, code = await ended(d)
    assert push["reason"] == "disabled" and code == CLOSE_SESSION_ENDED
    assert server.state_of("1001") is AgentState.SIGNED_OUT
    assert queue.calls[-1][0] == "remove"  # no more calls ring a disabled agent's phone
    again = await desktop()
    assert (await again.request(p.Msg.RESUME, token=token))["error_id"] == ErrorId.TOKEN_INVALID
    assert (await again.sign_in("1001"))["error_id"] == ErrorId.BAD_CREDENTIALS
    assert hotline(cli_config, "users", "enable", "1001").returncode == 0
    assert (await again.sign_in("1001"))["type"] == p.Msg.SIGNED_IN
    bad = hotline(cli_config, "users", "disable", "nobody-here")
    assert bad.returncode == 1 and "no user 'nobody-here'" in bad.stderr


async def test_sign_out_everywhere_by_an_admin_or_oneself_over_the_link(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session], queue: FakeQueue
) -> None:
    with sessions() as s, s.begin():
        s.add(user("root1", Role.ADMIN, display_name="admin"))
    admin, agent, sup = await desktop(), await desktop(), await desktop()
    await admin.sign_in("root1")
    await agent.sign_in("1001")
    await sup.sign_in("sup")
    r = await sup.request(p.Msg.END_SESSIONS, login="1001")
    assert r["error_id"] == ErrorId.NOT_PERMITTED  # a supervisor may not sign others out
    r = await admin.request(p.Msg.END_SESSIONS, login="nobody")
    assert r["error_id"] == ErrorId.UNKNOWN_USER
    r = await admin.request(p.Msg.END_SESSIONS, login="1001")
    assert r["type"] == p.Msg.SESSIONS_ENDED and r["login"] == "1001"
    push, code = await ended(agent)
    assert push["reason"] == "signed_out_everywhere" and code == CLOSE_SESSION_ENDED
    assert server.state_of("1001") is AgentState.SIGNED_OUT
    r = await sup.request(p.Msg.END_SESSIONS, login="sup")  # anyone may sign themselves out everywhere
    assert r["type"] == p.Msg.SESSIONS_ENDED
    assert (await ended(sup))[0]["reason"] == "signed_out_everywhere"
    assert (await admin.request(p.Msg.PING))["type"] == p.Msg.PONG


async def test_an_open_connection_ends_at_its_token_expiry(desktop: Any, server: LinkServer, clock: Clock) -> None:
    d = await desktop()
    token = (await d.sign_in("1001"))["token"]
    assert (await d.request(p.Msg.PING))["type"] == p.Msg.PONG
    clock.advance(hours=12, seconds=1)
    push, code = await ended(d)
    assert push["reason"] == "expired" and code == CLOSE_SESSION_ENDED
    assert (await (await desktop()).request(p.Msg.RESUME, token=token))["error_id"] in (
        ErrorId.TOKEN_EXPIRED,
        ErrorId.TOKEN_INVALID,
    )


async def test_a_session_ended_while_the_server_was_down_does_not_resume(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    d = await desktop()
    token = (await d.sign_in("1002"))["token"]
    await d.ws.close()
    with sessions() as s, s.begin():
        user = s.scalars(select(User).where(User.login == "1002")).one()
        user.session_epoch += 1  # what `hotline users signout` does, with no server to see it happen
    r = await (await desktop()).request(p.Msg.RESUME, token=token)
    assert r["error_id"] == ErrorId.TOKEN_INVALID and "ended" in r["message"]


def test_users_add_refuses_an_agent_that_is_not_in_the_config(cli_config: Path) -> None:
    r = hotline(cli_config, "users", "add", "9999", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert r.returncode == 1 and "9999 is not an agent id" in r.stderr and "1001" in r.stderr
    ok = hotline(cli_config, "users", "add", "lead9", "--role", "supervisor", "--password-stdin", stdin=NEW_PASSWORD)
    assert ok.returncode == 0, ok.stderr
    listed = hotline(cli_config, "users", "list").stdout
    assert "lead9\tsupervisor" in listed and "9999" not in listed
