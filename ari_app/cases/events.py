"""Typed domain events of the case workflow, for the people who must act next.

The service collects them on the session while it works (`pending`); the edge that owns the transaction
takes them after a successful commit (`take_events`) and delivers them (websocket, notifications). Events of
a rolled-back transaction are dropped with `discard_events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from schema.users import Role

_KEY = "ari_app.cases.events"


@dataclass(frozen=True)
class Audience:
    """Who must act: users with one of `roles`, narrowed to a hotline or a unit when set."""

    roles: frozenset[Role]
    hotline: str | None = None
    unit_id: int | None = None


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
class CaseDispatched(CaseEvent):
    unit_id: int
    deadline_at: datetime


@dataclass(frozen=True)
class SupervisionRaised(CaseEvent):
    """A case was escalated (督办): overdue by the clock (`overdue`), or by a supervisor's instruction."""

    level: int
    unit_id: int | None
    overdue: bool
    leader: bool
    instructions: str | None


@dataclass(frozen=True)
class DeadlineApproaching(CaseEvent):
    unit_id: int
    deadline_at: datetime


@dataclass(frozen=True)
class ExchangeRefused(CaseEvent):
    """The hotline's own system refused an exchange-mode case for good (a GeoReport v2 4xx answer other
    than 408/429); the case is back on the centre's work list. `errors` are the receiver's
    `{"code", "description"}` items, `http_status` its HTTP status. Audience: the centre's supervisors."""

    hotline: str
    http_status: int
    errors: tuple[tuple[str, str], ...]


def emit(session: Session, event: CaseEvent) -> None:
    session.info.setdefault(_KEY, []).append(event)


def take_events(session: Session) -> list[CaseEvent]:
    """The events collected since the last call; call after commit."""
    events: list[CaseEvent] = session.info.pop(_KEY, [])
    return events


def discard_events(session: Session) -> None:
    session.info.pop(_KEY, None)
