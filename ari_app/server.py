"""Wiring: builds the CTI server from config, once, and runs it (`hotline serve`).

This is the only place that knows every part; the parts know only what they are handed.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agi_scripts.server import FastAgiServer
from ari_app.ami import PUBLISH_WINDOW, STORE_DELAY, AmiLink
from ari_app.bus import EventBus
from ari_app.callbacks import CallbackService
from ari_app.calls.events import (
    CallConnected,
    CallEnded,
    CallEvent,
    CallLegChanged,
    ConferenceChanged,
    QueueMemberChanged,
    QueueMembership,
)
from ari_app.calls.numbers import NumberPlan
from ari_app.calls.store import SqlCallStore
from ari_app.calls.tracker import CallTracker
from ari_app.cases import CaseSettings
from ari_app.cases import configure as configure_cases
from ari_app.cases.events import CaseEvent, publish_after_commit
from ari_app.cases.exchange import ServiceCatalog, attach_catalogs, stalled_problems
from ari_app.cases.runner import CaseRunner
from ari_app.cases.surveys import link_call
from ari_app.conference import ThreeWay
from ari_app.conference.desk import ConferenceDesk
from ari_app.config import Config, HotlineMode
from ari_app.dialplan_render import FASTAGI_PORT, fastagi_secret
from ari_app.health import (
    SERVER_HEALTH_FILE,
    Health,
    HealthMonitor,
    HealthReport,
    check,
    recordings_disk,
    save_report,
    with_disk,
)
from ari_app.link import LinkServer
from ari_app.load import LoadGovernor, SheddingPolicy, sip_round_trip
from ari_app.missed import MissedCallChanged, MissedCalls, MissedSettings
from ari_app.missed.desk import MissedDesk
from ari_app.outbound.desk import OutboundDesk
from ari_app.outbound.service import OutboundDialer
from ari_app.qa.recordings import audit_recording_failure, check_when_ended
from ari_app.supervision.spy import ChanSpy
from ari_app.transfers import Transfers
from ari_app.transfers.desk import PartnerHandoffs, TransferDesk
from ari_app.web.app import WebServer, build_app
from recordings.retention import RetentionRunner
from recordings.service import RecordingFailure, TranscriptionService
from schema.db import make_engine, make_sessionmaker, upgrade

log = logging.getLogger(__name__)

RECONCILE_WAIT = 5.0
"""Seconds the queue's reconciliation waits for the link to take in the queue events before it (see build_server)."""


def stored_first(store: SqlCallStore, handler: Callable[[Any], Any]) -> Callable[[Any], Awaitable[None]]:
    """A bus subscriber that reads the call records it is told about: every call saved before the event was
    published is written (`store.write_pending`) before `handler` runs. Only these wait for the database;
    the rest, the screen-pop first, get their events at once."""

    async def handle(event: Any) -> None:
        await store.write_pending()
        result = handler(event)
        if inspect.isawaitable(result):
            await result

    return handle


class ConfigAgents:
    """Maps Asterisk interfaces (PJSIP/1001) to agent ids from config."""

    def __init__(self, cfg: Config) -> None:
        self._by_interface = {a.interface.lower(): a.id for a in cfg.agents}

    def agent_id_for(self, interface: str) -> str | None:
        return self._by_interface.get(interface.lower())


@dataclass
class CtiServer:
    cfg: Config
    engine: Engine
    sessions: sessionmaker[Session]
    store: SqlCallStore
    tracker: CallTracker
    ami: AmiLink
    bus: EventBus
    extras: list[Any] = field(default_factory=list)
    health: HealthMonitor | None = None
    load: LoadGovernor | None = None
    callbacks: CallbackService | None = None
    missed: MissedCalls | None = None
    link: LinkServer | None = None
    three_way: ThreeWay | None = None
    transfers: Transfers | None = None
    transcription: TranscriptionService | None = None

    async def start(self) -> None:
        self.bus.start()
        self.tracker.adopt(self.store.load_open())
        await self.ami.start()
        for extra in self.extras:
            await extra.start()
        settle_heap()

    async def stop(self) -> None:
        for extra in reversed(self.extras):
            await extra.stop()
        await self.ami.stop()
        await self.bus.stop()
        try:
            await self.store.write_pending()
        except Exception:
            log.exception("storing the last call records failed")
        self.engine.dispose()
        gc.unfreeze()


def settle_heap() -> None:
    """Move what the server made while starting (configuration, mappers, compiled statements, open calls)
    out of the garbage collector's reach: a full collection then walks only what came after, instead of
    pausing the event loop, and every screen-pop waiting on it, for tens of milliseconds (a collection of
    the started heap took 200 ms in benchmarks/bench_screenpop.py). Python's `gc.freeze()`, as its
    documentation suggests for a long-lived process after start-up; `CtiServer.stop()` gives them back
    (`gc.unfreeze()`), so a process that starts servers again and again (the tests) does not keep them."""
    gc.collect()
    gc.freeze()


def build_server(cfg: Config, health_interval: float = 5.0) -> CtiServer:
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    store = SqlCallStore(sessions, deferred=True, window=PUBLISH_WINDOW, delay=STORE_DELAY)
    numbers = NumberPlan.from_config(cfg)
    bus = EventBus()
    tracker = CallTracker(store, ConfigAgents(cfg), [h.number for h in cfg.hotlines], numbers=numbers, bus=bus)
    ami = AmiLink(cfg, tracker)
    server = CtiServer(cfg=cfg, engine=engine, sessions=sessions, store=store, tracker=tracker, ami=ami, bus=bus)
    calls = (CallEvent, QueueMemberChanged)

    exchange_problems: tuple[str, ...] = ()

    def read_exchange_problems() -> tuple[str, ...]:
        with sessions() as s:
            return stalled_problems(s)

    async def probe() -> HealthReport:
        nonlocal exchange_problems
        sip = cfg.asterisk.sip
        report = await check(ami.ping, ami.channel_count, sip.host, sip.port, cfg.admission.max_calls)
        disk = await recordings_disk(cfg.recordings_path, cfg.recordings_disk)
        report = with_disk(report, disk)
        # cases not getting through to an exchange-mode hotline's own system (the supervisors were told once)
        try:
            exchange_problems = await asyncio.to_thread(read_exchange_problems)
        except Exception as exc:
            exchange_problems = (f"case exchange unavailable ({type(exc).__name__}: {exc})",)
        if server.link is not None:
            await server.link.supervisor.on_recordings_disk(disk)
        if server.link is None or report.state is Health.DOWN:
            return report
        # The queue's members against the agents signed in: a member Asterisk lost (a restart while the AMI
        # link was away, a reload of app_queue) is put back here at the latest.
        try:
            problems = await reconcile(await ami.queue_members(cfg.queue.name))
        except Exception as exc:
            problems = (f"queue members unavailable ({exc})",)
        if not problems:
            return report
        return replace(report, state=Health.DEGRADED, problems=(*report.problems, *problems))

    health_file = cfg.path.parent / SERVER_HEALTH_FILE

    def keep_report(report: HealthReport) -> None:
        try:
            problems = server.link.agents.queue_problems if server.link else ()
            if server.load is not None:
                problems = (*problems, *server.load.problems)
            problems = (*problems, *exchange_problems)
            save_report(health_file, report, problems)
        except OSError as exc:
            log.warning("could not write %s: %s", health_file, exc)

    policy = SheddingPolicy(shed_ms=cfg.admission.shed_ms)

    async def set_global(name: str, value: str) -> None:
        await ami.action(Action="Setvar", Variable=name, Value=value)

    sip = cfg.asterisk.sip
    server.load = LoadGovernor(
        policy,
        sip_round_trip(sip.host, sip.port, policy.timeout),
        set_global,
        link_up=lambda: ami.resyncs if ami.connected.is_set() else None,
    )
    server.extras.append(server.load)
    server.health = HealthMonitor(probe, bus.publish, interval=health_interval)
    bus.subscribe(keep_report, HealthReport)
    server.extras.append(server.health)
    server.callbacks = CallbackService(cfg, sessions, ami)
    bus.subscribe(server.callbacks.on_event, *calls)
    server.extras.append(server.callbacks)

    partners = {p.key: p for p in cfg.linkage}  # 联动 110/119/120
    server.three_way = ThreeWay(tracker, ami, sessions, cfg.callback.trunk, partners=partners)
    bus.subscribe(server.three_way.on_event, ConferenceChanged)

    configure_cases(sessions, CaseSettings.from_config(cfg))
    exchange = {h.number: h.exchange_url for h in cfg.hotlines if h.mode == HotlineMode.EXCHANGE and h.exchange_url}
    attach_catalogs(sessions, {number: ServiceCatalog(url) for number, url in exchange.items()})  # intake checks
    server.extras.append(
        CaseRunner(
            sessions,
            exchange,
            api_keys={h.number: h.exchange_key.value for h in cfg.hotlines if h.exchange_key and h.number in exchange},
            partners={p.key: p.receiver.url for p in cfg.linkage if p.receiver},
            partner_keys={p.key: p.receiver.key.value for p in cfg.linkage if p.receiver and p.receiver.key},
        )
    )
    server.link = LinkServer(cfg, sessions, ami)
    server.link.supervisor.before_refresh = store.write_pending  # the wallboard counts the stored calls
    publish_after_commit(sessions, bus.publish)  # every committed case event, whoever made it
    bus.subscribe(server.link.cases.on_case_event, CaseEvent)
    link_calls = bus.subscribe(server.link.on_call_event, *calls)

    async def reconcile(members: dict[str, QueueMembership]) -> tuple[str, ...]:
        """Put back the agents Asterisk's queue lacks, once the agents' states have taken in every queue event
        Asterisk sent before `members` (its QueueStatus reply): an agent someone has just removed is not
        taken as lost and added back (the e2e suite met it, removing its 20 members as a health probe ran)."""
        assert server.link is not None
        await ami.publish_pending()  # the removals received before `members` may still wait for their window
        try:
            await asyncio.wait_for(link_calls.caught_up(), RECONCILE_WAIT)
        except TimeoutError:
            log.warning(
                "the link is over %s s behind the call events; reconciling the queue as it stands", RECONCILE_WAIT
            )
        return await server.link.agents.reconcile_queue(members)

    ami.on_resynced.append(reconcile)
    server.link.add(ConferenceDesk(server.three_way, PartnerHandoffs(sessions)))
    server.link.supervisor.spy = ChanSpy(cfg, tracker, ami)
    bus.subscribe(server.link.supervisor.on_health, HealthReport)
    server.transfers = Transfers(
        tracker, ami, sessions, cfg.callback.trunk, {a.id: a.interface for a in cfg.agents}, partners=partners
    )
    bus.subscribe(server.transfers.on_event, CallLegChanged, CallEnded)
    server.link.add(TransferDesk(server.transfers))
    server.link.add(OutboundDesk(OutboundDialer(ami, cfg.callback.trunk)))
    # 漏接回拨: a task per missed number, closed by the citizen's next answered call (the calls stored first)
    missed = MissedSettings.from_config(cfg)
    server.missed = MissedCalls(sessions, missed, bus.publish)
    bus.subscribe(stored_first(store, server.missed.on_event), CallEnded, CallConnected)
    missed_desk = MissedDesk(missed, bus.publish)
    server.link.add(missed_desk)
    bus.subscribe(missed_desk.on_changed, MissedCallChanged)
    server.extras.append(server.link)
    if cfg.web.enabled:  # the browser front, in this process: it hears the case events from this bus
        web = build_app(cfg, sessions, guard=server.link.guard, standalone=False)
        bus.subscribe(web.hub.on_case_event, CaseEvent, name="web")
        server.extras.append(WebServer(cfg, web))

    server.extras.append(
        FastAgiServer(sessions, cfg.server.host, FASTAGI_PORT, fastagi_secret(cfg), on_answer=link_call)
    )

    server.transcription = TranscriptionService(sessions, cfg.recordings_path, audit_failure=audit_recording_failure)
    server.transcription.publish = bus.publish
    bus.subscribe(server.link.supervisor.on_recording_failed, RecordingFailure)
    bus.subscribe(stored_first(store, check_when_ended(server.transcription)), CallEnded)
    server.extras.append(server.transcription)
    server.extras.append(RetentionRunner(cfg.recordings_path, cfg.retention_days))
    return server


async def serve(cfg: Config) -> None:
    server = build_server(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    log.info(
        "CTI server running: AMI %s:%s, database %s",
        cfg.asterisk.ami.host,
        cfg.asterisk.ami.port,
        server.engine.url.render_as_string(hide_password=True),
    )
    try:
        await stop.wait()
    finally:
        await server.stop()
