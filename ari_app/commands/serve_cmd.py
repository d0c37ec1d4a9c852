"""`hotline serve`: the CTI server (call tracking over AMI; the desktop link when configured)."""

from __future__ import annotations

import argparse
import asyncio

from ari_app.commands.common import needs_config
from ari_app.config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the CTI server: track and store every call, serve the desktop link")
    p.set_defaults(func=cmd_serve)


@needs_config
def cmd_serve(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.server import serve

    asyncio.run(serve(cfg))
    return 0
