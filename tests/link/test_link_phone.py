"""The softphone's SIP account at sign-in (`signed_in.phone`, protocol 1.7): an agent whose phone registers
gets their own account, audited each time it is handed out; an agent reached at a fixed contact, and people
without a phone, get none."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app import protocol as p
from ari_app.config import Config, Secret
from ari_app.link import LinkServer
from ari_app.link.signin import PHONE_REGISTER_SECONDS
from schema.cases import AuditEntry

SIP_SECRET = "sip-secret-of-1001"


@pytest.fixture
def cfg(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The repository's config with agent 1001's phone registering (no contact, a secret from the
    environment), as on a PC with the desktop's softphone; 1002 keeps its fixed contact."""
    monkeypatch.setenv("TEST_SIP_SECRET_1001", SIP_SECRET)
    agents = tuple(
        replace(a, contact=None, secret=Secret(env="TEST_SIP_SECRET_1001", file=None)) if a.id == "1001" else a
        for a in cfg.agents
    )
    return replace(cfg, agents=agents)


def rows(sessions: sessionmaker[Session]) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "phone_account")))


async def test_a_registering_agent_gets_its_own_account_and_it_is_audited(
    server: LinkServer, desktop: Any, sessions: sessionmaker[Session], cfg: Config
) -> None:
    d = await desktop()
    signed = await d.sign_in("1001")
    sip = cfg.asterisk.sip
    assert signed["phone"] == {
        "aor": f"sip:1001@{sip.host}:{sip.port}",
        "password": SIP_SECRET,
        "register_seconds": PHONE_REGISTER_SECONDS,
    }
    resumed = await (await desktop()).request(p.Msg.RESUME, token=signed["token"])
    assert resumed["phone"] == signed["phone"]  # a desktop back after a drop sets its phone up again
    await server.audit.flush()
    handed = rows(sessions)
    assert [(r.login, json.loads(r.detail or "{}")) for r in handed] == [("1001", {"extension": "1001"})] * 2
    assert all(SIP_SECRET not in (r.detail or "") for r in handed)


@pytest.mark.parametrize("login", ["1002", "sup", "dept"])
async def test_no_account_for_a_fixed_phone_or_people_without_one(
    server: LinkServer, desktop: Any, sessions: sessionmaker[Session], login: str
) -> None:
    signed = await (await desktop()).sign_in(login)
    assert signed["type"] == p.Msg.SIGNED_IN and signed["phone"] is None
    await server.audit.flush()
    assert rows(sessions) == []
