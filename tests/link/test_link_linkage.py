"""联动 through the link: the desktop names a partner's key and the server dials the partner's configured number
(a one-key transfer, a three-way call), records the handoff and enqueues the case's work order for the
partner's receiver; a key config does not list, a person who is not an agent, an agent not on the call are
refused and audited, and nothing is dialled. The real call tracker fed AMI events by hand, the real
transfer and conference services, a fake AMI (tests/support/transfers.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app import protocol as p
from ari_app.config import Config, Receiver, load_config
from ari_app.protocol import ErrorId
from schema.cases import AuditEntry, ExchangeMessage, LinkageHandoff, OutboxStatus
from tests.support.transfers import CALL, CITIZEN, Rig

ROOT = Path(__file__).resolve().parents[2]
RECEIVER = "http://127.0.0.1:9/open311/v2"
CASE = {"request": "有人持刀威胁", "urgency": "urgent", "language": "zh", "handling": "dispatch", "category": "供水"}


@pytest.fixture
def cfg() -> Config:
    """The shipped config, with a receiver for 110 (119 and 120 have none)."""
    shipped = load_config(ROOT / "config.yaml")
    police = replace(shipped.linkage[0], receiver=Receiver(RECEIVER, "12345-referral"))
    return replace(shipped, linkage=(police, *shipped.linkage[1:]))


async def on_call(desktop: Any, rig: Rig) -> Any:
    a = await desktop()
    signed = await a.sign_in("1001")
    assert [(x["key"], x["name_zh"], x["work_order"]) for x in signed["partners"]] == [
        ("110", "公安", True),
        ("119", "消防", False),
        ("120", "急救", False),
    ]
    await a.request(p.Msg.SET_STATE, state="ready")
    await rig.connected_call()
    assert (await a.push(p.Msg.CALL_CONNECTED))["call_id"] == CALL
    return a


def audits(sessions: sessionmaker[Session], action: str) -> list[dict[str, Any]]:
    with sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [{"case_id": x.case_id, "login": x.login, **json.loads(x.detail or "{}")} for x in rows]


async def test_one_key_transfer_to_110_dials_the_configured_partner_and_queues_the_work_order(
    desktop: Any, rig: Rig, sessions: sessionmaker[Session]
) -> None:
    a = await on_call(desktop, rig)
    case = (await a.request(p.Msg.CREATE_CASE, call_id=CALL, hotline="12319", caller="13800000001", **CASE))["case"]
    reply = await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, partner="110")
    assert reply["type"] == p.Msg.TRANSFER_STATE and reply["transfer"]["target_number"] == "110"
    setvars = {(x["Channel"], x["Variable"]): x["Value"] for x in rig.ami.named("Setvar")}
    assert setvars[(CITIZEN, "TRANSFER_DIAL")] == "PJSIP/110@carrier-telecom"
    assert [r["Context"] for r in rig.ami.named("Redirect")] == ["hotline-transfer"]
    (handoff,) = audits(sessions, "linkage_handoff")
    assert handoff["login"] == "1001" and handoff["case_id"] == case["id"]
    assert (handoff["partner"], handoff["kind"], handoff["call_id"]) == ("110", "blind", CALL)
    with sessions() as s:
        (msg,) = s.scalars(select(ExchangeMessage).where(ExchangeMessage.partner == "110"))
        assert msg.case_id == case["id"] and msg.status == OutboxStatus.PENDING
        assert json.loads(msg.payload)["service_code"] == "12345-referral"
    detail = (await a.request(p.Msg.GET_CASE, case_id=case["id"]))["case"]
    assert [(x["partner"], x["kind"], x["agent"], x["work_order"]) for x in detail["linkage"]] == [
        ("110", "blind", "1001", "pending")
    ]


async def test_three_way_with_119_calls_the_partner_into_the_room(
    desktop: Any, rig: Rig, sessions: sessionmaker[Session]
) -> None:
    a = await on_call(desktop, rig)
    reply = await a.request(p.Msg.CONFERENCE, action="start", call_id=CALL, partner="119")
    assert reply["type"] == p.Msg.CONFERENCE_STATE
    (originate,) = rig.ami.named("Originate")
    assert originate["Channel"] == "PJSIP/119@carrier-telecom" and originate["Context"] == "hotline-conference"
    assert "CONF_NUMBER=119" in originate["Variable"]
    (handoff,) = audits(sessions, "linkage_handoff")
    assert handoff["case_id"] is None and handoff["kind"] == "three_way" and handoff["partner"] == "119"
    with sessions() as s:
        assert s.scalars(select(ExchangeMessage)).all() == []  # no case yet, and 119 has no receiver
        (row,) = s.scalars(select(LinkageHandoff))
        assert row.case_id is None and row.agent == "1001"
    # the case saved after the handoff takes it
    case = (await a.request(p.Msg.CREATE_CASE, call_id=CALL, hotline="12319", caller="13800000001", **CASE))["case"]
    detail = (await a.request(p.Msg.GET_CASE, case_id=case["id"]))["case"]
    assert [(x["partner"], x["kind"], x["work_order"]) for x in detail["linkage"]] == [("119", "three_way", None)]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"partner": "999"}, ErrorId.PARTNER_UNKNOWN),
        ({"partner": "110", "number": "110"}, ErrorId.INVALID_FIELD),
    ],
)
async def test_a_partner_config_does_not_list_is_refused_audited_and_nothing_dialled(
    desktop: Any, rig: Rig, sessions: sessionmaker[Session], fields: dict[str, str], error: ErrorId
) -> None:
    a = await on_call(desktop, rig)
    before = len(rig.ami.actions)
    refused = await a.request(p.Msg.TRANSFER, action="blind", call_id=CALL, **fields)
    assert refused["error_id"] == error
    again = await a.request(p.Msg.CONFERENCE, action="start", call_id=CALL, **fields)
    assert again["error_id"] == error
    assert len(rig.ami.actions) == before  # neither dialled nor moved
    assert audits(sessions, "linkage_handoff") == []
    entries = audits(sessions, "refused")
    assert any(e["request"] == p.Msg.TRANSFER and e["error_id"] == error for e in entries)
    if error is ErrorId.PARTNER_UNKNOWN:
        assert any(e["request"] == p.Msg.CONFERENCE and e.get("partner") == "999" for e in entries)


async def test_only_the_agent_on_the_call_may_hand_it_to_a_partner(
    desktop: Any, rig: Rig, sessions: sessionmaker[Session]
) -> None:
    await on_call(desktop, rig)
    other = await desktop()
    await other.sign_in("1002")
    for kind, fields in ((p.Msg.TRANSFER, {"action": "blind"}), (p.Msg.CONFERENCE, {"action": "start"})):
        refused = await other.request(kind, call_id=CALL, partner="110", **fields)
        assert refused["error_id"] == ErrorId.CALL_NOT_YOURS
    supervisor = await desktop()
    await supervisor.sign_in("sup")
    refused = await supervisor.request(p.Msg.TRANSFER, action="blind", call_id=CALL, partner="110")
    assert refused["error_id"] in (ErrorId.CALL_NOT_YOURS, ErrorId.NOT_AN_AGENT)
    assert rig.ami.named("Redirect") == [] and rig.ami.named("Originate") == []
    assert audits(sessions, "linkage_handoff") == []
