"""Load shedding by measured load: new hotline calls are refused with 503 while Asterisk cannot keep up.

A call storm, or other work on the same machine taking the CPU, can leave Asterisk behind the calls that
arrive. Asterisk's SIP stack then queues each new request on its distributor's task queues; past their
high-water mark (500 tasks) it ignores new requests sent over UDP and leaves the carrier to retransmit
them (res_pjsip `pjsip_distributor.c`, "Taskprocessor overload alert"). A caller then waits in silence
until their network gives up (SIP timer B, 32 s), and the call reaches no record. Static admission limits
(`admission.max_calls`, `max_queue`, `max_announcements`) cannot prevent it: how many calls a machine can
take at once depends on what else the machine is doing.

So the CTI server measures what a caller would wait for: every `interval` seconds it sends Asterisk a SIP
OPTIONS request (ari_app/health.py `sip_options`), which passes through the same distributor queues as an
INVITE. Its round trip is about a millisecond on a machine that keeps up; it grows with the backlog, and no
answer at all means Asterisk is already ignoring requests. When the round trip exceeds `shed_ms` (or no
answer comes within `timeout`) in `confirm` measurements in a row, the governor sets the Asterisk global
`SHED_UNTIL` (a Unix time `hold` seconds ahead) through AMI `Setvar`, and refreshes it while the overload
lasts. One slow measurement alone is not overload: a moment's stall (twenty calls ending and their
recordings closed at once, measured at 223 ms on a busy 2-core machine) passes by itself, and refusing every
new call for seconds after it turned away callers Asterisk could have taken. The dialplan
([hotline-inbound]) refuses each new hotline call while `${EPOCH}` is before `SHED_UNTIL`: it sends the CTI
server `UserEvent(HotlineOverflow)` with `Reason: shed` (the call is recorded as refused by admission
control) and indicates congestion, which Asterisk's PJSIP channel answers as `503 Service Unavailable` — a
final answer the caller's network turns into a busy signal at once. Calls
already queued or talking carry on. Because `SHED_UNTIL` is a time, shedding lapses by itself `hold`
seconds after the CTI server stops refreshing it (the server stopped or lost AMI): a dead governor never
leaves the hotline closed.

The governor goes back to normal after `recover` seconds of round trips below `shed_ms / 2` (hysteresis: a
storm does not switch it on and off with every probe).

Only a running Asterisk can be overloaded. While the server's AMI link is not up and resynced (`link_up`
None: Asterisk stopped, restarting, or the link is away) or nothing listens on the SIP port (ICMP port
unreachable), the governor neither measures nor sheds, and it starts from normal when Asterisk is back: the
silence of a stopped or restarting Asterisk is not overload, and a restart must not be followed by seconds
of refused calls. A measurement counts only if one and the same link was up from its start to its end: a
probe sent to an Asterisk that was going away (`core restart`) and unanswered by the time the new one is
resynced says nothing of the new one (seen in the e2e restart test: it refused the first call after the
restart)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ari_app.health import sip_options
from ari_app.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[float | None]]
"""One measurement: the SIP OPTIONS round trip in milliseconds, None when no answer came in time; raises
OSError when nothing listens (Asterisk down)."""
SetGlobal = Callable[[str, str], Awaitable[None]]
"""Set an Asterisk global variable (AMI Setvar without a channel)."""
LinkUp = Callable[[], int | None]
"""Which AMI link is up and resynced: a number that changes with every resynchronisation (ari_app.ami
`AmiLink.resyncs`), None while the link is down."""


@dataclass(frozen=True)
class SheddingPolicy:
    """When to shed: `shed_ms` is config.yaml `admission.shed_ms` (0: never); the rest are fixed."""

    shed_ms: float = 200.0  # a SIP round trip above this (milliseconds) starts shedding
    interval: float = 0.5  # seconds between measurements
    timeout: float = 1.0  # seconds to wait for an answer; none counts as overloaded
    hold: float = 3.0  # seconds each refresh of SHED_UNTIL keeps shedding on, should the server go away
    recover: float = 5.0  # seconds of round trips below shed_ms / 2 before shedding stops
    confirm: int = 2  # overloaded measurements in a row before shedding starts (`interval` apart)


class LoadGovernor:
    """Measures Asterisk's SIP round trip and switches shedding on and off (see the module docstring).

    `shedding` says whether calls are being refused now; `last_ms` is the last round trip (None: no
    answer); `shed_periods` counts how often shedding started since the server did."""

    def __init__(
        self,
        policy: SheddingPolicy,
        probe: Probe,
        set_global: SetGlobal,
        clock: Callable[[], float] = time.time,
        link_up: LinkUp = lambda: 0,
    ) -> None:
        self.policy = policy
        self.link_up = link_up
        self.probe = probe
        self.set_global = set_global
        self.clock = clock
        self.shedding = False
        self.last_ms: float | None = 0.0
        self.shed_periods = 0
        self._calm_since: float | None = None
        self._overloaded_in_a_row = 0
        self._publish_failed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def problems(self) -> tuple[str, ...]:
        """What `hotline status` reports while shedding (empty otherwise)."""
        if not self.shedding:
            return ()
        rtt = "no answer" if self.last_ms is None else f"{self.last_ms:.0f} ms"
        return (f"shedding load: new hotline calls refused with 503 (Asterisk's SIP round trip {rtt})",)

    async def start(self) -> None:
        if self.policy.shed_ms > 0:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.step()
            except Exception:
                log.exception("load measurement failed")
            await asyncio.sleep(max(0.0, self.policy.interval - (time.monotonic() - started)))

    async def step(self) -> None:
        """One measurement and its decision."""
        link = self.link_up()
        if link is None:
            self._reset("Asterisk is not connected")
            return
        try:
            ms = await asyncio.wait_for(self.probe(), self.policy.timeout)
        except TimeoutError:
            ms = None
        except OSError:  # nothing listens on the SIP port: Asterisk is down, not overloaded
            self._reset("nothing answers on Asterisk's SIP port")
            return
        if self.link_up() != link:  # the link went away (or away and back) while measuring
            self._reset("Asterisk is not connected")
            return
        self.last_ms = ms
        now = self.clock()
        overloaded = ms is None or ms > self.policy.shed_ms
        calm = ms is not None and ms <= self.policy.shed_ms / 2
        self._overloaded_in_a_row = self._overloaded_in_a_row + 1 if overloaded else 0
        if overloaded and not self.shedding and self._overloaded_in_a_row < self.policy.confirm:
            return  # not yet: one slow measurement may be a moment's stall
        if overloaded:
            self._calm_since = None
            if not self.shedding:
                self.shedding = True
                self.shed_periods += 1
                rtt = "no answer" if ms is None else f"{ms:.0f} ms"
                log.warning("shedding load: Asterisk's SIP round trip %s", rtt)
            await self._publish(str(int(now + self.policy.hold)))
            return
        if not self.shedding:
            return
        if not calm:
            self._calm_since = None
            await self._publish(str(int(now + self.policy.hold)))
            return
        if self._calm_since is None:
            self._calm_since = now
        if now - self._calm_since >= self.policy.recover:
            self.shedding = False
            self._calm_since = None
            await self._publish("0")
            log.warning("load shedding ended: Asterisk's SIP round trip %.0f ms", ms)
        else:
            await self._publish(str(int(now + self.policy.hold)))

    def _reset(self, why: str) -> None:
        """Back to normal without telling Asterisk (it is not there; a restarted Asterisk has no SHED_UNTIL,
        and one that kept running lets it lapse `hold` seconds after the last refresh)."""
        if self.shedding:
            log.warning("load shedding ended: %s", why)
        self.shedding = False
        self._calm_since = None
        self._overloaded_in_a_row = 0
        self.last_ms = None

    async def _publish(self, until: str) -> None:
        """Set SHED_UNTIL in Asterisk; a failure (AMI away) is logged once, and the next step tries again."""
        try:
            await self.set_global("SHED_UNTIL", until)
        except Exception as exc:
            if not self._publish_failed:
                log.warning("could not set SHED_UNTIL in Asterisk: %s", exc)
            self._publish_failed = True
        else:
            self._publish_failed = False


def sip_round_trip(host: str, port: int, timeout: float) -> Probe:
    """A probe sending SIP OPTIONS over UDP to Asterisk at `host`:`port` (any final answer counts; no answer
    within `timeout` seconds is None; nothing listening raises OSError)."""

    async def probe() -> float | None:
        try:
            _status, ms = await sip_options(host, port, timeout=timeout)
        except TimeoutError:
            return None
        return ms

    return probe
