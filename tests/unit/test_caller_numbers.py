"""The one rule for a withheld caller id, on every form carriers and Asterisk send."""

from __future__ import annotations

import pytest

from ari_app.calls.numbers import KNOWN_FORMS, caller_number, is_withheld
from ari_app.protocol import WITHHELD

WITHHELD_FORMS = [
    None,
    "",
    "   ",
    "anonymous",
    "Anonymous",
    "ANONYMOUS",
    "unknown",
    "Unknown",
    "<unknown>",
    "<Unknown>",
    "restricted",
    "Restricted",
    "private",
    "Private",
    "unavailable",
    "withheld",
    "blocked",
    '"anonymous"',
    " anonymous ",
    "<>",
    "+",
    "-",
]
NUMBERS = ["13800000001", "+8613800000001", "010-12345678", " 12345 ", "0", "1001"]


@pytest.mark.parametrize("number", WITHHELD_FORMS)
def test_withheld_forms(number: str | None) -> None:
    assert is_withheld(number)
    assert caller_number(number) == WITHHELD


@pytest.mark.parametrize("number", NUMBERS)
def test_numbers_are_not_withheld_and_kept(number: str) -> None:
    assert not is_withheld(number)
    assert caller_number(number) == number.strip()


def test_every_known_form_is_withheld() -> None:
    assert all(is_withheld(form) and is_withheld(form.upper()) for form in KNOWN_FORMS)
    assert is_withheld(WITHHELD)  # what is stored is itself withheld: it never matches anything


@pytest.mark.parametrize("received", ["anonymous", "Anonymous", "<unknown>", "restricted", ""])
def test_the_tracker_stores_a_withheld_caller_as_withheld(received: str) -> None:
    from ari_app.calls.tracker import CallTracker
    from tests.support.calls import Agents, ListSink, live_channel

    sink = ListSink()
    tracker = CallTracker(sink, Agents(), ("12345",))
    tracker.handle(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineCall",
            "Linkedid": "1.1",
            "Uniqueid": "1.1",
            "Channel": "PJSIP/carrier-telecom-00000001",
            "Hotline": "12345",
            "Caller": received,
            "CallerIDNum": received,
        }
    )
    assert sink.saved["1.1"].caller == WITHHELD
    # a call adopted at a resync (it started while the server was away) is stored the same way
    live = live_channel("2.1", "2.1", "PJSIP/carrier-telecom-00000002", caller=received, duration=3)
    tracker.resync([live])
    assert sink.saved["2.1"].caller == WITHHELD


def test_a_withheld_caller_back_in_the_queue_after_the_callback_key_is_one_queued_call() -> None:
    """The dialplan sends a withheld caller who pressed the callback key back into the queue: AMI shows the
    call leaving the queue and joining it again. It stays one queued call, and hanging up then is an
    abandoned call, not a queue time-out; no callback is requested."""
    from ari_app.calls.events import CallbackRequested
    from ari_app.calls.tracker import CallTracker
    from schema.calls import CallState, EndReason
    from tests.support.calls import Agents, ListSink

    sink = ListSink()
    tracker = CallTracker(sink, Agents(), ("12345",))
    base = {"Linkedid": "1.1", "Uniqueid": "1.1", "Channel": "PJSIP/carrier-telecom-00000001"}
    tracker.handle(
        {**base, "Event": "UserEvent", "UserEvent": "HotlineCall", "Hotline": "12345", "Caller": "anonymous"}
    )
    tracker.handle({**base, "Event": "QueueCallerJoin", "Queue": "hotline", "Position": "2"})
    tracker.handle({**base, "Event": "QueueCallerLeave", "Queue": "hotline", "Position": "2"})
    tracker.handle({**base, "Event": "QueueCallerJoin", "Queue": "hotline", "Position": "2"})
    assert sink.saved["1.1"].state == CallState.QUEUED
    tracker.handle({**base, "Event": "Hangup"})
    call = sink.saved["1.1"]
    assert (call.state, call.end_reason, call.caller) == (CallState.ABANDONED, EndReason.ABANDONED, WITHHELD)
    assert not [e for e in tracker.drain() if isinstance(e, CallbackRequested)]
