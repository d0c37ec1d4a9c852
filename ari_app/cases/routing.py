"""The dispatch catalogue (派单目录, 国办发〔2020〕53号; lead and co-units for unclear cases, 国办函〔2025〕66号):
rules from each department's duties saying which unit leads a case, and which units help, by what it is
about and where it is.

A rule (schema.cases.DispatchRule) names a classification node, alone or with its whole subtree
(`subtree`), and an area: a district, a street, a grid cell, each optional (empty matches any). It gives a
lead unit and co-units, and says whether intake applies it by itself (`automatic`) or only suggests it.

Which rule a case gets (`suggest`): among the rules whose node is the case's (or, for a subtree rule, one
of its ancestors) and whose every given area field equals the case's, the most specific wins, compared in
this order: the deeper node (a third-level rule before a second-level one); a rule on the node itself
before a subtree rule on the same node; then a grid cell given, a street given, a district given. What the
case is about comes first because the catalogue is built from the departments' duties, which are defined
by subject; the area narrows it to the unit that holds that duty in that place. No two rules have the same
node, subtree flag and area (refused on entry), so there is never a tie. A rule whose units do not all fit
the case (a unit made inactive, a hotline's own unit for another hotline, a sub-platform hotline's case and
a unit that is not that hotline's) is passed over. No rule: the centre dispatches by hand (`suggest`
returns None; `workflow.dispatch` without units falls back to the category's default unit, else refuses).

Applying a rule goes through `workflow.dispatch`, so the state machine, the deadlines and the audit are
the same as for a person's dispatch (the audit entry names the rule).

Admins edit it with audit (`dispatch_rule_add`, `dispatch_rule_remove`; detail: the rule as CSV fields).
CSV (`export_csv`, `import_csv`; `hotline dispatch-rules`), UTF-8, a header line, one rule a line:

    classification_code  the node's code
    subtree              yes: the node and every node below it; no: the node alone
    district, street, grid_cell   the area, each optional
    lead_unit            the lead unit's name (units.name)
    co_units             co-unit names separated by ";", optional
    automatic            yes: intake dispatches by it; no: only suggested

An import states the whole dispatch catalogue: every line is checked first (CatalogueInvalid with the line
and column of each problem, nothing changed); then rules not in the file are removed and new or changed
ones added.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.cases.catalogue import check, code_problem, csv_records, decode, invalid, problem_at
from ari_app.config import HotlineMode
from schema.cases import Case, Classification, CooperatingUnit, DispatchRule, DispatchRuleUnit

COLUMNS = ("classification_code", "subtree", "district", "street", "grid_cell", "lead_unit", "co_units", "automatic")
"""The dispatch catalogue CSV's columns, in the order export writes them."""
YES, NO = "yes", "no"
MAX_AREA = 64


@dataclass(frozen=True)
class RuleSpec:
    """A rule as an admin states it: the node's code, subtree, area, unit ids (lead first), automatic."""

    code: str
    subtree: bool
    district: str | None
    street: str | None
    grid_cell: str | None
    units: tuple[int, ...]
    automatic: bool

    @property
    def key(self) -> tuple[str, bool, str | None, str | None, str | None]:
        """What no two rules share."""
        return (self.code, self.subtree, self.district, self.street, self.grid_cell)


@dataclass(frozen=True)
class Suggestion:
    """The dispatch catalogue's answer for a case: the rule, its lead unit and co-units (ids), whether
    intake applies it by itself."""

    rule_id: int
    lead_unit_id: int
    co_unit_ids: tuple[int, ...]
    automatic: bool

    @property
    def units(self) -> list[int]:
        """Lead first, as `workflow.dispatch` takes them."""
        return [self.lead_unit_id, *self.co_unit_ids]


def spec_of(rule: DispatchRule) -> RuleSpec:
    return RuleSpec(
        rule.classification.code,
        rule.subtree,
        rule.district,
        rule.street,
        rule.grid_cell,
        tuple(u.unit_id for u in rule.units),
        rule.automatic,
    )


def rules(session: Session) -> list[DispatchRule]:
    """Every rule, by node code, then subtree rules after the node's own, then area."""
    found = list(session.scalars(select(DispatchRule)))
    return sorted(found, key=lambda r: _sort_key(spec_of(r)))


def _sort_key(spec: RuleSpec) -> tuple[str, bool, str, str, str]:
    return (spec.code, spec.subtree, spec.district or "", spec.street or "", spec.grid_cell or "")


def _fits(unit: CooperatingUnit, case: Case, mode: HotlineMode) -> bool:
    if not unit.active:
        return False
    if unit.hotline is not None and unit.hotline != case.hotline:
        return False
    return not (mode is HotlineMode.SUB_PLATFORM and unit.hotline != case.hotline)


def suggest(session: Session, case: Case, mode: HotlineMode) -> Suggestion | None:
    """The rule of the dispatch catalogue for `case` (see the module for which one wins), or None when no
    rule fits: the centre's manual dispatch. `mode` is the case's hotline's mode (which units fit)."""
    if case.classification_id is None:
        return None
    node = session.get(Classification, case.classification_id)
    exact = node.id if node else None
    ancestors: dict[int, int] = {}  # node id -> level
    while node is not None:
        ancestors[node.id] = node.level
        node = node.parent
    candidates = session.scalars(select(DispatchRule).where(DispatchRule.classification_id.in_(ancestors)))
    best: tuple[tuple[int, bool, bool, bool, bool], DispatchRule] | None = None
    for rule in candidates:
        own = rule.classification_id == exact
        if not own and not rule.subtree:
            continue
        area = ((rule.district, case.district), (rule.street, case.street), (rule.grid_cell, case.grid_cell))
        if any(want is not None and want != have for want, have in area):
            continue
        if not rule.units or not all(_fits(u.unit, case, mode) for u in rule.units):
            continue
        rank = (
            ancestors[rule.classification_id],
            not rule.subtree,
            rule.grid_cell is not None,
            rule.street is not None,
            rule.district is not None,
        )
        if best is None or rank > best[0]:
            best = (rank, rule)
    if best is None:
        return None
    rule = best[1]
    ids = [u.unit_id for u in rule.units]
    return Suggestion(rule.id, ids[0], tuple(ids[1:]), rule.automatic)


def check_spec(
    session: Session, spec: RuleSpec, line: int | None = None, *, kept: bool = False
) -> list[dict[str, Any]]:
    """Problems with a rule before it is stored: its node must be an active node of the catalogue (or, when
    `kept`, the rule is one already stored unchanged, a retired one: an exported file imports again), its
    area fields at most 64 characters, its units active, at least one (the lead), none twice."""
    problems = []
    bad = code_problem(spec.code)
    if bad is not None:
        problems.append(problem_at(line, "classification_code", bad))
    else:
        node = session.scalars(select(Classification).where(Classification.code == spec.code)).one_or_none()
        if node is None:
            problems.append(problem_at(line, "classification_code", f"{spec.code} is not in the catalogue"))
        elif node.retired_at is not None and not kept:
            problems.append(problem_at(line, "classification_code", f"{spec.code} is retired"))
    for column, value in (("district", spec.district), ("street", spec.street), ("grid_cell", spec.grid_cell)):
        if value is not None and len(value) > MAX_AREA:
            problems.append(problem_at(line, column, f"longer than {MAX_AREA} characters"))
    if not spec.units:
        problems.append(problem_at(line, "lead_unit", "a lead unit is required"))
    if len(set(spec.units)) != len(spec.units):
        problems.append(problem_at(line, "co_units", "a unit is named twice"))
    for i, uid in enumerate(spec.units):
        unit = session.get(CooperatingUnit, uid)
        if unit is None or not unit.active:
            problems.append(problem_at(line, "lead_unit" if i == 0 else "co_units", f"no active unit {uid}"))
    return problems


def _detail(session: Session, spec: RuleSpec) -> dict[str, Any]:
    names = [session.get(CooperatingUnit, u) for u in spec.units]
    return {
        "classification": spec.code,
        "subtree": spec.subtree,
        "district": spec.district,
        "street": spec.street,
        "grid_cell": spec.grid_cell,
        "units": [u.name if u else None for u in names],
        "automatic": spec.automatic,
    }


def _store(session: Session, actor: Actor, spec: RuleSpec, now: datetime) -> DispatchRule:
    node = session.scalars(select(Classification).where(Classification.code == spec.code)).one()
    rule = DispatchRule(
        classification=node,
        subtree=spec.subtree,
        district=spec.district,
        street=spec.street,
        grid_cell=spec.grid_cell,
        automatic=spec.automatic,
        created_at=now,
        units=[DispatchRuleUnit(unit_id=u, position=i) for i, u in enumerate(spec.units)],
    )
    session.add(rule)
    session.flush()
    audit(session, actor, "dispatch_rule_add", None, now, rule=rule.id, **_detail(session, spec))
    return rule


def add_rule(session: Session, actor: Actor, spec: RuleSpec, *, now: datetime) -> DispatchRule:
    """Add one rule; CatalogueInvalid when it breaks a rule of `check_spec` or another rule has the same
    node, subtree flag and area."""
    problems = check_spec(session, spec)
    if any(spec_of(r).key == spec.key for r in rules(session)):
        problems.append(problem_at(None, None, "a rule for this classification and area exists: remove it first"))
    check(problems)
    return _store(session, actor, spec, now)


def remove_rule(session: Session, actor: Actor, rule_id: int, *, now: datetime) -> None:
    """Remove a rule (cases already dispatched by it keep their dispatches); CatalogueInvalid if none."""
    rule = session.get(DispatchRule, rule_id)
    if rule is None:
        raise invalid([problem_at(None, "rule", f"no dispatch rule {rule_id}")])
    audit(session, actor, "dispatch_rule_remove", None, now, rule=rule.id, **_detail(session, spec_of(rule)))
    session.delete(rule)
    session.flush()


def _flag(value: bool) -> str:
    return YES if value else NO


def export_csv(session: Session) -> str:
    """The whole dispatch catalogue as CSV text (the module's format)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rules(session):
        names = [u.unit.name for u in r.units]
        w.writerow(
            [
                r.classification.code,
                _flag(r.subtree),
                r.district or "",
                r.street or "",
                r.grid_cell or "",
                names[0] if names else "",
                ";".join(names[1:]),
                _flag(r.automatic),
            ]
        )
    return out.getvalue()


def parse_csv(session: Session, text: str) -> list[RuleSpec]:
    """Read dispatch catalogue CSV text and check every line (`check_spec`, unit names known, yes/no flags,
    no rule twice); CatalogueInvalid with every problem (line, column), nothing read otherwise."""
    records, problems = csv_records(text, COLUMNS)
    units = {u.name: u.id for u in session.scalars(select(CooperatingUnit))}
    stored = {spec_of(r) for r in rules(session)}
    specs: list[RuleSpec] = []
    seen: dict[tuple[str, bool, str | None, str | None, str | None], int] = {}
    for line, f in records:
        flags = {}
        for column in ("subtree", "automatic"):
            if f[column] not in (YES, NO):
                problems.append(problem_at(line, column, f"{f[column]!r}: must be {YES} or {NO}"))
            flags[column] = f[column] == YES
        ids: list[int] = []
        names = [f["lead_unit"]] + [n.strip() for n in f["co_units"].split(";") if n.strip()]
        for i, name in enumerate(names):
            if not name:
                continue
            if name not in units:
                problems.append(problem_at(line, "lead_unit" if i == 0 else "co_units", f"no unit named {name}"))
            else:
                ids.append(units[name])
        spec = RuleSpec(
            f["classification_code"],
            flags["subtree"],
            f["district"] or None,
            f["street"] or None,
            f["grid_cell"] or None,
            tuple(ids),
            flags["automatic"],
        )
        if len(ids) == len([n for n in names if n]):
            problems += check_spec(session, spec, line, kept=spec in stored)
        if spec.key in seen:
            problems.append(problem_at(line, None, f"the same classification and area as line {seen[spec.key]}"))
        seen.setdefault(spec.key, line)
        specs.append(spec)
    check(problems)
    return specs


@dataclass(frozen=True)
class Change:
    """One change an import makes: `kind` add or remove, and the rule as CSV fields (JSON, for people)."""

    kind: str
    rule: str


def import_csv(session: Session, actor: Actor, data: bytes, *, now: datetime, dry_run: bool = False) -> list[Change]:
    """Make the dispatch catalogue what CSV bytes say (removals first, then additions; a changed rule is
    one of each); with `dry_run` only say what would change. CatalogueInvalid, nothing changed, on any
    problem. Each change is audited; the caller commits."""
    specs = parse_csv(session, decode(data))
    current = {spec_of(r): r for r in rules(session)}
    wanted = set(specs)
    changes: list[Change] = []
    for spec, rule in current.items():
        if spec not in wanted:
            changes.append(Change("remove", json.dumps(_detail(session, spec), ensure_ascii=False)))
            if not dry_run:
                remove_rule(session, actor, rule.id, now=now)
    for spec in specs:
        if spec not in current:
            changes.append(Change("add", json.dumps(_detail(session, spec), ensure_ascii=False)))
            if not dry_run:
                _store(session, actor, spec, now)
    session.flush()
    return changes


def unit_ids(session: Session, names: Sequence[str]) -> list[int]:
    """The ids of units named `names` (units.name), in order; CatalogueInvalid naming an unknown one."""
    out = []
    for name in names:
        uid = session.scalars(select(CooperatingUnit.id).where(CooperatingUnit.name == name)).one_or_none()
        if uid is None:
            raise invalid([problem_at(None, "units", f"no unit named {name}")])
        out.append(uid)
    return out
