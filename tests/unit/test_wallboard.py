"""Wallboard figures from a scripted mix of call records, checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ari_app.calls.model import Call
from ari_app.calls.store import SqlCallStore
from ari_app.supervision.wallboard import TodayCalls, compute, write_chart
from schema.calls import CallDirection, CallState, EndReason, OutboundPurpose
from schema.db import make_engine, make_sessionmaker, upgrade

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)  # 14:00 in Urumqi's centre (Asia/Shanghai time)


def _call(
    cid: str,
    hotline: str | None,
    minutes_ago: float,
    state: CallState,
    *,
    wait: float | None = None,
    talk: float | None = None,
    agent: str | None = None,
    reason: EndReason | None = None,
) -> Call:
    arrived = NOW - timedelta(minutes=minutes_ago)
    c = Call(id=cid, arrived_at=arrived, state=state, hotline=hotline, caller="139", agent=agent, end_reason=reason)
    if wait is not None and state in (CallState.CONNECTED, CallState.ENDED):
        c.answered_at = arrived + timedelta(seconds=wait)
        if talk is not None:
            c.ended_at = c.answered_at + timedelta(seconds=talk)
    elif state == CallState.ABANDONED:
        c.ended_at = arrived + timedelta(seconds=wait or 0)
    return c


def _outbound(cid: str, minutes_ago: float) -> Call:
    c = _call(cid, "12345", minutes_ago, CallState.ENDED, wait=2, talk=90, agent="1001", reason=EndReason.CALLER_HANGUP)
    c.direction, c.purpose = CallDirection.OUTBOUND, OutboundPurpose.FOLLOW_UP
    return c


def test_figures_for_a_scripted_mix(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    store = SqlCallStore(make_sessionmaker(engine))
    for c in [
        _call("1", "12345", 50, CallState.ENDED, wait=5, talk=100, agent="1001", reason=EndReason.CALLER_HANGUP),
        _call("2", "12345", 40, CallState.ENDED, wait=20, talk=200, agent="1002", reason=EndReason.AGENT_HANGUP),
        _call("3", "12345", 30, CallState.ABANDONED, wait=40, reason=EndReason.ABANDONED),
        _call("4", "12319", 20, CallState.ENDED, wait=10, talk=60, agent="1001", reason=EndReason.CALLER_HANGUP),
        _call("5", "12319", 1, CallState.QUEUED),
        _call("6", "12358", 5, CallState.CONNECTED, wait=3, agent="1002"),
        _call("7", "12350", 4, CallState.REJECTED, reason=EndReason.OVERFLOW),
        _call("8", None, 3, CallState.REJECTED, reason=EndReason.NOT_A_HOTLINE),
        _call("9", "12345", 60 * 24, CallState.ENDED, wait=1, talk=10, agent="1001"),  # yesterday: not counted
        _outbound("10", 10),  # an agent's follow-up call to a citizen: not the hotline's traffic
    ]:
        store.save(c)
    with store.sessions() as s:
        board = compute(s, ["12345", "12319", "12358", "12350"], now=NOW, timezone="Asia/Shanghai")
    h = {f.hotline: f for f in board.hotlines}
    assert (h["12345"].answered, h["12345"].abandoned, h["12345"].answered_in_threshold) == (2, 1, 1)
    assert h["12345"].service_level == 33.3  # 1 of (2 answered + 1 abandoned) within 15 s
    assert h["12345"].average_wait == 12.5 and h["12345"].average_talk == 150.0
    assert (h["12319"].waiting, h["12319"].longest_wait_seconds, h["12319"].service_level) == (1, 60.0, 100.0)
    assert (h["12358"].talking, h["12358"].answered, h["12358"].average_talk) == (1, 1, None)
    assert (h["12350"].refused, h["12350"].service_level) == (1, None)
    t = board.total
    assert (t.answered, t.abandoned, t.waiting, t.refused, t.talking) == (4, 1, 1, 1, 1)
    assert t.service_level == 60.0  # 3 of 5
    assert {a.agent: (a.answered, a.talk_total) for a in board.agents} == {"1001": (2, 160.0), "1002": (2, 200.0)}
    assert sum(board.intervals["12345"]) == 3 and board.intervals["12345"][13 * 4 + 0] == 1  # 13:10 local
    chart = tmp_path / "w.png"
    write_chart(board, str(chart))
    assert chart.stat().st_size > 10_000


def test_the_incremental_cache_reads_only_new_and_open_rows_and_agrees_with_a_full_read(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    store = SqlCallStore(sessions)
    hotlines = ["12345", "12319", "12358", "12350"]
    today = TodayCalls(sessions, "Asia/Shanghai", hotlines)

    def both() -> tuple[dict[str, Any], dict[str, Any]]:
        cached = today.refresh(NOW).as_dict()
        with sessions() as s:
            return cached, compute(s, hotlines, now=NOW, timezone="Asia/Shanghai").as_dict()

    calls = [_call(str(i), hotlines[i % 4], 50 - i, CallState.QUEUED) for i in range(20)]
    for c in calls[:10]:
        store.save(c)
    store.save(_outbound("99", 30))
    cached, full = both()
    assert cached == full and today.last_read == 10
    for c in calls[:3]:  # three waiting calls are answered and end
        c.state, c.answered_at, c.agent = CallState.CONNECTED, c.arrived_at + timedelta(seconds=4), "1001"
        store.save(c)
        c.state, c.ended_at, c.end_reason = (
            CallState.ENDED,
            c.answered_at + timedelta(seconds=30),
            EndReason.AGENT_HANGUP,
        )
        store.save(c)
    calls[3].state, calls[3].end_reason = CallState.ABANDONED, EndReason.ABANDONED
    store.save(calls[3])
    for c in calls[10:]:
        store.save(c)
    cached, full = both()
    assert cached == full and cached["total"]["answered"] == 3 and cached["total"]["abandoned"] == 1
    assert today.last_read == 20  # the 10 that were open and the 10 new ones
    cached, full = both()
    assert cached == full and today.last_read == 16  # only the open ones
