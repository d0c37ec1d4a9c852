"""The supervisor's side of the link: the live wallboard, pushed, and actions on agents (docs/protocol.md).

Wallboard: a supervisor (role supervisor or admin) sends `wallboard_subscribe`; the reply is a snapshot and
from then on the server pushes a new one whenever something changed (a call event, an agent's state, the
health of Asterisk), coalesced: one snapshot at once after a quiet spell, then at most one per
`min_interval` however many events arrive, so a call storm costs a few snapshots a second, not one per
event. A slow `tick` pushes anyway so waits and pause durations stay current. The figures come from the call
records (ari_app.supervision.wallboard) through an incremental cache read in a worker thread, never on the event loop.

Actions (`supervise_agent`): pause or resume an agent (Asterisk QueuePause, then the agent's state and
desktops as if the agent had done it), and listen, whisper or barge into the agent's call through the
`SpyControl` port (ari_app.supervision.spy on the real Asterisk). Every request, refused or done, is written to the
audit log with who, which agent, which action and the outcome (`supervise_<action>`, detail `outcome`: `done`
or the error id): listening to a call is sensitive. A refused `wallboard_subscribe` leaves a `refused` entry
(ari_app.cases.audit.refusals_audited).

Alarms (`alarm` push, docs/protocol.md "Alarms"): what needs a person now is pushed to every signed-in
supervisor and admin connection, wallboard open or not: the recordings disk going low, full or unmeasurable
and back to ok (once per change of state, not per health probe), and each call whose recording failed its
check (recordings.service). Each alarm is logged, written to the audit log (`alarm`, by `system`, with how
many desktops it reached) and kept in the wallboard snapshot's `alarms` (the last `ALARM_HISTORY`), so a
supervisor who signs in later still sees it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ari_app import protocol as p
from ari_app.agents.session import AgentSession
from ari_app.calls.events import CallEvent, QueueMemberChanged
from ari_app.cases.actor import SYSTEM, Actor
from ari_app.cases.audit import audit, mark_audited, refusals_audited
from ari_app.config import Config
from ari_app.protocol import AgentState, CallPhase, DomainError, ErrorId, Msg, ProtocolError
from ari_app.supervision.wallboard import TodayCalls, day_start

if TYPE_CHECKING:
    from ari_app.health import DiskReport
    from ari_app.link.connection import Connection
    from ari_app.link.routes import Request
    from ari_app.link.server import LinkServer
    from recordings.service import RecordingFailure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WallboardSettings:
    """config.yaml `server:` keys `service_level_seconds` (default 15) and `service_level_target` (percent,
    default 80): answered within the threshold counts toward the service level, shown against the target."""

    threshold_seconds: int = 15
    target_percent: float = 80.0
    min_interval: float = 0.25
    """Least time between two pushed snapshots (seconds)."""
    tick_seconds: float = 5.0
    """A snapshot is pushed at least this often, changed or not."""

    @classmethod
    def from_config(cls, cfg: Config) -> WallboardSettings:
        """From config.yaml's `server` section (ari_app.config.ServerSettings, checked when it was loaded)."""
        return cls(threshold_seconds=cfg.server.service_level_seconds, target_percent=cfg.server.service_level_target)


class SpyControl(Protocol):
    """Bring a supervisor's phone into an agent's call (ari_app.supervision.spy.ChanSpy on the real Asterisk)."""

    async def spy(self, call_id: str, mode: str, phone: str, supervisor: str) -> str: ...


SPY_MODES = ("listen", "whisper", "barge")
ALARM_HISTORY = 20
"""Alarms kept for the wallboard snapshot (newest last)."""
MAX_LISTED = 50
"""Call ids listed in one `recordings_failed` alarm at the most (its `count` has them all)."""
RECORDING_ALARM_WINDOW = 60.0
"""Seconds over which failed recordings after the first are gathered into one alarm (a full disk fails every
call that ends; one alarm per call would bury the supervisors' desktops)."""

_DISK_SEVERITY = {"ok": "info", "low": "warning", "full": "critical", "unavailable": "warning"}


class Supervision:
    """Wallboard subscriptions and supervisor actions for one LinkServer."""

    def __init__(self, link: LinkServer, settings: WallboardSettings | None = None) -> None:
        self.link = link
        self.settings = settings or WallboardSettings.from_config(link.cfg)
        self.spy: SpyControl | None = None
        self.today = TodayCalls(
            link.sessions, link.cfg.timezone, [h.number for h in link.cfg.hotlines], self.settings.threshold_seconds
        )
        self.subscribers: set[Connection] = set()
        self.health: dict[str, Any] = {"state": "unknown", "problems": [], "at": None}
        self.seq = 0
        self.snapshots = 0
        self.disk_state: str | None = None
        """The recordings disk's last state (ari_app.health.DiskState), None before the first probe."""
        self.alarms: deque[dict[str, Any]] = deque(maxlen=ALARM_HISTORY)
        self.failure_window = RECORDING_ALARM_WINDOW
        self._failures: list[RecordingFailure] | None = None
        """Failed recordings gathered since the last recording alarm; None: no window open."""
        self._changed = asyncio.Event()
        self._refresh_lock = asyncio.Lock()
        self.before_refresh: Callable[[], Awaitable[None]] | None = None
        """Awaited before the figures are read from the call records (the server's call store writes what it
        holds: ari_app.server wires `SqlCallStore.write_pending`)."""
        self._task: asyncio.Task[None] | None = None

    # --- change notifications ------------------------------------------------------------------------
    def changed(self) -> None:
        """Something the wallboard shows changed; a snapshot follows within `min_interval`."""
        self._changed.set()

    def on_event(self, _event: CallEvent | QueueMemberChanged) -> None:
        self.changed()

    def on_health(self, report: Any) -> None:
        """The HealthMonitor's subscriber: a change of state is pushed at once, the rest with the next one."""
        new = report.as_dict()
        if new.get("state") != self.health.get("state"):
            self.changed()
        self.health = new

    # --- alarms --------------------------------------------------------------------------------------
    async def on_recordings_disk(self, disk: DiskReport) -> None:
        """Each health probe's measure of the recordings disk; an alarm only when its state changes (the
        first measure raises one only if it is not ok)."""
        state = disk.state.value
        before, self.disk_state = self.disk_state, state
        if state == before or (before is None and state == "ok"):
            return
        if disk.problem is not None:
            message = disk.problem
        else:
            room = f"{disk.percent_free:.1f} %" if disk.percent_free is not None else "room"
            message = f"recordings disk {disk.path} has room again: {room} free"
        detail = {k: v for k, v in disk.as_dict().items() if k in ("path", "free_bytes", "total_bytes", "percent_free")}
        await self.alarm(f"recordings_disk_{state}", _DISK_SEVERITY[state], message, previous=before, **detail)

    async def on_recording_failed(self, failure: RecordingFailure) -> None:
        """recordings.service's subscriber. The first failed recording raises `recording_failed` at once;
        those that follow within `failure_window` seconds are gathered into one `recordings_failed` alarm at
        the window's end (count, calls, reasons), and the window goes on while they keep coming. Every failed
        recording is still marked on its call and audited by recordings.service."""
        if self._failures is not None:
            self._failures.append(failure)
            return
        self._failures = []
        self.link.spawn(self._gather_failures(), "recording alarms")
        await self.alarm(
            "recording_failed",
            "critical",
            f"the recording of call {failure.call_id} failed: {failure.reason}",
            call_id=failure.call_id,
            hotline=failure.hotline,
            reason=failure.reason,
        )

    async def _gather_failures(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.failure_window)
                batch, self._failures = self._failures or [], []
                if not batch:
                    break
                reasons = Counter(f.reason.split(": ", 1)[-1] for f in batch)
                await self.alarm(
                    "recordings_failed",
                    "critical",
                    f"{len(batch)} more recordings failed in the last {self.failure_window:g} s "
                    f"({'; '.join(f'{n} × {r}' for r, n in reasons.most_common(3))})",
                    count=len(batch),
                    window_seconds=self.failure_window,
                    call_ids=[f.call_id for f in batch[:MAX_LISTED]],
                    hotlines=sorted({f.hotline for f in batch if f.hotline}),
                )
        finally:
            self._failures = None

    async def alarm(self, kind: str, severity: str, message: str, **detail: Any) -> dict[str, Any]:
        """Push an `alarm` to every signed-in supervisor and admin, keep it for the wallboard, log it and
        audit it. Returns the message."""
        now = self.link.clock()
        msg = {
            "type": Msg.ALARM,
            "kind": kind,
            "severity": severity,
            "message": message,
            "at": now.isoformat(),
            "detail": detail,
        }
        sent = 0
        for conn in self.link.signed_in():
            actor = conn.session.actor if conn.session is not None else None
            if actor is not None and str(actor.role) in p.SUPERVISOR_ROLES:
                conn.send(msg)
                sent += 1
        self.alarms.append(msg)
        level = logging.INFO if severity == "info" else logging.ERROR
        log.log(level, "alarm %s to %d supervisor desktops: %s", kind, sent, message)
        try:
            await asyncio.to_thread(self._audit, SYSTEM, "alarm", {"kind": kind, "message": message, "sent_to": sent})
        except Exception:
            log.exception("auditing alarm %s failed", kind)
        self.changed()
        return msg

    # --- subscriptions -------------------------------------------------------------------------------
    def register(self, link: LinkServer) -> None:
        link.routes.add(Msg.WALLBOARD_SUBSCRIBE, self.subscribe)
        link.routes.add(Msg.WALLBOARD_UNSUBSCRIBE, self.unsubscribe)
        link.routes.add(Msg.SUPERVISE_AGENT, self.supervise)
        link.listen(self.on_event, CallEvent, QueueMemberChanged)
        link.agents.subscribe(lambda _event: self.changed())

    async def subscribe(self, req: Request) -> None:
        conn, session = req.conn, req.session
        async with refusals_audited(self.link.sessions, session.actor, Msg.WALLBOARD_SUBSCRIBE, source=conn.source):
            self._require_supervisor(session)
        snapshot = await self.snapshot()
        conn.send({**snapshot, "re": req.id} if req.id is not None else snapshot)
        self.subscribers.add(conn)
        if self._task is None:
            self._task = self.link.spawn(self._run(), "wallboard feed")

    async def unsubscribe(self, req: Request) -> None:
        self.subscribers.discard(req.conn)
        req.reply(Msg.WALLBOARD_UNSUBSCRIBED)

    def forget(self, conn: Connection) -> None:
        """The connection signed out or closed."""
        self.subscribers.discard(conn)

    async def _run(self) -> None:
        try:
            while self.subscribers:
                try:
                    await asyncio.wait_for(self._changed.wait(), self.settings.tick_seconds)
                except TimeoutError:
                    pass
                self._changed.clear()
                if not self.subscribers:
                    break
                try:
                    snapshot = await self.snapshot()
                except Exception:
                    log.exception("wallboard snapshot failed")
                else:
                    for conn in list(self.subscribers):
                        if conn.closing or conn.session is None:
                            self.subscribers.discard(conn)
                        else:
                            conn.send(snapshot)
                await asyncio.sleep(self.settings.min_interval)
        finally:
            self._task = None

    # --- the snapshot --------------------------------------------------------------------------------
    async def snapshot(self) -> dict[str, Any]:
        """One `wallboard` message: today's figures from the call records, the agents' live states, health."""
        now = self.link.clock()
        threshold = self.settings.threshold_seconds
        if self.today.threshold != threshold:  # the settings were changed: count the day again
            self.today.threshold, self.today.closed = threshold, None

        async with self._refresh_lock:
            if self.before_refresh is not None:
                await self.before_refresh()
            board = await asyncio.to_thread(self.today.refresh, now)
        self.seq += 1
        self.snapshots += 1
        per_agent = {a.agent: a.as_dict() for a in board.agents}
        names = {h.number: h for h in self.link.cfg.hotlines}
        hotline_rows = []
        for f in board.hotlines:
            row = f.as_dict()
            h = names.get(f.hotline)
            row["name_zh"], row["name_en"] = (h.name_zh, h.name_en) if h else (f.hotline, f.hotline)
            hotline_rows.append(row)
        sessions = self.link.agents.sessions.values()
        agents = [self._agent_row(s, now, per_agent.get(s.login)) for s in sessions if s.agent]
        agents.sort(key=lambda a: a["id"])
        states = {str(s): 0 for s in AgentState}
        for a in agents:
            states[a["state"]] += 1
        return {
            "type": Msg.WALLBOARD,
            "seq": self.seq,
            "at": now.isoformat(),
            "day_start": day_start(now, self.link.cfg.timezone).isoformat(),
            "queue": self.link.agents.queue_name,
            "threshold_seconds": threshold,
            "service_level_target": self.settings.target_percent,
            "total": board.total.as_dict(),
            "hotlines": hotline_rows,
            "agents": agents,
            "agent_states": states,
            "calls_per_15_minutes": board.intervals,
            "health": self.health,
            "alarms": list(self.alarms),
        }

    @staticmethod
    def _agent_row(session: AgentSession, now: datetime, figures: dict[str, Any] | None) -> dict[str, Any]:
        agent = session.agent
        assert agent is not None
        call = session.call
        return {
            "id": session.login,
            "name": agent.name,
            "extension": agent.extension,
            "state": str(session.state),
            "reason": session.reason,
            "pause_after": session.pause_after,
            "since": session.since.isoformat(),
            "state_seconds": round(max(0.0, (now - session.since).total_seconds()), 1),
            "desktops": session.desktops,
            "call": None
            if call is None
            else {"call_id": call.call_id, "phase": str(call.phase), "hotline": call.hotline, "caller": call.caller},
            "answered": figures["answered"] if figures else 0,
            "talk_seconds": figures["talk_seconds"] if figures else 0.0,
            "average_talk": figures["average_talk"] if figures else None,
        }

    # --- actions -------------------------------------------------------------------------------------
    def _require_supervisor(self, session: AgentSession) -> Actor:
        actor = session.actor
        if actor is None or str(actor.role) not in p.SUPERVISOR_ROLES:
            raise ProtocolError(ErrorId.NOT_A_SUPERVISOR, "only supervisors may see the wallboard and supervise")
        return actor

    async def supervise(self, req: Request) -> None:
        session, msg = req.session, req.msg
        agent_id, action = msg["agent_id"], msg["action"]
        detail: dict[str, Any] = {"agent": agent_id, "mode": action}
        outcome = "done"
        try:
            self._require_supervisor(session)
            target = self.link.agents.sessions.get(agent_id)
            if target is None or target.agent is None:
                raise ProtocolError(ErrorId.UNKNOWN_AGENT, f"no queue agent {agent_id!r}", field="agent_id")
            if action in SPY_MODES:
                reply = await self._spy(session, target, action, msg.get("phone"), detail)
            else:
                reply = await self._pause(target, action == "pause", (msg.get("reason") or "").strip(), detail)
        except DomainError as exc:
            outcome = exc.error_id
            mark_audited(exc)  # by the supervise_<action> entry below
            raise
        except Exception:
            outcome = "internal_error"
            raise
        finally:
            if session.actor is not None:
                await asyncio.to_thread(self._audit, session.actor, action, {**detail, "outcome": outcome})
        req.reply(Msg.AGENT_SUPERVISED, **reply)

    async def _pause(self, target: AgentSession, pause: bool, reason: str, detail: dict[str, Any]) -> dict[str, Any]:
        agent = target.agent
        assert agent is not None
        if target.state is AgentState.SIGNED_OUT:
            raise ProtocolError(ErrorId.AGENT_SIGNED_OUT, f"agent {target.login} is not signed in to the queue")
        wanted = AgentState.PAUSED if pause else AgentState.READY
        reason = (reason or "other") if pause else ""
        detail["reason"] = reason
        on_call = target.state is AgentState.ON_CALL
        if on_call and not pause and target.pause_after is None:
            raise ProtocolError(
                ErrorId.STATE_FORBIDDEN,
                f"agent {target.login} is on a call and not waiting to pause",
                current=str(target.state),
                target=str(wanted),
            )
        # on a call, Asterisk's pause stops the queue offering the next call; the call itself goes on, and
        # the agent's pause waits for its end (then its wrap-up); a resume cancels it
        await self.link.agents.supervisor_pause(target, pause, reason)
        if on_call:
            detail["after_call"] = True
        return {
            "agent_id": target.login,
            "action": "pause" if pause else "resume",
            "state": target.info(self.link.clock()),
        }

    async def _spy(
        self, session: AgentSession, target: AgentSession, mode: str, phone: str | None, detail: dict[str, Any]
    ) -> dict[str, Any]:
        own = self.link.cfg.agent(session.login)
        phone = phone or (own.extension if own else None)
        if not phone:
            raise ProtocolError(
                ErrorId.INVALID_FIELD, "phone is required: the supervisor's phone to ring", field="phone"
            )
        detail["phone"] = phone
        call = target.call
        if call is None or call.phase is not CallPhase.CONNECTED:
            raise ProtocolError(ErrorId.AGENT_NOT_ON_CALL, f"agent {target.login} is not on a call")
        detail["call_id"] = call.call_id
        if self.spy is None:
            raise ProtocolError(ErrorId.SPY_UNAVAILABLE, "listening to calls is not available on this server")
        channel = await self.spy.spy(call.call_id, mode, phone, session.login)
        return {"agent_id": target.login, "action": mode, "call_id": call.call_id, "phone": phone, "channel": channel}

    def _audit(self, actor: Actor, action: str, detail: dict[str, Any]) -> None:
        name = action if actor is SYSTEM else f"supervise_{action}"
        with self.link.sessions.begin() as s:
            audit(s, actor, name, None, self.link.clock(), **detail)
