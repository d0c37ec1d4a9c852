"""Looking cases up, on a Session: one case (`get_case`), a caller's earlier cases (`caller_history`, and
`histories` for the screen-pop) and a search (`search_cases`). Only the cases the actor may see
(ari_app.cases.access); every lookup for a person is audited (ari_app.cases.audit), in the caller's
transaction.

Flushes, never commits: the caller owns the transaction (the package's contract, ari_app.cases). What a
desktop asks for, each request in a transaction of its own, is ari_app.cases.queries, built on these.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import ColumnElement, Select, String, bindparam, false, or_, select
from sqlalchemy.orm import Session

from ari_app.calls.numbers import NumberError
from ari_app.cases.access import load_case, restrict
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.cases.disclosure import Viewer, matchable
from ari_app.cases.settings import settings_of
from schema.cases import Case
from schema.users import Role


def get_case(session: Session, actor: Actor, case_id: int | str) -> Case:
    """One case by id or number, if the actor may see it; the read is audited."""
    settings = settings_of(session)
    case = load_case(session, actor, case_id)
    audit(session, actor, "view", case.id, settings.now())
    session.flush()
    return case


def caller_history(session: Session, actor: Actor, caller: str, limit: int = 10) -> list[Case]:
    """The caller's earlier cases (by calling or contact number), most recent first, only those the actor
    may see. For the screen-pop; audited as one lookup. The number may be in any form (+8613812345678,
    13812345678, ...): it is compared in its canonical form (ari_app.calls.numbers), in which cases store
    it. A withheld caller (`anonymous`, `unknown`, empty, ...; `ari_app.calls.numbers.is_withheld`) has no
    history: that text is shared by every citizen who withholds their number, and matching it would show one
    citizen's cases to the agent talking to another."""
    settings = settings_of(session)
    found = settings.numbers.caller(caller)
    if found.withheld:
        return []
    cases = list(session.scalars(restrict(_history_of(limit, actor.role), actor), {"number": found.canonical}))
    audit(session, actor, "caller_history", None, settings.now(), caller=found.canonical, found=len(cases))
    session.flush()
    return cases


def histories(session: Session, callers: Iterable[str], limit: int = 10) -> dict[str, list[Case]]:
    """Each caller's earlier cases as the centre sees them (every case), most recent first, keyed by the
    number as given (compared canonically; a withheld caller has none, as in `caller_history`). Not
    audited: for the screen-pop, which shows them to a centre agent and audits that it did
    (ari_app.link.history)."""
    settings = settings_of(session)
    stmt = _history_of(limit, Role.AGENT)  # built once for every caller: only the number changes
    out: dict[str, list[Case]] = {}
    for caller in callers:
        found = settings.numbers.caller(caller)
        out[caller] = [] if found.withheld else list(session.scalars(stmt, {"number": found.canonical}))
    return out


@lru_cache(maxsize=64)
def _history_of(limit: int, viewer: Viewer) -> Select[Case]:
    """The cases of the number given as the parameter `number`, as `viewer` may look them up by it
    (`disclosure.matchable`: not a confidential case's unless `viewer` is the centre's). Built once per
    (limit, viewer): a screen-pop asks for it on every call, and building it cost about 0.4 ms."""
    number = bindparam("number", type_=String)
    return (
        select(Case)
        .where(matchable(viewer, Case.caller == number, Case.contact == number))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(max(1, min(limit, 200)))
    )


def search_cases(
    session: Session, actor: Actor, text: str | None = None, limit: int = 50, mine: bool = False
) -> list[Case]:
    """Cases the actor may see matching `text` (number, request, address, citizen, caller or contact),
    newest first. A phone number in another form than the stored one (+86 138 1234 5678) also finds the
    cases of that number. The citizen's fields of a confidential case (保密工单) match only for the centre's
    roles (`disclosure.matchable`): a unit cannot find it by the citizen's name or number. `mine`: only cases
    the actor took."""
    settings = settings_of(session)
    stmt = select(Case).order_by(Case.created_at.desc(), Case.id.desc()).limit(max(1, min(limit, 500)))
    if text and text.strip():
        like = f"%{text.strip()}%"
        citizen: list[ColumnElement[bool]] = [
            Case.citizen_name.ilike(like),
            Case.caller.ilike(like),
            Case.contact.ilike(like),
        ]
        try:
            phone = settings.numbers.parse(text).canonical
        except NumberError:
            phone = None
        if phone:
            citizen += [Case.caller == phone, Case.contact == phone]
        matches: list[ColumnElement[bool]] = [
            Case.number.ilike(like),
            Case.request.ilike(like),
            Case.address.ilike(like),
            matchable(actor.role, *citizen),
        ]
        stmt = stmt.where(or_(*matches))
    if mine:
        stmt = stmt.where(Case.created_by == actor.user_id if actor.user_id is not None else false())
    cases = list(session.scalars(restrict(stmt, actor, many=True)))
    audit(session, actor, "search", None, settings.now(), text=text, mine=mine, found=len(cases))
    session.flush()
    return cases
