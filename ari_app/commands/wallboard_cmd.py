"""`hotline wallboard [--json] [--chart FILE]`: today's figures per hotline and agent (see ari_app/wallboard.py)."""

from __future__ import annotations

import argparse
import json

from ari_app.commands.common import config_or_report, database
from ari_app.wallboard import compute, write_chart


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wallboard", help="today's service level, waiting, answered and abandoned calls per hotline")
    p.add_argument("--json", action="store_true")
    p.add_argument("--threshold", type=int, default=15, help="service-level threshold in seconds (default 15)")
    p.add_argument("--chart", help="also write calls per 15 minutes as a PNG chart")
    p.set_defaults(func=cmd_wallboard)


def cmd_wallboard(args: argparse.Namespace) -> int:
    cfg = config_or_report(args)
    if cfg is None:
        return 1
    with database(cfg) as s:
        board = compute(s, [h.number for h in cfg.hotlines], timezone=cfg.timezone, threshold_seconds=args.threshold)
    if args.chart:
        write_chart(board, args.chart, cfg.timezone)
    if args.json:
        print(json.dumps(board.as_dict(), ensure_ascii=False, indent=2))
        return 0
    names = {h.number: h.name_zh for h in cfg.hotlines}
    print(
        f"{'热线 hotline':16} {'waiting':>7} {'longest':>7} {'answered':>8} {'abandoned':>9} "
        f"{'SL%':>6} {'avg wait':>8} {'avg talk':>8}"
    )
    for f in [*board.hotlines, board.total]:
        label = f"{f.hotline} {names.get(f.hotline, '')}".strip() if f.hotline != "all" else "合计 total"
        sl = "-" if f.service_level is None else f"{f.service_level:.1f}"
        aw = "-" if f.average_wait is None else f"{f.average_wait:.1f}"
        at = "-" if f.average_talk is None else f"{f.average_talk:.1f}"
        print(
            f"{label:16} {f.waiting:>7} {f.longest_wait_seconds:>7.0f} {f.answered:>8} {f.abandoned:>9} "
            f"{sl:>6} {aw:>8} {at:>8}"
        )
    for a in board.agents:
        d = a.as_dict()
        print(f"  agent {d['agent']}: {d['answered']} answered, average talk {d['average_talk']} s")
    return 0
