"""Every answer GeoReport v2 allows to `POST /requests.json`, from a real Open311 receiver on 127.0.0.1:
transient ones (no connection, 408, 429 with Retry-After, 5xx, malformed 2xx) are retried with backoff;
permanent refusals (400 with an error array, 403, 404, ...) stop for good and send the case back to the
centre's work list with the receiver's words, audited, with an event for the supervisors; token answers are
followed up at `GET /tokens/{token}.json`; intake refuses what the receiver's service definition would.

GeoReport v2: https://wiki.open311.org/GeoReport_v2 ("POST Service Request", "GET request_id from a token",
"GET Service List", "GET Service Definition", "Errors")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ari_app.cases import CaseState
from ari_app.cases.audit import transaction
from ari_app.cases.errors import ExchangeRequirement
from ari_app.cases.events import CaseStatusChanged, ExchangeRefused, ExchangeStalled
from ari_app.cases.exchange import (
    STALL_ATTEMPTS,
    Answer,
    Backoff,
    Refused,
    ServiceCatalog,
    Transient,
    attach_catalogs,
    classify,
    deliver_due,
    retry_after,
    stalled_problems,
)
from ari_app.cases.intake import create_case
from ari_app.cases.lookups import get_case
from ari_app.cases.runner import CaseRunner
from ari_app.cases.workflow import allowed_actions, forward, resolve_directly
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Case, ExchangeMessage, OutboxStatus
from schema.users import Role
from tests.support.cases import LOCATION_REQUIRED, SERVICE, T0, Db, GeoReportReceiver, Step
from tests.support.flows import Flow


@pytest.fixture
def geo() -> Iterator[GeoReportReceiver]:
    with GeoReportReceiver() as r:
        yield r


def send(db: Db, geo: GeoReportReceiver | str) -> Any:
    url = geo if isinstance(geo, str) else geo.url
    return deliver_due(db.session, {"12358": url}, timeout=5, backoff=Backoff(), rng=lambda: 0.5)


def messages(db: Db) -> list[ExchangeMessage]:
    with db.session() as s:
        return list(s.scalars(select(ExchangeMessage).order_by(ExchangeMessage.id)))


def audits(db: Db, action: str) -> list[dict[str, Any]]:
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [{"case_id": a.case_id, "login": a.login, **json.loads(a.detail or "{}")} for a in rows]


# --- permanent refusals -------------------------------------------------------------------------------------


def test_a_400_error_array_stops_retries_and_returns_the_case_to_the_centre(db: Db, geo: GeoReportReceiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    geo.plan = [LOCATION_REQUIRED]
    report = send(db, geo)
    assert (report.delivered, report.failed, report.refused) == (0, 0, 1)
    (msg,) = messages(db)
    assert msg.status == OutboxStatus.REFUSED and msg.attempts == 1 and msg.refused_at == db.clock.t
    assert json.loads(msg.refusal or "") == {
        "http_status": 400,
        "errors": [{"code": "400", "description": "location required"}],
    }
    case = f.get(cid)
    assert case.status == CaseState.RETURNED and case.external_id is None
    assert case.exchange_refusal == "HTTP 400: 400 location required"
    # Audited once, by the platform, with the receiver's words.
    (entry,) = audits(db, "exchange_refused")
    assert entry["case_id"] == cid and entry["login"] == "system"
    assert entry["from"] == "exchanged" and entry["to"] == "returned" and entry["http_status"] == 400
    assert entry["errors"] == [{"code": "400", "description": "location required"}]
    # The supervisors are told, and the centre sees the status change.
    (told,) = [e for e in report.events if isinstance(e, ExchangeRefused)]
    assert told.case_id == cid and told.audience.roles == frozenset({Role.SUPERVISOR})
    assert told.http_status == 400 and told.errors == (("400", "location required"),)
    (changed,) = [e for e in report.events if isinstance(e, CaseStatusChanged)]
    assert changed.new == "returned" and Role.AGENT in changed.audience.roles
    # Never sent again, however long the outbox runs.
    for _ in range(5):
        db.clock.advance(days=1)
        assert send(db, geo).refused == 0
    assert len(geo.posts) == 1 and messages(db)[0].attempts == 1
    # The centre corrects the case and forwards it again: a new request (new key), delivered.
    with db.session() as s, s.begin():
        forward(s, db.world.actors["agent"], cid, address="某区某路 8 号")
    case = f.get(cid)
    assert case.status == CaseState.EXCHANGED and case.exchange_refusal is None
    again = audits(db, "forward")[-1]
    assert again["case_id"] == cid and again["from"] == "returned" and again["address_changed"] is True
    assert send(db, geo).delivered == 1
    assert [p["key"] for p in geo.posts] == [f"{case.number}:request", f"{case.number}:request:2"]
    assert geo.posts[1]["address_string"] == "某区某路 8 号"
    assert f.get(cid).external_id == "SR-2"
    assert [m.status for m in messages(db)] == [OutboxStatus.REFUSED, OutboxStatus.DELIVERED]


def test_a_refused_case_may_be_answered_by_the_centre_instead(db: Db, geo: GeoReportReceiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    geo.plan = [LOCATION_REQUIRED]
    send(db, geo)
    agent = db.world.actors["agent"]
    with db.session() as s, s.begin():
        assert "resolve_directly" in allowed_actions(s, agent, get_case(s, agent, cid))
        resolve_directly(s, agent, cid, resolution="已当场答复")
    case = f.get(cid)
    assert case.status == CaseState.CLOSED and case.exchange_refusal is None
    assert messages(db)[0].status == OutboxStatus.REFUSED  # the refusal stays on record


@pytest.mark.parametrize(
    ("step", "errors"),
    [
        pytest.param(
            (403, [{"code": 403, "description": "api_key invalid"}], {}), [("403", "api_key invalid")], id="403"
        ),
        pytest.param(
            (404, [{"code": 404, "description": "service_code not found"}], {}),
            [("404", "service_code not found")],
            id="404",
        ),
        pytest.param(
            (400, [{"code": 400, "description": "lat missing"}, {"code": 400, "description": "long missing"}], {}),
            [("400", "lat missing"), ("400", "long missing")],
            id="400-two-errors",
        ),
        pytest.param((422, b"bad request body", {}), [("422", "bad request body")], id="422-plain-text"),
        pytest.param((400, {"code": 400, "description": "one object"}, {}), [("400", "one object")], id="400-object"),
        pytest.param(
            (200, [{"code": 400, "description": "description required"}], {}),
            [("400", "description required")],
            id="200-with-error-array",
        ),
    ],
)
def test_permanent_refusals_carry_the_receivers_codes(
    db: Db, geo: GeoReportReceiver, step: Step, errors: list[tuple[str, str]]
) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    geo.plan = [step]
    report = send(db, geo)
    assert report.refused == 1 and report.failed == 0
    (msg,) = messages(db)
    assert msg.status == OutboxStatus.REFUSED
    refusal = json.loads(msg.refusal or "")
    assert refusal["http_status"] == step[0]
    assert [(e["code"], e["description"]) for e in refusal["errors"]] == errors
    assert f.get(cid).status == CaseState.RETURNED
    db.clock.advance(days=2)
    send(db, geo)
    assert len(geo.posts) == 1


# --- transient answers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "in_error"),
    [
        pytest.param((408, b"", {}), "HTTP 408", id="408"),
        pytest.param((500, b"busy", {}), "HTTP 500", id="500"),
        pytest.param((503, [{"code": 503, "description": "maintenance"}], {}), "maintenance", id="503-error-array"),
        pytest.param((429, [{"code": 429, "description": "slow down"}], {}), "HTTP 429", id="429-no-retry-after"),
        pytest.param((200, b"<html>ok</html>", {}), "not JSON", id="200-not-json"),
        pytest.param((201, [{}], {}), "without service_request_id or token", id="201-no-id"),
        pytest.param((200, {"service_request_id": ""}, {}), "without service_request_id", id="200-empty-id"),
        pytest.param((302, b"", {"Location": "/elsewhere"}), "HTTP 302", id="302"),
    ],
)
def test_transient_answers_are_retried_with_backoff_until_delivered(
    db: Db, geo: GeoReportReceiver, step: Step, in_error: str
) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    geo.plan = [step, step]
    report = send(db, geo)
    assert (report.delivered, report.failed, report.refused) == (0, 1, 0)
    (msg,) = messages(db)
    assert msg.status == OutboxStatus.PENDING and msg.attempts == 1
    assert in_error in (msg.last_error or "")
    assert msg.next_attempt_at == db.clock.t + timedelta(seconds=5)  # backoff base, rng 0.5
    assert send(db, geo).failed == 0  # not due yet: nothing sent
    assert len(geo.posts) == 1
    db.clock.t = msg.next_attempt_at
    send(db, geo)
    assert messages(db)[0].next_attempt_at == db.clock.t + timedelta(seconds=10)  # doubled
    db.clock.t = messages(db)[0].next_attempt_at
    assert send(db, geo).delivered == 1
    assert f.get(cid).status == CaseState.EXCHANGED and f.get(cid).external_id == "SR-3"
    assert len({p["key"] for p in geo.posts}) == 1  # the same request each time


def test_429_retry_after_in_seconds_and_as_a_date_is_honoured(db: Db, geo: GeoReportReceiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    f.create()
    geo.plan = [(429, [{"code": 429, "description": "rate limited"}], {"Retry-After": "120"})]
    send(db, geo)
    assert messages(db)[0].next_attempt_at == db.clock.t + timedelta(seconds=120)
    db.clock.advance(seconds=119)
    send(db, geo)
    assert len(geo.posts) == 1  # still waiting as asked
    db.clock.advance(seconds=1)
    when = db.clock.t + timedelta(minutes=30)
    geo.plan = [(503, b"", {"Retry-After": format_datetime(when, usegmt=True)})]
    send(db, geo)
    assert len(geo.posts) == 2 and messages(db)[0].next_attempt_at == when
    db.clock.t = when
    assert send(db, geo).delivered == 1


def test_retry_after_is_capped_and_unreadable_values_fall_back_to_backoff() -> None:
    assert retry_after("5", T0) == timedelta(seconds=5)
    assert retry_after("soon", T0) is None and retry_after(None, T0) is None
    assert retry_after(format_datetime(T0 - timedelta(hours=1), usegmt=True), T0) == timedelta(0)
    out = classify(Answer(429, b"", {"retry-after": "999999"}), T0)
    assert isinstance(out, Transient) and out.retry_after == timedelta(seconds=999999)
    assert isinstance(classify(Answer(404, b"", {}), T0), Refused)
    assert isinstance(classify(Answer(408, b"", {}), T0), Transient)


def test_a_refused_connection_is_retried_and_nothing_is_lost(db: Db, geo: GeoReportReceiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    report = send(db, "http://127.0.0.1:9/none")
    assert (report.failed, report.refused) == (1, 0)
    (msg,) = messages(db)
    assert msg.status == OutboxStatus.PENDING and "Connection refused" in (msg.last_error or "")
    assert f.get(cid).status == CaseState.EXCHANGED
    db.clock.t = msg.next_attempt_at
    assert send(db, geo).delivered == 1


# --- token answers ------------------------------------------------------------------------------------------


def test_a_token_answer_is_followed_until_the_id_comes(db: Db, geo: GeoReportReceiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    geo.plan = [(201, [{"token": "T 1/x"}], {})]
    geo.token_plan = [(200, [{"token": "T 1/x"}], {}), (503, b"", {"Retry-After": "60"})]
    report = send(db, geo)
    assert (report.delivered, report.awaiting) == (0, 1)
    (msg,) = messages(db)
    assert msg.status == OutboxStatus.AWAITING_ID and msg.token == "T 1/x"
    assert f.get(cid).external_id is None
    db.clock.t = msg.next_attempt_at
    assert send(db, geo).awaiting == 1  # the receiver has not made the request yet
    assert geo.gets[-1].endswith("/tokens/T 1/x.json")
    db.clock.t = messages(db)[0].next_attempt_at
    send(db, geo)  # 503 with Retry-After
    assert messages(db)[0].next_attempt_at == db.clock.t + timedelta(seconds=60)
    db.clock.t = messages(db)[0].next_attempt_at
    assert send(db, geo).delivered == 1
    assert f.get(cid).external_id == "SR-T 1/x"
    assert len(geo.posts) == 1  # the request itself was sent once
    assert [a["token"] for a in audits(db, "exchange_accepted")] == ["T 1/x"]
    assert [a["service_request_id"] for a in audits(db, "exchange_delivered")] == ["SR-T 1/x"]


# --- the runner, the work list ------------------------------------------------------------------------------


def test_the_runner_reports_refusals_and_hands_the_events_over(db: Db, geo: GeoReportReceiver) -> None:
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    geo.plan = [LOCATION_REQUIRED]
    report = CaseRunner(db.session, {"12358": geo.url}).run_once()
    assert report.refused == 1
    assert [e.case_id for e in report.events if isinstance(e, ExchangeRefused)] == [cid]


def test_a_case_that_keeps_failing_is_told_to_the_supervisors_once_and_still_retried(
    db: Db, geo: GeoReportReceiver
) -> None:
    """Transient failures are retried for as long as it takes, but nobody has the case meanwhile: at the
    STALL_ATTEMPTS-th failure in a row the supervisors get one ExchangeStalled (and an audit entry)."""
    f = Flow(db, HotlineMode.EXCHANGE)
    cid = f.create()
    geo.plan = [(503, b"maintenance", {})] * (STALL_ATTEMPTS + 2)
    stalled: list[ExchangeStalled] = []
    said: list[tuple[str, ...]] = []  # what hotline status says after each attempt
    for _ in range(STALL_ATTEMPTS + 2):
        report = send(db, geo)
        assert report.failed == 1
        stalled += [e for e in report.events if isinstance(e, ExchangeStalled)]
        db.clock.t = messages(db)[0].next_attempt_at
        with db.session() as s:
            said.append(stalled_problems(s))
    assert said[: STALL_ATTEMPTS - 1] == [()] * (STALL_ATTEMPTS - 1)  # quiet until it is stalled
    (line,) = said[-1]
    number = f.get(cid).number
    assert line.startswith(f"hotline 12358: 1 case(s) not getting through to its own system after {STALL_ATTEMPTS}")
    assert f"({number}); still retried; last error: " in line and "503" in line, line
    assert [(e.case_id, e.attempts, e.hotline) for e in stalled] == [(cid, STALL_ATTEMPTS, "12358")]
    assert "HTTP 503" in stalled[0].error and stalled[0].audience.roles == {Role.SUPERVISOR}
    (entry,) = audits(db, "exchange_stalled")
    assert entry["case_id"] == cid and entry["login"] == "system" and entry["attempts"] == STALL_ATTEMPTS
    (msg,) = messages(db)
    assert msg.status == OutboxStatus.PENDING and msg.attempts == STALL_ATTEMPTS + 2  # still retried
    assert send(db, geo).delivered == 1 and f.get(cid).external_id is not None
    with db.session() as s:
        assert stalled_problems(s) == ()  # delivered: nothing to say


# --- intake against the receiver's service list and definitions ---------------------------------------------


def intake(sessions: Callable[[], Session], db: Db, **fields: Any) -> int:
    args: dict[str, Any] = {
        "hotline": "12358",
        "caller": "13900000001",
        "call_id": None,
        "category": "商品价格",
        "request": "多收费",
        "address": "某路",
        "urgency": "normal",
        "citizen_name": None,
        "contact": None,
        "language": "zh",
        "handling": "dispatch",
        **fields,
    }
    agent = db.world.actors["agent"]
    with transaction(sessions, agent, "create_case") as s:
        return create_case(s, agent, **args).id


def counts(db: Db) -> tuple[int, int]:
    with db.session() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Case)) or 0),
            int(s.scalar(select(func.count()).select_from(ExchangeMessage)) or 0),
        )


def with_catalog(db: Db, catalog: ServiceCatalog | None) -> Callable[[], Session]:
    def sessions() -> Session:
        s = db.session()
        if catalog is not None:
            attach_catalogs(s, {"12358": catalog})
        return s

    return sessions


def test_intake_refuses_a_case_without_the_location_georeport_requires(db: Db) -> None:
    with pytest.raises(ExchangeRequirement) as err:
        intake(db.session, db, address=None)
    assert err.value.error_id == "case_exchange_requires" and err.value.detail["field"] == "address"
    assert "地址" in err.value.message and "address required" in err.value.message
    assert counts(db) == (0, 0)  # nothing kept
    (refused,) = audits(db, "refused")
    assert refused["request"] == "create_case" and refused["error_id"] == "case_exchange_requires"
    assert intake(db.session, db, address="某路 1 号") > 0  # with a location it goes


def test_intake_checks_the_receivers_service_definition(db: Db, geo: GeoReportReceiver) -> None:
    geo.services = [
        {"service_code": SERVICE, "service_name": "商品价格", "metadata": True, "type": "realtime"},
        {"service_code": "12358:服务收费", "service_name": "服务收费", "metadata": False, "type": "batch"},
    ]
    geo.definitions[SERVICE] = {
        "service_code": SERVICE,
        "attributes": [
            {"code": "urgency", "variable": True, "datatype": "singlevaluelist", "required": True,
             "description": "紧急程度", "values": [{"key": "normal", "name": "一般"}, {"key": "urgent"}]},
            {"code": "district", "variable": True, "datatype": "string", "required": True, "description": "所在区"},
            {"code": "note", "variable": False, "datatype": "text", "required": True, "description": "说明"},
        ],
    }  # fmt: skip
    catalog = ServiceCatalog(geo.url, ttl=timedelta(minutes=10), clock=db.clock)
    sessions = with_catalog(db, catalog)
    with pytest.raises(ExchangeRequirement) as err:
        intake(sessions, db)
    assert err.value.detail == {"field": "attribute:district", "requirement": "所在区"}
    assert "district" in err.value.message and "所在区" in err.value.message
    with pytest.raises(ExchangeRequirement) as err:
        intake(sessions, db, category="服务收费", address=None)
    assert err.value.detail["field"] == "address"  # the GeoReport rule comes first
    assert intake(sessions, db, category="服务收费") > 0  # no definition: only the location is needed
    assert catalog.fetches == 2  # services.json and the one definition, once for all three intakes
    # The receiver drops the requirement; after the cache expires intake sees it.
    geo.definitions[SERVICE]["attributes"].pop(1)
    with pytest.raises(ExchangeRequirement):
        intake(sessions, db)
    db.clock.advance(minutes=11)
    with pytest.raises(ExchangeRequirement) as err:
        intake(sessions, db, urgency="critical")
    assert err.value.detail["field"] == "attribute:urgency" and "normal, urgent" in err.value.message
    assert intake(sessions, db, urgency="urgent") > 0
    assert catalog.fetches == 4
    # A service the receiver does not list would be a 404: refused at intake.
    geo.services.pop(1)
    db.clock.advance(minutes=11)
    with pytest.raises(ExchangeRequirement) as err:
        intake(sessions, db, category="服务收费")
    assert err.value.detail["field"] == "category"
    assert counts(db) == (2, 2)
    assert len(audits(db, "refused")) == 5


def test_an_unreachable_catalog_leaves_only_the_georeport_rules(db: Db) -> None:
    catalog = ServiceCatalog("http://127.0.0.1:9/none", clock=db.clock, timeout=2)
    sessions = with_catalog(db, catalog)
    assert intake(sessions, db) > 0
    assert intake(sessions, db) > 0
    assert catalog.fetches == 1  # a failed read is not repeated at every intake
    with pytest.raises(ExchangeRequirement):
        intake(sessions, db, address=" ")
