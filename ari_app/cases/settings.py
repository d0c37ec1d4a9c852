"""What the case workflow needs from the deployment, handed to sessions at wiring time.

The service functions take only a Session; the settings ride on it (`Session.info`), put there once by the
wiring code with `configure(sessionmaker, CaseSettings.from_config(cfg))`. Nothing is global, and a
session that was never configured is refused with `cases_not_configured` instead of guessing modes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, object_session, sessionmaker

from ari_app.calls.numbers import NumberPlan
from ari_app.cases.calendar import WorkCalendar
from ari_app.cases.errors import NotConfigured, UnknownHotline
from ari_app.config import AttachmentRules, Config, DeadlineTable, HotlineMode, Partner

_KEY = "ari_app.cases.settings"


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class HotlineRules:
    number: str
    mode: HotlineMode
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class EscalationPolicy:
    """How overdue work is escalated: level n is reached once the work is `steps[n-1]` past its deadline."""

    steps: tuple[timedelta, ...] = (timedelta(0), timedelta(hours=24), timedelta(hours=72))

    def level(self, overdue_by: timedelta) -> int:
        if overdue_by <= timedelta(0):
            return 0
        return sum(1 for step in self.steps if overdue_by > step)


@dataclass(frozen=True)
class CaseSettings:
    hotlines: Mapping[str, HotlineRules]
    timezone: tzinfo = UTC
    default_deadline_hours: int = 72
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)
    clock: Callable[[], datetime] = system_clock
    numbers: NumberPlan = field(default_factory=NumberPlan)
    """How callers and contact numbers are read and compared (ari_app.calls.numbers; the centre's rules)."""
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    """Working days and office hours, for deadlines in working days or hours (ari_app.cases.calendar)."""
    merge_window_days: int = 30
    """并单: how many days before a case its duplicates are looked for (ari_app.cases.merging)."""
    follow_up_due_working_days: int = 1
    """回访: the follow-up is due by the end of this many working days after handling (config.yaml
    `cases.follow_up.due_working_days`; ari_app.cases.follow_ups)."""
    attachments: AttachmentRules = field(default_factory=AttachmentRules)
    """Where attachment files are kept, their limits, types and retention (ari_app.cases.attachments)."""
    deadlines: DeadlineTable | None = None
    """The centre's time limits (config `cases.deadlines`; ari_app.cases.deadlines computes them); None: the
    category's or the default deadline in clock hours, and no sign-for, dispatch or feedback deadline."""
    hotline_deadlines: Mapping[str, DeadlineTable] = field(default_factory=dict)
    """A hotline's own limits (`cases.deadlines.hotlines`), over the centre's."""
    problem_threshold: int = 3
    """问题工单: re-dispatches or send-backs of one case that mark it a problem work order."""
    linkage: Mapping[str, Partner] = field(default_factory=dict)
    """联动: the emergency and police partners by key (config.yaml `linkage`; ari_app.cases.linkage)."""

    @classmethod
    def from_config(cls, cfg: Config, **overrides: Any) -> CaseSettings:
        hotlines = {h.number: HotlineRules(h.number, h.mode, tuple(h.categories)) for h in cfg.hotlines}
        overrides.setdefault("numbers", NumberPlan.from_config(cfg))
        overrides.setdefault("calendar", WorkCalendar.from_config(cfg))
        overrides.setdefault("merge_window_days", cfg.cases.merge_window_days)
        overrides.setdefault("follow_up_due_working_days", cfg.cases.follow_up.due_working_days)
        overrides.setdefault("attachments", cfg.cases.attachments)
        overrides.setdefault("deadlines", cfg.cases.deadlines)
        overrides.setdefault("hotline_deadlines", cfg.cases.hotline_deadlines)
        overrides.setdefault("problem_threshold", cfg.cases.problem_threshold)
        overrides.setdefault("linkage", {p.key: p for p in cfg.linkage})
        return cls(hotlines=hotlines, timezone=ZoneInfo(cfg.timezone), **overrides)

    def hotline(self, number: str) -> HotlineRules:
        rules = self.hotlines.get(number)
        if rules is None:
            raise UnknownHotline(f"{number!r} is not a configured hotline", hotline=number)
        return rules

    def limits(self, number: str) -> DeadlineTable | None:
        """The time limits of hotline `number`: its own, else the centre's, else None (none configured)."""
        return self.hotline_deadlines.get(number, self.deadlines)

    def mode(self, number: str) -> HotlineMode:
        return self.hotline(number).mode

    def now(self, now: datetime | None = None) -> datetime:
        value = now if now is not None else self.clock()
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass an aware one (datetime.now(UTC))")
        return value


def configure(target: Session | sessionmaker[Session], settings: CaseSettings) -> None:
    """Attach the settings to one session, or to every session a sessionmaker makes from now on."""
    if isinstance(target, Session):
        target.info[_KEY] = settings
        return
    info = dict(target.kw.get("info") or {})
    info[_KEY] = settings
    target.configure(info=info)


def numbers_of(obj: object) -> NumberPlan:
    """The number rules of the session `obj` (a stored case, ...) belongs to; the default rules (region CN)
    for an object of no configured session."""
    session = object_session(obj)
    settings = session.info.get(_KEY) if session is not None else None
    return settings.numbers if isinstance(settings, CaseSettings) else NumberPlan()


def attachment_rules_of(obj: object) -> AttachmentRules:
    """The attachment rules of the session `obj` (a stored case, ...) belongs to; the defaults (no folder, no
    public URL) for an object of no configured session."""
    session = object_session(obj)
    settings = session.info.get(_KEY) if session is not None else None
    return settings.attachments if isinstance(settings, CaseSettings) else AttachmentRules()


def settings_of(session: Session) -> CaseSettings:
    settings = session.info.get(_KEY)
    if not isinstance(settings, CaseSettings):
        raise NotConfigured("the session has no case settings: call ari_app.cases.configure() when wiring")
    return settings
