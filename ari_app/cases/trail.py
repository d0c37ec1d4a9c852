"""Reading the audit trail (`audit_log`, written by ari_app.cases.audit: `audit` and `record_refusal`) with
filters: who, which actions, which case, a time window, refusals only. Used by `hotline audit`; a web front
would read it the same way.

What counts as a refusal (`refusals_only`): the `refused` entries (a request answered with an error id:
the case service, the QA, transfer and case desks of the link, and the link's own refusals such as a
request before signing in), failed and throttled sign-ins (`sign_in_failed`, `sign_in_throttled`, written
by the link), the count of entries a flood made the link drop (`audit_rows_dropped`), and a supervisor's
refused action (`supervise_<action>` whose outcome is not `done`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, select
from sqlalchemy.orm import Session

from ari_app.cases.audit import REFUSED
from schema.cases import AuditEntry, Case

REFUSAL_ACTIONS = (REFUSED, "sign_in_failed", "sign_in_throttled", "audit_rows_dropped")
SUPERVISE_PREFIX = "supervise_"
SUPERVISE_DONE = '"outcome": "done"'
"""How a done supervisor action reads in its entry's detail (JSON with sorted keys, default separators)."""
ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}\*?$")
"""An action name, or a prefix of one followed by `*`."""


@dataclass(frozen=True)
class TrailEntry:
    id: int
    at: datetime
    login: str
    role: str
    action: str
    case_id: int | None
    case_number: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class TrailFilter:
    """Every field narrows the trail; empty ones do not. `actions`: names, or prefixes ending in `*`.
    `case`: an id or a case number. `since` is included, `until` excluded (aware datetimes)."""

    logins: Sequence[str] = ()
    actions: Sequence[str] = ()
    case: int | str | None = None
    since: datetime | None = None
    until: datetime | None = None
    refusals_only: bool = False
    limit: int = 50


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _action(name: str) -> ColumnElement[bool]:
    if name.endswith("*"):
        return AuditEntry.action.like(_like_escape(name[:-1]) + "%", escape="\\")
    return AuditEntry.action == name


def refusal() -> ColumnElement[bool]:
    """The condition on audit entries that are refusals (see the module's docstring)."""
    supervise = and_(
        AuditEntry.action.like(_like_escape(SUPERVISE_PREFIX) + "%", escape="\\"),
        or_(AuditEntry.detail.is_(None), not_(AuditEntry.detail.contains(SUPERVISE_DONE, autoescape=True))),
    )
    return or_(AuditEntry.action.in_(REFUSAL_ACTIONS), supervise)


def _case(session: Session, case: int | str) -> ColumnElement[bool]:
    """Entries about the case; for a case that does not exist (or a number asked for before it existed),
    the refusals that named it."""
    if isinstance(case, int):
        found = session.scalar(select(Case.id).where(Case.id == case)) if 0 < case < 2**63 else None
    else:
        found = session.scalar(select(Case.id).where(Case.number == case))
    named = json.dumps(case, ensure_ascii=False)
    asked = AuditEntry.detail.contains(f'"case": {named},', autoescape=True) | AuditEntry.detail.contains(
        f'"case": {named}}}', autoescape=True
    )
    by_refusal = and_(AuditEntry.action == REFUSED, asked)
    return by_refusal if found is None else or_(AuditEntry.case_id == found, by_refusal)


def read(session: Session, f: TrailFilter) -> list[TrailEntry]:
    """The entries matching `f`, newest first, at most `f.limit`. ValueError for an action that is not a
    name or a prefix with `*`."""
    for name in f.actions:
        if not ACTION_PATTERN.match(name):
            raise ValueError(f"not an action name or prefix: {name!r}")
    stmt = select(AuditEntry, Case.number).outerjoin(Case, Case.id == AuditEntry.case_id)
    if f.logins:
        stmt = stmt.where(AuditEntry.login.in_(list(f.logins)))
    if f.actions:
        stmt = stmt.where(or_(false(), *(_action(a) for a in f.actions)))
    if f.case is not None:
        stmt = stmt.where(_case(session, f.case))
    if f.since is not None:
        stmt = stmt.where(AuditEntry.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEntry.at < f.until)
    if f.refusals_only:
        stmt = stmt.where(refusal())
    stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(f.limit)
    out = []
    for entry, number in session.execute(stmt):
        try:
            detail = json.loads(entry.detail) if entry.detail else {}
        except ValueError:
            detail = {"text": entry.detail}
        if not isinstance(detail, dict):
            detail = {"value": detail}
        out.append(TrailEntry(entry.id, entry.at, entry.login, entry.role, entry.action, entry.case_id, number, detail))
    return out
