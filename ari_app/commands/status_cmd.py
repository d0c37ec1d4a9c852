"""`hotline status`: is the platform healthy? Asterisk (AMI round trip, SIP OPTIONS, channels against the
limit), the recordings disk (free space against `recordings.min_free_bytes` / `min_free_percent`) and the
CTI server's desktop link (not listening: degraded). Exit status 0 up, 1 degraded, 2 down."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from datetime import datetime

from ari_app.commands.common import config_or_report, within
from ari_app.config import Config
from ari_app.health import (
    SERVER_HEALTH_FILE,
    AmiSession,
    Health,
    HealthReport,
    check,
    human_bytes,
    load_report,
    measure_disk,
)

SERVER_REPORT_MAX_AGE = 30.0
"""Seconds: an older report of the server's is not believed (it probes every 5 s)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="health of Asterisk and the CTI server (exit 0 up, 1 degraded, 2 down)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--timeout", type=within(0.1, 60, float), default=2.0, help="seconds each probe may take (default 2)"
    )
    p.set_defaults(func=cmd_status)


async def asterisk_health(cfg: Config, timeout: float) -> HealthReport:
    ami = cfg.asterisk.ami
    session: AmiSession | None = None
    try:
        session = AmiSession(ami.host, ami.port, ami.username, ami.secret.value() if ami.secret else "", timeout)
        await session.__aenter__()
    except Exception as exc:
        failure = exc

        async def ping() -> float:
            raise failure

        async def count() -> int:
            raise failure

        return await check(ping, count, cfg.asterisk.sip.host, cfg.asterisk.sip.port, cfg.admission.max_calls, timeout)
    try:
        return await check(
            session.ping,
            session.channel_count,
            cfg.asterisk.sip.host,
            cfg.asterisk.sip.port,
            cfg.admission.max_calls,
            timeout,
        )
    finally:
        await session.__aexit__(None, None, None)


def _server_listening(cfg: Config) -> bool:
    try:
        with socket.create_connection((cfg.server.host, cfg.server.port), timeout=1):
            return True
    except OSError:
        return False


def _provisional_years(cfg: Config) -> list[int]:
    """The years within ari_app.cases.calendar.LOOKAHEAD from today that the working-day calendar counts only
    provisionally (a notice, not a fault: the platform's state does not change)."""
    from ari_app.cases.calendar import LOOKAHEAD, WorkCalendar

    calendar = WorkCalendar.from_config(cfg)
    today = datetime.now(calendar.zone).date()
    return calendar.provisional_years(today, today + LOOKAHEAD)


def cmd_status(args: argparse.Namespace) -> int:
    cfg = config_or_report(args)
    if cfg is None:
        return 2
    report = asyncio.run(asterisk_health(cfg, args.timeout))
    disk = measure_disk(cfg.recordings_path, cfg.recordings_disk)
    server = _server_listening(cfg)
    # What only the running server knows (agents it could not put back into the queue), from its last report.
    seen = load_report(cfg.path.parent / SERVER_HEALTH_FILE, SERVER_REPORT_MAX_AGE) if server else None
    listed = seen.get("server_problems") if seen else None
    server_problems = [str(p) for p in listed] if isinstance(listed, list) else []
    if not server:
        server_problems.append(
            f"the CTI server is not running (nothing listens on {cfg.server.host}:{cfg.server.port}): calls still"
            " reach the queue, but none is tracked or stored and no desktop can sign in"
        )
    provisional = _provisional_years(cfg)
    state = report.state
    if (server_problems or disk.problem) and state is Health.UP:
        state = Health.DEGRADED
    if args.json:
        print(
            json.dumps(
                {
                    "state": state.value,
                    "asterisk": report.as_dict(),
                    "recordings_disk": disk.as_dict(),
                    "cti_server": server,
                    "cti_server_problems": server_problems,
                    "calendar_provisional_years": provisional,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:

        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f} ms"

        print(
            f"Asterisk: {report.state.value}  (AMI {fmt(report.ami_ms)}, SIP OPTIONS {fmt(report.sip_ms)}, "
            f"channels {report.channels if report.channels is not None else '-'} for at most "
            f"{report.max_calls} calls)"
        )
        for problem in report.problems:
            print(f"  - {problem}")
        room = (
            f"{human_bytes(disk.free_bytes)} free of {human_bytes(disk.total_bytes)} ({disk.percent_free:.1f} %)"
            if disk.free_bytes is not None and disk.total_bytes and disk.percent_free is not None
            else "not measured"
        )
        print(f"Recordings disk {disk.path}: {disk.state.value}  ({room})")
        if disk.problem:
            print(f"  - {disk.problem}")
        where = f"{cfg.server.host}:{cfg.server.port}"
        print(f"CTI server desktop link on {where}: {'listening' if server else 'not listening'}")
        for problem in server_problems:
            print(f"  - {problem}")
        for year in provisional:
            print(
                f"Working-day calendar: {year} is provisional (its statutory holidays alone, no 调休): deadlines "
                f"reaching into it may move once its notice is entered under `calendar:` "
                f"(hotline calendar check {year})"
            )
        print(f"Hotline platform: {state.value}")
    return {Health.UP: 0, Health.DEGRADED: 1, Health.DOWN: 2}[state]
