"""The supervisor's figures for today, per hotline and per agent, computed from the call records.

Definitions (the ones published centres use):
- *offered*: calls that reached the queue's side of the platform today (answered + abandoned + still
  waiting); calls refused by admission control or to numbers that are not hotlines are counted apart.
- *service level*: answered within the threshold (15 s by default) ÷ (answered + abandoned), in percent;
  None while nothing was answered or abandoned.
- *wait*: arrival until answer; *talk*: answer until end. Averages over answered calls.
- *today*: the centre's local day (config `centre.timezone`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from schema.calls import CallDirection, CallRecord, CallState

WAITING = ("arrived", "queued", "ringing")


@dataclass
class HotlineFigures:
    hotline: str
    waiting: int = 0
    longest_wait_seconds: float = 0.0
    talking: int = 0
    answered: int = 0
    answered_in_threshold: int = 0
    abandoned: int = 0
    refused: int = 0  # admission control (overflow)
    callbacks_requested: int = 0
    wait_total: float = 0.0
    talk_total: float = 0.0
    talk_count: int = 0

    @property
    def service_level(self) -> float | None:
        base = self.answered + self.abandoned
        return round(100.0 * self.answered_in_threshold / base, 1) if base else None

    @property
    def average_wait(self) -> float | None:
        return round(self.wait_total / self.answered, 1) if self.answered else None

    @property
    def average_talk(self) -> float | None:
        return round(self.talk_total / self.talk_count, 1) if self.talk_count else None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("wait_total", "talk_total", "talk_count")}
        out.update(service_level=self.service_level, average_wait=self.average_wait, average_talk=self.average_talk)
        return out


@dataclass
class AgentFigures:
    agent: str
    answered: int = 0
    talk_total: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        avg = round(self.talk_total / self.answered, 1) if self.answered else None
        return {
            "agent": self.agent,
            "answered": self.answered,
            "talk_seconds": round(self.talk_total, 1),
            "average_talk": avg,
        }


@dataclass
class Wallboard:
    at: datetime
    threshold_seconds: int
    total: HotlineFigures
    hotlines: list[HotlineFigures]
    agents: list[AgentFigures]
    intervals: dict[str, list[int]] = field(default_factory=dict)  # hotline -> calls per 15 min, 96 slots

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "threshold_seconds": self.threshold_seconds,
            "total": self.total.as_dict(),
            "hotlines": [h.as_dict() for h in self.hotlines],
            "agents": [a.as_dict() for a in self.agents],
            "calls_per_15_minutes": self.intervals,
        }


def day_start(now: datetime, timezone: str) -> datetime:
    """Midnight of the centre's local day that `now` falls in, in UTC."""
    tz = ZoneInfo(timezone)
    return datetime.combine(now.astimezone(tz).date(), time(0), tz).astimezone(UTC)


def compute(
    session: Session,
    hotlines: list[str],
    *,
    now: datetime | None = None,
    timezone: str = "Asia/Shanghai",
    threshold_seconds: int = 15,
) -> Wallboard:
    now = now or datetime.now(UTC)
    start = day_start(now, timezone)
    rows = session.scalars(
        select(CallRecord).where(
            CallRecord.arrived_at >= start,
            CallRecord.arrived_at < start + timedelta(days=1),
            CallRecord.direction == CallDirection.INBOUND,  # an agent's calls to citizens are not the hotline's
        )
    ).all()
    return compute_rows(rows, hotlines, now=now, start=start, threshold_seconds=threshold_seconds)


class CallRow(Protocol):
    """The columns of a call record the figures need (a CallRecord, or a light row of just these)."""

    @property
    def hotline(self) -> str | None: ...
    @property
    def state(self) -> str: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def arrived_at(self) -> datetime: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def wait_seconds(self) -> float | None: ...
    @property
    def talk_seconds(self) -> float | None: ...
    @property
    def end_reason(self) -> str | None: ...


def compute_rows(
    rows: Iterable[CallRow], hotlines: list[str], *, now: datetime, start: datetime, threshold_seconds: int = 15
) -> Wallboard:
    """The figures from today's call rows (`start`: the local day's midnight in UTC)."""
    tally = Tally(hotlines, start, threshold_seconds)
    for r in rows:
        tally.add(r, now)
    return tally.board(now)


class Tally:
    """Running figures: rows are added one at a time; `copy` lets finished calls be counted once and the
    calls still in progress be added to a copy at every snapshot."""

    def __init__(self, hotlines: list[str], start: datetime, threshold_seconds: int) -> None:
        self.hotlines = list(hotlines)
        self.start = start
        self.threshold = threshold_seconds
        self.per: dict[str, HotlineFigures] = {h: HotlineFigures(h) for h in hotlines}
        self.total = HotlineFigures("all")
        self.agents: dict[str, AgentFigures] = {}
        self.intervals: dict[str, list[int]] = {}

    def add(self, r: CallRow, now: datetime) -> None:
        if r.hotline is None:
            return  # a number that is not a hotline
        figs = [self.per.setdefault(r.hotline, HotlineFigures(r.hotline)), self.total]
        slot = int((r.arrived_at - self.start).total_seconds() // 900)
        self.intervals.setdefault(r.hotline, [0] * 96)[min(95, max(0, slot))] += 1
        for f in figs:
            _count(f, r, now, self.threshold)
        if r.answered_at is not None and r.agent:
            a = self.agents.setdefault(r.agent, AgentFigures(r.agent))
            a.answered += 1
            a.talk_total += r.talk_seconds or 0.0

    def copy(self) -> Tally:
        out = Tally([], self.start, self.threshold)
        out.hotlines = list(self.hotlines)
        out.per = {h: replace(f) for h, f in self.per.items()}
        out.total = replace(self.total)
        out.agents = {a: replace(f) for a, f in self.agents.items()}
        out.intervals = {h: list(v) for h, v in self.intervals.items()}
        return out

    def board(self, now: datetime) -> Wallboard:
        return Wallboard(
            at=now,
            threshold_seconds=self.threshold,
            total=self.total,
            hotlines=[self.per[h] for h in self.hotlines] + [f for h, f in self.per.items() if h not in self.hotlines],
            agents=sorted(self.agents.values(), key=lambda a: a.agent),
            intervals=dict(self.intervals),
        )


_COLUMNS = (
    CallRecord.id,
    CallRecord.hotline,
    CallRecord.state,
    CallRecord.agent,
    CallRecord.arrived_at,
    CallRecord.answered_at,
    CallRecord.wait_seconds,
    CallRecord.talk_seconds,
    CallRecord.end_reason,
)
TERMINAL = frozenset(s.value for s in CallState if s.terminal)


class TodayCalls:
    """Today's figures kept up to date incrementally, so that a live wallboard costs one small query and
    the calls in progress per snapshot instead of reading and counting the whole day again.

    A call that has ended does not change any more: it is counted once into a running tally. Each refresh
    reads only rows newer than the newest seen (by primary key) and the rows that were still in progress at
    the last refresh; the snapshot is the tally plus the calls in progress (whose waits depend on `now`). At
    the turn of the day, and every `full_every` refreshes (a safety net for rows committed out of id order
    by another server on a shared database), the day is read again in full. One refresher at a time.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        timezone: str,
        hotlines: list[str] | None = None,
        threshold_seconds: int = 15,
        full_every: int = 600,
    ) -> None:
        self.sessions = sessions
        self.timezone = timezone
        self.hotlines = list(hotlines or [])
        self.threshold = threshold_seconds
        self.full_every = full_every
        self.open: dict[int, Any] = {}
        self.closed: Tally | None = None
        self.start: datetime | None = None
        self.max_id = 0
        self.refreshes = 0
        self.last_read = 0
        """How many rows the last refresh read from the database."""

    def refresh(self, now: datetime) -> Wallboard:
        start = day_start(now, self.timezone)
        full = self.closed is None or start != self.start or self.refreshes % self.full_every == 0
        self.refreshes += 1
        window = (
            CallRecord.arrived_at >= start,
            CallRecord.arrived_at < start + timedelta(days=1),
            CallRecord.direction == CallDirection.INBOUND,
        )
        with self.sessions() as s:
            if full:
                fresh = s.execute(select(*_COLUMNS).where(*window)).all()
                self.open = {}
                self.closed = Tally(self.hotlines, start, self.threshold)
                self.start = start
            else:
                changed = CallRecord.id > self.max_id
                if self.open:
                    changed = or_(changed, CallRecord.id.in_(list(self.open)))
                fresh = s.execute(select(*_COLUMNS).where(*window, changed)).all()
        assert self.closed is not None
        for r in fresh:
            self.max_id = max(self.max_id, r.id)
            if r.state in TERMINAL:
                self.open.pop(r.id, None)
                self.closed.add(r, now)
            else:
                self.open[r.id] = r
        self.last_read = len(fresh)
        tally = self.closed.copy()
        for r in self.open.values():
            tally.add(r, now)
        return tally.board(now)


def _count(f: HotlineFigures, r: CallRow, now: datetime, threshold: int) -> None:
    if r.state in WAITING:
        f.waiting += 1
        f.longest_wait_seconds = max(f.longest_wait_seconds, round((now - r.arrived_at).total_seconds(), 1))
        return
    if r.state == "connected":
        f.talking += 1
    if r.answered_at is not None:
        f.answered += 1
        wait = r.wait_seconds if r.wait_seconds is not None else (r.answered_at - r.arrived_at).total_seconds()
        f.wait_total += wait
        if wait <= threshold:
            f.answered_in_threshold += 1
        if r.talk_seconds is not None:
            f.talk_total += r.talk_seconds
            f.talk_count += 1
    elif r.state == "abandoned" or r.end_reason in ("queue_timeout",):
        f.abandoned += 1
    elif r.end_reason == "callback_requested":
        f.callbacks_requested += 1
    elif r.end_reason == "overflow":
        f.refused += 1


def write_chart(board: Wallboard, path: str, timezone: str = "Asia/Shanghai") -> None:
    """Calls per 15 minutes today, stacked by hotline, as a PNG (Chinese labels need a CJK font)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "DejaVu Sans"]
    fig, ax = plt.subplots(figsize=(11, 4), dpi=100)
    bottom = [0] * 96
    x = list(range(96))
    for hotline, counts in sorted(board.intervals.items()):
        ax.bar(x, counts, bottom=bottom, width=0.9, label=hotline)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    local = board.at.astimezone(ZoneInfo(timezone))
    ax.set_title(f"今日来电（每15分钟） Calls per 15 minutes — {local:%Y-%m-%d %H:%M}")
    ax.set_xticks(range(0, 96, 8), [f"{h:02d}:00" for h in range(0, 24, 2)])
    ax.set_ylabel("来电 calls")
    ax.legend(title="热线 hotline", ncols=4, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
