"""The call tracker fed with AMI traffic recorded from the real Asterisk (tests/fixtures/ami, made by
tests/e2e/record_fixtures.py), parsed by panoramisk's own protocol parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ari_app.ami import parse_stream
from ari_app.calls.events import CallConnected, CallEnded, CallRinging, QueueMemberChanged
from ari_app.calls.model import Call, CallStateError
from ari_app.calls.tracker import CallTracker
from schema.calls import CallDirection, CallState, EndReason
from tests.support.calls import Agents, ListSink, live_channel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
HOTLINES = ("12345", "12319", "12358", "12350")


def replay(name: str) -> tuple[CallTracker, ListSink, list[object]]:
    sink = ListSink()
    tracker = CallTracker(sink, Agents(), HOTLINES)
    for event in parse_stream((FIXTURES / name).read_bytes(), chunk=1000):
        tracker.handle(event)
    return tracker, sink, list(tracker.drain())


def test_answered_and_rejected_calls() -> None:
    tracker, sink, events = replay("answered_rejected.ami")
    assert tracker.calls == {}  # nothing left in progress
    assert len(sink.saved) == 2
    answered = next(c for c in sink.saved.values() if c.caller == "13800000001")
    assert answered.hotline == "12319" and answered.dialed == "12319"
    assert answered.state == CallState.ENDED and answered.end_reason == EndReason.CALLER_HANGUP
    assert answered.agent in ("1001", "1002") and answered.queue == "hotline"
    assert answered.recording and answered.recording.endswith(f"/12319/{answered.id}.wav")
    assert answered.wait_seconds is not None and 0.8 <= answered.wait_seconds <= 2.0  # agent rang 1 s
    assert answered.talk_seconds is not None and 1.0 <= answered.talk_seconds <= 3.0
    rejected = next(c for c in sink.saved.values() if c.caller == "13800000002")
    assert rejected.state == CallState.REJECTED and rejected.dialed == "99999" and rejected.hotline is None
    ringing = [e for e in events if isinstance(e, CallRinging)]
    assert len(ringing) == 1 and ringing[0].hotline == "12319" and ringing[0].caller == "13800000001"
    assert ringing[0].agent_id == answered.agent
    assert [type(e).__name__ for e in events if getattr(e, "call_id", None) == answered.id] == [
        "CallArrived",
        "CallQueued",
        "CallRinging",
        "CallConnected",
        "CallEnded",
    ]


def test_abandoned_call_and_member_changes() -> None:
    _tracker, sink, events = replay("abandoned_member.ami")
    (call,) = sink.saved.values()
    assert call.hotline == "12345" and call.state == CallState.ABANDONED
    assert call.end_reason == EndReason.ABANDONED and call.answered_at is None
    assert call.wait_seconds is not None and 1.5 <= call.wait_seconds <= 3.0
    members = [e for e in events if isinstance(e, QueueMemberChanged) and e.agent_id == "1002"]
    assert [(m.in_queue, m.paused, m.reason) for m in members] == [
        (True, True, "lunch"),
        (True, False, ""),
        (False, False, ""),
    ]


def test_eight_concurrent_calls_one_agent() -> None:
    """Eight callers at once, one agent signed in (1002 left the queue in the previous recording), each
    caller hangs up 3 s after Asterisk answered: one is served, seven abandon."""
    tracker, sink, events = replay("concurrent.ami")
    assert tracker.calls == {}
    assert len(sink.saved) == 8
    assert sorted(c.hotline or "" for c in sink.saved.values()) == sorted(HOTLINES * 2)
    served = [c for c in sink.saved.values() if c.state == CallState.ENDED]
    abandoned = [c for c in sink.saved.values() if c.state == CallState.ABANDONED]
    assert len(served) == 1 and served[0].agent == "1001"
    assert len(abandoned) == 7
    assert all(c.wait_seconds is not None and 2.5 <= c.wait_seconds <= 3.5 for c in abandoned)
    assert len([e for e in events if isinstance(e, CallConnected)]) == 1
    assert len([e for e in events if isinstance(e, CallEnded)]) == 8


def test_replay_is_chunking_independent() -> None:
    data = (FIXTURES / "concurrent.ami").read_bytes()
    assert [dict(e) for e in parse_stream(data, chunk=7)] == [dict(e) for e in parse_stream(data, chunk=65536)]


def test_state_machine_refuses_illegal_transitions() -> None:
    call = Call(id="1.1", arrived_at=datetime.now(UTC))
    with pytest.raises(CallStateError) as info:
        call.move(CallState.CONNECTED)
    assert info.value.error_id == "call_state_forbidden"
    call.move(CallState.QUEUED)
    call.move(CallState.CONNECTED)
    call.move(CallState.ENDED)
    for target in CallState:
        with pytest.raises(CallStateError):
            call.move(target)
    outbound = Call(id="2.1", arrived_at=datetime.now(UTC), direction=CallDirection.OUTBOUND)
    for target in (CallState.QUEUED, CallState.RINGING, CallState.ABANDONED):  # no queue on the way out
        with pytest.raises(CallStateError):
            outbound.move(target)
    outbound.move(CallState.CONNECTED)
    outbound.move(CallState.ENDED)


def test_out_of_order_events_leave_the_call_as_it_was() -> None:
    tracker, sink, _ = replay("answered_rejected.ami")
    before = dict(sink.saved)
    tracker.handle({"Event": "AgentConnect", "Linkedid": "no-such-call", "Interface": "PJSIP/1001"})
    tracker.handle({"Event": "Hangup", "Linkedid": "no-such-call", "Uniqueid": "no-such-call"})
    assert sink.saved == before
    t = CallTracker(ListSink(), Agents(), HOTLINES)
    t.handle(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineCall",
            "Linkedid": "9.1",
            "Uniqueid": "9.1",
            "Hotline": "12345",
            "Caller": "1",
        }
    )
    t.handle({"Event": "AgentComplete", "Linkedid": "9.1"})  # not connected: ignored
    t.handle({"Event": "AgentConnect", "Linkedid": "9.1", "Interface": "PJSIP/1001"})  # not queued: refused
    assert t.calls["9.1"].state == CallState.ARRIVED


def test_resync_ends_lost_calls_and_adopts_live_ones_once() -> None:
    now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    sink = ListSink()
    t = CallTracker(sink, Agents(), HOTLINES, clock=lambda: now)
    gone = Call(
        id="1.1",
        arrived_at=now - timedelta(minutes=1),
        state=CallState.CONNECTED,
        hotline="12345",
        answered_at=now - timedelta(seconds=50),
    )
    kept = Call(id="2.1", arrived_at=now - timedelta(minutes=1), state=CallState.QUEUED, hotline="12319")
    t.adopt([gone, kept])
    live = [
        live_channel("2.1", "2.1", "PJSIP/carrier-telecom-00000002", bridge="b1"),
        live_channel("2.1", "2.2", "PJSIP/1002-00000003", bridge="b1", app="AppQueue"),
        live_channel("3.1", "3.1", "PJSIP/carrier-telecom-00000004"),  # unknown, waiting in the queue
        live_channel("4.1", "4.1", "PJSIP/1001-00000005", app="Dial", account=""),  # not a hotline call
    ]
    ended, adopted = t.resync(live)
    assert [c.id for c in ended] == ["1.1"]
    assert sink.saved["1.1"].state == CallState.ENDED and sink.saved["1.1"].end_reason == EndReason.LOST
    assert sink.saved["2.1"].state == CallState.CONNECTED and sink.saved["2.1"].agent == "1002"
    assert [c.id for c in adopted] == ["3.1"]
    assert sink.saved["3.1"].state == CallState.QUEUED
    assert sink.saved["3.1"].arrived_at == now - timedelta(seconds=30)
    assert "4.1" not in sink.saved
    again_ended, again_adopted = t.resync(live)
    assert again_ended == [] and again_adopted == []
    assert set(sink.saved) == {"1.1", "2.1", "3.1"}


def test_overflow_calls_are_rejected_with_their_hotline() -> None:
    t = CallTracker(ListSink(), Agents(), HOTLINES)
    t.handle(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineOverflow",
            "Linkedid": "5.1",
            "Uniqueid": "5.1",
            "Hotline": "12350",
            "Caller": "139",
            "Reason": "calls",
        }
    )
    # the queue was full: the call had arrived and was being recorded when the queue refused it
    t.handle(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineCall",
            "Linkedid": "6.1",
            "Uniqueid": "6.1",
            "Hotline": "12345",
            "Caller": "138",
        }
    )
    t.handle(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineOverflow",
            "Linkedid": "6.1",
            "Uniqueid": "6.1",
            "Hotline": "12345",
            "Caller": "138",
            "Reason": "queue_full",
        }
    )
    saved = t.sink.saved  # type: ignore[attr-defined]
    for cid, hotline in (("5.1", "12350"), ("6.1", "12345")):
        assert saved[cid].state == CallState.REJECTED and saved[cid].end_reason == EndReason.OVERFLOW
        assert saved[cid].hotline == hotline
    assert t.calls == {}


@pytest.mark.parametrize("cause, expected", [("4", EndReason.LOST), ("32", EndReason.CALLER_HANGUP)])
def test_a_call_cut_by_a_shutdown_is_lost_not_hung_up(cause: str, expected: EndReason) -> None:
    """`core restart now` hangs every channel up with the soft-hangup cause SHUTDOWN (4) first; the AgentComplete
    and Hangup that follow look like an ordinary end. Any other soft hangup (32: explicit) is ordinary."""
    events = parse_stream((FIXTURES / "answered_rejected.ami").read_bytes())
    cut = next(i for i, e in enumerate(events) if e.get("Event") == "AgentComplete")
    linkedid = events[cut]["Linkedid"]
    sink = ListSink()
    tracker = CallTracker(sink, Agents(), HOTLINES)
    for event in events[:cut]:
        tracker.handle(event)
    tracker.handle({"Event": "SoftHangupRequest", "Linkedid": linkedid, "Cause": cause, "Channel": "PJSIP/x"})
    for event in events[cut:]:
        tracker.handle(event)
    assert sink.saved[linkedid].state == CallState.ENDED and sink.saved[linkedid].end_reason == expected
    ended = [e for e in tracker.drain() if isinstance(e, CallEnded) and e.call_id == linkedid]
    assert [e.reason for e in ended] == [expected]  # once


def _queue_event(t: CallTracker, event: str, **fields: str) -> None:
    t.handle({"Event": event, "Linkedid": "7.1", "Uniqueid": "7.1", **fields})


def test_a_caller_hearing_the_queue_announcement_is_one_queued_call() -> None:
    """[hotline-queue-announce] plays out of Queue(): on joining behind another caller (before QueueCallerJoin),
    and every announce_frequency seconds after Queue() returned with a timeout (QueueCallerLeave, then
    QueueCallerJoin again at the same place). That is one queued call throughout; hanging up during an
    announcement is abandoning, not the queue giving up; a callback asked for during the first one is a
    callback request."""
    t = CallTracker(ListSink(), Agents(), HOTLINES)
    _queue_event(t, "UserEvent", UserEvent="HotlineCall", Hotline="12345", Caller="13812345678")
    _queue_event(t, "UserEvent", UserEvent="HotlineQueueAnnouncement", Queue="hotline", Position="2")
    call = t.calls["7.1"]
    assert call.state == CallState.QUEUED and call.queue == "hotline" and call.queued_at is not None
    first_queued = call.queued_at
    _queue_event(t, "QueueCallerJoin", Queue="hotline", Position="2")
    # the timeout before the next one: app_queue calls it abandoned too
    _queue_event(t, "QueueCallerAbandon", Queue="hotline", Position="2")
    _queue_event(t, "QueueCallerLeave", Queue="hotline", Position="2")
    assert t.calls["7.1"].state == CallState.QUEUED
    _queue_event(t, "UserEvent", UserEvent="HotlineQueueAnnouncement", Queue="hotline", Position="2")
    _queue_event(t, "QueueCallerJoin", Queue="hotline", Position="2")
    _queue_event(t, "QueueCallerLeave", Queue="hotline", Position="2")
    _queue_event(t, "UserEvent", UserEvent="HotlineQueueAnnouncement", Queue="hotline", Position="2")
    assert t.calls["7.1"].queued_at == first_queued
    _queue_event(t, "Hangup")
    (saved,) = t.sink.saved.values()  # type: ignore[attr-defined]
    assert saved.state == CallState.ABANDONED and saved.end_reason == EndReason.ABANDONED

    t = CallTracker(ListSink(), Agents(), HOTLINES)
    _queue_event(t, "UserEvent", UserEvent="HotlineCall", Hotline="12345", Caller="13812345678")
    _queue_event(t, "UserEvent", UserEvent="HotlineQueueAnnouncement", Queue="hotline", Position="2")
    _queue_event(t, "UserEvent", UserEvent="HotlineCallbackRequested", Hotline="12345", Caller="13812345678")
    _queue_event(t, "Hangup")
    (saved,) = t.sink.saved.values()  # type: ignore[attr-defined]
    assert saved.state == CallState.ENDED and saved.end_reason == EndReason.CALLBACK_REQUESTED
