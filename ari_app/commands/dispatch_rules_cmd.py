"""`hotline dispatch-rules list|add|remove|export|import`: the dispatch catalogue (派单目录) an admin keeps
(docs/cases.md, "The dispatch catalogue"). Every change is audited as `cli:<login>`; a refused change is
rolled back and audited as `refused`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ari_app.commands.common import add_csv_commands, database, needs_config, run_change
from ari_app.config import Config

if TYPE_CHECKING:
    from ari_app.cases.routing import Change


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dispatch-rules", help="the dispatch catalogue: which unit leads which cases where")
    dsub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    dsub.add_parser("list", help="every rule with its id").set_defaults(func=cmd_list)
    add = dsub.add_parser("add", help="add a rule")
    add.add_argument("code", help="the classification node's code")
    add.add_argument("lead", help="the lead unit's name")
    add.add_argument("--co", action="append", default=[], metavar="UNIT", help="a co-unit's name (repeatable)")
    add.add_argument("--subtree", action="store_true", help="the node and every node below it")
    add.add_argument("--district")
    add.add_argument("--street")
    add.add_argument("--grid-cell")
    add.add_argument("--automatic", action="store_true", help="intake dispatches by it; otherwise only suggested")
    add.set_defaults(func=cmd_add)
    rm = dsub.add_parser("remove", help="remove a rule by its id (see list)")
    rm.add_argument("rule_id", type=int)
    rm.set_defaults(func=cmd_remove)
    add_csv_commands(
        dsub,
        "dispatch-rules",
        "the dispatch catalogue",
        "classification_code,subtree,district,street,grid_cell,...",
        "make the dispatch catalogue what a CSV file says (checked whole first)",
        "ari_app.cases.routing",
        import_report,
    )


@needs_config
def cmd_list(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.cases.routing import rules

    with database(cfg) as s:
        for r in rules(s):
            area = " ".join(x for x in (r.district, r.street, r.grid_cell) if x) or "anywhere"
            names = [u.unit.name for u in r.units]
            co = f" + {', '.join(names[1:])}" if len(names) > 1 else ""
            what = f"{r.classification.code}{'*' if r.subtree else ''} {r.classification.name_zh}"
            print(
                f"{r.id:>5}  {what}  [{area}]  → {names[0] if names else '?'}{co}{'  automatic' if r.automatic else ''}"
            )
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from ari_app.cases.routing import RuleSpec, add_rule, unit_ids

    def change(s: Any, actor: Any, now: datetime) -> str:
        ids = unit_ids(s, [args.lead, *args.co])
        spec = RuleSpec(
            args.code.strip(),
            args.subtree,
            (args.district or "").strip() or None,
            (args.street or "").strip() or None,
            (args.grid_cell or "").strip() or None,
            tuple(ids),
            args.automatic,
        )
        return f"added rule {add_rule(s, actor, spec, now=now).id}"

    return run_change(args, "dispatch-rules add", change)


def cmd_remove(args: argparse.Namespace) -> int:
    from ari_app.cases.routing import remove_rule

    def change(s: Any, actor: Any, now: datetime) -> str:
        remove_rule(s, actor, args.rule_id, now=now)
        return f"removed rule {args.rule_id}"

    return run_change(args, "dispatch-rules remove", change)


def import_report(changes: Sequence[Change], dry_run: bool) -> list[str]:
    """What `hotline dispatch-rules import` prints: each change, then how many (made, or with --dry-run to be made)."""
    made = " would be made" if dry_run else ""
    return [f"{c.kind:7} {c.rule}" for c in changes] + [f"{len(changes)} rule change(s){made}"]
