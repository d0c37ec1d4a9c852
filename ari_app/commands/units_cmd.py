"""`hotline units list|add|edit|disable|enable|export|import`: the cooperating units (协同单位) an admin keeps,
the departments cases are dispatched to and department users work for (ari_app.cases.units; docs/cases.md,
"Cooperating units"). Every change is audited as `cli:<login>`; a refused change is rolled back and audited
as `refused`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.commands.common import (
    add_csv_commands,
    database,
    display_width,
    needs_config,
    pad,
    run_change,
)
from ari_app.config import Config

if TYPE_CHECKING:
    from ari_app.cases.units import Change

LIST_COLUMNS = ("id", "name", "parent", "level", "hotline", "contact", "state")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("units", help="the cooperating units cases go to: list, add, edit, disable, CSV")
    usub = p.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    ls = usub.add_parser("list", help="every unit, disabled ones marked")
    ls.add_argument("--json", action="store_true", help="a JSON list of units")
    ls.set_defaults(func=cmd_list)
    add = usub.add_parser("add", help="add a unit (level 2, or level 3 under a level-2 --parent); prints its id")
    add.add_argument("name", help="the unit's name, unique")
    add.add_argument("--parent", metavar="ID|NAME", help="the level-2 unit it belongs to")
    add.add_argument("--hotline", metavar="NUMBER", help="the configured hotline whose own unit it is")
    add.add_argument("--contact-phone", metavar="PHONE")
    add.add_argument("--contact-person", metavar="NAME")
    add.set_defaults(func=cmd_add)
    ed = usub.add_parser("edit", help="rename a unit or change its contacts (an empty value removes a contact)")
    ed.add_argument("unit", metavar="ID", help="the unit's id (or its name)")
    ed.add_argument("--name")
    ed.add_argument("--contact-phone", metavar="PHONE")
    ed.add_argument("--contact-person", metavar="NAME")
    ed.set_defaults(func=cmd_edit)
    dis = usub.add_parser("disable", help="disable a unit and those under it: no new dispatches or department users")
    dis.add_argument("unit", metavar="ID", help="the unit's id (or its name)")
    dis.set_defaults(func=cmd_disable)
    en = usub.add_parser("enable", help="enable a disabled unit again")
    en.add_argument("unit", metavar="ID", help="the unit's id (or its name)")
    en.set_defaults(func=cmd_enable)
    add_csv_commands(
        usub,
        "units",
        "every unit",
        "id,name,parent,hotline,contact_phone,contact_person,status",
        "make the units what a CSV file says (checked whole first; nothing changes on an error; "
        "a unit left out is disabled, never deleted)",
        "ari_app.cases.units",
        import_report,
        with_hotlines=True,
    )


@needs_config
def cmd_list(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.cases.units import as_dict, units

    with database(cfg) as s:
        found = [as_dict(u) for u in units(s)]
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return 0
    rows = [
        (
            str(u["id"]),
            u["name"],
            u["parent"] or "",
            str(u["level"]),
            u["hotline"] or "",
            " ".join(x for x in (u["contact_person"], u["contact_phone"]) if x),
            "active" if u["active"] else "disabled",
        )
        for u in found
    ]
    widths = [max(display_width(r[i]) for r in [LIST_COLUMNS, *rows]) for i in range(len(LIST_COLUMNS))]
    for r in [LIST_COLUMNS, *rows]:
        cells = [pad(c, w, ">" if i in (0, 3) else "<") for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        print("  ".join(cells).rstrip())
    return 0


@needs_config
def cmd_add(args: argparse.Namespace, cfg: Config) -> int:
    from ari_app.cases.units import add_unit

    hotlines = [h.number for h in cfg.hotlines]

    def change(s: Session, actor: Actor, now: datetime) -> str:
        unit = add_unit(
            s, actor, args.name, parent=args.parent, hotline=args.hotline, contact_phone=args.contact_phone,
            contact_person=args.contact_person, hotlines=hotlines, now=now,
        )  # fmt: skip
        return str(unit.id)

    return run_change(args, "units add", change)


def cmd_edit(args: argparse.Namespace) -> int:
    from ari_app.cases.units import edit_unit

    def change(s: Session, actor: Actor, now: datetime) -> str:
        unit = edit_unit(
            s, actor, args.unit, name=args.name, contact_phone=args.contact_phone,
            contact_person=args.contact_person, now=now,
        )  # fmt: skip
        return f"unit {unit.id} {unit.name}"

    return run_change(args, "units edit", change)


def cmd_disable(args: argparse.Namespace) -> int:
    from ari_app.cases.units import disable_unit

    def change(s: Session, actor: Actor, now: datetime) -> str:
        done = disable_unit(s, actor, args.unit, now=now)
        return "\n".join([f"disabled {u.id} {u.name}" for u in done] or [f"{args.unit} was already disabled"])

    return run_change(args, "units disable", change)


def cmd_enable(args: argparse.Namespace) -> int:
    from ari_app.cases.units import enable_unit

    def change(s: Session, actor: Actor, now: datetime) -> str:
        unit = enable_unit(s, actor, args.unit, now=now)
        return f"enabled {unit.id} {unit.name}"

    return run_change(args, "units enable", change)


def import_report(changes: Sequence[Change], dry_run: bool) -> list[str]:
    """What `hotline units import` prints: each change, then how many (made, or with --dry-run to be made)."""
    made = " would be made" if dry_run else ""
    lines = [f"{c.kind:8} {c.unit}  {c.detail}".rstrip() for c in changes]
    return [*lines, f"{len(changes)} unit change(s){made}"]
