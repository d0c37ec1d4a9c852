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

from ari_app.cases import machine
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
from ari_app.cases.catalogue import path_of, selectable
from ari_app.cases.deadlines import dispatch_due
from ari_app.cases.errors import InvalidInput, PermissionDenied
from ari_app.cases.events import CaseCreated, emit
from ari_app.cases.exchange import check_intake, enqueue_request, receiver_services
from ari_app.cases.linkage import case_saved
from ari_app.cases.machine import Action, CaseState
from ari_app.cases.routing import suggest
from ari_app.cases.settings import CaseSettings, settings_of
from ari_app.cases.surveys import link_call
from ari_app.cases.workflow import dispatch
from ari_app.config import HotlineMode
from schema.cases import Case, CaseCounter, Category, Channel, Handling, RequestType, Urgency
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


def _position(latitude: float | None, longitude: float | None) -> tuple[float | None, float | None]:
    """A case's WGS 84 position: both degrees or neither, latitude -90..90, longitude -180..180."""
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        raise InvalidInput("latitude and longitude go together", field="latitude" if latitude is None else "longitude")
    for name, value, limit in (("latitude", latitude, 90.0), ("longitude", longitude, 180.0)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= float(value) <= limit:
            raise InvalidInput(f"{name} must be a number of degrees in -{limit:g}..{limit:g}", field=name)
    return float(latitude), float(longitude)


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
    request_type: str = RequestType.HELP,
    classification: str | None = None,
    district: str | None = None,
    street: str | None = None,
    grid_cell: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    confidential: bool = False,
    now: datetime | None = None,
) -> Case:
    """受理: open a case. Unless it is answered directly, a rule of the dispatch catalogue that applies by
    itself dispatches it at once (ari_app.cases.routing; `_dispatch_by_catalogue`).

    `request_type` is one of the six national types (schema.cases.RequestType; `help` when a channel does
    not say). `classification` is the code of an active node of the classification catalogue
    (ari_app.cases.catalogue; ClassificationNotSelectable for an unknown or retired code); the case keeps
    the node's names as they are now. The location: `district`, `street`, `grid_cell` (up to 64 characters
    each) and `latitude` / `longitude` in WGS 84 degrees (both or neither; InvalidInput out of range).

    On an exchange-mode hotline a case that is not resolved directly is forwarded at
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
    lat, lon = _position(latitude, longitude)
    node = selectable(session, classification) if classification is not None and classification.strip() else None
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
        request_type=read_enum(RequestType, request_type, "request_type"),
        district=read_text(district, "district", limit=64),
        street=read_text(street, "street", limit=64),
        grid_cell=read_text(grid_cell, "grid_cell", limit=64),
        latitude=lat,
        longitude=lon,
        urgency=read_enum(Urgency, urgency, "urgency"),
        language=lang,
        handling=read_enum(Handling, handling, "handling"),
        status=CaseState.RECEIVED,
        created_at=now,
        updated_at=now,
        created_by=actor.user_id,
        created_by_login=actor.login,
    )
    if node is not None:
        case.classification = node
        case.classification_name = node.name_zh
        case.classification_path = path_of(node)
    case.dispatch_deadline_at = dispatch_due(settings, case, now)
    session.add(case)
    session.flush()
    extra = {"confidential": True} if case.confidential else {}
    audit(
        session, actor, "create", case.id, now,
        number=case.number, hotline=hotline, channel=str(case.channel), request_type=str(case.request_type),
        classification=node.code if node else None, **extra,
    )  # fmt: skip
    if case.call_id:
        link_call(session, case.call_id, now)  # the citizen may have rated the call before the case was saved
        case_saved(session, case, now)  # 联动: a handoff of the call to 110/119/120 before the case was saved
    emit(session, CaseCreated(case.id, case.number, now, audience_for(case, CaseState.RECEIVED, rules.mode), hotline))
    if exchanged:
        check_intake(session, case, services)
        transition(session, actor, case, Action.FORWARD, CaseState.EXCHANGED, now)
        enqueue_request(session, case, now)
    elif case.handling != Handling.DIRECT:
        _dispatch_by_catalogue(session, actor, case, rules.mode, now)
    session.flush()
    return case


def _dispatch_by_catalogue(session: Session, actor: Actor, case: Case, mode: HotlineMode, now: datetime) -> None:
    """Apply the dispatch catalogue's rule for a new case when the rule is automatic and the one who took
    the case may dispatch it on its hotline (the state machine's table: the centre's agents in collaborative
    mode, the hotline's own staff on a sub-platform); through `workflow.dispatch`, so the deadline, the
    audit and the events are those of any dispatch. Otherwise the case waits for a person to dispatch it."""
    rule = suggest(session, case, mode)
    if rule is None or not rule.automatic:
        return
    if Action.DISPATCH not in machine.actions_for(CaseState.RECEIVED, actor.role, mode):
        return
    dispatch(session, actor, case.id, units=rule.units, rule_id=rule.rule_id, now=now)
