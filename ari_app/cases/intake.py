"""受理: receiving a case. `create_case` checks on the server side that the actor may take cases for the
hotline, numbers the case (`HOTLINE-YYYYMMDD-NNNN`, a sequence per hotline and local day), finds its
category (one listed in config.yaml is created on first use), and writes the audit entry in the same
transaction (ari_app.cases.audit). On an exchange-mode hotline a case not resolved directly is forwarded at
once to the hotline's own system (ari_app.cases.exchange).

Flushes, never commits: the caller owns the transaction (the package's contract, ari_app.cases).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ari_app.cases.access import (
    INTAKE_ROLES,
    audience_for,
    read_caller,
    read_contact,
    read_enum,
    read_text,
    transition,
)
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.cases.errors import InvalidInput, PermissionDenied
from ari_app.cases.events import CaseCreated, emit
from ari_app.cases.exchange import check_intake, enqueue_request, receiver_services
from ari_app.cases.machine import Action, CaseState
from ari_app.cases.settings import CaseSettings, settings_of
from ari_app.cases.surveys import link_call
from ari_app.config import HotlineMode
from schema.cases import Case, CaseCounter, Category, Channel, Handling, Urgency
from schema.users import Role


def _next_number(session: Session, hotline: str, day: str) -> str:
    """`HOTLINE-YYYYMMDD-NNNN`, the sequence per hotline and local day, safe under concurrent intake: the
    counter row is updated in place (row lock on PostgreSQL, the write lock on SQLite)."""
    bump = (
        update(CaseCounter)
        .where(CaseCounter.hotline == hotline, CaseCounter.day == day)
        .values(last=CaseCounter.last + 1)
        .returning(CaseCounter.last)
        .execution_options(synchronize_session=False)
    )
    for _ in range(3):
        seq = session.execute(bump).scalar_one_or_none()
        if seq is not None:
            return f"{hotline}-{day}-{seq:04d}"
        try:
            with session.begin_nested():
                session.add(CaseCounter(hotline=hotline, day=day, last=1))
            return f"{hotline}-{day}-0001"
        except IntegrityError:
            continue  # another intake created the day's counter first; bump it instead
    raise RuntimeError(f"could not number a case for {hotline} on {day}")


def _category(session: Session, settings: CaseSettings, hotline: str, name: str | None) -> Category | None:
    """The hotline's category by name. Categories listed in config.yaml are created on first use (without a
    default unit, with the default deadline); admins refine them in the table."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    cat = session.scalars(select(Category).where(Category.hotline == hotline, Category.name == name)).one_or_none()
    if cat is not None:
        return cat
    if name not in settings.hotline(hotline).categories:
        raise InvalidInput(f"{name!r} is not a category of hotline {hotline}", field="category")
    try:
        with session.begin_nested():
            cat = Category(hotline=hotline, name=name, deadline_hours=settings.default_deadline_hours)
            session.add(cat)
    except IntegrityError:
        cat = session.scalars(select(Category).where(Category.hotline == hotline, Category.name == name)).one()
    return cat


def create_case(
    session: Session,
    actor: Actor,
    *,
    hotline: str,
    caller: str | None,
    call_id: str | None,
    category: str | None,
    request: str,
    address: str | None,
    urgency: str,
    citizen_name: str | None,
    contact: str | None,
    language: str,
    handling: str,
    channel: str = "phone",
    confidential: bool = False,
    now: datetime | None = None,
) -> Case:
    """受理: open a case. On an exchange-mode hotline a case that is not resolved directly is forwarded at
    once to the hotline's own system (status `exchanged`, an Open311 request in the outbox), after
    `exchange.check_intake`: a case that system would refuse (no location, a category it does not offer, a
    required attribute missing) is refused with ExchangeRequirement naming the field, and nothing is kept.
    `confidential`: the citizen asked for a confidential work order (保密工单, GB/T 33358-2016): their name,
    contact and calling number are then kept from everyone but the centre (ari_app.cases.disclosure), the
    Open311 request included."""
    settings = settings_of(session)
    now = settings.now(now)
    rules = settings.hotline(hotline)
    if actor.role not in INTAKE_ROLES or (actor.role is Role.HOTLINE_UNIT and actor.hotline != hotline):
        raise PermissionDenied(f"role {actor.role} may not take cases for hotline {hotline}", role=str(actor.role))
    req = read_text(request, "request", required=True)
    assert req is not None
    lang = read_text(language, "language", required=True, limit=16)
    assert lang is not None
    contact_number = read_contact(settings.numbers, contact)
    caller_number = read_caller(settings.numbers, caller)
    exchanged = rules.mode is HotlineMode.EXCHANGE and handling != Handling.DIRECT
    if exchanged:
        services = receiver_services(session, hotline)  # before anything is written: may ask the receiver
    case = Case(
        number=_next_number(session, hotline, now.astimezone(settings.timezone).strftime("%Y%m%d")),
        channel=read_enum(Channel, channel, "channel"),
        hotline=hotline,
        citizen_name=read_text(citizen_name, "citizen_name", limit=128),
        contact=contact_number.canonical if contact_number else None,
        contact_raw=contact_number.raw if contact_number else None,
        caller=caller_number.canonical if caller_number else None,
        caller_raw=caller_number.raw if caller_number else None,
        confidential=bool(confidential),
        call_id=read_text(call_id, "call_id", limit=64),
        request=req,
        address=read_text(address, "address", limit=256),
        category=_category(session, settings, hotline, category),
        urgency=read_enum(Urgency, urgency, "urgency"),
        language=lang,
        handling=read_enum(Handling, handling, "handling"),
        status=CaseState.RECEIVED,
        created_at=now,
        updated_at=now,
        created_by=actor.user_id,
        created_by_login=actor.login,
    )
    session.add(case)
    session.flush()
    extra = {"confidential": True} if case.confidential else {}
    audit(
        session, actor, "create", case.id, now, number=case.number, hotline=hotline, channel=str(case.channel), **extra
    )
    if case.call_id:
        link_call(session, case.call_id, now)  # the citizen may have rated the call before the case was saved
    emit(session, CaseCreated(case.id, case.number, now, audience_for(case, CaseState.RECEIVED, rules.mode), hotline))
    if exchanged:
        check_intake(session, case, services)
        transition(session, actor, case, Action.FORWARD, CaseState.EXCHANGED, now)
        enqueue_request(session, case, now)
    session.flush()
    return case
