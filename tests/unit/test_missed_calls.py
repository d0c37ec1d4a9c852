"""The missed-call worklist (漏接回拨) driven by the call tracker's events on a controlled clock: a task per
missed number, its due time inside the calling hours, joining, closing by contact and by attempt, claims that
lapse, and the share called back in time against a hand count."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.ami import parse_stream
from ari_app.calls.store import SqlCallStore
from ari_app.calls.tracker import CallTracker
from ari_app.cases.actor import Actor
from ari_app.config import load_config
from ari_app.missed import MissedCallChanged, MissedCalls, MissedSettings
from ari_app.missed.errors import MissedCallClaimed, MissedCallClosed, MissedCallPermissionDenied
from ari_app.missed.service import attempt, called_back_in_time, claim, list_missed
from schema.callbacks import CallbackRequest
from schema.calls import EndReason
from schema.cases import AuditEntry
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.missed import AttemptOutcome, MissedCall
from schema.users import Role
from tests.support.calls import Agents
from tests.support.clock import Clock
from tests.support.missed import store_answered, store_miss

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "ami"
HOTLINES = ("12345", "12319", "12358", "12350")
NOON = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Monday
SETTINGS = MissedSettings()  # 30 minutes, 08:00-21:00 Asia/Shanghai, claims of 10 minutes
AGENT = Actor(user_id=None, login="1001", role=Role.AGENT)
OTHER = Actor(user_id=None, login="1002", role=Role.AGENT)


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'missed.db'}")
    upgrade(engine)
    return make_sessionmaker(engine)


class Published(list[MissedCallChanged]):
    def __call__(self, event: object) -> None:
        assert isinstance(event, MissedCallChanged)
        self.append(event)


def service(sessions: sessionmaker[Session], clock: Clock) -> tuple[MissedCalls, Published]:
    published = Published()
    return MissedCalls(sessions, SETTINGS, published, clock), published


def tasks(sessions: sessionmaker[Session]) -> list[MissedCall]:
    with sessions() as s:
        return list(s.scalars(select(MissedCall).order_by(MissedCall.id)))


async def replay(sessions: sessionmaker[Session], missed: MissedCalls, name: str, caller: str | None = None) -> None:
    """Feed recorded AMI traffic through the real tracker storing in `sessions`, then every event it published
    to `missed`, as the server does (calls stored first). `caller` rewrites the fixture's first caller id."""
    data = (FIXTURES / name).read_bytes()
    if caller is not None:
        data = data.replace(b"13800000001", caller.encode())
    store = SqlCallStore(sessions)
    tracker = CallTracker(store, Agents(), HOTLINES)
    for event in parse_stream(data, chunk=1000):
        tracker.handle(event)
    for event in list(tracker.drain()):
        await missed.on_event(event)


async def test_an_abandoned_call_replayed_through_the_tracker_opens_a_task_due_in_30_minutes(
    sessions: sessionmaker[Session],
) -> None:
    missed, published = service(sessions, Clock(NOON))
    await replay(sessions, missed, "abandoned_member.ami")
    (task,) = tasks(sessions)
    assert task.caller == "13800000003" and task.hotline == "12345" and task.reason == "abandoned"
    assert task.status == "open" and task.misses == 1 and task.open_number == "13800000003"
    assert task.due_at == task.missed_at + timedelta(minutes=30)  # 11:57 in Shanghai: within the hours
    assert [p.change for p in published] == ["missed"] and published[0].task["id"] == task.id
    with sessions() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "missed_call_opened")) is not None


async def test_a_later_answered_call_of_the_same_number_replayed_closes_the_task(
    sessions: sessionmaker[Session],
) -> None:
    missed, published = service(sessions, Clock(NOON))
    early = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # before the recorded call (2026-11-28 03:56 UTC)
    await missed.on_event(store_miss(sessions, "1795920000.1", "13900000009", early))
    await replay(sessions, missed, "answered_rejected.ami", caller="13900000009")
    (task,) = tasks(sessions)
    assert task.status == "closed_by_contact" and task.open_number is None and task.closed_by_call is not None
    assert task.closed_by_call != task.call_id and task.attempts == 0
    assert [p.change for p in published] == ["missed", "closed"]


async def test_withheld_callers_and_answered_or_callback_calls_make_no_task(sessions: sessionmaker[Session]) -> None:
    missed, published = service(sessions, Clock(NOON))
    await missed.on_event(store_miss(sessions, "1.1", "withheld", NOON, caller_raw="anonymous"))
    await missed.on_event(store_miss(sessions, "1.2", "13900000001", NOON, reason=EndReason.CALLBACK_REQUESTED))
    await missed.on_event(store_miss(sessions, "1.3", "13900000002", NOON, reason=EndReason.NOT_A_HOTLINE))
    with sessions.begin() as s:  # the number is waiting for the callback it asked for on an earlier call
        s.add(
            CallbackRequest(
                call_id="0.9", hotline="12345", number="13900000004", status="pending",
                requested_at=NOON, next_attempt_at=NOON, attempts=0,
            )
        )  # fmt: skip
    await missed.on_event(store_miss(sessions, "1.4", "13900000004", NOON))
    assert tasks(sessions) == [] and published == []


async def test_a_second_miss_of_the_number_joins_its_open_task(sessions: sessionmaker[Session]) -> None:
    missed, published = service(sessions, Clock(NOON))
    await missed.on_event(store_miss(sessions, "2.1", "13900000001", NOON))
    second = store_miss(sessions, "2.2", "13900000001", NOON + timedelta(minutes=5), reason=EndReason.OVERFLOW)
    await missed.on_event(second)
    await missed.on_event(second)  # the same event again (a resynchronisation) is not a third miss
    await missed.on_event(store_miss(sessions, "2.3", "13900000002", NOON + timedelta(minutes=6)))
    first, other = tasks(sessions)
    assert first.misses == 2 and first.last_call_id == "2.2" and first.reason == "abandoned"
    assert first.due_at == NOON + timedelta(minutes=30)  # the first miss's target holds
    assert other.caller == "13900000002" and other.misses == 1
    assert [p.change for p in published] == ["missed", "joined", "missed"]


async def test_a_miss_refused_by_a_task_made_at_the_same_moment_is_recorded_again_and_joins(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One open task per number (a unique index): when another server made the number's task at the same
    moment, the insert is refused and the miss is recorded again, in a transaction of its own, joining it."""
    from sqlalchemy.exc import IntegrityError

    from ari_app.missed import service as module

    missed, published = service(sessions, Clock(NOON))
    await missed.on_event(store_miss(sessions, "3.1", "13900000001", NOON))
    real, tries = module.record_miss, []

    def racing(s: Session, settings: MissedSettings, call_id: str) -> object:
        tries.append(call_id)
        if len(tries) == 1:
            raise IntegrityError("INSERT INTO missed_calls", {}, Exception("the number's open task exists"))
        return real(s, settings, call_id)

    monkeypatch.setattr(module, "record_miss", racing)
    await missed.on_event(store_miss(sessions, "3.2", "13900000001", NOON + timedelta(minutes=2)))
    assert tries == ["3.2", "3.2"]
    (task,) = tasks(sessions)
    assert task.misses == 2 and task.last_call_id == "3.2"
    assert [p.change for p in published] == ["missed", "joined"]


async def test_a_call_answered_before_the_miss_closes_nothing(sessions: sessionmaker[Session]) -> None:
    missed, _ = service(sessions, Clock(NOON))
    await missed.on_event(store_miss(sessions, "3.1", "13900000001", NOON))
    await missed.on_event(store_answered(sessions, "3.0", "13900000001", NOON - timedelta(minutes=1)))
    await missed.on_event(store_answered(sessions, "3.2", "13900000002", NOON + timedelta(minutes=1)))
    (task,) = tasks(sessions)
    assert task.status == "open"
    await missed.on_event(store_answered(sessions, "3.3", "13900000001", NOON + timedelta(minutes=2)))
    (task,) = tasks(sessions)
    assert task.status == "closed_by_contact" and task.closed_by_call == "3.3"
    assert task.closed_at == NOON + timedelta(minutes=2)
    # the number may open a new task once the old one is closed
    await missed.on_event(store_miss(sessions, "3.4", "13900000001", NOON + timedelta(minutes=9)))
    assert [t.status for t in tasks(sessions)] == ["closed_by_contact", "open"]


@pytest.mark.parametrize(
    ("local", "due_local"),
    [
        ((12, 0), (2026, 11, 30, 12, 30)),
        ((7, 10), (2026, 11, 30, 8, 0)),  # 07:40 is before the opening: due at 08:00
        ((20, 29), (2026, 11, 30, 20, 59)),
        ((20, 30), (2026, 12, 1, 8, 0)),  # 21:00 is the closing: due at the next day's opening
        ((23, 50), (2026, 12, 1, 8, 0)),
    ],
)
async def test_due_times_fall_within_the_calling_hours(
    sessions: sessionmaker[Session], local: tuple[int, int], due_local: tuple[int, ...]
) -> None:
    zone = SETTINGS.zone
    at = datetime.combine(date(2026, 11, 30), time(*local), zone).astimezone(UTC)
    missed, _ = service(sessions, Clock(at))
    await missed.on_event(store_miss(sessions, "4.1", "13900000001", at))
    (task,) = tasks(sessions)
    assert task.due_at == datetime(*due_local, tzinfo=zone)


async def test_claims_hold_one_agent_at_a_time_and_lapse(sessions: sessionmaker[Session]) -> None:
    clock = Clock(NOON)
    missed, _ = service(sessions, clock)
    await missed.on_event(store_miss(sessions, "5.1", "13900000001", NOON))
    (task,) = tasks(sessions)
    with sessions.begin() as s:
        claim(s, SETTINGS, AGENT, task.id, clock())
    clock.advance(minutes=9, seconds=59)
    with pytest.raises(MissedCallClaimed) as refused, sessions.begin() as s:
        claim(s, SETTINGS, OTHER, task.id, clock())
    assert refused.value.detail["claimed_by"] == "1001"
    with pytest.raises(MissedCallClaimed), sessions.begin() as s:
        attempt(s, OTHER, task.id, AttemptOutcome.REACHED, "", clock())
    clock.advance(seconds=1)  # ten minutes: the claim has lapsed
    with sessions.begin() as s:
        claimed = claim(s, SETTINGS, OTHER, task.id, clock())
        assert claimed.claimed_by == "1002" and claimed.claim_until == clock() + timedelta(minutes=10)
    with sessions() as s:
        items, total = list_missed(s, AGENT, clock())
    assert total == 1 and items[0]["claimed_by"] == "1002"


async def test_attempt_outcomes(sessions: sessionmaker[Session]) -> None:
    clock = Clock(NOON)
    missed, _ = service(sessions, clock)
    for n in range(3):
        await missed.on_event(store_miss(sessions, f"6.{n}", f"1390000000{n}", NOON))
    a, b, c = (t.id for t in tasks(sessions))
    clock.advance(minutes=5)
    with sessions.begin() as s:
        claim(s, SETTINGS, AGENT, a, clock())
        attempt(s, AGENT, a, AttemptOutcome.NOT_REACHED, "no answer", clock())
    with sessions.begin() as s:  # the claim ended with the attempt: another agent may try at once
        claim(s, SETTINGS, OTHER, a, clock())
        attempt(s, OTHER, a, AttemptOutcome.REACHED, "told them the case number", clock())
    clock.advance(minutes=1)
    with sessions.begin() as s:
        attempt(s, AGENT, b, AttemptOutcome.WRONG_NUMBER, "", clock())
    with pytest.raises(MissedCallClosed), sessions.begin() as s:
        attempt(s, AGENT, a, AttemptOutcome.REACHED, "", clock())
    first, second, third = tasks(sessions)
    assert (first.status, first.attempts, first.last_attempt_by) == ("called_back", 2, "1002")
    assert first.first_attempt_at == NOON + timedelta(minutes=5) and first.open_number is None
    assert first.notes == "told them the case number" and first.claimed_by is None
    assert (second.status, second.attempts, second.last_outcome) == ("wrong_number", 1, "wrong_number")
    assert third.status == "open"
    with sessions() as s:
        items, total = list_missed(s, AGENT, clock(), "all")
        actions = [json.loads(d or "{}").get("outcome") for d in s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "missed_call_attempt").order_by(AuditEntry.id)
        )]  # fmt: skip
    assert [i["id"] for i in items] == [c, b, a] and total == 3  # the open first, then the latest closed
    assert actions == ["not_reached", "reached", "wrong_number"]


async def test_the_list_orders_by_due_time_filters_and_pages_and_refuses_other_roles(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock(NOON)
    missed, _ = service(sessions, clock)
    for n, minutes in enumerate((20, 0, 10)):
        await missed.on_event(store_miss(sessions, f"7.{n}", f"1390000000{n}", NOON + timedelta(minutes=minutes)))
    clock.advance(minutes=35)
    with sessions() as s:
        items, total = list_missed(s, AGENT, clock(), "open", limit=2)
        assert [i["caller"] for i in items] == ["13900000001", "13900000002"] and total == 3
        page, _ = list_missed(s, AGENT, clock(), "open", limit=2, offset=2)
        assert [i["caller"] for i in page] == ["13900000000"]
        overdue, count = list_missed(s, AGENT, clock(), "overdue")
        assert [i["caller"] for i in overdue] == ["13900000001"] and count == 1 and overdue[0]["overdue"]
        for role in (Role.QA, Role.HOTLINE_UNIT, Role.DEPARTMENT):
            with pytest.raises(MissedCallPermissionDenied):
                list_missed(s, Actor(user_id=None, login="x", role=role), clock())


async def test_the_share_called_back_in_time_matches_a_hand_count(sessions: sessionmaker[Session]) -> None:
    clock = Clock(NOON)
    missed, _ = service(sessions, clock)
    numbers = [f"139000000{n:02d}" for n in range(7)]
    for n, number in enumerate(numbers):  # seven tasks on 12345 at 12:00-12:06, due 12:30-12:36
        await missed.on_event(store_miss(sessions, f"8.{n}", number, NOON + timedelta(minutes=n)))
    await missed.on_event(store_miss(sessions, "8.9", "13911111111", NOON, hotline="12319"))
    yesterday = NOON - timedelta(days=1)
    await missed.on_event(store_miss(sessions, "8.8", "13922222222", yesterday))
    ids = [t.id for t in tasks(sessions)]

    def act(task: int, outcome: AttemptOutcome, minutes: float) -> None:
        with sessions.begin() as s:
            attempt(s, AGENT, task, outcome, "", NOON + timedelta(minutes=minutes))

    act(ids[0], AttemptOutcome.REACHED, 10)  # in time, reached
    act(ids[1], AttemptOutcome.NOT_REACHED, 31)  # in time (due 12:31), not reached
    act(ids[2], AttemptOutcome.REACHED, 40)  # late
    await missed.on_event(store_answered(sessions, "8.20", numbers[3], NOON + timedelta(minutes=15)))  # in time
    await missed.on_event(store_answered(sessions, "8.21", numbers[4], NOON + timedelta(minutes=50)))  # late
    # numbers[5] (due 12:35) is never called back; numbers[6] (due 12:36) is not due yet at 12:35:30
    clock.t = NOON + timedelta(minutes=35, seconds=30)
    with sessions() as s:
        (figures,) = called_back_in_time(s, SETTINGS, date(2026, 11, 30), clock(), hotline="12345")
        every = called_back_in_time(s, SETTINGS, date(2026, 11, 30), clock())
    # hand count: 7 missed; contact in time 1 (numbers[3]); pending 1 (numbers[6]); counted 7 - 1 - 1 = 5
    # (0, 1, 2, 4, 5); in time 2 (0, 1); reached 2 (0, 2)
    assert figures == {
        "day": "2026-11-30",
        "hotline": "12345",
        "missed": 7,
        "contact_in_time": 1,
        "pending": 1,
        "counted": 5,
        "in_time": 2,
        "reached": 2,
        "share": 0.4,
    }
    assert [(f["hotline"], f["missed"], f["share"]) for f in every] == [("12319", 1, 0.0), ("12345", 7, 0.4)]


def test_settings_from_the_config_file() -> None:
    settings = MissedSettings.from_config(load_config(ROOT / "config.yaml"))
    assert settings.target == timedelta(minutes=30) and settings.claim == timedelta(minutes=10)
    assert (settings.opening, settings.closing, settings.zone.key) == (time(8), time(21), "Asia/Shanghai")
