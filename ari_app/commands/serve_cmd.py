"""`hotline serve`: the CTI server (call tracking over AMI; the desktop link when configured)."""

from __future__ import annotations

import argparse
import asyncio

from ari_app.commands.common import config_or_report


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the CTI server: track and store every call, serve the desktop link")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from ari_app.server import serve

    cfg = config_or_report(args)
    if cfg is None:
        return 1
    asyncio.run(serve(cfg))
    return 0
