"""Confidential work orders on the exchange: the hotline's own system (a real Open311 receiver on 127.0.0.1)
never receives the citizen of a confidential case, in any form, in the raw request body; no GeoReport v2
person field is sent, not even empty; a case marked confidential before its request got through leaves
without them too."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest

from ari_app.cases.exchange import deliver_due
from ari_app.cases.workflow import set_confidential
from ari_app.config import HotlineMode
from schema.cases import OutboxStatus
from tests.support.cases import Db, Receiver, outbox
from tests.support.flows import Flow

PHONE, CONTACT, NAME = "13812345678", "13987654321", "张三丰"
PERSON_FIELDS = {"first_name", "last_name", "phone", "email", "device_id", "account_id"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def forms_of_the_citizen() -> list[bytes]:
    """Every way the hidden values could travel in a form-encoded UTF-8 body."""
    out: list[bytes] = []
    for value in (PHONE, CONTACT, "+86" + PHONE[1:], "+86" + CONTACT[1:], NAME):
        out += [value.encode(), urllib.parse.quote_plus(value).encode(), urllib.parse.quote(value).encode()]
    out += [PHONE[-8:].encode(), CONTACT[-8:].encode()]
    return out


def test_the_receiver_never_gets_the_citizen_of_a_confidential_case(db: Db, receiver: Receiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    secret = f.create(caller=PHONE, contact=CONTACT, citizen_name=NAME, confidential=True)
    plain = f.create(caller="13700001111", citizen_name="李四")
    deliver_due(db.session, {"12358": receiver.url})
    assert len(receiver.bodies) == 2
    by_number = {r["attribute[case_number]"]: r for r in receiver.requests.values()}
    sent = by_number[f.get(secret).number]
    raw = next(b for b in receiver.bodies if f.get(secret).number.encode() in b)
    assert [form for form in forms_of_the_citizen() if form in raw] == []
    assert PERSON_FIELDS.isdisjoint(sent) and sent["attribute[confidential]"] == "true"
    assert all(v != "" for v in sent.values())
    other = by_number[f.get(plain).number]
    assert other["phone"] == "+8613700001111" and other["first_name"] == "李四"  # an ordinary case: as before
    assert "attribute[confidential]" not in other


def test_marked_confidential_before_delivery_it_leaves_without_the_citizen(db: Db, receiver: Receiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create(caller=PHONE, contact=CONTACT, citizen_name=NAME)
    deliver_due(db.session, {"12358": "http://127.0.0.1:9/none"}, timeout=2, rng=lambda: 0.5)  # not through
    (msg,) = outbox(db)
    assert msg.status == OutboxStatus.PENDING and CONTACT[1:] in msg.payload and NAME in msg.payload
    with db.session() as s, s.begin():
        set_confidential(s, db.world.actors["agent"], cid, True)
    (msg,) = outbox(db)
    assert CONTACT[1:] not in msg.payload and NAME not in msg.payload
    db.clock.t = msg.next_attempt_at
    deliver_due(db.session, {"12358": receiver.url})
    (raw,) = receiver.bodies
    assert [form for form in forms_of_the_citizen() if form in raw] == []
    (sent,) = receiver.requests.values()
    assert PERSON_FIELDS.isdisjoint(sent)
