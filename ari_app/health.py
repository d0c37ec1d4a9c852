"""Is Asterisk healthy? An AMI round trip, a SIP OPTIONS probe, and the channel count against the limit;
and is there room on the recordings disk (`recordings_disk`)?

A wedged Asterisk (process alive, sockets open, nothing answered) is the dangerous case: connections do
not drop, so nothing reconnects. Every probe here has a deadline, and a probe that misses it is a finding,
never a wait. Used by the CTI server (periodically; the result is published to supervisors) and by
`hotline status` (once).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ari_app.tasks import cancel_and_wait

if TYPE_CHECKING:
    from ari_app.config import DiskThreshold


class Health(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class HealthReport:
    state: Health
    at: datetime
    ami_ms: float | None
    sip_ms: float | None
    channels: int | None
    max_calls: int
    problems: tuple[str, ...] = field(default_factory=tuple)
    recordings_disk: DiskReport | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "state": self.state.value,
            "at": self.at.isoformat(),
            "ami_ms": self.ami_ms,
            "sip_ms": self.sip_ms,
            "channels": self.channels,
            "max_calls": self.max_calls,
            "problems": list(self.problems),
        }
        if self.recordings_disk is not None:
            out["recordings_disk"] = self.recordings_disk.as_dict()
        return out


class DiskState(StrEnum):
    OK = "ok"
    LOW = "low"
    FULL = "full"
    UNAVAILABLE = "unavailable"
    """The filesystem could not be measured (statvfs failed or did not answer in time)."""


FULL_BYTES = 64 << 20
"""Below this much free space (bytes) the recordings disk counts as full: a few minutes of a busy centre's
recordings (a call writes about 48 kB/s: the mix and both sides, 16-bit 8 kHz)."""


@dataclass(frozen=True)
class DiskReport:
    """The recordings filesystem's free space, judged against `recordings.min_free_bytes` and
    `recordings.min_free_percent` (config.yaml). `free_bytes` is what an unprivileged writer (Asterisk)
    may still use (statvfs f_bavail x f_frsize); `percent_free` is that share of the filesystem's size."""

    path: str
    state: DiskState
    free_bytes: int | None
    total_bytes: int | None
    min_free_bytes: int
    min_free_percent: float
    problem: str | None = None

    @property
    def percent_free(self) -> float | None:
        if self.free_bytes is None or not self.total_bytes:
            return None
        return 100.0 * self.free_bytes / self.total_bytes

    def as_dict(self) -> dict[str, object]:
        percent = self.percent_free
        return {
            "path": self.path,
            "state": self.state.value,
            "free_bytes": self.free_bytes,
            "total_bytes": self.total_bytes,
            "percent_free": None if percent is None else round(percent, 2),
            "min_free_bytes": self.min_free_bytes,
            "min_free_percent": self.min_free_percent,
            "problem": self.problem,
        }


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB' (binary units, one decimal)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def judge_disk(
    path: str, free_bytes: int, total_bytes: int, min_free_bytes: int, min_free_percent: float
) -> DiskReport:
    """The state of a filesystem with `free_bytes` of `total_bytes` left: full below FULL_BYTES, low below
    `min_free_bytes` or below `min_free_percent` % of its size (a bound of 0 is off), else ok.
    The problem text names the path, what is left and the bound."""
    percent = 100.0 * free_bytes / total_bytes if total_bytes else 0.0
    left = f"{human_bytes(free_bytes)} free of {human_bytes(total_bytes)} ({percent:.1f} %)"
    if free_bytes < FULL_BYTES:
        state, problem = DiskState.FULL, f"recordings disk full: {path} has {left}; new recordings fail"
    elif free_bytes < min_free_bytes or percent < min_free_percent:
        bound = f"below {human_bytes(min_free_bytes)} or {min_free_percent:g} %"
        state, problem = DiskState.LOW, f"recordings disk low: {path} has {left}, {bound}"
    else:
        state, problem = DiskState.OK, None
    return DiskReport(path, state, free_bytes, total_bytes, min_free_bytes, min_free_percent, problem)


def measure_disk(path: Path, threshold: DiskThreshold) -> DiskReport:
    """statvfs of the filesystem holding `path` (or, before the folder is made, its nearest existing
    parent), judged by `judge_disk`. An OSError is a finding (state unavailable), never raised."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
    except OSError as exc:
        return DiskReport(
            str(path), DiskState.UNAVAILABLE, None, None, threshold.min_free_bytes, threshold.min_free_percent,
            f"recordings disk {path} could not be measured: {exc.strerror or exc}",
        )  # fmt: skip
    free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
    return judge_disk(str(path), free, total, threshold.min_free_bytes, threshold.min_free_percent)


async def recordings_disk(path: Path, threshold: DiskThreshold, timeout: float = 2.0) -> DiskReport:
    """`measure_disk` off the event loop, with a deadline (a hung network filesystem is a finding)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(measure_disk, path, threshold), timeout)
    except TimeoutError:
        return DiskReport(
            str(path), DiskState.UNAVAILABLE, None, None, threshold.min_free_bytes, threshold.min_free_percent,
            f"recordings disk {path} did not answer statvfs within {timeout:.0f} s",
        )  # fmt: skip


def with_disk(report: HealthReport, disk: DiskReport) -> HealthReport:
    """The report with the recordings disk's finding: a disk that is low, full or cannot be measured makes
    an up report degraded (a down one stays down) and adds its problem."""
    if disk.problem is None:
        return replace(report, recordings_disk=disk)
    state = Health.DEGRADED if report.state is Health.UP else report.state
    return replace(report, state=state, problems=(*report.problems, disk.problem), recordings_disk=disk)


class _OptionsProtocol(asyncio.DatagramProtocol):
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: nothing listens
        if not self.answer.done():
            self.answer.set_exception(exc)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        text = data.decode("utf-8", "replace")
        if self.call_id in text and text.startswith("SIP/2.0 ") and not self.answer.done():
            status = text.split(" ", 2)[1]
            if not status.startswith("1"):  # provisional answers are not the answer
                self.answer.set_result(status)


async def sip_options(host: str, port: int, timeout: float = 2.0) -> tuple[str, float]:
    """Send one SIP OPTIONS over UDP to Asterisk's own URI; return (status code, milliseconds)."""
    loop = asyncio.get_running_loop()
    call_id = secrets.token_hex(8) + "@hotline-health"
    transport, proto = await loop.create_datagram_endpoint(lambda: _OptionsProtocol(call_id), remote_addr=(host, port))
    try:
        local_host, local_port = transport.get_extra_info("sockname")[:2]
        branch = "z9hG4bK" + secrets.token_hex(6)
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local_host}:{local_port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:health@{local_host}:{local_port}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Accept: application/sdp\r\n"
            "User-Agent: hotline-health\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        start = time.perf_counter()
        transport.sendto(msg.encode())
        status = await asyncio.wait_for(proto.answer, timeout)
        return status, (time.perf_counter() - start) * 1000
    finally:
        transport.close()


async def check(
    ami_ping: Callable[[], Awaitable[float]],
    channel_count: Callable[[], Awaitable[int]],
    sip_host: str,
    sip_port: int,
    max_calls: int,
    timeout: float = 2.0,
) -> HealthReport:
    """Run the three probes, each with its own deadline, and judge: down when AMI does not answer (a dead
    or wedged Asterisk); degraded when SIP does not answer, AMI is slow, or the channels near the limit."""
    problems: list[str] = []
    ami_ms = sip_ms = None
    channels = None
    try:
        ami_ms = await asyncio.wait_for(ami_ping(), timeout)
    except (TimeoutError, OSError, ConnectionError) as exc:
        problems.append(f"AMI did not answer within {timeout:.0f} s ({type(exc).__name__})")
    except Exception as exc:  # an AMI error reply, not connected, ...
        problems.append(f"AMI: {exc}")
    try:
        status, sip_ms = await sip_options(sip_host, sip_port, timeout)
        if status not in ("200", "401", "403", "404", "405"):  # any final answer means the SIP stack works
            problems.append(f"SIP OPTIONS answered {status}")
    except (TimeoutError, OSError) as exc:
        problems.append(
            f"SIP OPTIONS to {sip_host}:{sip_port} unanswered within {timeout:.0f} s ({type(exc).__name__})"
        )
    if ami_ms is not None:
        try:
            channels = await asyncio.wait_for(channel_count(), timeout)
        except Exception as exc:
            problems.append(f"channel count unavailable ({type(exc).__name__})")
    if ami_ms is None:
        state = Health.DOWN
    else:
        if ami_ms > 500:
            problems.append(f"AMI slow: {ami_ms:.0f} ms")
        if channels is not None and channels >= 0.9 * 2 * max_calls:  # a hotline call is two channels
            problems.append(f"{channels} channels, near the limit of {max_calls} calls")
        state = Health.DEGRADED if problems else Health.UP
    return HealthReport(state, datetime.now(UTC), ami_ms, sip_ms, channels, max_calls, tuple(problems))


class AmiSession:
    """A short-lived AMI session of its own, for `hotline status` (the server uses its live connection)."""

    def __init__(self, host: str, port: int, username: str, secret: str, timeout: float = 2.0) -> None:
        self.host, self.port, self.username, self.secret, self.timeout = host, port, username, secret, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._n = 0

    async def __aenter__(self) -> AmiSession:
        reader, self.writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        self.reader = reader
        await asyncio.wait_for(reader.readline(), self.timeout)  # banner
        reply = await self.action("Login", Username=self.username, Secret=self.secret, Events="off")
        if reply.get("Response") != "Success":
            raise ConnectionError(f"AMI login refused: {reply.get('Message')}")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.writer is not None:
            self.writer.close()

    async def action(self, name: str, **fields: str) -> dict[str, str]:
        assert self.reader is not None and self.writer is not None
        self._n += 1
        action_id = f"status-{self._n}"
        lines = [f"Action: {name}", f"ActionID: {action_id}", *(f"{k}: {v}" for k, v in fields.items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        while True:
            block = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), self.timeout)
            msg: dict[str, str] = {}
            for line in block.decode("utf-8", "replace").split("\r\n"):
                key, sep, value = line.partition(": ")
                if sep:
                    msg[key] = f"{msg[key]}\n{value}" if key in msg else value  # Output: repeats
            if msg.get("ActionID") == action_id:
                return msg

    async def ping(self) -> float:
        start = time.perf_counter()
        await self.action("Ping")
        return (time.perf_counter() - start) * 1000

    async def channel_count(self) -> int:
        return parse_core_status(await self.action("CoreStatus"))


def parse_core_status(reply: Mapping[str, str]) -> int:
    """The channels Asterisk has now, from the reply to AMI `CoreStatus` (`CoreCurrentCalls`, which is
    Asterisk's count of active channels, the first line of `core show channels count`). CoreStatus
    needs the `reporting` class; the CLI's `Command` action would need `command`, which lets its holder
    run any CLI command, and the AMI user does not have it. Raises ValueError on any other reply (an
    error such as "Permission denied")."""
    value = reply.get("CoreCurrentCalls")
    if reply.get("Response") != "Success" or value is None or not value.strip().isdigit():
        raise ValueError(f"unexpected reply to CoreStatus: {dict(reply)!r}")
    return int(value)


SERVER_HEALTH_FILE = "var/server_health.json"
"""Where `hotline serve` keeps its latest health report (relative to config.yaml's folder), so that
`hotline status`, another process, also sees what only the server knows (agents missing from the queue)."""


def save_report(path: Path, report: HealthReport, server_problems: tuple[str, ...] = ()) -> None:
    """Write the report atomically, readable by its owner only (0600), with the problems only the server
    can see (`server_problems`)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".health-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**report.as_dict(), "server_problems": list(server_problems)}, fh, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_report(path: Path, max_age_seconds: float) -> dict[str, object] | None:
    """The server's last report if it is at most `max_age_seconds` old, else None (no server, or a stale one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        at = datetime.fromisoformat(str(data["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (datetime.now(UTC) - at).total_seconds() > max_age_seconds or not isinstance(data, dict):
        return None
    return data


class HealthMonitor:
    """Probes periodically and hands every report to `on_report`; logs each change of state."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[HealthReport]],
        on_report: Callable[[HealthReport], Awaitable[None] | None],
        interval: float = 5.0,
    ) -> None:
        self.probe = probe
        self.on_report = on_report
        self.interval = interval
        self.last: HealthReport | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        import logging

        log = logging.getLogger(__name__)
        await asyncio.sleep(self.interval)  # the first probe after the connection had its chance to come up
        while True:
            try:
                report = await self.probe()
            except Exception:
                log.exception("health probe failed")
            else:
                if self.last is None or report.state != self.last.state:
                    level = logging.INFO if report.state == Health.UP else logging.ERROR
                    log.log(level, "Asterisk health: %s %s", report.state.value, "; ".join(report.problems))
                self.last = report
                result = self.on_report(report)
                if result is not None:
                    await result
            await asyncio.sleep(self.interval)
