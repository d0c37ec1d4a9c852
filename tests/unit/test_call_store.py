"""The call store: one row per Linkedid, open calls reloaded after a restart, the documented JSON shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ari_app.calls.model import Call
from ari_app.calls.store import LoopClock, SqlCallStore, recent_calls
from ari_app.cli import main
from schema.calls import CallState, EndReason
from schema.db import make_engine, make_sessionmaker, upgrade
from tests.support.clock import LoopTime

KEYS = {
    "id",
    "hotline",
    "caller",
    "queue",
    "agent",
    "state",
    "arrived_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "end_reason",
    "recording",
}


def _store(tmp_path: Path, clock: LoopClock | None = None) -> SqlCallStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    return SqlCallStore(make_sessionmaker(engine), clock=clock)


def _after_each_write(store: SqlCallStore, tell: Callable[[], None]) -> None:
    """Have the deferred store call `tell` each time one of its writes (`write_pending`) has finished."""
    write = store.write_pending

    async def write_and_tell() -> None:
        await write()
        tell()

    store.write_pending = write_and_tell  # type: ignore[method-assign]


def test_save_updates_in_place_and_reloads_open_calls(tmp_path: Path) -> None:
    store = _store(tmp_path)
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    a = Call(id="1.1", arrived_at=t0, hotline="12345", caller="139", state=CallState.QUEUED, queue="hotline")
    b = Call(id="2.1", arrived_at=t0 + timedelta(seconds=5), hotline="12319", caller="138")
    store.save(a)
    store.save(b)
    a.state = CallState.CONNECTED
    a.answered_at = t0 + timedelta(seconds=12)
    store.save(a)
    b.state = CallState.ABANDONED
    b.ended_at = t0 + timedelta(seconds=20)
    b.end_reason = EndReason.ABANDONED
    store.save(b)
    (reloaded,) = store.load_open()
    assert reloaded.id == "1.1" and reloaded.state == CallState.CONNECTED
    assert reloaded.answered_at == t0 + timedelta(seconds=12) and reloaded.answered_at.tzinfo is not None
    with store.sessions() as s:
        rows = recent_calls(s, 10)
    assert [r["id"] for r in rows] == ["2.1", "1.1"]  # newest first, each once
    assert set(rows[0]) >= KEYS
    assert rows[0]["wait_seconds"] == 15.0 and rows[0]["end_reason"] == "abandoned"
    assert rows[1]["answered_at"] == "2026-11-29T08:00:12+00:00" and rows[1]["ended_at"] is None


def test_calls_command_prints_documented_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    text = (root / "config.yaml").read_text(encoding="utf-8")
    db = tmp_path / "h.db"
    (tmp_path / "config.yaml").write_text(text.replace("sqlite:///var/db/hotline.db", f"sqlite:///{db}"), "utf-8")
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    s2 = SqlCallStore(make_sessionmaker(engine))
    for i in range(3):
        s2.save(Call(id=f"{i}.1", arrived_at=datetime(2026, 11, 29, 8, i, tzinfo=UTC), hotline="12345"))
    assert main(["-c", str(tmp_path / "config.yaml"), "calls", "--json", "--limit", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in out] == ["2.1", "1.1"]
    assert all(set(c) >= KEYS for c in out)
    assert out[0]["arrived_at"] == "2026-11-29T08:02:00+00:00"
    # the table shows the centre's time zone (Asia/Shanghai, +8), as the audit trail, desktop and web do
    assert main(["-c", str(tmp_path / "config.yaml"), "calls", "--limit", "2"]) == 0
    shown = capsys.readouterr()
    assert shown.out.splitlines()[1].startswith("2026-11-29 16:02:00 ") and shown.err == "times in Asia/Shanghai\n"


def test_deferred_store_writes_a_burst_in_one_transaction(tmp_path: Path) -> None:
    import asyncio

    store = _store(tmp_path)
    store.deferred = True
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    async def burst() -> None:
        written = asyncio.Event()
        _after_each_write(store, written.set)
        calls = [Call(id=f"{i}.1", arrived_at=t0 + timedelta(seconds=i), hotline="12345") for i in range(50)]
        for c in calls:
            store.save(c)
        for c in calls:  # a second transition of the same calls in the same burst: coalesced
            c.state = CallState.QUEUED
            store.save(c)
        with store.sessions() as s:
            assert recent_calls(s, 100) == []  # nothing written while the burst is being handled
        await asyncio.wait_for(written.wait(), 5)

    asyncio.run(burst())
    assert store.commits == 1 and store.writes == 100
    with store.sessions() as s:
        rows = recent_calls(s, 100)
    assert len(rows) == 50 and {r["state"] for r in rows} == {"queued"}


def test_deferred_store_keeps_calls_when_the_database_fails(tmp_path: Path) -> None:
    import asyncio

    store = _store(tmp_path)
    store.deferred = True
    store.RETRY_SECONDS = 0.05
    real = store.sessions
    failures = {"left": 2}

    class Flaky:
        def begin(self) -> object:
            if failures["left"]:
                failures["left"] -= 1
                raise RuntimeError("database is locked")
            return real.begin()

        def __call__(self) -> object:
            return real()

    store.sessions = Flaky()  # type: ignore[assignment]
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    async def run() -> None:
        stored = asyncio.Event()
        _after_each_write(store, stored.set)
        store.save(Call(id="9.1", arrived_at=t0, hotline="12319"))
        await asyncio.wait_for(stored.wait(), 5)

    asyncio.run(run())
    assert failures["left"] == 0 and store.commits == 1
    with real() as s:
        assert [r["id"] for r in recent_calls(s, 10)] == ["9.1"]


def test_deferred_store_with_a_window_writes_at_once_when_idle_and_groups_under_load(tmp_path: Path) -> None:
    import asyncio

    clock = LoopTime()  # the window is counted on a clock the test moves, not in real seconds
    store = _store(tmp_path, clock)
    store.deferred, store.window = True, 1.0
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    def stored() -> int:
        with store.sessions() as s:
            return len(recent_calls(s, 1000))

    async def run() -> None:
        first, flushed = asyncio.Event(), asyncio.Event()
        _after_each_write(store, lambda: (first if store.commits == 1 else flushed).set())
        started = clock.now
        store.save(Call(id="0.1", arrived_at=t0, hotline="12345"))  # idle: the write starts on the next turn
        await asyncio.wait_for(first.wait(), 5)
        assert (store.commits, stored()) == (1, 1)
        for i in range(1, 6):  # a storm: transitions keep coming within the window
            clock.advance(0.01)
            store.save(Call(id=f"{i}.1", arrived_at=t0, hotline="12345"))
            await asyncio.sleep(0)
        assert clock.pending() == [started + 1.0]  # one write, due the window after the first
        clock.advance(0.9)
        await asyncio.sleep(0)
        assert clock.pending() == [started + 1.0]
        assert (store.commits, stored()) == (1, 1)  # held until the window has passed
        clock.advance(0.1)  # past the window
        await asyncio.wait_for(flushed.wait(), 5)
        assert clock.pending() == []
        assert stored() == 6  # the five saves in one transaction

    asyncio.run(run())
    assert store.commits == 2 and store.writes == 6


def test_deferred_store_with_a_delay_starts_no_write_sooner_than_the_delay(tmp_path: Path) -> None:
    """With `delay` (the server's STORE_DELAY), an idle store writes a burst `delay` after its first save, not
    on the next turn of the loop: the publish of the same events (the screen-pops) goes first."""
    import asyncio

    clock = LoopTime()
    store = _store(tmp_path, clock)
    store.deferred, store.window, store.delay = True, 1.0, 0.03
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    async def run() -> None:
        written = asyncio.Event()
        _after_each_write(store, written.set)
        started = clock.now
        for i in range(50):  # 50 calls ringing at once
            store.save(Call(id=f"{i}.1", arrived_at=t0, hotline="12345"))
        await asyncio.sleep(0)
        assert clock.pending() == [started + 0.03] and store.commits == 0
        clock.advance(0.029)
        await asyncio.sleep(0)
        assert store.commits == 0
        clock.advance(0.001)
        await asyncio.wait_for(written.wait(), 5)
        assert store.commits == 1  # the burst, in one transaction

    asyncio.run(run())
    assert store.writes == 50


def test_a_call_saved_again_while_it_is_being_written_is_written_again(tmp_path: Path) -> None:
    """The write runs in a worker thread; the loop goes on saving. A newer save of a call being written is
    kept pending (and written next), never dropped and never overwritten by the older copy."""
    import asyncio
    import threading

    store = _store(tmp_path)
    store.deferred = True
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    entered, release = threading.Event(), threading.Event()
    real_write = store._write

    def slow_write(pending: dict[str, Any]) -> None:
        entered.set()
        release.wait(5)
        real_write(pending)

    store._write = slow_write  # type: ignore[method-assign]

    async def run() -> None:
        call = Call(id="7.1", arrived_at=t0, hotline="12345")
        store.save(call)
        assert await asyncio.to_thread(entered.wait, 5)  # the write of the first copy is in its thread now
        call.state = CallState.QUEUED
        store.save(call)  # the loop was not blocked: a newer transition arrives meanwhile
        release.set()
        await store.write_pending()  # waits for the first write, then writes what is pending
        assert store.commits == 2

    asyncio.run(run())
    with store.sessions() as s:
        assert [r["state"] for r in recent_calls(s, 10)] == ["queued"]
    store.flush()
    assert store.commits == 2  # nothing left pending
