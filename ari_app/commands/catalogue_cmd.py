"""`hotline catalogue list|export|import|add|rename|retire|restore`: the classification catalogue an admin
keeps (docs/cases.md, "The classification catalogue"). Every change is audited as `cli:<login>`; a refused
change is rolled back and audited as `refused`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ari_app.commands.common import (
    add_csv_commands,
    database,
    needs_config,
    pad,
    run_change,
)
from ari_app.config import Config

if TYPE_CHECKING:
    from ari_app.cases.catalogue import Change


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("catalogue", help="the classification catalogue: list, CSV export and import, edit nodes")
    csub = p.add_subparsers(dest="catalogue_command", metavar="ACTION", required=True)
    csub.add_parser("list", help="every node, retired ones marked").set_defaults(func=cmd_list)
    add_csv_commands(
        csub,
        "catalogue",
        "the catalogue",
        "code,parent_code,name_zh,name_en,status",
        "make the catalogue what a CSV file says (checked whole first; nothing changes on an error)",
        "ari_app.cases.catalogue",
        import_report,
    )
    add = csub.add_parser("add", help="add a node (its parent is the one its code names)")
    add.add_argument("code", help="six digits, two per level (GB/T 39666 style): 010000, 010100, 010101")
    add.add_argument("name_zh", help="the Chinese name")
    add.add_argument("--en", help="the English name")
    add.set_defaults(func=cmd_add)
    ren = csub.add_parser("rename", help="rename a node (cases taken keep the old name)")
    ren.add_argument("code")
    ren.add_argument("name_zh")
    ren.add_argument("--en", help="the English name (left out: none)")
    ren.set_defaults(func=cmd_rename)
    ret = csub.add_parser("retire", help="retire a node and its subtree: no new case may choose them")
    ret.add_argument("code")
    ret.set_defaults(func=cmd_retire)
    res = csub.add_parser("restore", help="make a retired node selectable again")
    res.add_argument("code")
    res.set_defaults(func=cmd_restore)


@needs_config
def cmd_list(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.cases.catalogue import nodes

    with database(cfg) as s:
        for n in nodes(s):
            indent = "  " * (n.level - 1)
            state = "retired" if n.retired_at else ""
            print(f"{n.code}  {pad(indent + n.name_zh, 34)}  {pad(n.name_en or '', 30)}  {state}".rstrip())
    return 0


def import_report(changes: Sequence[Change], dry_run: bool) -> list[str]:
    """What `hotline catalogue import` prints: each change, then how many (made, or with --dry-run to be made)."""
    verb = "would change" if dry_run else "changed"
    return [f"{c.kind:8} {c.code}  {c.detail}" for c in changes] + [f"{len(changes)} node(s) {verb}"]


def cmd_add(args: argparse.Namespace) -> int:
    from ari_app.cases.catalogue import add_node

    def change(s: Any, actor: Any, now: datetime) -> str:
        n = add_node(s, actor, args.code, args.name_zh, args.en, now=now)
        return f"added {n.code} {n.name_zh}"

    return run_change(args, "catalogue add", change)


def cmd_rename(args: argparse.Namespace) -> int:
    from ari_app.cases.catalogue import rename_node

    def change(s: Any, actor: Any, now: datetime) -> str:
        n = rename_node(s, actor, args.code, args.name_zh, args.en, now=now)
        return f"{n.code} is now {n.name_zh}"

    return run_change(args, "catalogue rename", change)


def cmd_retire(args: argparse.Namespace) -> int:
    from ari_app.cases.catalogue import retire_node

    def change(s: Any, actor: Any, now: datetime) -> str:
        done = retire_node(s, actor, args.code, now=now)
        return "\n".join([f"retired {n.code} {n.name_zh}" for n in done] or [f"{args.code} was already retired"])

    return run_change(args, "catalogue retire", change)


def cmd_restore(args: argparse.Namespace) -> int:
    from ari_app.cases.catalogue import restore_node

    def change(s: Any, actor: Any, now: datetime) -> str:
        n = restore_node(s, actor, args.code, now=now)
        return f"restored {n.code} {n.name_zh}"

    return run_change(args, "catalogue restore", change)
