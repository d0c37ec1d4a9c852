"""The server's periodic case work in one pass: overdue dispatches escalated, the exchange outbox delivered
to a real local Open311 receiver, the receiver's status changes applied to the case, and attachments past
their retention removed."""

from __future__ import annotations

from pathlib import Path

from ari_app.cases import Action, CaseState
from ari_app.cases.attachments import add_attachment
from ari_app.cases.events import SupervisionRaised
from ari_app.cases.runner import CaseRunner
from ari_app.config import HotlineMode
from tests.support.attachments import jpeg, with_attachments
from tests.support.cases import Db, Receiver, outbox
from tests.support.flows import Flow


def test_one_pass_escalates_delivers_and_applies_updates(db: Db) -> None:
    with Receiver() as receiver:
        _one_pass(db, receiver)


def _one_pass(db: Db, receiver: Receiver) -> None:
    collab = Flow(db, HotlineMode.COLLABORATIVE)
    late = collab.create()
    collab.do(Action.DISPATCH, collab.dispatcher, late, hours=2)
    exchange = Flow(db, HotlineMode.EXCHANGE)
    sent = exchange.create()
    runner = CaseRunner(db.session, {exchange.hotline: receiver.url})

    first = runner.run_once()
    assert (first.escalated, first.delivered, first.failed) == (0, 1, 0)
    assert [m.status for m in outbox(db)] == ["delivered"]
    assert len(receiver.requests) == 1

    db.clock.advance(hours=3)  # the dispatch is now an hour overdue
    srid = exchange.get(sent).external_id
    assert srid is not None
    receiver.statuses[srid] = {"service_request_id": srid, "status": "closed", "status_notes": "已退费"}
    second = runner.run_once()
    assert second.escalated == 1 and second.delivered == 0 and second.updates == 1
    assert [type(e) for e in second.events if isinstance(e, SupervisionRaised)] == [SupervisionRaised]
    assert collab.get(late).supervision_level == 1
    assert exchange.get(sent).status == CaseState.CLOSED
    assert len(receiver.requests) == 1  # nothing sent twice

    third = runner.run_once()  # idempotent: nothing new to do
    assert (third.escalated, third.delivered, third.updates) == (0, 0, 0)


def test_a_pass_removes_attachments_past_their_retention(db: Db, tmp_path: Path) -> None:
    folder = tmp_path / "attachments"
    db.settings = with_attachments(db.settings, folder, retention_days=7)
    f = Flow(db, HotlineMode.COLLABORATIVE)
    cid = f.create(handling="direct")
    with db.session() as s, s.begin():
        row = add_attachment(s, db.world.actors["agent"], cid, "现场.jpg", jpeg())
    f.do(Action.RESOLVE_DIRECTLY, f.dispatcher, cid)
    runner = CaseRunner(db.session, {})
    assert runner.run_once().purged == 0
    assert (folder / row.sha256[:2] / row.sha256).is_file()
    db.clock.advance(days=7)
    assert runner.run_once().purged == 1
    assert not (folder / row.sha256[:2] / row.sha256).exists()
    assert runner.run_once().purged == 0


def test_a_pass_without_an_attachments_folder_does_the_rest(db: Db) -> None:
    assert db.settings.attachments.dir is None
    report = CaseRunner(db.session, {}).run_once()
    assert report.purged == 0
