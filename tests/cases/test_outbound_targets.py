"""Whom a click-to-dial call goes to (ari_app.outbound.service), on both backends: a case's contact, else its
caller; a missed-call task's caller; refused for a role that does not call citizens, a case the person may
not see, a withheld number, a closed task, and outside the calling hours; every call placed audited. A
follow-up names only an outbound call to its own case's citizen, and such a call is neither transferred nor
made a three-way call."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlalchemy import select

from ari_app.calls.model import Call
from ari_app.calls.tracker import CallTracker
from ari_app.cases.errors import CaseNotFound, InvalidInput
from ari_app.cases.workflow import follow_up, resolve_directly
from ari_app.conference.service import ConferenceError, ThreeWay
from ari_app.missed.errors import MissedCallClosed, MissedCallNotFound
from ari_app.outbound.service import DialRefused, check_calling_hours, target_of_case, target_of_task
from ari_app.protocol import ErrorId
from ari_app.transfers import TransferError, TransferKind, Transfers
from schema.calls import CallDirection, CallRecord, CallState, OutboundPurpose
from schema.cases import AuditEntry, FollowUp
from schema.missed import MissedCall, MissedStatus
from tests.support.cases import Db, intake
from tests.support.transfers import Agents, FakeAmi, Sink

HOURS = (time(8), time(21))
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.mark.parametrize(
    ("utc", "allowed"),
    [((23, 59), False), ((0, 0), True), ((12, 59), True), ((13, 0), False)],  # 07:59, 08:00, 20:59, 21:00
)
def test_citizens_are_called_within_the_calling_hours(utc: tuple[int, int], allowed: bool) -> None:
    moment = datetime(2026, 11, 30, *utc, tzinfo=UTC)
    if allowed:
        check_calling_hours(moment, "Asia/Shanghai", HOURS)
        return
    with pytest.raises(DialRefused) as info:
        check_calling_hours(moment, "Asia/Shanghai", HOURS)
    assert info.value.error_id is ErrorId.OUTSIDE_CALLING_HOURS
    assert info.value.detail == {"opening": "08:00", "closing": "21:00"}


def test_a_case_is_called_at_its_contact_else_its_caller_and_audited(db: Db) -> None:
    reached = intake(db, contact="13900000002", caller="13800000001")
    by_caller = intake(db, contact=None, caller="13800000003")
    withheld = intake(db, contact=None, caller="withheld")
    agent = db.world.actors["agent"]
    with db.session() as s, s.begin():
        target = target_of_case(s, agent, reached.id, OutboundPurpose.FOLLOW_UP, NOW)
        assert (target.number, target.hotline, target.case_number) == ("13900000002", "12345", reached.number)
        assert target_of_case(s, agent, by_caller.id, OutboundPurpose.CASE, NOW).number == "13800000003"
    with db.session() as s, s.begin(), pytest.raises(DialRefused) as info:
        target_of_case(s, agent, withheld.id, OutboundPurpose.CASE, NOW)
    assert info.value.error_id is ErrorId.INVALID_NUMBER
    for who, error in (("qa", DialRefused), ("deptB", DialRefused)):
        with db.session() as s, s.begin(), pytest.raises(error):
            target_of_case(s, db.world.actors[who], reached.id, OutboundPurpose.CASE, NOW)
    with db.session() as s, s.begin(), pytest.raises(CaseNotFound):
        target_of_case(s, agent, 10**9, OutboundPurpose.CASE, NOW)
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "dial_citizen")).all()
        assert [(r.case_id, r.login) for r in rows] == [(reached.id, "agent"), (by_caller.id, "agent")]


def test_a_missed_call_task_is_called_back_while_open(db: Db) -> None:
    with db.session() as s, s.begin():
        task = MissedCall(
            call_id="1.1", last_call_id="1.1", hotline="12319", caller="13800000009", open_number="13800000009",
            missed_at=NOW, last_missed_at=NOW, reason="abandoned", due_at=NOW, status=MissedStatus.OPEN,
        )  # fmt: skip
        s.add(task)
        s.flush()
        task_id = task.id
    agent = db.world.actors["agent"]
    with db.session() as s, s.begin():
        target = target_of_task(s, agent, task_id, NOW)
        assert (target.number, target.hotline, target.purpose) == ("13800000009", "12319", OutboundPurpose.MISSED_CALL)
        assert target.missed_call_id == task_id and target.case_id is None
    with db.session() as s, s.begin():
        s.get(MissedCall, task_id).status = MissedStatus.CALLED_BACK  # type: ignore[union-attr]
    with db.session() as s, s.begin(), pytest.raises(MissedCallClosed):
        target_of_task(s, agent, task_id, NOW)
    with db.session() as s, s.begin(), pytest.raises(MissedCallNotFound):
        target_of_task(s, agent, task_id + 1, NOW)


def test_a_follow_up_names_only_an_outbound_call_to_its_own_case(db: Db) -> None:
    case, other = intake(db, handling="direct"), intake(db, handling="direct")
    agent = db.world.actors["agent"]
    with db.session() as s, s.begin():
        for c in (case, other):
            resolve_directly(s, agent, c.id, resolution="已答复")
        for linkedid, case_id, direction in (("9.1", case.id, "outbound"), ("9.2", other.id, "outbound")):
            s.add(
                CallRecord(
                    linkedid=linkedid, state="ended", arrived_at=NOW, direction=CallDirection(direction),
                    case_id=case_id, purpose="follow_up",
                )
            )  # fmt: skip
        s.add(CallRecord(linkedid="9.3", state="ended", arrived_at=NOW, caller="13800000001"))  # an inbound call
    for wrong in ("9.2", "9.3", "nope"):
        with db.session() as s, s.begin(), pytest.raises(InvalidInput) as info:
            follow_up(s, agent, case.id, reached=True, solved=True, rating="satisfied", call_id=wrong)
        assert info.value.detail["field"] == "call_id"
    with db.session() as s, s.begin():
        follow_up(s, agent, case.id, reached=True, solved=True, rating="satisfied", call_id="9.1")
    with db.session() as s:
        assert [f.call_id for f in s.scalars(select(FollowUp).where(FollowUp.case_id == case.id))] == ["9.1"]


async def test_an_agents_own_call_is_neither_transferred_nor_made_a_three_way_call() -> None:
    """Its citizen is the leg Dial made, not the call's own channel, which both services move."""
    tracker = CallTracker(Sink(), Agents(), ["12345"])
    tracker.calls["2.1"] = Call(
        id="2.1", arrived_at=NOW, state=CallState.CONNECTED, channel="PJSIP/1001-00000001", agent="1001",
        agent_channel="PJSIP/1001-00000001", direction=CallDirection.OUTBOUND, hotline="12345",
    )  # fmt: skip
    ami = FakeAmi()
    transfers = Transfers(tracker, ami, None, "carrier-telecom", {"1001": "PJSIP/1001"})  # type: ignore[arg-type]
    with pytest.raises(TransferError) as info:
        await transfers.start("2.1", "1001", TransferKind.BLIND, number="12399000001")
    assert info.value.error_id is ErrorId.CALL_OUTBOUND
    three_way = ThreeWay(tracker, ami, None, "carrier-telecom")  # type: ignore[arg-type]
    with pytest.raises(ConferenceError) as conf:
        await three_way.start("2.1", "12399000001")
    assert conf.value.error_id is ErrorId.CALL_OUTBOUND and ami.actions == []
