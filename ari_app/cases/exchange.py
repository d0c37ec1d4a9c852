"""Exchange mode: cases of a hotline whose managing unit keeps its own system travel there as Open311
GeoReport v2 service requests (JSON), through an outbox; status updates coming back change the case."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from schema.cases import Case, ExchangeMessage, OutboxStatus


def open311_request(case: Case) -> dict[str, object]:
    """The case as an Open311 GeoReport v2 `POST /requests` body (JSON flavour; platform fields as
    `attribute[...]`, which the standard allows for service-specific attributes)."""
    category = case.category.name if case.category else None
    body: dict[str, object] = {
        "service_code": f"{case.hotline}:{category}" if category else case.hotline,
        "description": case.request,
        "address_string": case.address,
        "first_name": case.citizen_name,
        "phone": case.contact or case.caller,
        "requested_datetime": case.created_at.isoformat(),
        "attribute[case_number]": case.number,
        "attribute[hotline]": case.hotline,
        "attribute[category]": category,
        "attribute[channel]": str(case.channel),
        "attribute[urgency]": str(case.urgency),
        "attribute[language]": case.language,
    }
    return {k: v for k, v in body.items() if v is not None}


def enqueue_request(session: Session, case: Case, now: datetime) -> ExchangeMessage:
    """Put the case's Open311 request in the outbox, in the same transaction as the case."""
    msg = ExchangeMessage(
        key=f"{case.number}:request",
        case_id=case.id,
        hotline=case.hotline,
        payload=json.dumps(open311_request(case), ensure_ascii=False, sort_keys=True),
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(msg)
    return msg
