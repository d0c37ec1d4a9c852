"""`hotline web`: the browser front on its own (docs/web.md); `hotline serve` runs it too when `web.enabled`."""

from __future__ import annotations

import argparse
import asyncio

from ari_app.commands.common import needs_config
from ari_app.config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "web", help="run the browser front for departments (web.listen; live updates from the audit trail)"
    )
    p.set_defaults(func=cmd_web)


@needs_config
def cmd_web(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.web.app import run

    asyncio.run(run(cfg))
    return 0
