"""`hotline asterisk up|down|status|cli`: a real Asterisk with the project's dialplan, on any machine."""

from __future__ import annotations

import argparse
import sys

from ari_app.asterisk_ctl import AsteriskError, AsteriskHost
from ari_app.commands.common import within
from ari_app.config import ConfigError, load_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("asterisk", help="build (once), start, stop or inspect the local Asterisk")
    asub = p.add_subparsers(dest="asterisk_command", metavar="ACTION", required=True)
    up = asub.add_parser("up", help="install the rendered configuration, start Asterisk, wait for FullyBooted")
    up.add_argument(
        "--timeout", type=within(1, 3600, float), default=90.0, help="seconds to wait for FullyBooted (default 90)"
    )
    up.set_defaults(func=cmd_up)
    asub.add_parser("down", help="stop Asterisk and release its mounts").set_defaults(func=cmd_down)
    asub.add_parser("status", help="say whether Asterisk runs, where, and how many channels it has").set_defaults(
        func=cmd_status
    )
    cli = asub.add_parser("cli", help="run one Asterisk CLI command, e.g. `hotline asterisk cli 'queue show'`")
    cli.add_argument("words", nargs="+")
    cli.set_defaults(func=cmd_cli)


def _host(args: argparse.Namespace) -> AsteriskHost:
    return AsteriskHost.for_config(load_config(args.config))


def cmd_up(args: argparse.Namespace) -> int:
    try:
        host = _host(args)
        host.start(timeout=args.timeout)
    except (AsteriskError, ConfigError) as exc:
        print(f"hotline asterisk up: {exc}", file=sys.stderr)
        return 1
    where = f"root {host.root}" if host.root else "system installation"
    print(
        f"Asterisk is up (pid {host.pid()}, {where}); AMI on {host.cfg.asterisk.ami.host}:{host.cfg.asterisk.ami.port}"
    )
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    try:
        _host(args).stop()
    except (AsteriskError, ConfigError) as exc:
        print(f"hotline asterisk down: {exc}", file=sys.stderr)
        return 1
    print("Asterisk is down")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    try:
        host = _host(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    pid = host.pid()
    if pid is None:
        print("Asterisk is not running")
        return 3
    channels = host.cli("core show channels count").strip().replace("\n", "; ")
    print(f"Asterisk is running (pid {pid}, {'root ' + str(host.root) if host.root else 'system'}): {channels}")
    return 0


def cmd_cli(args: argparse.Namespace) -> int:
    host = _host(args)
    if host.pid() is None:
        print("Asterisk is not running", file=sys.stderr)
        return 3
    out = host.cli(" ".join(args.words))
    if out.startswith("No such command"):  # `asterisk -rx` itself exits 0 for a command it does not know
        print(out, end="", file=sys.stderr)
        return 1
    print(out, end="")
    return 0
