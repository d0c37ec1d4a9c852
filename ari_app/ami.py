"""The AMI edge: panoramisk connected to Asterisk, feeding the call tracker and carrying queue actions.

panoramisk's own reconnect waits a fixed two seconds for ever; here the delay grows exponentially with
jitter (so that many servers restarting together do not reconnect in lock-step) and resets once a login
succeeds. After every login, once Asterisk says `FullyBooted`, the tracker is resynchronised from
`CoreShowChannels` so that nothing is left "in progress" that Asterisk no longer has, the queue's members
are replayed from `QueueStatus`, and the `on_resynced` hooks get the members so that the server can put back
the agents a restarted Asterisk (or a reloaded app_queue) no longer has.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk import Manager  # type: ignore[import-untyped]  # panoramisk ships no type information

from ari_app.calls.events import QueueMembership
from ari_app.calls.store import call_at_or_soon
from ari_app.calls.tracker import CallTracker, LiveChannel
from ari_app.config import Config
from ari_app.health import parse_core_status
from ari_app.protocol import DomainError, ErrorId

log = logging.getLogger(__name__)

PUBLISH_WINDOW = 0.1
"""Seconds: under load, the call transitions of this long are stored and published together."""
STORE_DELAY = 0.03
"""Seconds a call transition waits before the call store starts writing it (ari_app.calls.store): longer
than the publish of a burst of events takes (50 screen-pops at once: about 10 ms), so the write's worker
thread does not contend with it for the interpreter. Measured with benchmarks/bench_screenpop.py: with the
write started at once, the first of 50 pops left 4-8 ms later; with it 50 ms later, 1.5 ms."""


class AmiError(DomainError):
    """An AMI action Asterisk refused, or one that could not be sent (the link is down)."""

    error_id = ErrorId.AMI_ACTION_FAILED


class Backoff:
    """Exponential backoff with full jitter: delay drawn from [base, min(cap, base * 2**attempt)]."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        high = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        return self.rng.uniform(self.base, max(self.base, high))

    def reset(self) -> None:
        self.attempt = 0


class BackoffManager(Manager):  # type: ignore[misc]  # panoramisk has no types: Manager is Any to mypy
    """panoramisk's Manager with backoff-and-jitter reconnects (it reads `reconnect_timeout` each time)."""

    def __init__(self, backoff: Backoff, **config: Any) -> None:
        self._backoff = backoff
        self._delay: float | None = None
        super().__init__(**config)

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        self._delay = None  # the next failure draws a new, longer delay
        return super().connect(*args, **kwargs)

    @property
    def reconnect_timeout(self) -> float:
        # panoramisk reads this more than once per reconnect: draw one delay per attempt
        if self._delay is None:
            self._delay = self._backoff.next()
            log.info("AMI: reconnecting in %.2f s (attempt %d)", self._delay, self._backoff.attempt)
        return self._delay

    @reconnect_timeout.setter
    def reconnect_timeout(self, _value: float) -> None:
        pass


def _seconds(duration: str) -> int:
    parts = [int(p) for p in re.findall(r"\d+", duration or "")]
    total = 0
    for p in parts[-3:]:
        total = total * 60 + p
    return total


class AmiLink:
    """Owns the AMI connection: feeds every event to the tracker, publishes the tracker's domain events,
    resynchronises after each (re)connect, and implements the QueueControl actions."""

    def __init__(self, cfg: Config, tracker: CallTracker, on_state: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.tracker = tracker
        self.on_state = on_state or (lambda _s: None)
        self.backoff = Backoff()
        self.manager: BackoffManager | None = None
        self.connected = asyncio.Event()
        self.resyncs = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._publish_lock = asyncio.Lock()
        self._publish_due = False
        self._last_publish = float("-inf")
        self.on_resynced: list[Callable[[dict[str, QueueMembership]], Awaitable[Any]]] = []
        """Called with the queue's members after every resynchronisation and every reload of app_queue."""

    async def start(self) -> None:
        ami = self.cfg.asterisk.ami
        self.manager = BackoffManager(
            self.backoff,
            host=ami.host,
            port=ami.port,
            username=ami.username,
            secret=ami.secret.value() if ami.secret else "",
            ping_delay=5,
            ping_interval=5,
            loop=asyncio.get_running_loop(),
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        self.manager.register_event("*", self._on_event)
        self.manager.register_event("FullyBooted", self._on_fully_booted)
        self.manager.register_event("Reload", self._on_reload)
        self.manager.connect()

    async def stop(self) -> None:
        if self.manager is not None:
            self.manager.close()
            # stop panoramisk from reconnecting after an intentional close
            self.manager.connection_lost = lambda _exc: None
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI task failed", exc_info=task.exception())

    # --- connection events -----------------------------------------------------------------------------
    def _on_login(self, _manager: Manager) -> None:
        log.info("AMI: logged in to %s:%s", self.cfg.asterisk.ami.host, self.cfg.asterisk.ami.port)
        self.backoff.reset()

    def _on_disconnect(self, _manager: Manager, exc: Any) -> None:
        log.warning("AMI: connection lost (%s)", exc)
        self.connected.clear()
        self.on_state("down")

    def _on_fully_booted(self, _manager: Manager, _event: Any) -> None:
        self._spawn(self.resync())

    def _on_reload(self, _manager: Manager, event: Any) -> None:
        module = str(event.get("Module") or "")
        if self.connected.is_set() and (not module or "queue" in module.lower()):
            self._spawn(self._members_changed())

    async def _members_changed(self) -> None:
        members = await self.queue_status()
        for hook in self.on_resynced:
            await hook(members)

    def _on_event(self, _manager: Manager, event: Any) -> None:
        self.tracker.handle(event)
        if self.tracker.has_pending and not self._publish_due:
            # At once when idle; under load at most one publish per PUBLISH_WINDOW, so a storm's events are
            # stored in one transaction and published together instead of one by one.
            self._publish_due = True
            call_at_or_soon(asyncio.get_running_loop(), self._last_publish + PUBLISH_WINDOW, self._publish_now)

    def _publish_now(self) -> None:
        self._publish_due = False
        self._last_publish = asyncio.get_running_loop().time()
        self._spawn(self.publish_pending())

    async def publish_pending(self) -> None:
        """Publish the events received and still waiting for their publish window (PUBLISH_WINDOW). Whoever
        must have every event Asterisk sent before some reply handled (the queue's reconcile after a
        QueueStatus) calls it before waiting on its subscription."""
        # At once, not after the call store's write (a screen-pop never waits for the database): a subscriber
        # that reads the call records it is told about awaits the store first (ari_app.server.stored_first).
        async with self._publish_lock:
            self.tracker.publish_pending()

    # --- resynchronisation -----------------------------------------------------------------------------
    async def resync(self) -> None:
        """Ask Asterisk which channels exist and reconcile the tracker with them."""
        assert self.manager is not None
        reply = await self.manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
        messages = reply if isinstance(reply, list) else [reply]
        live = [
            LiveChannel(
                channel=m.get("Channel", ""),
                uniqueid=m.get("Uniqueid", ""),
                linkedid=m.get("Linkedid", ""),
                context=m.get("Context", ""),
                exten=m.get("Exten", ""),
                application=m.get("Application", ""),
                caller=m.get("CallerIDNum", ""),
                accountcode=m.get("AccountCode", "") or m.get("Accountcode", ""),
                bridge_id=m.get("BridgeId", ""),
                duration_seconds=_seconds(m.get("Duration", "")),
            )
            for m in messages
            if (m.get("Event") or "") == "CoreShowChannel"
        ]
        ended, adopted = self.tracker.resync(live)
        for call in adopted:
            call.recording = await self.getvar(call.channel or "", "HOTLINE_RECORDING")
            if call.recording:
                call.recording += ".wav"
                self.tracker.sink.save(call)
        self.resyncs += 1
        log.info(
            "AMI: resynchronised: %d live channels, %d calls ended as lost, %d adopted",
            len(live),
            len(ended),
            len(adopted),
        )
        await self.publish_pending()
        members = await self.queue_status()
        self.connected.set()
        self.on_state("up")
        for hook in self.on_resynced:
            await hook(members)

    async def queue_status(self) -> dict[str, QueueMembership]:
        """Replay the queue's members into the tracker as member events, so agent states are current; return
        them by interface (lower case)."""
        assert self.manager is not None
        reply = await self.manager.send_action({"Action": "QueueStatus", "Queue": self.cfg.queue.name}, as_list=True)
        members = {}
        for m in reply if isinstance(reply, list) else [reply]:
            if m.get("Event") == "QueueMember":
                event = {**dict(m), "Event": "QueueMemberAdded", "Interface": _member_interface(m)}
                self.tracker.handle(event)
                members[event["Interface"].lower()] = _membership(m)
        await self.publish_pending()
        return members

    async def queue_members(self, queue: str) -> dict[str, QueueMembership]:
        """The queue's members now, by interface (lower case), without touching the tracker."""
        if self.manager is None or not self.connected.is_set():
            raise AmiError("not connected to Asterisk")
        reply = await asyncio.wait_for(
            self.manager.send_action({"Action": "QueueStatus", "Queue": queue}, as_list=True), timeout=10
        )
        return {
            _member_interface(m).lower(): _membership(m)
            for m in (reply if isinstance(reply, list) else [reply])
            if m.get("Event") == "QueueMember"
        }

    # --- actions ---------------------------------------------------------------------------------------
    async def action(self, **fields: Any) -> Any:
        if self.manager is None or not self.connected.is_set():
            raise AmiError("not connected to Asterisk")
        # as_list=False: panoramisk would otherwise wait for more replies to QueueAdd ("Added ... to queue")
        reply = await asyncio.wait_for(self.manager.send_action(dict(fields), as_list=False), timeout=10)
        first = reply[0] if isinstance(reply, list) else reply
        if first.get("Response") == "Error":
            raise AmiError(f"{fields.get('Action')}: {first.get('Message')}")
        return reply

    async def ping(self) -> float:
        """Milliseconds for an AMI Ping round trip (the health probe)."""
        start = time.perf_counter()
        await self.action(Action="Ping")
        return (time.perf_counter() - start) * 1000

    async def channel_count(self) -> int:
        """Asterisk's channels now (AMI CoreStatus, class `reporting`: the AMI user has no `command`)."""
        reply = await self.action(Action="CoreStatus")
        first = reply[0] if isinstance(reply, list) else reply
        return parse_core_status(dict(first))

    async def free_agents(self, queue: str) -> int:
        """Members of `queue` that could take a call now: signed in, not paused, not on a call."""
        if self.manager is None or not self.connected.is_set():
            return 0
        reply = await asyncio.wait_for(
            self.manager.send_action({"Action": "QueueStatus", "Queue": queue}, as_list=True), timeout=10
        )
        return sum(
            1
            for m in (reply if isinstance(reply, list) else [reply])
            if m.get("Event") == "QueueMember"
            and m.get("Paused") == "0"
            and m.get("InCall", "0") == "0"
            and m.get("Status") == "1"  # AST_DEVICE_NOT_INUSE
        )

    async def originate_callback(self, *, number: str, trunk: str, hotline: str, callback_of: str) -> tuple[bool, str]:
        """Call the citizen through the trunk; answered, the call enters [hotline-inbound] as a callback."""
        if self.manager is None or not self.connected.is_set():
            raise AmiError("not connected to Asterisk")
        reply = await asyncio.wait_for(
            self.manager.send_action(
                {
                    "Action": "Originate",
                    "Channel": f"PJSIP/{number}@{trunk}",
                    "Context": "hotline-inbound",
                    "Exten": hotline,
                    "Priority": "1",
                    "CallerID": hotline,
                    "Timeout": "30000",
                    "Async": "true",
                    "Variable": [f"CALLBACK_OF={callback_of}", f"CALLBACK_NUMBER={number}", "QUEUE_PRIO=10"],
                }
            ),
            timeout=45,
        )
        messages = reply if isinstance(reply, list) else [reply]
        result = next((m for m in messages if m.get("Event") == "OriginateResponse"), messages[-1])
        reasons = {
            "0": "no such channel",
            "1": "no answer",
            "3": "ringing timed out",
            "4": "answered",
            "5": "busy",
            "8": "congestion",
        }
        reason = reasons.get(result.get("Reason", ""), result.get("Message") or result.get("Reason") or "unknown")
        return result.get("Response") == "Success", reason

    async def originate_async(self, **fields: Any) -> None:
        """Start an Originate and return at once; its outcome (OriginateResponse) is logged when it comes."""
        if self.manager is None or not self.connected.is_set():
            raise AmiError("not connected to Asterisk")
        future = self.manager.send_action({"Action": "Originate", "Async": "true", **fields})

        async def outcome() -> None:
            reply = await asyncio.wait_for(future, timeout=60)
            messages = reply if isinstance(reply, list) else [reply]
            last = messages[-1]
            log.info("originate %s: %s %s", fields.get("Channel"), last.get("Response"), last.get("Reason", ""))

        self._spawn(outcome())

    async def getvar(self, channel: str, variable: str) -> str | None:
        try:
            reply = await self.action(Action="Getvar", Channel=channel, Variable=variable)
        except (AmiError, TimeoutError):
            return None
        value = reply.get("Value") if not isinstance(reply, list) else None
        return value or None

    async def queue_add(self, queue: str, interface: str, member_name: str, paused: bool = False) -> None:
        await self.action(
            Action="QueueAdd",
            Queue=queue,
            Interface=interface,
            MemberName=member_name,
            Paused="true" if paused else "false",
        )

    async def queue_remove(self, queue: str, interface: str) -> None:
        """Take the interface out of the queue; one that is not in it (Asterisk restarted, an admin removed
        it) is already where it should be."""
        try:
            await self.action(Action="QueueRemove", Queue=queue, Interface=interface)
        except AmiError as exc:
            if "not there" not in str(exc).lower():
                raise

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str = "") -> None:
        await self.action(
            Action="QueuePause", Queue=queue, Interface=interface, Paused="true" if paused else "false", Reason=reason
        )


def _member_interface(m: Any) -> str:
    return str(m.get("StateInterface") or m.get("Location") or m.get("Interface") or "")


def _membership(m: Any) -> QueueMembership:
    return QueueMembership(_member_interface(m), m.get("Paused") == "1", str(m.get("PausedReason") or ""))


class _Collector:
    """Stands in for panoramisk's Manager as the protocol's factory, collecting the events it dispatches."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.forgetable_actions = ("ping", "login")
        self.awaiting_actions: list[Any] = []
        self.save_stream = None

    def dispatch(self, event: Any) -> None:
        self.events.append(event)

    def connection_lost(self, _exc: Any) -> None:
        pass


def parse_stream(data: bytes, chunk: int = 4096) -> list[Any]:
    """Parse recorded AMI bytes with panoramisk's own protocol parser, in network-sized chunks, exactly as
    a live connection would; returns the events (panoramisk Messages) in order."""
    from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]  # no type information

    proto = AMIProtocol()
    proto.connection_made(_NullTransport())
    collector = _Collector()
    proto.factory = collector
    for i in range(0, len(data), chunk):
        proto.data_received(data[i : i + chunk])
    return collector.events


class _NullTransport:
    def write(self, _data: bytes) -> None:
        pass

    def close(self) -> None:
        pass
