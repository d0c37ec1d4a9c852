"""`hotline wallboard [--json] [--chart FILE]`: today's figures per hotline and agent (supervision.wallboard)."""

from __future__ import annotations

import argparse
import json

from ari_app.commands.common import database, needs_config, pad, within
from ari_app.config import Config
from ari_app.supervision.wallboard import compute, write_chart

COLUMNS = (  # header, width in terminal columns, alignment
    ("热线 hotline", 22, "<"),
    ("waiting", 7, ">"),
    ("longest", 7, ">"),
    ("answered", 8, ">"),
    ("abandoned", 9, ">"),
    ("refused", 7, ">"),
    ("SL%", 6, ">"),
    ("avg wait", 8, ">"),
    ("avg talk", 8, ">"),
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("wallboard", help="today's service level, waiting, answered and abandoned calls per hotline")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--threshold",
        type=within(1, 3600),
        help="service-level threshold in seconds (default: the config's server.service_level_seconds, else 15)",
    )
    p.add_argument("--chart", help="also write calls per 15 minutes as a PNG chart")
    p.set_defaults(func=cmd_wallboard)


@needs_config
def cmd_wallboard(args: argparse.Namespace, cfg: Config) -> int:
    threshold = args.threshold if args.threshold is not None else cfg.server.service_level_seconds
    with database(cfg) as s:
        board = compute(s, [h.number for h in cfg.hotlines], timezone=cfg.timezone, threshold_seconds=threshold)
    if args.chart:
        write_chart(board, args.chart, cfg.timezone)
    if args.json:
        print(json.dumps(board.as_dict(), ensure_ascii=False, indent=2))
        return 0
    names = {h.number: h.name_zh for h in cfg.hotlines}
    print(f"service level: answered within {threshold} s")
    print(_row([c[0] for c in COLUMNS]))
    for f in [*board.hotlines, board.total]:
        label = f"{f.hotline} {names.get(f.hotline, '')}".strip() if f.hotline != "all" else "合计 total"
        sl = "-" if f.service_level is None else f"{f.service_level:.1f}"
        aw = "-" if f.average_wait is None else f"{f.average_wait:.1f}"
        at = "-" if f.average_talk is None else f"{f.average_talk:.1f}"
        values = [label, f.waiting, f"{f.longest_wait_seconds:.0f}", f.answered, f.abandoned, f.refused, sl, aw, at]
        print(_row([str(v) for v in values]))
    for a in board.agents:
        d = a.as_dict()
        print(f"  agent {d['agent']}: {d['answered']} answered, average talk {d['average_talk']} s")
    return 0


def _row(cells: list[str]) -> str:
    """One table line, each cell padded to its column by display width (a 汉字 takes two columns)."""
    return " ".join(pad(text, width, align) for text, (_, width, align) in zip(cells, COLUMNS, strict=True))
