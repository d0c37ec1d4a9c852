"""联动 work orders: a call handed to an emergency or police partner (110 公安, 119 消防, 120 急救; config.yaml
`linkage`) and the case's work order pushed to the partner's system.

The desktop asks for the handoff (a one-key transfer or a three-way call: ari_app.transfers,
ari_app.conference); the link records it here (`record_handoff`, one `linkage_handoffs` row and one audit
entry). A partner with a receiver (an Open311 GeoReport v2 interface) then gets the work order of the case
taken on the call, through the exchange outbox (`exchange_outbox`, ari_app.cases.exchange): written in the
same transaction, sent by `deliver_due` with the same backoff and idempotency (the key
`{case number}:linkage:{partner}`, so one case reaches one partner once, however many times the call is
handed to it and however often a send is repeated).

A call with no case yet: the handoff waits without a case and the work order is enqueued when a case is
saved on that call (`case_saved`, called by intake); the agent saves the case after the handoff, during the
call or in wrap-up. An emergency is never held up by the paperwork.

What the partner sees: the case's Open311 request (`exchange.open311_request`: description, address,
lat/long, the classification, the caller's number in E.164), with the partner's own `service_code` and
`attribute[linkage]`, `attribute[call_id]`, `attribute[handoff]`. A confidential case (保密工单) goes as it
goes to any system outside the centre (`disclosure.OUTSIDE`): without the citizen's name and number, only
`attribute[confidential]=true`. The partner already has the citizen on the line (transferred or in the
three-way call) and hears from them what it needs; the record of the centre does not name them.

The receipt (`service_request_id`, or the token until the id comes) and the partner's later status
(`poll_results`, `GET /requests.json`) are kept on the outbox row and in the case's audit trail
(`linkage_delivered`, `linkage_accepted`, `linkage_refused`, `linkage_result`); a refusal does not change
the case's status (the partner's work is the partner's). `linkage_of` gives them for the case detail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.actor import SYSTEM, Actor
from ari_app.cases.audit import audit
from ari_app.cases.exchange import Get, fetch_requests, http_get, open311_request
from ari_app.cases.settings import settings_of
from ari_app.config import Partner
from ari_app.protocol import LinkageInfo, iso
from schema.cases import Case, ExchangeMessage, LinkageHandoff, OutboxStatus

log = logging.getLogger(__name__)

HANDOFF_KINDS = ("blind", "attended", "three_way")


def work_order(case: Case, partner: Partner, handoff: LinkageHandoff) -> dict[str, object]:
    """The arguments of the work order's GeoReport v2 `POST /requests` to `partner`: the case's Open311 request
    (`exchange.open311_request`, the disclosure rules for a system outside the centre) with the partner's
    `service_code` and the handoff as attributes."""
    body = open311_request(case)
    assert partner.receiver is not None
    body["service_code"] = partner.receiver.service_code
    body["attribute[linkage]"] = partner.key
    body["attribute[call_id]"] = handoff.call_id
    body["attribute[handoff]"] = handoff.kind
    return body


def message_key(case: Case, partner: str) -> str:
    """The idempotency key of a case's work order to a partner: `{number}:linkage:{partner}`."""
    return f"{case.number}:linkage:{partner}"


def enqueue_work_order(session: Session, case: Case, handoff: LinkageHandoff, now: datetime) -> ExchangeMessage | None:
    """Put the case's work order for the handoff's partner in the outbox, in the current transaction; None when
    the partner has no receiver or the case's work order is already there (one per case and partner)."""
    partner = settings_of(session).linkage.get(handoff.partner)
    if partner is None or partner.receiver is None:
        return None
    key = message_key(case, partner.key)
    if session.scalar(select(ExchangeMessage.id).where(ExchangeMessage.key == key)) is not None:
        return None
    msg = ExchangeMessage(
        key=key,
        case_id=case.id,
        hotline=case.hotline,
        partner=partner.key,
        payload=json.dumps(work_order(case, partner, handoff), ensure_ascii=False, sort_keys=True),
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(msg)
    audit(session, SYSTEM, "linkage_enqueued", case.id, now, partner=partner.key, key=key, call_id=handoff.call_id)
    return msg


def record_handoff(
    session: Session, actor: Actor, call_id: str, partner: str, kind: str, now: datetime | None = None
) -> LinkageHandoff:
    """Record that `actor` handed `call_id` to `partner` (`kind`: blind, attended or three_way), audited
    (`linkage_handoff`, on the case when there is one), and enqueue the work order of the case taken on the
    call (the newest, when several were). ValueError for a partner or kind not configured."""
    now = settings_of(session).now(now)
    if partner not in settings_of(session).linkage or kind not in HANDOFF_KINDS:
        raise ValueError(f"no linkage partner {partner!r} or handoff kind {kind!r}")
    case = session.scalars(select(Case).where(Case.call_id == call_id).order_by(Case.id.desc()).limit(1)).first()
    handoff = LinkageHandoff(
        call_id=call_id, partner=partner, kind=kind, agent=actor.login, at=now, case_id=case.id if case else None
    )
    session.add(handoff)
    session.flush()
    audit(
        session, actor, "linkage_handoff", case.id if case else None, now, call_id=call_id, partner=partner, kind=kind
    )
    if case is not None:
        enqueue_work_order(session, case, handoff, now)
    return handoff


def case_saved(session: Session, case: Case, now: datetime) -> int:
    """A case was saved on a call: the call's handoffs still without a case become the case's, and their
    work orders are enqueued. Returns how many handoffs were taken."""
    if not case.call_id:
        return 0
    waiting = list(
        session.scalars(
            select(LinkageHandoff)
            .where(LinkageHandoff.call_id == case.call_id, LinkageHandoff.case_id.is_(None))
            .order_by(LinkageHandoff.id)
        )
    )
    for handoff in waiting:
        handoff.case_id = case.id
        audit(session, SYSTEM, "linkage_case_saved", case.id, now, call_id=case.call_id, partner=handoff.partner)
        enqueue_work_order(session, case, handoff, now)
    return len(waiting)


def linkage_of(session: Session, case: Case) -> list[LinkageInfo]:
    """The case's handoffs to partners, oldest first, each with its work order's delivery (for the detail)."""
    handoffs = list(
        session.scalars(select(LinkageHandoff).where(LinkageHandoff.case_id == case.id).order_by(LinkageHandoff.id))
    )
    if not handoffs:
        return []
    messages = {
        m.partner: m
        for m in session.scalars(
            select(ExchangeMessage).where(ExchangeMessage.case_id == case.id, ExchangeMessage.partner.is_not(None))
        )
    }
    partners = settings_of(session).linkage
    out: list[LinkageInfo] = []
    for h in handoffs:
        partner = partners.get(h.partner)
        msg = messages.get(h.partner)
        result = json.loads(msg.result) if msg is not None and msg.result else None
        out.append(
            LinkageInfo(
                partner=h.partner,
                name_zh=partner.name_zh if partner else h.partner,
                name_en=partner.name_en if partner else h.partner,
                kind=h.kind,
                agent=h.agent,
                at=h.at.isoformat(),
                work_order=str(msg.status) if msg is not None else None,
                attempts=msg.attempts if msg is not None else 0,
                service_request_id=msg.service_request_id if msg is not None else None,
                token=msg.token if msg is not None else None,
                delivered_at=iso(msg.delivered_at) if msg is not None else None,
                error=msg.last_error if msg is not None else None,
                result_status=result.get("status") if result else None,
                result_notes=result.get("notes") if result else None,
            )
        )
    return out


def poll_results(
    sessions: Callable[[], Session],
    endpoints: Mapping[str, str],
    *,
    get: Get = http_get,
    timeout: float = 10.0,
) -> int:
    """Ask each partner's system for the status of the work orders it accepted (`GET /requests.json?
    service_request_id=...`, the Open311 way) and record a changed one on the outbox row (`result`) and the
    case (`linkage_result` audit entry). Returns how many changed. `endpoints`: partner key -> base URL."""
    changed = 0
    for partner, base in endpoints.items():
        with sessions() as s:
            rows = list(
                s.execute(
                    select(ExchangeMessage.id, ExchangeMessage.service_request_id).where(
                        ExchangeMessage.partner == partner,
                        ExchangeMessage.status == OutboxStatus.DELIVERED,
                        ExchangeMessage.service_request_id.is_not(None),
                    )
                )
            )
        ids = {str(srid): msg_id for msg_id, srid in rows}
        if not ids:
            continue
        items = fetch_requests(base, list(ids), get, timeout)
        for item in items or []:  # None: not answered, the next poll asks again
            if str(item.get("service_request_id")) not in ids:
                continue
            status = item.get("status")
            notes = item.get("status_notes")
            result = {
                "status": status if status in ("open", "closed") else None,
                "notes": str(notes).strip() if notes else None,
                "updated": item.get("updated_datetime"),
            }
            text = json.dumps(result, ensure_ascii=False, sort_keys=True)
            with sessions() as s, s.begin():
                msg = s.get(ExchangeMessage, ids[str(item["service_request_id"])])
                if msg is None or msg.result == text:
                    continue
                msg.result = text
                audit(s, SYSTEM, "linkage_result", msg.case_id, settings_of(s).now(), partner=partner, **result)
                changed += 1
    return changed
