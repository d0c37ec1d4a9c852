"""`hotline serve`: the CTI server (call tracking over AMI; the desktop link when configured)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ari_app.config import ConfigError, load_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the CTI server: track and store every call, serve the desktop link")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from ari_app.server import serve

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    asyncio.run(serve(cfg))
    return 0
