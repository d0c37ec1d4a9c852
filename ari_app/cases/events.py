"""Typed domain events of the case workflow, for the people who must act next.

The service collects them on the session while it works (`emit`). In the server, `publish_after_commit`
hands each transaction's events to the event bus right after its commit, whoever ran it (a desktop's
request, the IVR, the periodic runner); the link pushes them to their `Audience`. Events of a rolled-back
transaction are never published. `take_events` returns what a session collected (published or not) for a
caller that reports on them (the runner, tests); `discard_events` drops them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from schema.users import Role

_KEY = "ari_app.cases.events"
_SENT = "ari_app.cases.events.sent"


@dataclass(frozen=True)
class Audience:
    """Who must act: users with one of `roles`; a hotline unit's only for `hotline`, a department's only for
    one of `units` (the case's units). The centre's roles are not narrowed: they see every case."""

    roles: frozenset[Role]
    hotline: str | None = None
    units: frozenset[int] = frozenset()

    def includes(self, role: Role, hotline: str | None, units: Collection[int]) -> bool:
        """Whether a user with `role`, of `hotline` (a hotline unit's) and acting for `units` (a department's
        own unit and the 3rd-level units under it, as `service.unit_scope`) is in this audience. A hotline
        unit or a department is never in an audience that names no hotline or no unit: a case is only theirs
        when it says so."""
        if role not in self.roles:
            return False
        if role is Role.HOTLINE_UNIT:
            return hotline is not None and hotline == self.hotline
        if role is Role.DEPARTMENT:
            return not self.units.isdisjoint(units)
        return True


@dataclass(frozen=True)
class CaseEvent:
    case_id: int
    number: str
    at: datetime
    audience: Audience


@dataclass(frozen=True)
class CaseCreated(CaseEvent):
    hotline: str


@dataclass(frozen=True)
class CaseStatusChanged(CaseEvent):
    action: str
    old: str
    new: str


@dataclass(frozen=True)
class ShareEvent(CaseEvent):
    """An event about one unit's share of a case (`unit_id`) and its handling deadline (`deadline_at`)."""

    unit_id: int
    deadline_at: datetime


@dataclass(frozen=True)
class CaseDispatched(ShareEvent):
    """The case was sent to the unit."""


@dataclass(frozen=True)
class SupervisionRaised(CaseEvent):
    """A case was escalated (督办): overdue by the clock (`overdue`), or by a supervisor's instruction."""

    level: int
    unit_id: int | None
    overdue: bool
    leader: bool
    instructions: str | None


@dataclass(frozen=True)
class DeadlineApproaching(ShareEvent):
    """The unit's share is due soon."""


@dataclass(frozen=True)
class ExchangeAlert(CaseEvent):
    """What the platform's own exchange work found about an exchange-mode case of `hotline`."""

    hotline: str


@dataclass(frozen=True)
class ExchangeRefused(ExchangeAlert):
    """The hotline's own system refused an exchange-mode case for good (a GeoReport v2 4xx answer other
    than 408/429); the case is back on the centre's work list. `errors` are the receiver's
    `{"code", "description"}` items, `http_status` its HTTP status. Audience: the centre's supervisors."""

    http_status: int
    errors: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ExchangeStalled(ExchangeAlert):
    """An exchange-mode case's message has failed to reach the hotline's own system `attempts` times in a
    row (no answer, 5xx, 408/429, an unreadable answer or api_key), for about `exchange.STALL_ATTEMPTS`'
    worth of backoff; it is still retried, and nobody has the case meanwhile. Told once per message.
    `error` is the last failure. Audience: the centre's supervisors."""

    attempts: int
    error: str


def emit(session: Session, event: CaseEvent) -> None:
    session.info.setdefault(_KEY, []).append(event)


def take_events(session: Session) -> list[CaseEvent]:
    """The events collected since the last call; call after commit."""
    events: list[CaseEvent] = session.info.pop(_KEY, [])
    session.info.pop(_SENT, None)
    return events


def discard_events(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_SENT, None)


def publish_after_commit(sessions: sessionmaker[Session], publish: Callable[[CaseEvent], None]) -> None:
    """After every commit of a session `sessions` makes, hand the events that transaction emitted to
    `publish`, in order, once (called in the committing thread: `publish` must be thread-safe, as
    `EventBus.publish` is). A rollback drops the events emitted since the last commit."""

    def committed(session: Session) -> None:
        events: list[CaseEvent] = session.info.get(_KEY, [])
        sent: int = session.info.get(_SENT, 0)
        for event in events[sent:]:
            publish(event)
        session.info[_SENT] = len(events)

    def rolled_back(session: Session) -> None:
        events: list[CaseEvent] = session.info.get(_KEY, [])
        del events[session.info.get(_SENT, 0) :]

    sa_event.listen(sessions, "after_commit", committed)
    sa_event.listen(sessions, "after_rollback", rolled_back)
