"""The cooperating units (协同单位) an admin keeps: the departments cases are dispatched to and department
users work for (`schema.cases.CooperatingUnit`, table `units`).

Units form a tree two levels deep: a unit without a parent is at level 2 (under the centre), a unit under a
level-2 unit at level 3 (a department user acts for its unit and the level-3 units under it, access.py); a
level-3 unit has no units under it. A unit's name is unique. `hotline` is a configured hotline's number for
a hotline's own units (its managing unit and the units under it), None for the city's general departments;
a unit under a hotline's unit belongs to the same hotline.

Units are never deleted: cases, dispatches, rules and users name them. A disabled unit (`active` False) stays
readable and keeps the shares it has, but gets no new dispatch (workflow.dispatch, the desk's unit list and
the dispatch catalogue pass it over) and no new department user. Disabling a unit disables the units under
it; a unit can be enabled only under an enabled parent.

Every change is audited in the transaction of the change (`unit_add`, `unit_edit`, `unit_disable`,
`unit_enable`; detail: the unit's id and name, and what changed). Functions flush, never commit (the
package's contract). A refusal is CatalogueInvalid with its problems (catalogue.problem_at).

CSV (`export_csv`, `import_csv`), UTF-8 (a byte-order mark is accepted on import), one header line, then one
unit a line, parents before their children, sorted by id on export:

    id              the unit's id; empty for a unit the import adds
    name            1..128 characters, unique in the file
    parent          the parent's name (a unit in the file at level 2), empty for a level-2 unit
    hotline         a configured hotline's number, or empty; a unit under a hotline's unit names its hotline
    contact_phone   up to 40 characters, optional
    contact_person  up to 64 characters, optional
    status          `active` or `disabled`

An import states every unit: each row is checked first and on any problem nothing changes (each problem
with its file line and column); then units are added, edited, disabled or enabled as the file says, and a
unit missing from the file is disabled (never deleted).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.cases.catalogue import check, csv_records, decode, invalid, problem_at
from schema.cases import CooperatingUnit

COLUMNS = ("id", "name", "parent", "hotline", "contact_phone", "contact_person", "status")
"""The units CSV's columns, in the order export writes them."""
ACTIVE, DISABLED = "active", "disabled"
ENABLE, DISABLE = "enable", "disable"
TOP_LEVEL, BOTTOM_LEVEL = 2, 3
"""A unit without a parent is at level 2; level-3 units have no units under them."""
MAX_NAME, MAX_PHONE, MAX_PERSON = 128, 40, 64


def units(session: Session) -> list[CooperatingUnit]:
    """Every unit, disabled ones too, by id."""
    return list(session.scalars(select(CooperatingUnit).order_by(CooperatingUnit.id)))


def as_dict(unit: CooperatingUnit) -> dict[str, Any]:
    """One unit as `hotline units list --json` gives it: id, name, parent_id, parent (its name or null),
    level, hotline (or null), contact_phone, contact_person (or null), active."""
    return {
        "id": unit.id,
        "name": unit.name,
        "parent_id": unit.parent_id,
        "parent": unit.parent.name if unit.parent else None,
        "level": unit.level,
        "hotline": unit.hotline,
        "contact_phone": unit.contact_phone,
        "contact_person": unit.contact_person,
        "active": unit.active,
    }


def find(session: Session, key: str | int) -> CooperatingUnit:
    """The unit with id `key` (an int, or a string of digits) or, failing that, the name `key`;
    CatalogueInvalid when there is none."""
    text = str(key).strip()
    unit = session.get(CooperatingUnit, int(text)) if text.isdigit() else None
    if unit is None:
        unit = session.scalars(select(CooperatingUnit).where(CooperatingUnit.name == text)).one_or_none()
    if unit is None:
        raise invalid([problem_at(None, "unit", f"no unit {text!r} (see `hotline units list`)")])
    return unit


def active_unit(session: Session, key: str | int) -> CooperatingUnit:
    """The enabled unit with id or name `key` (`find`), for a new department user; CatalogueInvalid when
    there is none or it is disabled."""
    unit = find(session, key)
    if not unit.active:
        raise invalid([problem_at(None, "unit", f"unit {unit.id} {unit.name} is disabled (see `hotline units list`)")])
    return unit


def _text(value: str | None, column: str, limit: int, line: int | None = None) -> tuple[str | None, list[Any]]:
    """`value` stripped (None when empty), with the problem when it is longer than `limit` characters."""
    text = (value or "").strip() or None
    if text is not None and len(text) > limit:
        return text, [problem_at(line, column, f"longer than {limit} characters")]
    return text, []


def _name_problems(name: str, line: int | None = None) -> list[dict[str, Any]]:
    if not name.strip():
        return [problem_at(line, "name", "a name is required")]
    if len(name.strip()) > MAX_NAME:
        return [problem_at(line, "name", f"longer than {MAX_NAME} characters")]
    return []


def _hotline_problems(
    hotline: str | None, parent_hotline: str | None, hotlines: Collection[str], line: int | None = None
) -> list[dict[str, Any]]:
    if hotline is not None and hotline not in hotlines:
        known = ", ".join(sorted(hotlines)) or "none"
        return [problem_at(line, "hotline", f"{hotline} is not a configured hotline (hotlines: {known})")]
    if parent_hotline is not None and hotline != parent_hotline:
        return [problem_at(line, "hotline", f"a unit under a unit of hotline {parent_hotline} belongs to it too")]
    return []


def _name_taken(session: Session, name: str, other_than: int | None) -> bool:
    ids = session.scalars(select(CooperatingUnit.id).where(CooperatingUnit.name == name))
    return any(i != other_than for i in ids)


def add_unit(
    session: Session,
    actor: Actor,
    name: str,
    *,
    parent: str | int | None = None,
    hotline: str | None = None,
    contact_phone: str | None = None,
    contact_person: str | None = None,
    hotlines: Collection[str],
    now: datetime,
) -> CooperatingUnit:
    """Add an enabled unit under `parent` (an id or a name; None: at level 2). `hotline` must be one of
    `hotlines` (the configured numbers); left out under a hotline's unit, it is the parent's. CatalogueInvalid
    when the name is empty, too long or taken, the parent is missing, disabled or at level 3, the hotline is
    not configured or not the parent's, or a contact is too long."""
    problems = _name_problems(name)
    phone, more = _text(contact_phone, "contact_phone", MAX_PHONE)
    person, most = _text(contact_person, "contact_person", MAX_PERSON)
    problems += more + most
    up = find(session, parent) if parent is not None and str(parent).strip() else None
    if up is not None and not up.active:
        problems.append(problem_at(None, "parent", f"the parent {up.name} is disabled"))
    if up is not None and up.level >= BOTTOM_LEVEL:
        problems.append(problem_at(None, "parent", f"{up.name} is a level-{up.level} unit: no units go under it"))
    number = (hotline or "").strip() or (up.hotline if up is not None else None)
    problems += _hotline_problems(number, up.hotline if up else None, hotlines)
    if not problems and _name_taken(session, name.strip(), None):
        problems.append(problem_at(None, "name", f"there is a unit named {name.strip()} already"))
    check(problems)
    unit = CooperatingUnit(
        name=name.strip(),
        parent=up,
        level=TOP_LEVEL if up is None else up.level + 1,
        hotline=number,
        contact_phone=phone,
        contact_person=person,
        active=True,
    )
    session.add(unit)
    session.flush()
    audit(
        session, actor, "unit_add", None, now,
        unit_id=unit.id, name=unit.name, parent=up.name if up else None, level=unit.level, hotline=number,
        contact_phone=phone, contact_person=person,
    )  # fmt: skip
    return unit


def edit_unit(
    session: Session,
    actor: Actor,
    key: str | int,
    *,
    name: str | None = None,
    contact_phone: str | None = None,
    contact_person: str | None = None,
    now: datetime,
) -> CooperatingUnit:
    """Change a unit's name or contacts (None: left as it is; an empty contact: removed). Cases keep naming
    the unit by id, so they show the new name. CatalogueInvalid when the unit is missing, the name is empty,
    too long or another unit's, or a contact is too long."""
    unit = find(session, key)
    problems = _name_problems(name) if name is not None else []
    phone, more = _text(contact_phone, "contact_phone", MAX_PHONE) if contact_phone is not None else (None, [])
    person, most = _text(contact_person, "contact_person", MAX_PERSON) if contact_person is not None else (None, [])
    problems += more + most
    if name is not None and not problems and _name_taken(session, name.strip(), unit.id):
        problems.append(problem_at(None, "name", f"there is a unit named {name.strip()} already"))
    check(problems)
    wanted = {
        "name": name.strip() if name is not None else unit.name,
        "contact_phone": phone if contact_phone is not None else unit.contact_phone,
        "contact_person": person if contact_person is not None else unit.contact_person,
    }
    changed = {k: {"old": getattr(unit, k), "new": v} for k, v in wanted.items() if getattr(unit, k) != v}
    if changed:
        audit(session, actor, "unit_edit", None, now, unit_id=unit.id, name=unit.name, changed=changed)
        for k, v in wanted.items():
            setattr(unit, k, v)
    session.flush()
    return unit


def disable_unit(session: Session, actor: Actor, key: str | int, *, now: datetime) -> list[CooperatingUnit]:
    """Disable a unit and the enabled units under it; returns those disabled (none if it already was). Their
    open shares stay theirs; no new dispatch goes to them."""
    unit = find(session, key)
    done = []
    for u in [unit, *sorted(unit.children, key=lambda c: c.id)]:
        if u.active:
            u.active = False
            audit(session, actor, "unit_disable", None, now, unit_id=u.id, name=u.name)
            done.append(u)
    session.flush()
    return done


def enable_unit(session: Session, actor: Actor, key: str | int, *, now: datetime) -> CooperatingUnit:
    """Enable a disabled unit again (not the units under it: enable each that should be). CatalogueInvalid
    when its parent is disabled."""
    unit = find(session, key)
    if unit.parent is not None and not unit.parent.active:
        raise invalid([problem_at(None, "unit", f"{unit.name}'s parent {unit.parent.name} is disabled")])
    if not unit.active:
        unit.active = True
        audit(session, actor, "unit_enable", None, now, unit_id=unit.id, name=unit.name)
    session.flush()
    return unit


def _ordered(found: Iterable[CooperatingUnit]) -> list[CooperatingUnit]:
    """Units by id, each level-3 unit after its parent: level-2 units by id, each followed by its children."""
    found = sorted(found, key=lambda u: u.id)
    ids = {u.id for u in found}
    out: list[CooperatingUnit] = []
    for u in found:
        if u.parent_id is None or u.parent_id not in ids:
            out.append(u)
            out += [c for c in found if c.parent_id == u.id]
    return out


def export_csv(session: Session) -> str:
    """Every unit as CSV text (the module's format), disabled ones included, parents before their children."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for u in _ordered(units(session)):
        w.writerow([
            u.id, u.name, u.parent.name if u.parent else "", u.hotline or "", u.contact_phone or "",
            u.contact_person or "", ACTIVE if u.active else DISABLED,
        ])  # fmt: skip
    return out.getvalue()


@dataclass(frozen=True)
class Row:
    """One unit as a units CSV states it."""

    line: int
    id: int | None
    name: str
    parent: str | None
    hotline: str | None
    contact_phone: str | None
    contact_person: str | None
    active: bool


def parse_csv(session: Session, text: str, hotlines: Collection[str]) -> list[Row]:
    """Read units CSV text (the module's format) and check it as every unit: each id a unit's and once,
    names within limits and once, each parent a level-2 unit of the file (so no unit is deeper than level
    3), each hotline one of `hotlines` and a hotline unit's children its hotline's, contacts within limits,
    status `active` or `disabled` and no active unit under a disabled one; a unit added may not take the
    name of one the file leaves out. Raises CatalogueInvalid with every problem (file line and column)."""
    records, problems = csv_records(text, COLUMNS)
    known = {u.id: u for u in units(session)}
    rows: list[Row] = []
    seen_ids: dict[int, int] = {}
    by_name: dict[str, Row] = {}
    for line, f in records:
        uid: int | None = None
        if f["id"]:
            if not f["id"].isdigit() or int(f["id"]) not in known:
                problems.append(problem_at(line, "id", f"no unit {f['id']!r}: leave the id empty to add a unit"))
            elif int(f["id"]) in seen_ids:
                problems.append(problem_at(line, "id", f"unit {f['id']} is also on line {seen_ids[int(f['id'])]}"))
            else:
                uid = int(f["id"])
                seen_ids[uid] = line
        problems += _name_problems(f["name"], line)
        phone, more = _text(f["contact_phone"], "contact_phone", MAX_PHONE, line)
        person, most = _text(f["contact_person"], "contact_person", MAX_PERSON, line)
        problems += more + most
        if f["status"] not in (ACTIVE, DISABLED):
            problems.append(problem_at(line, "status", f"{f['status']!r}: must be {ACTIVE} or {DISABLED}"))
        row = Row(
            line, uid, f["name"], f["parent"] or None, f["hotline"] or None, phone, person, f["status"] != DISABLED
        )
        if row.name in by_name:
            problems.append(problem_at(line, "name", f"{row.name} is also on line {by_name[row.name].line}"))
        elif row.name:
            by_name[row.name] = row
        rows.append(row)
    listed = set(seen_ids)
    left_out = {u.name for i, u in known.items() if i not in listed}
    for row in rows:
        if row.name in left_out:
            problems.append(problem_at(row.line, "name", f"{row.name} is the name of a unit the file leaves out"))
        up = by_name.get(row.parent) if row.parent is not None else None
        if row.parent is not None and up is None:
            problems.append(problem_at(row.line, "parent", f"the parent {row.parent} is not in the file"))
        elif up is not None and up is row:
            problems.append(problem_at(row.line, "parent", "a unit cannot be its own parent"))
        elif up is not None and up.parent is not None:
            problems.append(problem_at(row.line, "parent", f"{up.name} is a level-3 unit: no units go under it"))
        elif up is not None and up.line > row.line:
            problems.append(problem_at(row.line, "parent", f"the parent {up.name} comes later (line {up.line})"))
        if up is not None and not up.active and row.active:
            problems.append(problem_at(row.line, "status", f"active under the disabled {up.name}"))
        problems += _hotline_problems(row.hotline, up.hotline if up else None, hotlines, row.line)
        below = [u.name for u in known.values() if row.id is not None and u.parent_id == row.id and u.id not in listed]
        if up is not None and below:
            problems.append(
                problem_at(row.line, "parent", f"units left out of the file are under it: {', '.join(below)}")
            )
    check(problems)
    return rows


@dataclass(frozen=True)
class Change:
    """One change an import makes: `kind` add, edit, disable or enable; `unit` its name; `detail` for
    people."""

    kind: str
    unit: str
    detail: str


def import_csv(
    session: Session, actor: Actor, data: bytes, *, hotlines: Collection[str], now: datetime, dry_run: bool = False
) -> list[Change]:
    """Import units CSV bytes (the module's format) as every unit; returns the changes made (or, with
    `dry_run`, that would be made, changing nothing), in the file's order, then the units the file leaves
    out. CatalogueInvalid, with every problem and nothing changed, when the file breaks a rule. Each change
    is audited; the caller commits."""
    rows = parse_csv(session, decode(data), hotlines)
    known = {u.id: u for u in units(session)}
    before = {uid: _fields(u.name, u.parent.name if u.parent else None, u) for uid, u in known.items()}
    changes: list[Change] = []
    ids = {r.name: r.id for r in rows}  # a unit added gets its id as it is added, before its children
    renamed = [r.id for r in rows if r.id is not None and before[r.id]["name"] != r.name]
    if renamed and not dry_run:  # names pass through placeholders, so two units may swap theirs
        for uid in renamed:
            known[uid].name = f"\x00{uid}"
        session.flush()
    for r in rows:
        wanted = _fields(r.name, r.parent, r)
        level = wanted["level"]
        unit = known.get(r.id) if r.id is not None else None
        if unit is None:
            changes.append(Change("add", r.name, f"level {level}" + (f" under {r.parent}" if r.parent else "")))
            if not r.active:
                changes.append(Change("disable", r.name, ""))
            if dry_run:
                continue
            unit = CooperatingUnit(
                name=r.name, parent_id=ids[r.parent] if r.parent else None, level=level, hotline=r.hotline,
                contact_phone=r.contact_phone, contact_person=r.contact_person, active=r.active,
            )  # fmt: skip
            session.add(unit)
            session.flush()
            ids[r.name] = unit.id
            audit(session, actor, "unit_add", None, now, unit_id=unit.id, **wanted)
            if not r.active:
                audit(session, actor, "unit_disable", None, now, unit_id=unit.id, name=r.name)
            continue
        old = before[unit.id]
        same_parent = (r.parent is None and unit.parent_id is None) or (
            r.parent is not None and ids[r.parent] is not None and ids[r.parent] == unit.parent_id
        )
        changed = {
            k: {"old": old[k], "new": v}
            for k, v in wanted.items()
            if old[k] != v and (k != "parent" or not same_parent)
        }
        if changed:
            shown = ", ".join(f"{k} {c['old'] or '-'} → {c['new'] or '-'}" for k, c in changed.items())
            changes.append(Change("edit", r.name, shown))
            if not dry_run:
                audit(session, actor, "unit_edit", None, now, unit_id=unit.id, name=old["name"], changed=changed)
                unit.name, unit.parent_id, unit.level = r.name, ids[r.parent] if r.parent else None, level
                unit.hotline, unit.contact_phone, unit.contact_person = r.hotline, r.contact_phone, r.contact_person
        if unit.active != r.active:
            changes.append(Change(ENABLE if r.active else DISABLE, r.name, ""))
            if not dry_run:
                unit.active = r.active
                audit(
                    session, actor, f"unit_{ENABLE if r.active else DISABLE}", None, now, unit_id=unit.id, name=r.name
                )
    listed = {r.id for r in rows}
    for uid, unit in known.items():
        if uid not in listed and unit.active:
            changes.append(Change(DISABLE, unit.name, "not in the file"))
            if not dry_run:
                unit.active = False
                audit(session, actor, "unit_disable", None, now, unit_id=uid, name=unit.name)
    session.flush()
    return changes


def _fields(name: str, parent: str | None, src: Row | CooperatingUnit) -> dict[str, Any]:
    """What an import compares of a unit: its name, its parent's name, level, hotline and contacts."""
    level = src.level if isinstance(src, CooperatingUnit) else TOP_LEVEL + (parent is not None)
    return {
        "name": name,
        "parent": parent,
        "level": level,
        "hotline": src.hotline,
        "contact_phone": src.contact_phone,
        "contact_person": src.contact_person,
    }
