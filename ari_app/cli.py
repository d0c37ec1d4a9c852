"""The `hotline` command line. Each subcommand lives in its own module under ari_app/commands/ and
registers itself through `register(subparsers)`; this module only assembles them."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "ari_app.commands.config_cmd",
    "ari_app.commands.asterisk_cmd",
    "ari_app.commands.serve_cmd",
    "ari_app.commands.calls_cmd",
    "ari_app.commands.status_cmd",
    "ari_app.commands.callbacks_cmd",
    "ari_app.commands.wallboard_cmd",
    "ari_app.commands.users_cmd",
    "ari_app.commands.desktop_cmd",
    "ari_app.commands.report_cmd",
    "ari_app.commands.transcribe_cmd",
    "ari_app.commands.audit_cmd",
)

DEFAULT_CONFIG = "config.yaml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline",
        description=(
            "Unified government hotline platform: Asterisk telephony, call tracking, cases and the agent desktop."
        ),
    )
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("HOTLINE_CONFIG", DEFAULT_CONFIG),
        help="deployment config file (default: $HOTLINE_CONFIG or ./config.yaml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
