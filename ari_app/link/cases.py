"""The database work the link does: reading users for sign-in and the case operations a desktop may ask
for, through the case workflow service (which checks roles and visibility and writes the audit). These are
plain blocking functions; the server runs them in a worker thread so the event loop keeps routing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.cases import service
from ari_app.cases.actor import Actor
from ari_app.protocol import CaseSummary
from schema.cases import Case
from schema.users import Role, User

SUMMARY_REQUEST_CHARS = 500


@dataclass(frozen=True)
class UserRecord:
    user_id: int
    login: str
    display_name: str
    role: Role
    hotline: str | None
    unit_id: int | None
    password_hash: str | None

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, login=self.login, role=self.role, hotline=self.hotline, unit_id=self.unit_id)


def load_user(sessions: sessionmaker[Session], login: str) -> UserRecord | None:
    """The active user with this login, or None."""
    with sessions() as s:
        u = s.scalars(select(User).where(User.login == login, User.active.is_(True))).first()
        if u is None:
            return None
        return UserRecord(u.id, u.login, u.display_name, Role(u.role), u.hotline, u.unit_id, u.password_hash)


def summary(case: Case) -> CaseSummary:
    request = case.request
    if len(request) > SUMMARY_REQUEST_CHARS:
        request = request[: SUMMARY_REQUEST_CHARS - 1] + "…"
    return CaseSummary(
        id=case.id,
        number=case.number,
        hotline=case.hotline,
        status=str(case.status),
        created_at=case.created_at.isoformat(),
        category=case.category.name if case.category is not None else None,
        request=request,
        address=case.address,
        urgency=str(case.urgency),
        handling=str(case.handling),
        caller=case.caller,
        citizen_name=case.citizen_name,
        contact=case.contact,
        call_id=case.call_id,
        created_by=case.created_by_login,
    )


CASE_FIELDS = (
    "hotline",
    "caller",
    "call_id",
    "category",
    "request",
    "address",
    "urgency",
    "citizen_name",
    "contact",
    "language",
    "handling",
)


def create_case(sessions: sessionmaker[Session], actor: Actor, fields: Mapping[str, Any]) -> CaseSummary:
    kwargs: dict[str, Any] = {k: fields.get(k) for k in CASE_FIELDS}
    with sessions() as s, s.begin():
        case = service.create_case(s, actor, **kwargs)
        return summary(case)


def caller_history(sessions: sessionmaker[Session], actor: Actor, caller: str, limit: int = 10) -> list[CaseSummary]:
    with sessions() as s, s.begin():
        return [summary(c) for c in service.caller_history(s, actor, caller, limit=limit)]


def search_cases(
    sessions: sessionmaker[Session], actor: Actor, text: str | None, mine: bool, limit: int = 50
) -> list[CaseSummary]:
    with sessions() as s, s.begin():
        return [summary(c) for c in service.search_cases(s, actor, text, limit=limit, mine=mine)]
