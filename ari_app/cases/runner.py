"""The case work the server does on its own, periodically: raise supervision on overdue dispatches, send
the exchange outbox to the hotlines' own systems, fetch their status updates, put keypad survey answers
that are on no case yet onto the case taken on their call, and remove attachments past their retention.

Each pass runs in a worker thread (the case service is synchronous SQLAlchemy), each step in its own
transaction, and a failing step is logged without stopping the others or the next pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ari_app.cases.attachments import purge_expired
from ari_app.cases.deadlines import escalate_overdue
from ari_app.cases.events import CaseEvent, ExchangeRefused, take_events
from ari_app.cases.exchange import deliver_due, poll_updates
from ari_app.cases.linkage import poll_results
from ari_app.cases.settings import settings_of
from ari_app.cases.surveys import link_pending
from ari_app.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    escalated: int = 0
    delivered: int = 0
    failed: int = 0
    refused: int = 0
    updates: int = 0
    surveys: int = 0
    purged: int = 0
    events: list[CaseEvent] = field(default_factory=list)


class CaseRunner:
    def __init__(
        self,
        sessions: Callable[[], Session],
        exchange_endpoints: Mapping[str, str],
        interval: float = 60.0,
        api_keys: Mapping[str, Callable[[], str]] | None = None,
        partners: Mapping[str, str] | None = None,
        partner_keys: Mapping[str, Callable[[], str]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.endpoints = dict(exchange_endpoints)
        self.api_keys = dict(api_keys or {})
        """Hotline number → a function reading the api_key its system issued (`deliver_due`)."""
        self.partners = dict(partners or {})
        """联动: partner key → the base URL of its Open311 receiver (linkage work orders)."""
        self.partner_keys = dict(partner_keys or {})
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> RunReport:
        report = RunReport()
        try:
            with self.sessions() as s, s.begin():
                raised = escalate_overdue(s)
            report.escalated = len(raised)
            report.events.extend(take_events(s))
        except Exception:
            log.exception("overdue escalation failed")
        try:
            with self.sessions() as s, s.begin():
                report.surveys = link_pending(s, settings_of(s).now())
        except Exception:
            log.exception("linking survey answers to cases failed")
        try:
            with self.sessions() as s, s.begin():
                if settings_of(s).attachments.dir is not None:
                    report.purged = purge_expired(s)
        except Exception:
            log.exception("removing expired attachments failed")
        if self.endpoints or self.partners:
            try:
                delivery = deliver_due(
                    self.sessions,
                    self.endpoints,
                    api_keys=self.api_keys,
                    partners=self.partners,
                    partner_keys=self.partner_keys,
                )
                report.delivered, report.failed = delivery.delivered, delivery.failed
                report.refused = delivery.refused
                report.events.extend(delivery.events)
                for event in delivery.events:
                    if isinstance(event, ExchangeRefused):
                        log.warning(
                            "exchange: hotline %s refused case %s (HTTP %d: %s); it is back on the centre's list",
                            event.hotline,
                            event.number,
                            event.http_status,
                            "; ".join(f"{c} {d}" for c, d in event.errors),
                        )
            except Exception:
                log.exception("exchange delivery failed")
            try:
                report.updates = poll_updates(self.sessions, self.endpoints)
                report.updates += poll_results(self.sessions, self.partners)
            except Exception:
                log.exception("exchange polling failed")
        if (
            report.escalated
            or report.delivered
            or report.failed
            or report.refused
            or report.updates
            or report.surveys
            or report.purged
        ):
            log.info(
                "case runner: %d escalated, %d delivered, %d delivery failures, %d refused, %d exchange updates, "
                "%d survey answers put on cases, %d attachments removed by retention",
                report.escalated,
                report.delivered,
                report.failed,
                report.refused,
                report.updates,
                report.surveys,
                report.purged,
            )
        return report

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def run_pass(self) -> RunReport:
        """One pass in a worker thread. Its events reach desktops as every committed case event does
        (`events.publish_after_commit`); `report.events` lists them."""
        return await asyncio.to_thread(self.run_once)

    async def _run(self) -> None:
        while True:
            await self.run_pass()
            await asyncio.sleep(self.interval)
