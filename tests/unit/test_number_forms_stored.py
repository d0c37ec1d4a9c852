"""Where numbers are received and stored: the call tracker (caller and dialed number, raw beside canonical,
read with the rules of the trunk the call came through), the call records, callback requests and the dialled
callback, and the migration that brings numbers stored before into the canonical form."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from ari_app.callbacks import CallbackService, list_callbacks
from ari_app.calls.events import CallArrived, CallbackRequested
from ari_app.calls.numbers import NumberPlan
from ari_app.calls.store import SqlCallStore, recent_calls
from ari_app.calls.tracker import CallTracker
from ari_app.config import load_config
from schema.calls import CallState, EndReason
from schema.db import make_engine, make_sessionmaker, upgrade
from tests.support.calls import Agents, ListSink, ScriptedDialer, live_channel

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.yaml")
HOTLINES = [h.number for h in CFG.hotlines]


def _tracker(sink: object) -> CallTracker:
    return CallTracker(sink, Agents(), HOTLINES, numbers=NumberPlan.from_config(CFG))  # type: ignore[arg-type]


def _arrive(tracker: CallTracker, uid: str, channel: str, exten: str, caller: str, kind: str, **extra: str) -> None:
    base = {"Channel": channel, "Uniqueid": uid, "Linkedid": uid, "CallerIDNum": caller}
    tracker.handle({"Event": "Newchannel", "Context": "from-carrier", "Exten": exten, **base})
    tracker.handle(
        {"Event": "UserEvent", "UserEvent": kind, "Context": "hotline-inbound", "Caller": caller, **base, **extra}
    )


def test_a_hotline_call_keeps_the_dialed_and_calling_numbers_as_received_beside_the_canonical() -> None:
    sink = ListSink()
    tracker = _tracker(sink)
    _arrive(
        tracker,
        "1.1",
        "PJSIP/carrier-telecom-00000001",
        "+86099112345",
        "+8613812345678",
        "HotlineCall",
        Hotline="12345",
        Recording="/r/1.1.wav",
    )
    call = sink.saved["1.1"]
    assert (call.hotline, call.dialed, call.dialed_raw) == ("12345", "12345", "+86099112345")
    assert (call.caller, call.caller_raw) == ("13812345678", "+8613812345678")
    (arrived,) = [e for e in tracker.drain() if isinstance(e, CallArrived)]
    assert (arrived.hotline, arrived.caller, arrived.dialed) == ("12345", "13812345678", "12345")
    # the caller's local number, through a trunk of area 991
    _arrive(tracker, "2.1", "PJSIP/carrier-unicom-00000002", "1019312319", "4567890", "HotlineCall", Hotline="12319")
    call = sink.saved["2.1"]
    assert (call.dialed, call.dialed_raw, call.caller, call.caller_raw) == (
        "12319",
        "1019312319",
        "09914567890",
        "4567890",
    )
    # the callback key: the request carries both forms
    tracker.handle(
        {"Event": "UserEvent", "UserEvent": "HotlineCallbackRequested", "Linkedid": "1.1", "Uniqueid": "1.1"}
    )
    (asked,) = [e for e in tracker.drain() if isinstance(e, CallbackRequested)]
    assert (asked.number, asked.number_raw) == ("13812345678", "+8613812345678")


def test_a_rejected_number_is_stored_as_received_and_read() -> None:
    sink = ListSink()
    tracker = _tracker(sink)
    # [not-a-hotline] strips the +; the channel's number as received keeps it
    _arrive(
        tracker,
        "3.1",
        "PJSIP/carrier-telecom-00000003",
        "+8699999",
        "008613812345678",
        "HotlineRejected",
        Dialed="8699999",
    )
    call = sink.saved["3.1"]
    assert (call.state, call.end_reason) == (CallState.REJECTED, EndReason.NOT_A_HOTLINE)
    assert (call.dialed, call.dialed_raw, call.caller) == ("99999", "+8699999", "13812345678")
    # without its Newchannel (the server came up in between) the event's number is what there is
    tracker.handle(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineRejected",
            "Linkedid": "4.1",
            "Uniqueid": "4.1",
            "Channel": "PJSIP/carrier-telecom-00000004",
            "Dialed": "99999",
            "Caller": "anonymous",
        }
    )
    call = sink.saved["4.1"]
    assert (call.dialed, call.dialed_raw, call.caller, call.caller_raw) == ("99999", "99999", "withheld", "anonymous")


def test_a_call_adopted_at_a_resync_is_read_with_its_trunks_rules() -> None:
    sink = ListSink()
    tracker = _tracker(sink)
    live = live_channel("5.1", "5.1", "PJSIP/carrier-telecom-00000005", caller="+869914567890", duration=3)
    tracker.resync([live], now=datetime(2026, 12, 1, tzinfo=UTC))
    assert (sink.saved["5.1"].caller, sink.saved["5.1"].caller_raw) == ("09914567890", "+869914567890")


def test_the_call_records_show_both_forms(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    tracker = _tracker(SqlCallStore(sessions))
    _arrive(tracker, "6.1", "PJSIP/carrier-telecom-00000006", "8612345", "13812345678", "HotlineCall", Hotline="12345")
    with sessions() as s:
        (row,) = recent_calls(s)
    assert (row["hotline"], row["dialed"], row["dialed_raw"]) == ("12345", "12345", "8612345")
    assert (row["caller"], row["caller_raw"]) == ("13812345678", "13812345678")


def test_callbacks_store_the_canonical_number_and_dial_the_trunks_form(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cb.db'}")
    upgrade(engine)
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    dialer = ScriptedDialer(free=5, answers=[True, True, True])
    svc = CallbackService(CFG, make_sessionmaker(engine), dialer, clock=lambda: now)

    async def run() -> None:
        await svc.on_event(CallbackRequested("1.1", now, "12345", "13812345678", "+8613812345678"))
        await svc.on_event(CallbackRequested("2.1", now, "12319", "+16502530000", "0016502530000"))
        await svc.on_event(CallbackRequested("3.1", now, "12319", "withheld", "anonymous"))
        svc.request("4.1", "12345", "0991 456 7890", now)  # any form: stored canonical, the form given kept
        assert await svc.dial_due() == 3
        while svc._dialing:
            await asyncio.gather(*list(svc._dialing))

    asyncio.run(run())
    assert sorted(dialer.dialled) == ["0016502530000", "09914567890", "13812345678"]
    with svc.sessions() as s:
        rows = {r["call_id"]: r for r in list_callbacks(s)}
    assert (rows["1.1"]["number"], rows["1.1"]["number_raw"]) == ("13812345678", "+8613812345678")
    assert (rows["2.1"]["number"], rows["2.1"]["number_raw"]) == ("+16502530000", "0016502530000")
    assert (rows["3.1"]["number"], rows["3.1"]["number_raw"], rows["3.1"]["status"]) == (
        "withheld",
        "anonymous",
        "failed",
    )
    assert (rows["4.1"]["number"], rows["4.1"]["number_raw"]) == ("09914567890", "0991 456 7890")
