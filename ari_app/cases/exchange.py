"""Exchange mode: the case goes to the hotline's own system as an Open311 GeoReport v2 service request
(JSON), through an outbox; status updates coming back change the case.

Delivery guarantees. The request is written to the outbox in the same transaction as the case, so it cannot
be lost. `deliver_due` sends what is due, one message per transaction; a failure (refused connection,
timeout, non-2xx answer, unreadable answer) schedules a retry with exponential backoff and jitter, for ever
until delivered. Once a 2xx answer is recorded the message is never sent again. A request whose answer was
lost (the receiver got it, the platform did not hear back) is sent again with the same `Idempotency-Key`
header and `attribute[case_number]`, so the receiver recognises it and answers with the same
`service_request_id`: at-least-once delivery, exactly-once effect. On PostgreSQL several workers may run
(`FOR UPDATE SKIP LOCKED`); on SQLite run one.

Coming back: the hotline's system reports a request's status the Open311 way (`service_request_id`,
`status` open|closed, `status_notes`, `updated_datetime`), pushed to the server (`apply_update`) or polled
with `GET /requests.json?service_request_id=...` (`poll_updates`). `closed` closes the case with the notes as
its resolution; `open` with notes is recorded on the case; repeats are harmless.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.actor import SYSTEM
from ari_app.cases.errors import CaseNotFound, InvalidInput
from ari_app.cases.machine import Action, CaseState
from ari_app.cases.service import audit, transition
from ari_app.cases.settings import numbers_of, settings_of
from ari_app.config import HotlineMode
from schema.cases import Case, ExchangeMessage, OutboxStatus

Post = Callable[[str, bytes, Mapping[str, str], float], tuple[int, bytes]]
Get = Callable[[str, float], tuple[int, bytes]]


def exchange_phone(case: Case) -> str | None:
    """The citizen's number for the hotline's own system: the contact number, else the calling one, in
    E.164 (+8613812345678; ari_app.calls.numbers), so a system elsewhere reads it without knowing the
    centre's country; None for a withheld caller with no contact number."""
    numbers = numbers_of(case)
    return numbers.international(case.contact) or numbers.international(case.caller)


def open311_request(case: Case) -> dict[str, object]:
    """The case as an Open311 GeoReport v2 `POST /requests` body (JSON flavour; the platform's own fields as
    `attribute[...]`, which the standard provides for service-specific attributes)."""
    category = case.category.name if case.category else None
    body: dict[str, object] = {
        "service_code": f"{case.hotline}:{category}" if category else case.hotline,
        "description": case.request,
        "address_string": case.address,
        "first_name": case.citizen_name,
        "phone": exchange_phone(case),
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


def http_post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read() or b"")


def http_get(url: str, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read() or b"")


@dataclass(frozen=True)
class Backoff:
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, rnd: float) -> timedelta:
        """Exponential in the number of failed attempts, capped, with ±50 % jitter so that receivers coming
        back are not hit by every sender at once."""
        raw = min(self.cap, self.base * (2 ** max(0, attempts - 1)))
        delay: timedelta = raw * (0.5 + rnd)
        return delay


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int


def _service_request_id(body: bytes) -> str:
    data = json.loads(body.decode("utf-8"))
    item = data[0] if isinstance(data, list) and data else data
    if not isinstance(item, dict) or not item.get("service_request_id"):
        raise ValueError("answer has no service_request_id")
    return str(item["service_request_id"])


def deliver_due(
    sessions: Callable[[], Session],
    endpoints: Mapping[str, str],
    *,
    now: datetime | None = None,
    post: Post = http_post,
    limit: int = 100,
    timeout: float = 10.0,
    backoff: Backoff = Backoff(),
    rng: Callable[[], float] = random.random,
) -> DeliveryReport:
    """Send every outbox message that is due, each in its own transaction. `endpoints` maps a hotline number
    to the base URL of its system's Open311 interface (`.../requests.json` is appended)."""
    delivered = failed = 0
    with sessions() as s:
        at = settings_of(s).now(now)
        due = list(
            s.scalars(
                select(ExchangeMessage.id)
                .where(ExchangeMessage.status == OutboxStatus.PENDING, ExchangeMessage.next_attempt_at <= at)
                .order_by(ExchangeMessage.id)
                .limit(limit)
            )
        )
    for msg_id in due:
        with sessions() as s, s.begin():
            msg = s.scalars(
                select(ExchangeMessage)
                .where(ExchangeMessage.id == msg_id, ExchangeMessage.status == OutboxStatus.PENDING)
                .with_for_update(skip_locked=True)
            ).one_or_none()
            if msg is None:
                continue  # delivered meanwhile, or another worker holds it
            at = settings_of(s).now(now)
            msg.attempts += 1
            error: str | None = None
            base = endpoints.get(msg.hotline)
            if base is None:
                error = f"no exchange endpoint configured for hotline {msg.hotline}"
            else:
                headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": msg.key}
                try:
                    status, body = post(
                        base.rstrip("/") + "/requests.json", msg.payload.encode("utf-8"), headers, timeout
                    )
                    if not 200 <= status < 300:
                        error = f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
                    else:
                        external = _service_request_id(body)
                except (OSError, ValueError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
            if error is None:
                msg.status = OutboxStatus.DELIVERED
                msg.delivered_at = at
                msg.last_error = None
                case = s.get(Case, msg.case_id)
                assert case is not None
                case.external_id = external
                audit(s, SYSTEM, "exchange_delivered", case.id, at, service_request_id=external, attempts=msg.attempts)
                delivered += 1
            else:
                msg.last_error = error
                msg.next_attempt_at = at + backoff.delay(msg.attempts, rng())
                failed += 1
    return DeliveryReport(delivered, failed)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def apply_update(session: Session, hotline: str, update: Mapping[str, Any], *, now: datetime | None = None) -> Case:
    """Apply one Open311 service-request status from the hotline's own system. Returns the case.
    Raises CaseNotFound for a request the platform did not send, InvalidInput for a malformed one."""
    settings = settings_of(session)
    now = settings.now(now)
    srid = update.get("service_request_id")
    number = update.get("attribute[case_number]") or update.get("case_number")
    status = update.get("status")
    if status not in ("open", "closed"):
        raise InvalidInput(f"Open311 status must be open or closed, got {status!r}", field="status")
    if settings.mode(hotline) is not HotlineMode.EXCHANGE:
        raise CaseNotFound(f"hotline {hotline} does not exchange cases", case=str(srid or number))
    stmt = select(Case).where(Case.hotline == hotline).with_for_update()
    if srid:
        stmt = stmt.where(Case.external_id == str(srid))
    elif number:
        stmt = stmt.where(Case.number == str(number))
    else:
        raise InvalidInput("an update needs service_request_id", field="service_request_id")
    case = session.scalars(stmt).one_or_none()
    if case is None:
        raise CaseNotFound(f"no exchanged case {srid or number} of hotline {hotline}", case=str(srid or number))
    notes = update.get("status_notes")
    notes = str(notes).strip() if notes else None
    current = CaseState(case.status)
    if current is CaseState.CLOSED:
        return case  # a repeat of the closing update, or a late "open": the closure stands
    detail = {"status": status, "notes": notes, "updated": update.get("updated_datetime"), "service_request_id": srid}
    if status == "closed":
        case.resolution = notes
        case.handled_at = case.closed_at = _parse_time(update.get("updated_datetime")) or now
        transition(session, SYSTEM, case, Action.EXCHANGE_UPDATE, CaseState.CLOSED, now, **detail)
    elif notes and notes != case.resolution:
        case.resolution = notes
        transition(session, SYSTEM, case, Action.EXCHANGE_UPDATE, CaseState.EXCHANGED, now, **detail)
    session.flush()
    return case


def poll_updates(
    sessions: Callable[[], Session],
    endpoints: Mapping[str, str],
    *,
    get: Get = http_get,
    timeout: float = 10.0,
    batch: int = 50,
) -> int:
    """Ask each exchange hotline's system for the status of its open requests (`GET /requests.json?
    service_request_id=a,b,...`, the Open311 way) and apply what came back. Returns how many were applied."""
    applied = 0
    for hotline, base in endpoints.items():
        with sessions() as s:
            open_ids = list(
                s.scalars(
                    select(Case.external_id).where(
                        Case.hotline == hotline, Case.status == CaseState.EXCHANGED, Case.external_id.is_not(None)
                    )
                )
            )
        for i in range(0, len(open_ids), batch):
            ids = ",".join(str(x) for x in open_ids[i : i + batch])
            url = base.rstrip("/") + "/requests.json?" + urllib.parse.urlencode({"service_request_id": ids})
            try:
                status, body = get(url, timeout)
                items = json.loads(body.decode("utf-8")) if 200 <= status < 300 else []
            except (OSError, ValueError):
                continue  # the next poll tries again
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                with sessions() as s, s.begin():
                    try:
                        apply_update(s, hotline, item)
                        applied += 1
                    except (CaseNotFound, InvalidInput):
                        continue
    return applied
