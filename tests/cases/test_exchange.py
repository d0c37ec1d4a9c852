"""Exchange mode against a real HTTP receiver on 127.0.0.1: the outbox retries across failures (errors,
refused connections, lost answers) until delivered, with nothing lost and nothing sent twice; status updates
coming back (pushed or polled, the Open311 way) change the case."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ari_app.cases import CaseState
from ari_app.cases.catalogue import add_node
from ari_app.cases.exchange import Backoff, apply_update, deliver_due, poll_updates
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Case, OutboxStatus
from tests.support.cases import Db, Receiver, outbox
from tests.support.flows import Flow


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def deliver_until_done(db: Db, endpoints: dict[str, str], rounds: int = 50) -> int:
    """Run the sender as the server would, moving the clock past each backoff, until the outbox is empty."""
    for n in range(rounds):
        deliver_due(db.session, endpoints, timeout=5, backoff=Backoff(), rng=lambda: 0.5)
        pending = [m for m in outbox(db) if m.status == OutboxStatus.PENDING]
        if not pending:
            return n + 1
        db.clock.t = max(db.clock.t, min(m.next_attempt_at for m in pending))
    raise AssertionError("outbox never drained")


def test_intake_on_an_exchange_hotline_queues_an_open311_request(db: Db) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    case = f.get(cid)
    assert case.status == CaseState.EXCHANGED
    (msg,) = outbox(db)
    body = json.loads(msg.payload)
    assert body["service_code"] == "12358:商品价格"
    assert body["description"] == "请处理" and body["address_string"] == "某路"
    assert body["attribute[case_number]"] == case.number
    assert msg.key == f"{case.number}:request"
    direct = f.create(handling="direct")
    assert f.get(direct).status == CaseState.RECEIVED
    assert len(outbox(db)) == 1


def test_outbox_survives_a_failing_receiver_without_loss_or_duplicates(db: Db, receiver: Receiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    ids = [f.create(caller=f"1390000{i:04d}") for i in range(6)]
    # Nobody listening at first: connection refused, every message is rescheduled, none lost.
    report = deliver_due(db.session, {"12358": "http://127.0.0.1:9/none"}, timeout=2, rng=lambda: 0.5)
    assert (report.delivered, report.failed) == (0, 6)
    assert all(m.attempts == 1 and m.last_error for m in outbox(db))
    assert all(m.next_attempt_at > db.clock.t for m in outbox(db))
    # Then errors and lost answers before it recovers.
    receiver.plan = ["500", "drop", "500", "ok", "drop", "drop", "500"]
    deliver_until_done(db, {"12358": receiver.url})
    msgs = outbox(db)
    assert all(m.status == OutboxStatus.DELIVERED for m in msgs)
    assert len(receiver.requests) == 6  # each request created once, however often it was attempted
    assert sorted(receiver.requests) == sorted(m.key for m in msgs)
    attempts_before = len(receiver.attempts)
    deliver_due(db.session, {"12358": receiver.url})
    db.clock.advance(days=1)
    deliver_due(db.session, {"12358": receiver.url})
    assert len(receiver.attempts) == attempts_before  # delivered messages are never sent again
    with db.session() as s:
        cases = {c.id: c for c in s.scalars(select(Case).where(Case.id.in_(ids)))}
        srids = {r["service_request_id"] for r in receiver.requests.values()}
        assert {c.external_id for c in cases.values()} == srids
        delivered = s.scalars(select(AuditEntry).where(AuditEntry.action == "exchange_delivered")).all()
        assert len(delivered) == 6


def test_the_request_is_form_encoded_with_the_api_key_that_is_never_stored(db: Db, receiver: Receiver) -> None:
    """GeoReport v2 `POST Service Request` takes form-encoded arguments and the `api_key` the receiving
    system issued; the key is read at each send (a rotated key is used at once) and kept out of the outbox."""
    f = Flow(db, HotlineMode.EXCHANGE)
    first = f.create(request="楼道灯坏了，请尽快处理 & 谢谢")
    keys = iter(["key-1", "key-2"])

    def api_key() -> str:
        return next(keys)

    deliver_due(db.session, {"12358": receiver.url}, api_keys={"12358": api_key})
    second = f.create(caller="13900001111")
    deliver_due(db.session, {"12358": receiver.url}, api_keys={"12358": api_key})
    sent = list(receiver.requests.values())
    assert [r["api_key"] for r in sent] == ["key-1", "key-2"]
    assert sent[0]["description"] == "楼道灯坏了，请尽快处理 & 谢谢"  # UTF-8 text survives the encoding
    assert sent[0]["attribute[case_number]"] == f.get(first).number
    assert sent[1]["attribute[case_number]"] == f.get(second).number
    assert all("api_key" not in m.payload and "key-" not in m.payload for m in outbox(db))


def test_a_missing_api_key_is_retried_not_sent_without_it(db: Db, receiver: Receiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    f.create()

    def missing() -> str:
        raise FileNotFoundError("var/secrets/open311_12358")

    report = deliver_due(db.session, {"12358": receiver.url}, api_keys={"12358": missing}, rng=lambda: 0.5)
    assert (report.delivered, report.failed) == (0, 1) and receiver.attempts == []
    (msg,) = outbox(db)
    assert msg.status == OutboxStatus.PENDING and "api_key of hotline 12358" in (msg.last_error or "")


def test_backoff_grows_and_is_capped() -> None:
    b = Backoff()
    assert [b.delay(n, 0.5).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert b.delay(30, 0.5) == b.cap
    assert b.delay(1, 0.0).total_seconds() == 2.5 and b.delay(1, 1.0).total_seconds() == 7.5


def test_status_updates_come_back_polled_and_pushed(db: Db, receiver: Receiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    a, b = f.create(), f.create()
    deliver_until_done(db, {"12358": receiver.url})
    ext = {cid: f.get(cid).external_id for cid in (a, b)}
    assert poll_updates(db.session, {"12358": receiver.url}) == 2  # both open, nothing new
    assert f.get(a).status == CaseState.EXCHANGED
    receiver.statuses[str(ext[a])] = {
        "service_request_id": str(ext[a]),
        "status": "closed",
        "status_notes": "已责令商家退还多收费用",
        "updated_datetime": "2026-11-30T10:00:00+08:00",
    }
    poll_updates(db.session, {"12358": receiver.url})
    case = f.get(a)
    assert case.status == CaseState.CLOSED and case.resolution == "已责令商家退还多收费用"
    assert case.closed_at is not None and case.closed_at.isoformat() == "2026-11-30T02:00:00+00:00"
    poll_updates(db.session, {"12358": receiver.url})  # repeating a closing update changes nothing
    with db.session() as s, s.begin():
        apply_update(s, "12358", {"service_request_id": ext[b], "status": "open", "status_notes": "已受理调查"})
    assert f.get(b).status == CaseState.EXCHANGED and f.get(b).resolution == "已受理调查"
    with db.session() as s:
        updates = s.scalars(select(AuditEntry.case_id).where(AuditEntry.action == "exchange_update")).all()
    assert sorted(updates) == sorted([a, b])


def test_updates_for_unknown_requests_or_other_hotlines_are_refused(db: Db) -> None:
    from ari_app.cases.errors import CaseNotFound, InvalidInput

    with db.session() as s:
        with pytest.raises(CaseNotFound):
            apply_update(s, "12358", {"service_request_id": "nope", "status": "closed"})
        with pytest.raises(CaseNotFound):
            apply_update(s, "12345", {"service_request_id": "x", "status": "closed"})
        with pytest.raises(InvalidInput):
            apply_update(s, "12358", {"service_request_id": "x", "status": "gone"})


def test_the_request_carries_the_point_request_type_classification_and_area(db: Db, receiver: Receiver) -> None:
    """GeoReport v2 `lat` / `long` (WGS 84) from the case's point; the type, the classification's code and the
    area as attributes; a case without them sends none of these, not even empty."""
    with db.session() as s, s.begin():
        add_node(s, db.world.actors["admin"], "010000", "城乡建设", None, now=db.clock.t)
    f = Flow(db, HotlineMode.EXCHANGE)
    placed = f.create(
        request_type="complaint", classification="010000", district="天山区", grid_cell="TS-07",
        latitude=43.8256, longitude=87.6168,
    )  # fmt: skip
    bare = f.create(caller="13700001111")
    deliver_due(db.session, {"12358": receiver.url})
    by_number = {r["attribute[case_number]"]: r for r in receiver.requests.values()}
    sent = by_number[f.get(placed).number]
    assert (sent["lat"], sent["long"]) == ("43.8256", "87.6168")
    assert (sent["attribute[request_type]"], sent["attribute[classification]"]) == ("complaint", "010000")
    assert (sent["attribute[district]"], sent["attribute[grid_cell]"]) == ("天山区", "TS-07")
    assert "attribute[street]" not in sent
    other = by_number[f.get(bare).number]
    assert other["attribute[request_type]"] == "help"
    assert {"lat", "long", "attribute[classification]", "attribute[district]"}.isdisjoint(other)
