"""Exchange mode: the case goes to the hotline's own system as an Open311 GeoReport v2 service request
(JSON), through an outbox; status updates coming back change the case.

Delivery guarantees. The request is written to the outbox in the same transaction as the case, so it cannot
be lost. `deliver_due` sends what is due, one message per transaction, and sorts every answer the way
GeoReport v2 defines them (https://wiki.open311.org/GeoReport_v2, "POST Service Request" and "Errors"):

- 200/201 with `[{"service_request_id": ...}]`: delivered, the id goes on the case (`cases.external_id`);
  the message is never sent again.
- 200/201 with `[{"token": ...}]` (the receiver creates the request later): the message waits
  (`awaiting_id`) and `GET /tokens/{token}.json` is asked, with backoff, until it answers the id.
- 2xx whose body is a GeoReport error array (`[{"code", "description"}]`): a refusal, as below.
- transient: no connection, a timeout, 5xx, 408 Request Timeout, 429 Too Many Requests (after its
  `Retry-After`, seconds or an HTTP date, when given), a 2xx body that is not JSON or has neither id nor
  token, any other status: retried with exponential backoff and jitter, for as long as it takes.
- permanent: every other 4xx (400 a field missing or wrong, 403 api_key invalid, 404 service_code not
  found, ...): the message is `refused` with the receiver's codes and descriptions and never sent again;
  the case goes back to the centre's work list (`exchange_refused`, status `returned`, the receiver's words
  in `cases.exchange_refusal`), with an audit entry and an `ExchangeRefused` event for the supervisors.

A request whose answer was lost (the receiver got it, the platform did not hear back) is sent again with the
same `Idempotency-Key` header and `attribute[case_number]`, so the receiver recognises it and answers with the
same `service_request_id`: at-least-once delivery, exactly-once effect. On PostgreSQL several workers may run
(`FOR UPDATE SKIP LOCKED`); on SQLite run one.

Intake. Before a case is queued, `check_intake` applies what the receiver would refuse: GeoReport v2 makes a
location (lat+long, address_string or address_id) required on every request, and the receiver's own service
list and definitions (`GET /services.json`, `GET /services/{code}.json`, read through a `ServiceCatalog`
cached with an expiry) say which services exist and which attributes are required and with what values.
A case that fails is refused at intake with `ExchangeRequirement` naming the field.

Coming back: the hotline's system reports a request's status the Open311 way (`service_request_id`,
`status` open|closed, `status_notes`, `updated_datetime`), pushed to the server (`apply_update`) or polled
with `GET /requests.json?service_request_id=...` (`poll_updates`). `closed` closes the case with the notes as
its resolution; `open` with notes is recorded on the case; repeats are harmless.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, sessionmaker

from ari_app.cases.access import transition
from ari_app.cases.actor import SYSTEM
from ari_app.cases.audit import audit
from ari_app.cases.disclosure import OUTSIDE, citizen_fields
from ari_app.cases.errors import CaseNotFound, ExchangeRequirement, InvalidInput
from ari_app.cases.events import Audience, CaseEvent, ExchangeRefused, ExchangeStalled, emit, take_events
from ari_app.cases.machine import Action, CaseState
from ari_app.cases.settings import attachment_rules_of, numbers_of, settings_of, system_clock
from ari_app.config import HotlineMode
from schema.cases import Attachment, Case, ExchangeMessage, OutboxStatus
from schema.users import Role

log = logging.getLogger(__name__)


def exchange_phone(case: Case) -> str | None:
    """The citizen's number for the hotline's own system: the contact number, else the calling one, in
    E.164 (+8613812345678; ari_app.calls.numbers), so a system elsewhere reads it without knowing the
    centre's country; None for a withheld caller with no contact number, and for a confidential case (the
    hotline's own system is outside the centre: `disclosure.OUTSIDE`)."""
    numbers = numbers_of(case)
    seen = citizen_fields(case, OUTSIDE)
    return numbers.international(seen["contact"]) or numbers.international(seen["caller"])


def open311_request(case: Case) -> dict[str, object]:
    """The arguments of the case's Open311 GeoReport v2 `POST /requests` (sent form-encoded by
    `request_body`; the platform's own fields as `attribute[...]`, which the standard provides for
    service-specific attributes). Stored in the outbox as a JSON object.

    The citizen goes as `first_name` and `phone` as the exchange may see them (`disclosure.citizen_fields`
    for `OUTSIDE`): a confidential case (保密工单) carries neither, nor any other GeoReport v2 person field
    (`last_name`, `email`, `device_id`, `account_id`), only `attribute[confidential]=true` saying why; an
    argument without a value is left out, never sent empty. The case's point, when it has one, goes as
    `lat` and `long`; its request type, classification code and area as attributes. Its first photo goes as
    `media_url` (`media_url`), when the centre configured a public address for attachments."""
    category = case.category.name if case.category else None
    body: dict[str, object | None] = {
        "service_code": f"{case.hotline}:{category}" if category else case.hotline,
        "description": case.request,
        "address_string": case.address,
        "lat": case.latitude,  # WGS 84 decimal degrees, as GeoReport v2 names them
        "long": case.longitude,
        "first_name": citizen_fields(case, OUTSIDE)["citizen_name"],
        "phone": exchange_phone(case),
        "requested_datetime": case.created_at.isoformat(),
        "attribute[case_number]": case.number,
        "attribute[hotline]": case.hotline,
        "attribute[category]": category,
        "attribute[channel]": str(case.channel),
        "attribute[urgency]": str(case.urgency),
        "attribute[request_type]": str(case.request_type),
        "attribute[classification]": case.classification.code if case.classification else None,
        "attribute[district]": case.district,
        "attribute[street]": case.street,
        "attribute[grid_cell]": case.grid_cell,
        "attribute[language]": case.language,
        "attribute[confidential]": "true" if case.confidential else None,
        "media_url": media_url(case),
    }
    return {k: v for k, v in body.items() if v is not None and v != ""}


MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic")


def media_url(case: Case) -> str | None:
    """GeoReport v2 `media_url` of a case: one URL, so the first photo (by id) the case itself carries (not a
    unit's result: the hotline's own system asks what the citizen reported), as the configured public base
    URL and the photo's token (`cases.attachments.public_url`, served by the centre's web front). None when
    no public URL is configured (a URL the receiver cannot fetch is not sent), when the case has no live
    photo, and for a confidential case (保密工单: a photo may show the citizen; nothing of them goes out)."""
    session = object_session(case)
    base = attachment_rules_of(case).public_url
    if session is None or base is None or case.confidential or case.id is None:
        return None
    token = session.scalar(
        select(Attachment.token)
        .where(
            Attachment.case_id == case.id,
            Attachment.dispatch_id.is_(None),
            Attachment.deleted_at.is_(None),
            Attachment.mime.in_(MEDIA_TYPES),
        )
        .order_by(Attachment.id)
        .limit(1)
    )
    return base + token if token is not None else None


def render_payload(case: Case) -> str:
    """The outbox payload of the case's request: `open311_request` as JSON."""
    return json.dumps(open311_request(case), ensure_ascii=False, sort_keys=True)


def rerender_pending(session: Session, case: Case) -> int:
    """Build again the payload of the case's requests still waiting in the outbox (`pending`: never sent, or
    sent without an answer and to be retried under the same idempotency key), after a change of what may
    be sent (a case marked confidential). Returns how many were rebuilt."""
    pending = session.scalars(
        select(ExchangeMessage).where(
            ExchangeMessage.case_id == case.id, ExchangeMessage.status == OutboxStatus.PENDING
        )
    )
    n = 0
    for msg in pending:
        if msg.partner is None:
            msg.payload = render_payload(case)
        else:  # a linkage work order: the case's fields again, the partner's code and the handoff kept
            old = json.loads(msg.payload)
            kept = {k: v for k, v in old.items() if k in PARTNER_FIELDS}
            msg.payload = json.dumps({**open311_request(case), **kept}, ensure_ascii=False, sort_keys=True)
        n += 1
    return n


PARTNER_FIELDS = frozenset({"service_code", "attribute[linkage]", "attribute[call_id]", "attribute[handoff]"})
"""The fields of a linkage work order (ari_app.cases.linkage.work_order) that are the partner's, not the case's."""


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
"""GeoReport v2 `POST Service Request`: its arguments are sent form-encoded (the `.json` of the path is the
format of the answer)."""
IDEMPOTENCY = "Idempotency-Key"


def request_body(payload: str, api_key: str | None) -> bytes:
    """The form-encoded body of `POST /requests.json` (UTF-8) for an outbox payload (the JSON object
    `open311_request` gave), with `api_key` first when the hotline's system issued one. The key is added
    here, at sending, and never stored in the outbox."""
    fields: dict[str, object] = json.loads(payload)
    if api_key is not None:
        fields = {"api_key": api_key, **fields}
    return urllib.parse.urlencode({k: str(v) for k, v in fields.items()}, encoding="utf-8").encode("ascii")


def enqueue_request(session: Session, case: Case, now: datetime) -> ExchangeMessage:
    """Put the case's Open311 request in the outbox, in the same transaction as the case. The idempotency
    key is `{number}:request`, and `{number}:request:{n}` for the n-th forwarding of a case the receiver had
    refused (a new request, not a retry of the refused one)."""
    earlier = len(
        list(
            session.scalars(
                select(ExchangeMessage.id).where(ExchangeMessage.case_id == case.id, ExchangeMessage.partner.is_(None))
            )
        )
    )
    case.exchange_refusal = None
    msg = ExchangeMessage(
        key=f"{case.number}:request" + (f":{earlier + 1}" if earlier else ""),
        case_id=case.id,
        hotline=case.hotline,
        payload=render_payload(case),
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(msg)
    return msg


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: `status`, the raw `body`, and the headers with lower-case names."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


Post = Callable[[str, bytes, Mapping[str, str], float], Answer]
Get = Callable[[str, float], Answer]

MAX_BODY = 1 << 20
"""Bytes read of an answer at most (1 MiB); a longer body is cut there (and then fails to parse)."""


def _answer(status: int, body: bytes, headers: Any) -> Answer:
    return Answer(int(status), body, {k.lower(): v for k, v in (headers.items() if headers is not None else [])})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other: urllib would repeat a POST as a GET without its body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_POST_OPENER = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """POST `body`; any HTTP status is an Answer (redirects are not followed). OSError for no connection or
    a timeout."""
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _POST_OPENER.open(req, timeout=timeout) as resp:
            return _answer(resp.status, bytes(resp.read(MAX_BODY)), resp.headers)
    except urllib.error.HTTPError as err:
        return _answer(err.code, bytes(err.read(MAX_BODY) or b""), err.headers)


def http_get(url: str, timeout: float) -> Answer:
    """GET `url`; any HTTP status is an Answer. OSError for no connection or a timeout."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return _answer(resp.status, bytes(resp.read(MAX_BODY)), resp.headers)
    except urllib.error.HTTPError as err:
        return _answer(err.code, bytes(err.read(MAX_BODY) or b""), err.headers)


@dataclass(frozen=True)
class Backoff:
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    retry_after_cap: timedelta = timedelta(hours=24)
    """The longest `Retry-After` honoured; a receiver asking for more is asked again after this."""

    def delay(self, attempts: int, rnd: float) -> timedelta:
        """Exponential in the number of failed attempts, capped, with ±50 % jitter so that receivers coming
        back are not hit by every sender at once."""
        raw = min(self.cap, self.base * (2 ** max(0, attempts - 1)))
        delay: timedelta = raw * (0.5 + rnd)
        return delay


# --- what an answer means (GeoReport v2) -----------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    service_request_id: str


@dataclass(frozen=True)
class Accepted:
    """Accepted with a token; the id comes from `GET /tokens/{token}.json`."""

    token: str


@dataclass(frozen=True)
class Transient:
    """Try again: after `retry_after` when the receiver said so (429/503 `Retry-After`), else with backoff."""

    error: str
    retry_after: timedelta | None = None


@dataclass(frozen=True)
class Refused:
    """A permanent refusal: `errors` are the receiver's (code, description) pairs, as text."""

    http_status: int
    errors: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        """The refusal for people: `HTTP 400: 400 location required; ...`."""
        return f"HTTP {self.http_status}: " + "; ".join(f"{c} {d}".strip() for c, d in self.errors)


Outcome = Delivered | Accepted | Transient | Refused

TRANSIENT_4XX = frozenset({408, 429})
"""4xx statuses that say "later", not "no" (RFC 9110 408 Request Timeout, RFC 6585 429 Too Many Requests)."""


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as a delay from `now`;
    None when absent or unreadable; never negative."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(timedelta(0), when - now)


def _json(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


def georeport_errors(body: bytes, http_status: int) -> tuple[tuple[str, str], ...]:
    """The GeoReport v2 error array (`[{"code": 400, "description": "..."}]`) of an answer, as (code,
    description) text pairs; when the body is not one, the status and the body's first 200 characters."""
    try:
        data = _json(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        data = [data]
    found: list[tuple[str, str]] = []
    if isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and ("code" in item or "description" in item):
                found.append((str(item.get("code", http_status))[:32], str(item.get("description") or "")[:500]))
    if found:
        return tuple(found[:20])
    text = body[:200].decode("utf-8", "replace").strip()
    return ((str(http_status), text),)


def _is_error_array(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(i, dict) and "code" in i and "description" in i for i in data)
        and not any(i.get("service_request_id") or i.get("token") for i in data)
    )


def classify(answer: Answer, now: datetime) -> Outcome:
    """What a `POST /requests.json` answer means, per GeoReport v2 and HTTP (see the module's docstring)."""
    status = answer.status
    if 200 <= status < 300:
        try:
            data = _json(answer.body)
        except ValueError as exc:
            return Transient(f"HTTP {status} with a body that is not JSON: {exc}")
        if _is_error_array(data):
            return Refused(status, georeport_errors(answer.body, status))
        item = data[0] if isinstance(data, list) and data else data
        if isinstance(item, dict):
            if item.get("service_request_id"):
                return Delivered(str(item["service_request_id"])[:64])
            if item.get("token"):
                return Accepted(str(item["token"])[:128])
        return Transient(f"HTTP {status} without service_request_id or token: {answer.body[:200]!r}")
    if status in TRANSIENT_4XX or 500 <= status < 600:
        errors = "; ".join(f"{c} {d}".strip() for c, d in georeport_errors(answer.body, status))
        return Transient(f"HTTP {status}: {errors}", retry_after(answer.headers.get("retry-after"), now))
    if 400 <= status < 500:
        return Refused(status, georeport_errors(answer.body, status))
    return Transient(f"HTTP {status}: unexpected answer")


def classify_token(answer: Answer, now: datetime) -> Delivered | Transient:
    """What a `GET /tokens/{token}.json` answer means: `[{"service_request_id": ..., "token": ...}]` once the
    receiver has made the request; until then no id (or 404): ask again later."""
    if 200 <= answer.status < 300:
        try:
            data = _json(answer.body)
        except ValueError as exc:
            return Transient(f"token lookup: HTTP {answer.status} with a body that is not JSON: {exc}")
        item = data[0] if isinstance(data, list) and data else data
        if isinstance(item, dict) and item.get("service_request_id"):
            return Delivered(str(item["service_request_id"])[:64])
        return Transient("token lookup: no service_request_id yet")
    return Transient(f"token lookup: HTTP {answer.status}", retry_after(answer.headers.get("retry-after"), now))


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int
    refused: int = 0
    awaiting: int = 0
    """Messages accepted with a token whose id has not come yet."""
    events: tuple[CaseEvent, ...] = ()
    """ExchangeRefused and CaseStatusChanged events of refused cases, for the supervisors (after commit)."""


def refuse_message(s: Session, msg: ExchangeMessage, outcome: Refused, at: datetime) -> None:
    """Stop the message for good (`refused`, with the receiver's errors) and send its case back to the
    centre: `exchange_refused` to `returned` with `cases.exchange_refusal` set, one audit entry by `system`
    (http_status, errors, key, attempts), and an ExchangeRefused event for the supervisors. A case that
    is no longer `exchanged` keeps its status; the refusal is audited all the same."""
    msg.status = OutboxStatus.REFUSED
    msg.refused_at = at
    msg.last_error = outcome.text
    msg.refusal = json.dumps(
        {"http_status": outcome.http_status, "errors": [{"code": c, "description": d} for c, d in outcome.errors]},
        ensure_ascii=False,
    )
    case = s.get(Case, msg.case_id)
    assert case is not None
    detail = {
        "http_status": outcome.http_status,
        "errors": [{"code": c, "description": d} for c, d in outcome.errors],
        "key": msg.key,
        "attempts": msg.attempts,
    }
    if CaseState(case.status) is CaseState.EXCHANGED:
        case.exchange_refusal = outcome.text
        transition(s, SYSTEM, case, Action.EXCHANGE_REFUSED, CaseState.RETURNED, at, **detail)
    else:  # the case moved on meanwhile (answered directly): the refusal is only recorded
        audit(s, SYSTEM, str(Action.EXCHANGE_REFUSED), case.id, at, status=str(case.status), **detail)
    emit(
        s,
        ExchangeRefused(
            case.id,
            case.number,
            at,
            Audience(frozenset({Role.SUPERVISOR})),
            case.hotline,
            outcome.http_status,
            outcome.errors,
        ),
    )


STALL_ATTEMPTS = 8
"""Failed attempts in a row after which the supervisors are told (once) that a case is not getting through:
with the default `Backoff` (5 s doubling, ±50 %) the 8th failure comes about 10–30 minutes after the first."""


STALLED_SHOWN = 3
"""Case numbers named per hotline in a stalled-exchange problem line; the rest are counted."""


_STALLED = (
    ExchangeMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.AWAITING_ID)),
    ExchangeMessage.attempts >= STALL_ATTEMPTS,
)
"""An outbox message not getting through: undelivered after STALL_ATTEMPTS or more failed attempts in a row."""


def stalled_cases(s: Session, case_ids: Collection[int]) -> dict[int, str]:
    """Of `case_ids`, those whose message is not getting through to the hotline's own system (`_STALLED`):
    case id -> the last error (empty when none was kept). For marking them on the work list."""
    if not case_ids:
        return {}
    rows = s.execute(
        select(ExchangeMessage.case_id, ExchangeMessage.last_error).where(
            ExchangeMessage.case_id.in_(list(case_ids)), *_STALLED
        )
    )
    return {case_id: error or "" for case_id, error in rows}


def stalled_problems(s: Session) -> tuple[str, ...]:
    """What `hotline status` says about cases not getting through to their hotline's own system: one line per
    hotline with messages still undelivered (pending, or awaiting their id) after `STALL_ATTEMPTS` or more
    failed attempts in a row, naming the oldest cases (`STALLED_SHOWN`) and the newest error. Empty when
    every message gets through."""
    rows = s.execute(
        select(ExchangeMessage.hotline, Case.number, ExchangeMessage.attempts, ExchangeMessage.last_error)
        .join(Case, Case.id == ExchangeMessage.case_id)
        .where(*_STALLED)
        .order_by(ExchangeMessage.hotline, ExchangeMessage.created_at)
    ).all()
    by_hotline: dict[str, list[tuple[str, int, str | None]]] = {}
    for hotline, number, attempts, error in rows:
        by_hotline.setdefault(hotline, []).append((number, attempts, error))
    lines = []
    for hotline, stuck in by_hotline.items():
        named = ", ".join(number for number, _, _ in stuck[:STALLED_SHOWN])
        more = f" and {len(stuck) - STALLED_SHOWN} more" if len(stuck) > STALLED_SHOWN else ""
        error = next((e for _, _, e in reversed(stuck) if e), "")
        lines.append(
            f"hotline {hotline}: {len(stuck)} case(s) not getting through to its own system after "
            f"{STALL_ATTEMPTS} or more attempts ({named}{more}); still retried"
            + (f"; last error: {error[:160]}" if error else "")
        )
    return tuple(lines)


def stall_message(s: Session, msg: ExchangeMessage, at: datetime) -> None:
    """The message has failed `STALL_ATTEMPTS` times in a row: audit `exchange_stalled` (by `system`, with
    the key, attempts and last error) and emit ExchangeStalled for the supervisors. It is still retried."""
    case = s.get(Case, msg.case_id)
    assert case is not None
    error = (msg.last_error or "")[:500]
    audit(s, SYSTEM, "exchange_stalled", case.id, at, key=msg.key, attempts=msg.attempts, error=error)
    emit(
        s,
        ExchangeStalled(
            case.id, case.number, at, Audience(frozenset({Role.SUPERVISOR})), case.hotline, msg.attempts, error
        ),
    )


def record_partner_answer(
    s: Session, msg: ExchangeMessage, outcome: Delivered | Accepted | Refused, at: datetime
) -> None:
    """A linkage work order's answer (ari_app.cases.linkage): the partner's receipt on the outbox row and in the
    case's trail (`linkage_delivered` with the `service_request_id`, `linkage_accepted` with the token,
    `linkage_refused` with the partner's errors: never sent again, the case's status unchanged)."""
    detail: dict[str, Any] = {"partner": msg.partner, "key": msg.key, "attempts": msg.attempts}
    if isinstance(outcome, Delivered):
        msg.status = OutboxStatus.DELIVERED
        msg.delivered_at = at
        msg.last_error = None
        msg.service_request_id = outcome.service_request_id
        audit(s, SYSTEM, "linkage_delivered", msg.case_id, at, service_request_id=outcome.service_request_id,
              token=msg.token, **detail)  # fmt: skip
    elif isinstance(outcome, Accepted):
        msg.status = OutboxStatus.AWAITING_ID
        msg.token = outcome.token
        msg.last_error = None
        audit(s, SYSTEM, "linkage_accepted", msg.case_id, at, token=outcome.token, **detail)
    else:
        msg.status = OutboxStatus.REFUSED
        msg.refused_at = at
        msg.last_error = outcome.text
        errors = [{"code": c, "description": d} for c, d in outcome.errors]
        msg.refusal = json.dumps({"http_status": outcome.http_status, "errors": errors}, ensure_ascii=False)
        audit(s, SYSTEM, "linkage_refused", msg.case_id, at, http_status=outcome.http_status, errors=errors, **detail)


def deliver_due(
    sessions: Callable[[], Session],
    endpoints: Mapping[str, str],
    *,
    now: datetime | None = None,
    post: Post = http_post,
    get: Get = http_get,
    limit: int = 100,
    timeout: float = 10.0,
    backoff: Backoff = Backoff(),
    rng: Callable[[], float] = random.random,
    api_keys: Mapping[str, Callable[[], str]] | None = None,
    partners: Mapping[str, str] | None = None,
    partner_keys: Mapping[str, Callable[[], str]] | None = None,
) -> DeliveryReport:
    """Send every outbox message that is due (`pending`), and ask for the id of every one accepted with a
    token (`awaiting_id`), each in its own transaction. `endpoints` maps a hotline number to the base URL of
    its system's Open311 interface (`.../requests.json`, `.../tokens/{token}.json` are appended);
    `api_keys` maps a hotline number to a function reading the `api_key` its system issued (read at each
    send, so a rotated key is used at once; config.yaml `hotlines[].exchange_key`). What each answer does is
    in the module's docstring.

    Linkage work orders (`exchange_outbox.partner` set; ari_app.cases.linkage) go to `partners` (partner key
    -> base URL) with `partner_keys`, sent and retried the same way; their answer is recorded by
    `record_partner_answer` and never changes the case's status or `external_id`."""
    api_keys = api_keys or {}
    partners = partners or {}
    partner_keys = partner_keys or {}
    delivered = failed = refused = awaiting = 0
    events: list[CaseEvent] = []
    waiting = (OutboxStatus.PENDING, OutboxStatus.AWAITING_ID)
    with sessions() as s:
        at = settings_of(s).now(now)
        due = list(
            s.scalars(
                select(ExchangeMessage.id)
                .where(ExchangeMessage.status.in_(waiting), ExchangeMessage.next_attempt_at <= at)
                .order_by(ExchangeMessage.id)
                .limit(limit)
            )
        )
    for msg_id in due:
        with sessions() as s:
            with s.begin():
                msg = s.scalars(
                    select(ExchangeMessage)
                    .where(ExchangeMessage.id == msg_id, ExchangeMessage.status.in_(waiting))
                    .with_for_update(skip_locked=True)
                ).one_or_none()
                if msg is None:
                    continue  # done meanwhile, or another worker holds it
                at = settings_of(s).now(now)
                msg.attempts += 1
                outcome: Outcome
                partner = msg.partner
                base = partners.get(partner) if partner is not None else endpoints.get(msg.hotline)
                if base is None:
                    whose = f"linkage partner {partner}" if partner is not None else f"hotline {msg.hotline}"
                    outcome = Transient(f"no exchange endpoint configured for {whose}")
                elif msg.status == OutboxStatus.AWAITING_ID:
                    token = urllib.parse.quote(msg.token or "", safe="")
                    try:
                        outcome = classify_token(get(f"{base.rstrip('/')}/tokens/{token}.json", timeout), at)
                    except (OSError, http.client.HTTPException) as exc:
                        outcome = Transient(f"token lookup: {type(exc).__name__}: {exc}")
                else:
                    read_key = partner_keys.get(partner) if partner is not None else api_keys.get(msg.hotline)
                    try:
                        key = read_key() if read_key is not None else None
                    except Exception as exc:  # the key is not where config says: never sent without it, retried
                        outcome = Transient(f"api_key of hotline {msg.hotline}: {exc}")
                    else:
                        body = request_body(msg.payload, key)
                        try:
                            answer = post(
                                base.rstrip("/") + "/requests.json", body, {**FORM, IDEMPOTENCY: msg.key}, timeout
                            )
                            outcome = classify(answer, at)
                        except (OSError, http.client.HTTPException) as exc:  # no answer, or half of one
                            outcome = Transient(f"{type(exc).__name__}: {exc}")
                if msg.partner is not None and not isinstance(outcome, Transient):
                    # a linkage work order: the partner's receipt, never the case's id nor a change of its status
                    record_partner_answer(s, msg, outcome, at)
                    if isinstance(outcome, Delivered):
                        delivered += 1
                    elif isinstance(outcome, Accepted):
                        msg.next_attempt_at = at + backoff.delay(1, rng())
                        awaiting += 1
                    else:
                        refused += 1
                elif isinstance(outcome, Delivered):
                    msg.status = OutboxStatus.DELIVERED
                    msg.delivered_at = at
                    msg.last_error = None
                    case = s.get(Case, msg.case_id)
                    assert case is not None
                    case.external_id = outcome.service_request_id
                    audit(
                        s,
                        SYSTEM,
                        "exchange_delivered",
                        case.id,
                        at,
                        service_request_id=outcome.service_request_id,
                        attempts=msg.attempts,
                        token=msg.token,
                    )
                    delivered += 1
                elif isinstance(outcome, Accepted):
                    msg.status = OutboxStatus.AWAITING_ID
                    msg.token = outcome.token
                    msg.last_error = None
                    msg.next_attempt_at = at + backoff.delay(1, rng())
                    audit(s, SYSTEM, "exchange_accepted", msg.case_id, at, token=outcome.token, attempts=msg.attempts)
                    awaiting += 1
                elif isinstance(outcome, Refused):
                    refuse_message(s, msg, outcome, at)
                    refused += 1
                else:
                    msg.last_error = outcome.error[:2000]
                    wait = backoff.delay(msg.attempts, rng())
                    if outcome.retry_after is not None:
                        wait = min(outcome.retry_after, backoff.retry_after_cap)
                    msg.next_attempt_at = at + wait
                    if msg.attempts == STALL_ATTEMPTS:
                        stall_message(s, msg, at)
                    if msg.status == OutboxStatus.AWAITING_ID:
                        awaiting += 1
                    else:
                        failed += 1
            events.extend(take_events(s))  # committed: hand them over
    return DeliveryReport(delivered, failed, refused, awaiting, tuple(events))


# --- intake: what the receiver requires (GeoReport v2 service list and definitions) ----------------------


@dataclass(frozen=True)
class AttributeDef:
    """One attribute of a GeoReport v2 service definition (`GET /services/{code}.json`)."""

    code: str
    datatype: str
    required: bool
    variable: bool
    description: str
    values: tuple[str, ...] = ()
    """The allowed `key`s of a singlevaluelist / multivaluelist."""


@dataclass(frozen=True)
class ServiceDef:
    """One service of `GET /services.json`; `attributes` from its definition when `metadata` is true."""

    code: str
    name: str
    metadata: bool
    type: str
    attributes: tuple[AttributeDef, ...] = ()


def _parse_services(data: Any) -> dict[str, ServiceDef]:
    if not isinstance(data, list):
        raise ValueError("services.json is not an array")
    out: dict[str, ServiceDef] = {}
    for item in data:
        if isinstance(item, dict) and item.get("service_code"):
            code = str(item["service_code"])
            meta = item.get("metadata") in (True, "true", "True")
            out[code] = ServiceDef(code, str(item.get("service_name") or ""), meta, str(item.get("type") or ""))
    return out


def _parse_definition(data: Any) -> tuple[AttributeDef, ...]:
    attrs = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attrs, list):
        raise ValueError("service definition has no attributes array")
    out = []
    for a in attrs:
        if not isinstance(a, dict) or not a.get("code"):
            continue
        values = tuple(str(v["key"]) for v in a.get("values") or [] if isinstance(v, dict) and "key" in v)
        out.append(
            AttributeDef(
                code=str(a["code"]),
                datatype=str(a.get("datatype") or "string"),
                required=a.get("required") in (True, "true", "True"),
                variable=a.get("variable") not in (False, "false", "False"),
                description=str(a.get("description") or a.get("datatype_description") or ""),
                values=values,
            )
        )
    return tuple(out)


class ServiceCatalog:
    """The service list and definitions of one hotline's own system, read on demand and kept for `ttl`.
    A read that fails is not tried again for `retry_failed` (intake is then checked by the GeoReport v2
    rules alone, and the outbox still stops on the receiver's refusal). Thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        get: Get = http_get,
        ttl: timedelta = timedelta(minutes=15),
        retry_failed: timedelta = timedelta(minutes=1),
        timeout: float = 3.0,
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.get = get
        self.ttl = ttl
        self.retry_failed = retry_failed
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._services: dict[str, ServiceDef] | None = None
        self._until = datetime.min.replace(tzinfo=UTC)
        self.fetches = 0
        """How many times the receiver was asked (for tests and logs)."""

    def _fetch(self, path: str) -> Any:
        self.fetches += 1
        answer = self.get(self.base + path, self.timeout)
        if not 200 <= answer.status < 300:
            raise ValueError(f"HTTP {answer.status}")
        return _json(answer.body)

    def services(self) -> dict[str, ServiceDef] | None:
        """The services by code, or None when the receiver could not be read."""
        with self._lock:
            now = self.clock()
            if now < self._until:
                return self._services
            try:
                services = _parse_services(self._fetch("/services.json"))
                for code, svc in list(services.items()):
                    if svc.metadata:
                        path = "/services/" + urllib.parse.quote(code, safe="") + ".json"
                        attrs = _parse_definition(self._fetch(path))
                        services[code] = ServiceDef(svc.code, svc.name, svc.metadata, svc.type, attrs)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                log.warning("exchange: cannot read the service list of %s: %s", self.base, exc)
                self._services, self._until = None, now + self.retry_failed
                return None
            self._services, self._until = services, now + self.ttl
            return services


_CATALOGS = "ari_app.cases.exchange.catalogs"


def attach_catalogs(target: Session | sessionmaker[Session], catalogs: Mapping[str, ServiceCatalog]) -> None:
    """Give intake the receivers' service catalogs ({hotline number: ServiceCatalog}), on one session or
    every session a sessionmaker makes from now on (like ari_app.cases.configure)."""
    if isinstance(target, Session):
        target.info[_CATALOGS] = dict(catalogs)
        return
    info = dict(target.kw.get("info") or {})
    info[_CATALOGS] = dict(catalogs)
    target.configure(info=info)


def _has_location(body: Mapping[str, object]) -> bool:
    return bool(body.get("address_string") or body.get("address_id")) or (
        body.get("lat") is not None and body.get("long") is not None
    )


def requirements_missing(
    body: Mapping[str, object], services: Mapping[str, ServiceDef] | None
) -> ExchangeRequirement | None:
    """The first thing the receiver would refuse in this `POST /requests` body, or None:

    - no location: GeoReport v2 POST Service Request requires one of lat & long, address_string, address_id;
    - a service_code the receiver's `GET /services.json` does not list (it would answer 404);
    - a required, variable attribute of the service definition the body lacks, or a value not among its
      `values` (singlevaluelist / multivaluelist).
    """
    if not _has_location(body):
        return ExchangeRequirement(
            "地址必填：受理方系统要求案件有位置（地址） / address required: the receiving system needs a "
            "location for every request (GeoReport v2)",
            field="address",
            requirement="lat & long, address_string or address_id",
        )
    if services is None:
        return None
    code = str(body.get("service_code"))
    svc = services.get(code)
    if svc is None:
        return ExchangeRequirement(
            f"分类不被受理方系统接受：{code} / category not offered by the receiving system: {code}",
            field="category",
            requirement=code,
        )
    for attr in svc.attributes:
        if not attr.variable:
            continue
        value = body.get(f"attribute[{attr.code}]")
        if value in (None, ""):
            if attr.required:
                return ExchangeRequirement(
                    f"受理方系统要求填写 {attr.code}（{attr.description}） / the receiving system requires "
                    f"{attr.code} ({attr.description})",
                    field=f"attribute:{attr.code}",
                    requirement=attr.description,
                )
            continue
        if attr.values and str(value) not in attr.values:
            return ExchangeRequirement(
                f"受理方系统不接受 {attr.code} 的值 {value} / the receiving system does not accept {value} for "
                f"{attr.code} (allowed: {', '.join(attr.values)})",
                field=f"attribute:{attr.code}",
                requirement=", ".join(attr.values),
            )
    return None


def receiver_services(session: Session, hotline: str) -> dict[str, ServiceDef] | None:
    """The hotline's receiver's services through its ServiceCatalog (`attach_catalogs`); None when it has
    none or it cannot be read. May ask the receiver (cache expired): call it before the transaction writes,
    so no database lock is held while waiting on the network."""
    catalog = (session.info.get(_CATALOGS) or {}).get(hotline)
    return catalog.services() if isinstance(catalog, ServiceCatalog) else None


_UNREAD: Any = object()


def check_intake(session: Session, case: Case, services: Mapping[str, ServiceDef] | None = _UNREAD) -> None:
    """Raise ExchangeRequirement when the hotline's own system would refuse the case (see
    `requirements_missing`), against `services` (from `receiver_services`; read now when not given); with
    no service list only the GeoReport v2 rules apply."""
    if services is _UNREAD:
        services = receiver_services(session, case.hotline)
    problem = requirements_missing(open311_request(case), services)
    if problem is not None:
        raise problem


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


def fetch_requests(base: str, ids: Sequence[str], get: Get, timeout: float) -> list[dict[str, Any]] | None:
    """Open311's status query, `GET {base}/requests.json?service_request_id=a,b,...`: the request objects of
    the answer (its items that are JSON objects; none for an answer other than 2xx or not a list), or None
    when the system could not be asked or its 2xx answer is not JSON."""
    url = base.rstrip("/") + "/requests.json?" + urllib.parse.urlencode({"service_request_id": ",".join(ids)})
    try:
        answer = get(url, timeout)
        items = _json(answer.body) if 200 <= answer.status < 300 else []
    except (OSError, ValueError):
        return None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


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
            items = fetch_requests(base, [str(x) for x in open_ids[i : i + batch]], get, timeout)
            for item in items or []:  # None: not answered, the next poll tries again
                with sessions() as s, s.begin():
                    try:
                        apply_update(s, hotline, item)
                        applied += 1
                    except (CaseNotFound, InvalidInput):
                        continue
    return applied
