"""The case audit trail's writing side: one entry per change, in the change's own transaction, and one
`refused` entry per refused request, in a transaction of its own (reading it: ari_app.cases.trail).

Refusals: a refused operation (any CaseError: a case the actor may not see, a move their role may not make,
a transition the table does not have, input out of range) rolls back with its transaction, audit entry
included. So whoever runs a request for a person runs it inside `transaction(...)` (or wraps its own
transaction in `refusals_audited(...)`): on a refusal the transaction is rolled back first, then one
`refused` entry (who, role, the request, the case asked for, the error id) is written in a transaction of
its own, and the error goes on to the caller. The link's desks for other features (QA, transfers, the
wallboard) wrap their requests in `async with refusals_audited(...)` the same way, for any DomainError, with
what they know of the request (the call, the client's address) in the entry's detail.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.cases.errors import CaseError
from ari_app.cases.settings import settings_of
from ari_app.protocol import DomainError
from schema.cases import AuditEntry, Case

log = logging.getLogger(__name__)


def audit(session: Session, actor: Actor, action: str, case_id: int | None, now: datetime, /, **detail: Any) -> None:
    """Append one audit entry (who, role, action, case, when, detail) to the current transaction. The first
    five are positional only, so `detail` may have any key (`action`, `case_id`, ...)."""
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None
    row = {"at": now, "user_id": actor.user_id, "login": actor.login, "role": str(actor.role), "action": action}
    # an INSERT of its own rather than an object for the unit of work: what is pending is flushed first (the
    # case it names exists), and the row costs a third of the time (caller history: 1.7 -> 0.6 ms of CPU)
    session.execute(insert(AuditEntry), [row | {"case_id": case_id, "detail": text}])


REFUSED = "refused"
"""The audit action of a refused request. Detail: `request` (what was asked: the desktop link's message
type), `error_id`, `message`, and `case` (the id or number asked for) when there was one."""

_AUDITED = "_hotline_refusal_audited"


def refusal_audited(error: BaseException) -> bool:
    """Whether this error's refusal is already in the audit trail (`record_refusal` wrote it, or the code
    that raised it audited it its own way and said so with `mark_audited`): an outer layer writes no other."""
    return bool(getattr(error, _AUDITED, False))


def mark_audited(error: BaseException) -> None:
    """Say that `error`'s refusal is in the audit trail (written its own way by the code that raised it)."""
    try:
        setattr(error, _AUDITED, True)
    except AttributeError:  # pragma: no cover - an exception type with __slots__
        pass


def _case_id(session: Session, case: int | str | None) -> int | None:
    """The id of the case `case` names (id or number), visible to the actor or not: the trail says what was
    asked for. None when there is no such case."""
    if case is None:
        return None
    if isinstance(case, int):
        return session.scalar(select(Case.id).where(Case.id == case)) if 0 < case < 2**63 else None
    return session.scalar(select(Case.id).where(Case.number == case))


def record_refusal(
    sessions: Callable[[], Session],
    actor: Actor,
    request: str,
    error: BaseException,
    *,
    case: int | str | None = None,
    **detail: Any,
) -> None:
    """Write one `refused` audit entry for `error`, in a new session and transaction of its own: call it
    after the refused operation's transaction has ended (SQLite allows one writer at a time). `case` is the
    case the request named, as given; `detail` adds JSON-able fields. Marks `error` as audited. Never
    raises: if the entry cannot be written the failure is logged and the refusal still reaches the person."""
    error_id = str(getattr(error, "error_id", type(error).__name__))
    message = str(getattr(error, "message", None) or error)
    fields: dict[str, Any] = {"request": str(request), "error_id": error_id, "message": message, **detail}
    if case is not None:
        fields["case"] = case
    try:
        with sessions() as s, s.begin():
            try:
                now = settings_of(s).now()
            except CaseError:
                now = datetime.now(UTC)
            audit(s, actor, REFUSED, _case_id(s, case), now, **fields)
    except Exception:
        log.exception("could not audit the refusal of %s (%s) for %s", request, error_id, actor.login)
        return
    mark_audited(error)


@dataclass(frozen=True)
class RefusalsAudited:
    """What `refusals_audited` returns: a context manager for a block of blocking code (`with`: the entry is
    written before the error goes on) and for a block that awaits (`async with`: the entry is written in a
    worker thread, so the event loop keeps routing)."""

    sessions: Callable[[], Session]
    actor: Actor | None
    request: str
    case: int | str | None
    refusals: tuple[type[BaseException], ...]
    others: Collection[str]
    detail: dict[str, Any]

    def _to_audit(self, error: BaseException | None) -> Actor | None:
        """Who the refusal of `error` is audited for, or None when it is not this block's to audit."""
        if self.actor is None or not isinstance(error, self.refusals) or refusal_audited(error):
            return None
        if getattr(error, "error_id", None) in self.others:
            return None
        return self.actor

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        actor = self._to_audit(error)
        if actor is not None and error is not None:
            record_refusal(self.sessions, actor, self.request, error, case=self.case, **self.detail)

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        actor = self._to_audit(error)
        if actor is not None and error is not None:
            await asyncio.to_thread(
                record_refusal, self.sessions, actor, self.request, error, case=self.case, **self.detail
            )


def refusals_audited(
    sessions: Callable[[], Session],
    actor: Actor | None,
    request: str,
    /,
    *,
    case: int | str | None = None,
    refusals: tuple[type[BaseException], ...] = (DomainError,),
    others: Collection[str] = (),
    **detail: Any,
) -> RefusalsAudited:
    """Around a request whose transaction the caller opens inside (`with`), or a desk's request that awaits
    (`async with`): an exception of a `refusals` type (any DomainError unless told) that leaves the block is
    audited (`record_refusal`, once, with `case` and `detail`, e.g. `call_id`, `source`) and raised again.
    Not audited here: a refusal already in the trail (`refusal_audited`), one whose error id is among
    `others` (audited elsewhere: the link writes those of its own rules, protocol.LINK_REFUSALS), and any
    refusal when there is no `actor` (no one signed in). Other exceptions (a bug, the database failing) are
    not refusals and pass untouched."""
    return RefusalsAudited(sessions, actor, request, case, refusals, others, detail)


@contextmanager
def transaction(
    sessions: Callable[[], Session],
    actor: Actor,
    request: str,
    *,
    case: int | str | None = None,
    refusals: tuple[type[BaseException], ...] = (CaseError,),
) -> Iterator[Session]:
    """One person's request in one transaction: yields the session, commits at the end; on a refusal rolls
    back, then audits the refusal in its own transaction (`refusals_audited`) and raises it again.

        with transaction(sessions, actor, "dispatch_case", case=case_id) as s:
            workflow.dispatch(s, actor, case_id, units=[...])
    """
    with refusals_audited(sessions, actor, request, case=case, refusals=refusals), sessions() as s, s.begin():
        yield s
