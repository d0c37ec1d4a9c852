"""`hotline config check|render`: validate the deployment file; render the Asterisk files from it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ari_app.commands.common import needs_config
from ari_app.config import Config, ConfigError, load_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="check the config file or render the Asterisk files from it")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser(
        "check", help="validate config.yaml; every error names file, line, key and what was expected"
    )
    check.set_defaults(func=cmd_check)
    render = csub.add_parser("render", help="write the generated Asterisk files (hotline table, trunks, agents, queue)")
    render.add_argument("--out", default="-", help="folder to write into (default: print to stdout)")
    render.set_defaults(func=cmd_render)


def cmd_check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        print(f"{args.config}: {len(exc.issues)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"{args.config}: OK ({len(cfg.hotlines)} hotlines: {', '.join(h.number for h in cfg.hotlines)}; "
        f"{len(cfg.trunks)} trunks; {len(cfg.agents)} agents; queue {cfg.queue.name})"
    )
    return 0


@needs_config
def cmd_render(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.dialplan_render import render_all

    files = render_all(cfg, include_secrets=False)
    if args.out == "-":
        for name, text in files.items():
            print(f";;; ===== {name} =====\n{text}")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        print(out / name)
    return 0
