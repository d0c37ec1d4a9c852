"""联动 work orders (ari_app.cases.linkage): a call handed to 110 pushes the case's work order to the partner's
Open311 receiver (a real HTTP server on 127.0.0.1) through the exchange outbox: durable, retried with
backoff, accepted exactly once (idempotency key), the receipt and the partner's later status recorded on
the case; a call without a case gets its work order when the case is saved; a confidential case goes
without the citizen's name and number; a refusal leaves the case's status alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select

from ari_app.cases import CaseState
from ari_app.cases.exchange import Backoff, DeliveryReport, deliver_due
from ari_app.cases.intake import create_case
from ari_app.cases.linkage import linkage_of, message_key, poll_results, record_handoff
from ari_app.cases.runner import CaseRunner
from ari_app.config import Partner, Receiver
from schema.cases import AuditEntry, Case, ExchangeMessage, LinkageHandoff, OutboxStatus
from tests.support.cases import Db, GeoReportReceiver
from tests.support.cases import Receiver as Open311Receiver
from tests.support.flows import CATEGORY

CALL = "1764650000.42"
CODE = "12345-referral"


@pytest.fixture
def police() -> Iterator[Open311Receiver]:
    with Open311Receiver() as r:
        yield r


def partners(db: Db, url: str) -> None:
    """Give the case settings the partners of config.yaml `linkage`: 110 with a receiver at `url`, 119 without."""
    db.settings = replace(
        db.settings,
        linkage={
            "110": Partner("110", "公安", "Police", "110", "carrier", Receiver(url, CODE)),
            "119": Partner("119", "消防", "Fire", "119", "carrier"),
        },
    )


def send(db: Db, url: str) -> DeliveryReport:
    return deliver_due(
        db.session,
        {},
        partners={"110": url},
        partner_keys={"110": lambda: "k-110"},
        timeout=5,
        backoff=Backoff(),
        rng=lambda: 0.5,
    )


def save_case(db: Db, call_id: str | None = CALL, *, confidential: bool = False) -> int:
    with db.session() as s, s.begin():
        case = create_case(
            s,
            db.world.actors["agent"],
            hotline="12345",
            caller="13900000000",
            call_id=call_id,
            category=CATEGORY["12345"],
            request="有人在小区打架，已有人受伤",
            address="某区某路 8 号",
            urgency="urgent",
            citizen_name="张三",
            contact="13900000000",
            language="zh",
            handling="dispatch",
            confidential=confidential,
        )
        return case.id


def hand(db: Db, partner: str = "110", kind: str = "blind") -> None:
    with db.session() as s, s.begin():
        record_handoff(s, db.world.actors["agent"], CALL, partner, kind)


def outbox(db: Db) -> list[ExchangeMessage]:
    with db.session() as s:
        return list(s.scalars(select(ExchangeMessage).where(ExchangeMessage.partner.is_not(None))))


def audits(db: Db, action: str) -> list[dict[str, Any]]:
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [{"case_id": a.case_id, "login": a.login, **json.loads(a.detail or "{}")} for a in rows]


def case_of(db: Db, case_id: int) -> Case:
    with db.session() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def test_a_receiver_failing_twice_gets_the_work_order_accepted_exactly_once(db: Db, police: Open311Receiver) -> None:
    partners(db, police.url)
    cid = save_case(db)
    status = case_of(db, cid).status
    hand(db)
    (msg,) = outbox(db)
    number = case_of(db, cid).number
    assert msg.key == message_key(case_of(db, cid), "110") == f"{number}:linkage:110"
    assert msg.status == OutboxStatus.PENDING and msg.case_id == cid
    police.plan = ["503", "503"]
    # First send: 503. Not due again before the backoff (5 s, then 10 s, jitter fixed at 1.0).
    assert (send(db, police.url).failed, len(police.attempts)) == (1, 1)
    assert send(db, police.url).failed == 0 and len(police.attempts) == 1
    db.clock.advance(seconds=5)
    assert send(db, police.url).failed == 1  # second 503
    db.clock.advance(seconds=10)
    report = send(db, police.url)
    assert (report.delivered, report.failed, report.refused) == (1, 0, 0)
    # Three posts of one request under one key; the receiver made it once.
    assert police.attempts == [msg.key] * 3
    assert len(police.requests) == 1
    (msg,) = outbox(db)
    assert msg.status == OutboxStatus.DELIVERED and msg.attempts == 3 and msg.service_request_id == "SR-1"
    # The receipt is the partner's: the case keeps its own status and has no exchange id.
    case = case_of(db, cid)
    assert case.external_id is None and case.status == status
    (entry,) = audits(db, "linkage_delivered")
    assert entry["case_id"] == cid and entry["login"] == "system"
    assert entry["service_request_id"] == "SR-1" and entry["partner"] == "110" and entry["attempts"] == 3
    # The work order as the partner got it: its service code, the case, the handoff, the key once.
    body = dict(parse_qsl(police.bodies[-1].decode("ascii"), encoding="utf-8"))
    assert body["api_key"] == "k-110" and body["service_code"] == CODE
    assert body["description"] == "有人在小区打架，已有人受伤" and body["address_string"] == "某区某路 8 号"
    assert body["phone"] == "+8613900000000" and body["first_name"] == "张三"
    assert body["attribute[linkage]"] == "110" and body["attribute[call_id]"] == CALL
    assert body["attribute[handoff]"] == "blind" and body["attribute[case_number]"] == number
    # Never sent again, however long the outbox runs.
    db.clock.advance(days=1)
    assert send(db, police.url).delivered == 0 and len(police.attempts) == 3


def test_a_lost_answer_is_sent_again_under_the_same_key_and_the_receiver_knows_it(
    db: Db, police: Open311Receiver
) -> None:
    partners(db, police.url)
    save_case(db)
    hand(db)
    police.plan = ["drop"]
    assert send(db, police.url).failed == 1
    db.clock.advance(seconds=5)
    assert send(db, police.url).delivered == 1
    assert len(police.attempts) == 2 and len(set(police.attempts)) == 1 and len(police.requests) == 1
    assert outbox(db)[0].service_request_id == "SR-1"


def test_the_same_case_handed_twice_to_one_partner_is_pushed_once(db: Db, police: Open311Receiver) -> None:
    partners(db, police.url)
    cid = save_case(db)
    hand(db, kind="three_way")
    hand(db, kind="blind")  # the three-way call first, then the transfer
    hand(db, "119")  # no receiver: recorded, nothing pushed
    assert len(outbox(db)) == 1
    assert [(e["partner"], e["kind"]) for e in audits(db, "linkage_handoff")] == [
        ("110", "three_way"),
        ("110", "blind"),
        ("119", "blind"),
    ]
    assert all(e["case_id"] == cid and e["login"] == "agent" for e in audits(db, "linkage_handoff"))
    assert send(db, police.url).delivered == 1
    with db.session() as s:
        shown = linkage_of(s, case_of(db, cid))
    assert [(x["partner"], x["kind"], x["work_order"]) for x in shown] == [
        ("110", "three_way", "delivered"),
        ("110", "blind", "delivered"),
        ("119", "blind", None),
    ]
    assert shown[0]["service_request_id"] == "SR-1" and shown[0]["name_zh"] == "公安"


def test_a_call_without_a_case_gets_its_work_order_when_the_case_is_saved(db: Db, police: Open311Receiver) -> None:
    partners(db, police.url)
    hand(db)
    assert outbox(db) == []
    with db.session() as s:
        (handoff,) = s.scalars(select(LinkageHandoff))
        assert handoff.case_id is None and handoff.call_id == CALL
    (early,) = audits(db, "linkage_handoff")
    assert early["case_id"] is None and early["call_id"] == CALL
    save_case(db, call_id="another-call")  # a case of another call takes nothing
    assert outbox(db) == []
    cid = save_case(db)
    (msg,) = outbox(db)
    assert msg.case_id == cid and json.loads(msg.payload)["attribute[handoff]"] == "blind"
    assert [e["case_id"] for e in audits(db, "linkage_case_saved")] == [cid]
    assert send(db, police.url).delivered == 1


def test_a_confidential_case_goes_without_the_citizen(db: Db, police: Open311Receiver) -> None:
    partners(db, police.url)
    save_case(db, confidential=True)
    hand(db)
    assert send(db, police.url).delivered == 1
    body = dict(parse_qsl(police.bodies[-1].decode("ascii"), encoding="utf-8"))
    assert "phone" not in body and "first_name" not in body and "13900000000" not in police.bodies[-1].decode()
    assert body["attribute[confidential]"] == "true" and body["description"] == "有人在小区打架，已有人受伤"


def test_a_refusal_is_recorded_and_leaves_the_case_alone(db: Db) -> None:
    with GeoReportReceiver() as geo:
        partners(db, geo.url)
        cid = save_case(db)
        status = case_of(db, cid).status
        hand(db)
        geo.plan = [(400, [{"code": 400, "description": "service_code not found"}], {})]
        assert send(db, geo.url).refused == 1
        db.clock.advance(days=1)
        assert send(db, geo.url).refused == 0 and len(geo.posts) == 1
    (msg,) = outbox(db)
    assert msg.status == OutboxStatus.REFUSED and "service_code not found" in (msg.last_error or "")
    case = case_of(db, cid)
    assert case.status == status and case.exchange_refusal is None and case.status != CaseState.RETURNED
    (entry,) = audits(db, "linkage_refused")
    assert entry["case_id"] == cid and entry["http_status"] == 400


def test_the_partners_later_status_is_recorded_on_the_case_once(db: Db, police: Open311Receiver) -> None:
    partners(db, police.url)
    cid = save_case(db)
    hand(db)
    assert send(db, police.url).delivered == 1
    police.statuses["SR-1"] = {"service_request_id": "SR-1", "status": "closed", "status_notes": "已出警处置"}
    assert poll_results(db.session, {"110": police.url}) == 1
    assert poll_results(db.session, {"110": police.url}) == 0  # the same status again: nothing new
    (entry,) = audits(db, "linkage_result")
    assert entry["case_id"] == cid and entry["status"] == "closed" and entry["notes"] == "已出警处置"
    with db.session() as s:
        (shown,) = linkage_of(s, case_of(db, cid))
    assert (shown["result_status"], shown["result_notes"]) == ("closed", "已出警处置")


def test_the_case_runner_delivers_work_orders_with_no_exchange_hotline(db: Db, police: Open311Receiver) -> None:
    partners(db, police.url)
    save_case(db)
    hand(db)
    runner = CaseRunner(db.session, {}, partners={"110": police.url})
    report = runner.run_once()
    assert report.delivered == 1 and len(police.requests) == 1
