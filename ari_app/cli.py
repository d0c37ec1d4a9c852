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
    "ari_app.commands.web_cmd",
    "ari_app.commands.calls_cmd",
    "ari_app.commands.status_cmd",
    "ari_app.commands.callbacks_cmd",
    "ari_app.commands.missed_cmd",
    "ari_app.commands.wallboard_cmd",
    "ari_app.commands.users_cmd",
    "ari_app.commands.desktop_cmd",
    "ari_app.commands.report_cmd",
    "ari_app.commands.transcribe_cmd",
    "ari_app.commands.audit_cmd",
    "ari_app.commands.calendar_cmd",
    "ari_app.commands.catalogue_cmd",
    "ari_app.commands.dispatch_rules_cmd",
    "ari_app.commands.units_cmd",
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


EXIT_BROKEN_PIPE = 128 + 13
"""Exit status when the reader of standard output went away (`hotline calls --json | head`): what a shell
reports for a command ended by SIGPIPE, so `set -o pipefail` scripts see the same as with other tools."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `hotline` command; returns its exit status. For every command, a reader of standard output
    that stops early (`| head`, `| less` quit) ends the command quietly with `EXIT_BROKEN_PIPE` instead of
    a BrokenPipeError traceback; a database at a migration this platform does not have ends it with status 1
    and what to do (schema.db.SchemaVersionError)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("alembic").setLevel(logging.WARNING)
        result: int = args.func(args)
        sys.stdout.flush()  # a pipe closed after the last write fails here, not in the interpreter's exit
        return result
    except BrokenPipeError:
        # Python would flush stdout once more at exit and print "Exception ignored ... BrokenPipeError":
        # standard output now goes nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        from schema.db import SchemaVersionError  # not at the top: most commands never load the database layer

        if not isinstance(exc, SchemaVersionError):
            raise
        print(f"hotline: {exc}", file=sys.stderr)  # any command that opens the database: what to do
        return 1


if __name__ == "__main__":
    sys.exit(main())
