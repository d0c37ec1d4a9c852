"""The classification catalogue (分类目录): the tree of what citizens ask about, one for every hotline, kept
by an admin; every case names a node of it (intake.py).

Codes follow the style of GB/T 39666 (two digits per level, three levels, six digits): `010000` is a level-1
node, `010100` a level-2 node under it, `010101` a level-3 node under that. A level's digits are never `00`
and a level's digits are `00` only when every level below is too, so a code names its parent by itself
(`parent_code`); a node is valid only under that parent. The code is the node's identity and never changes;
names may.

History. A case keeps the names its node had when it was taken: intake copies the node's Chinese name and
its path of names onto the case (`Case.classification_name`, `Case.classification_path`) beside the node's
id. A snapshot rather than a table of names with validity periods, because the one question ever asked of
old names is "what did this case say", every read of a case (desktop, search, exchange, KPI by
classification name) gets it without a join or a time-range lookup, and nothing can make it disagree with
what the agent saw; the renames themselves are in the audit trail (`classification_rename`, old and new
names). Grouping by classification uses the id, which a rename does not change.

Retiring. A retired node (`retired_at` set) stays, readable for the cases and dispatch rules that name it,
but is refused for new cases (`selectable`). Retiring a node retires its subtree; a node can be active only
under an active parent.

Every change is audited in its own transaction with the change (`classification_add`, `_rename`, `_retire`,
`_restore`, `_delete`, detail: code and names). Functions flush, never commit (the package's contract).

CSV (`export_csv`, `import_csv`), UTF-8 (a byte-order mark is accepted on import), one header line, then
one node a line, sorted by code on export:

    code         six digits, GB/T 39666 style
    parent_code  the code of its parent, empty at level 1 (must be the one the code names)
    name_zh      Chinese name, 1..64 characters, unique among its siblings
    name_en      English name, optional, up to 128 characters
    status       `active` or `retired`

An import states the whole catalogue: every row is checked first and on any problem nothing changes
(CatalogueInvalid, each problem with its file line and column); then nodes are added, renamed, retired or
restored as the file says, and a node missing from the file is deleted, or retired when a case or a
dispatch rule names it (or a node kept below it).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.cases.errors import CatalogueInvalid, ClassificationNotSelectable
from schema.cases import Case, Classification, DispatchRule

COLUMNS = ("code", "parent_code", "name_zh", "name_en", "status")
"""The catalogue CSV's columns, in the order export writes them."""
ACTIVE, RETIRED = "active", "retired"
MAX_ZH, MAX_EN = 64, 128
PATH_SEPARATOR = " / "

_CODE = re.compile(r"\d{6}")


def code_problem(code: str) -> str | None:
    """Why `code` is not a catalogue code (GB/T 39666 style, see the module), or None when it is one."""
    if not _CODE.fullmatch(code):
        return f"{code!r} is not six digits"
    a, b, c = code[0:2], code[2:4], code[4:6]
    if a == "00":
        return f"{code}: the first level's digits are 00"
    if b == "00" and c != "00":
        return f"{code}: a third level under no second level"
    return None


def level_of(code: str) -> int:
    """1, 2 or 3 for a valid code."""
    return 1 if code[2:] == "0000" else 2 if code[4:] == "00" else 3


def parent_code(code: str) -> str | None:
    """The code of a valid code's parent, None at level 1: `010101` → `010100` → `010000` → None."""
    level = level_of(code)
    if level == 1:
        return None
    return code[:2] + "0000" if level == 2 else code[:4] + "00"


def problem_at(line: int | None, column: str | None, message: str) -> dict[str, Any]:
    """One problem of a catalogue change or file, as CatalogueInvalid's `detail['problems']` lists it: the
    file's line (the header is line 1; None for a change not read from a file), its column, and what is wrong."""
    return {"line": line, "column": column, "message": message}


def invalid(problems: list[dict[str, Any]]) -> CatalogueInvalid:
    """The refusal of a catalogue change or import (this module's and ari_app.cases.routing's) with every
    problem found; its message names the first and counts the rest."""
    first = problems[0]
    where = f"line {first['line']}, {first['column']}: " if first["line"] is not None else ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return CatalogueInvalid(f"{where}{first['message']}{more}", problems=problems)


def check(problems: list[dict[str, Any]]) -> None:
    """Raise `invalid` with every problem found, in the order of their lines, if there is any."""
    if problems:
        raise invalid(sorted(problems, key=lambda p: p["line"] or 0))


def path_of(node: Classification) -> str:
    """The Chinese names from the top of the tree down to `node`, joined by " / "."""
    names: list[str] = []
    cur: Classification | None = node
    while cur is not None:
        names.append(cur.name_zh)
        cur = cur.parent
    return PATH_SEPARATOR.join(reversed(names))


def selectable(session: Session, code: str) -> Classification:
    """The active node with `code`, for a new case; ClassificationNotSelectable when there is none or it is
    retired."""
    node = session.scalars(select(Classification).where(Classification.code == code.strip())).one_or_none()
    if node is None:
        raise ClassificationNotSelectable(
            f"{code!r} is not a code of the classification catalogue", field="classification", code=code, retired=False
        )
    if node.retired_at is not None:
        raise ClassificationNotSelectable(
            f"classification {node.code} {node.name_zh} is retired", field="classification", code=code, retired=True
        )
    return node


def nodes(session: Session) -> list[Classification]:
    """Every node, retired ones too, ordered by code (so a parent comes before its children)."""
    return list(session.scalars(select(Classification).order_by(Classification.code)))


def _by_code(session: Session, code: str) -> Classification:
    node = session.scalars(select(Classification).where(Classification.code == code)).one_or_none()
    if node is None:
        raise CatalogueInvalid(f"no classification {code}", problems=[problem_at(None, "code", f"no node {code}")])
    return node


def _check_names(name_zh: str, name_en: str | None, line: int | None = None) -> list[dict[str, Any]]:
    problems = []
    if not name_zh.strip():
        problems.append(problem_at(line, "name_zh", "a Chinese name is required"))
    elif len(name_zh.strip()) > MAX_ZH:
        problems.append(problem_at(line, "name_zh", f"longer than {MAX_ZH} characters"))
    if name_en is not None and len(name_en.strip()) > MAX_EN:
        problems.append(problem_at(line, "name_en", f"longer than {MAX_EN} characters"))
    return problems


def _sibling_clash(session: Session, parent_id: int | None, name_zh: str, other_than: int | None) -> bool:
    stmt = select(Classification.id).where(
        Classification.parent_id.is_(parent_id) if parent_id is None else (Classification.parent_id == parent_id),
        Classification.name_zh == name_zh,
    )
    return any(i != other_than for i in session.scalars(stmt))


def add_node(
    session: Session, actor: Actor, code: str, name_zh: str, name_en: str | None, *, now: datetime
) -> Classification:
    """Add an active node. CatalogueInvalid when the code is not a catalogue code, is taken, its parent
    (the one the code names) is missing or retired, or a sibling has the same Chinese name."""
    code = code.strip()
    problem = code_problem(code)
    if problem is not None:
        raise invalid([problem_at(None, "code", problem)])
    problems = _check_names(name_zh, name_en)
    check(problems)
    if session.scalars(select(Classification.id).where(Classification.code == code)).first() is not None:
        raise invalid([problem_at(None, "code", f"{code} is already in the catalogue")])
    parent: Classification | None = None
    up = parent_code(code)
    if up is not None:
        parent = session.scalars(select(Classification).where(Classification.code == up)).one_or_none()
        if parent is None:
            raise invalid([problem_at(None, "code", f"{code}'s parent {up} is not in the catalogue")])
        if parent.retired_at is not None:
            raise invalid([problem_at(None, "code", f"{code}'s parent {up} is retired")])
    zh, en = name_zh.strip(), (name_en or "").strip() or None
    if _sibling_clash(session, parent.id if parent else None, zh, None):
        raise invalid([problem_at(None, "name_zh", f"a sibling of {code} is already named {zh}")])
    node = Classification(
        code=code, parent=parent, level=level_of(code), name_zh=zh, name_en=en, created_at=now, updated_at=now
    )
    session.add(node)
    session.flush()
    audit(session, actor, "classification_add", None, now, code=code, name_zh=zh, name_en=en)
    return node


def rename_node(
    session: Session, actor: Actor, code: str, name_zh: str, name_en: str | None, *, now: datetime
) -> Classification:
    """Give a node new names (the code stays). Cases already taken keep the names they were taken with."""
    node = _by_code(session, code.strip())
    problems = _check_names(name_zh, name_en)
    check(problems)
    zh, en = name_zh.strip(), (name_en or "").strip() or None
    if _sibling_clash(session, node.parent_id, zh, node.id):
        raise invalid([problem_at(None, "name_zh", f"a sibling of {node.code} is already named {zh}")])
    if (zh, en) != (node.name_zh, node.name_en):
        audit(
            session, actor, "classification_rename", None, now,
            code=node.code, old_zh=node.name_zh, old_en=node.name_en, name_zh=zh, name_en=en,
        )  # fmt: skip
        node.name_zh, node.name_en, node.updated_at = zh, en, now
    session.flush()
    return node


def _subtree(session: Session, node: Classification) -> list[Classification]:
    """The node and every node below it (codes share the node's significant digits)."""
    prefix = node.code[: 2 * node.level]
    stmt = select(Classification).where(Classification.code.startswith(prefix)).order_by(Classification.code)
    return list(session.scalars(stmt))


def retire_node(session: Session, actor: Actor, code: str, *, now: datetime) -> list[Classification]:
    """Retire a node and every active node below it; returns the nodes retired (none if already retired)."""
    node = _by_code(session, code.strip())
    done = []
    for n in _subtree(session, node):
        if n.retired_at is None:
            n.retired_at, n.updated_at = now, now
            audit(session, actor, "classification_retire", None, now, code=n.code, name_zh=n.name_zh)
            done.append(n)
    session.flush()
    return done


def restore_node(session: Session, actor: Actor, code: str, *, now: datetime) -> Classification:
    """Make a retired node selectable again (not its children: restore each that should be). CatalogueInvalid
    when its parent is retired."""
    node = _by_code(session, code.strip())
    if node.parent is not None and node.parent.retired_at is not None:
        raise invalid([problem_at(None, "code", f"{node.code}'s parent {node.parent.code} is retired")])
    if node.retired_at is not None:
        node.retired_at, node.updated_at = None, now
        audit(session, actor, "classification_restore", None, now, code=node.code, name_zh=node.name_zh)
    session.flush()
    return node


def export_csv(session: Session) -> str:
    """The whole catalogue as CSV text (the module's format), retired nodes included, sorted by code."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for n in nodes(session):
        w.writerow([n.code, parent_code(n.code) or "", n.name_zh, n.name_en or "", RETIRED if n.retired_at else ACTIVE])
    return out.getvalue()


@dataclass(frozen=True)
class Row:
    """One node as a catalogue CSV states it."""

    line: int
    code: str
    name_zh: str
    name_en: str | None
    retired: bool


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8, a leading byte-order mark dropped; CatalogueInvalid naming the line of the
    first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise invalid([problem_at(line, None, "the file is not UTF-8 text")]) from None


def csv_records(text: str, expected: Sequence[str]) -> tuple[list[tuple[int, dict[str, str]]], list[dict[str, Any]]]:
    """The lines of CSV `text` whose header (line 1) names exactly `expected` (in any order): each filled
    line as (its line number, its values by column, stripped), blank lines passed over, and the problems of
    the lines that could not be read (not CSV, the wrong number of fields). A wrong header raises
    CatalogueInvalid at once, as nothing below it can be read."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise invalid([problem_at(1, None, "the file is empty: a header line is required")]) from None
    problems = [problem_at(1, c, f"the column {c} is missing") for c in expected if c not in header]
    problems += [problem_at(1, c, f"unknown column {c!r}") for c in header if c not in expected]
    if len(set(header)) != len(header):
        problems.append(problem_at(1, None, "a column is named twice"))
    check(problems)
    records: list[tuple[int, dict[str, str]]] = []
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(problem_at(line, None, f"not CSV: {exc}"))
            break
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(problem_at(line, None, f"{len(values)} fields where the header has {len(header)}"))
            continue
        records.append((line, {k: v.strip() for k, v in zip(header, values, strict=True)}))
    return records, problems


def parse_csv(text: str) -> list[Row]:
    """Read catalogue CSV text (the module's format) and check it as a whole catalogue: every code valid
    and once, each parent_code the one its code names and present in the file, names within limits and
    unique among siblings, status `active` or `retired`, no active node under a retired one. Raises
    CatalogueInvalid with every problem found (line, column, message)."""
    records, problems = csv_records(text, COLUMNS)
    rows: list[Row] = []
    seen: dict[str, Row] = {}
    parents: dict[str, str | None] = {}
    for start, f in records:
        code = f["code"]
        bad = code_problem(code)
        if bad is not None:
            problems.append(problem_at(start, "code", bad))
            continue
        if code in seen:
            problems.append(problem_at(start, "code", f"{code} is listed twice (first on line {seen[code].line})"))
            continue
        up = parent_code(code)
        if f["parent_code"] != (up or ""):
            want = f"the parent of {code} is {up}" if up else f"{code} is a first-level code: no parent"
            problems.append(problem_at(start, "parent_code", f"{f['parent_code']!r}: {want}"))
        problems += _check_names(f["name_zh"], f["name_en"], start)
        if f["status"] not in (ACTIVE, RETIRED):
            problems.append(problem_at(start, "status", f"{f['status']!r}: must be {ACTIVE} or {RETIRED}"))
        row = Row(start, code, f["name_zh"], f["name_en"] or None, f["status"] == RETIRED)
        seen[code] = row
        parents[code] = up
        rows.append(row)
    siblings: dict[tuple[str | None, str], Row] = {}
    for row in rows:
        up = parents[row.code]
        if up is not None and up not in seen:
            problems.append(problem_at(row.line, "parent_code", f"the parent {up} is not in the file"))
        elif up is not None and seen[up].retired and not row.retired:
            problems.append(problem_at(row.line, "status", f"active under the retired {up}"))
        key = (up, row.name_zh)
        if row.name_zh and key in siblings:
            other = siblings[key]
            problems.append(
                problem_at(row.line, "name_zh", f"{row.name_zh} is also the name of {other.code} (line {other.line})")
            )
        siblings.setdefault(key, row)
    check(problems)
    return rows


@dataclass(frozen=True)
class Change:
    """One change an import makes: `kind` add, rename, retire, restore or delete; `detail` for people."""

    kind: str
    code: str
    detail: str


def used_ids(session: Session) -> set[int]:
    """The ids of the nodes a case or a dispatch rule names."""
    used = set(session.scalars(select(Case.classification_id).where(Case.classification_id.is_not(None)).distinct()))
    used |= set(session.scalars(select(DispatchRule.classification_id).distinct()))
    return {i for i in used if i is not None}


def plan_import(session: Session, rows: Iterable[Row]) -> list[Change]:
    """What importing `rows` (parse_csv's, a whole catalogue) would change, in the order it is applied:
    additions and changes by code (parents first), then deletions and retirements (children first)."""
    current = {n.code: n for n in nodes(session)}
    wanted = {r.code: r for r in rows}
    changes: list[Change] = []
    for code in sorted(wanted):
        r = wanted[code]
        n = current.get(code)
        if n is None:
            changes.append(Change("add", code, r.name_zh))
            if r.retired:
                changes.append(Change("retire", code, r.name_zh))
            continue
        if (n.name_zh, n.name_en) != (r.name_zh, r.name_en):
            changes.append(Change("rename", code, f"{n.name_zh} → {r.name_zh}"))
        if r.retired and n.retired_at is None:
            changes.append(Change("retire", code, r.name_zh))
        elif not r.retired and n.retired_at is not None:
            changes.append(Change("restore", code, r.name_zh))
    used = used_ids(session)
    kept = set(wanted)
    for code in sorted(set(current) - set(wanted), reverse=True):  # children before parents
        n = current[code]
        below = any(k != code and k.startswith(code[: 2 * n.level]) for k in kept)
        if n.id in used or below:
            kept.add(code)
            if n.retired_at is None:
                changes.append(Change("retire", code, f"{n.name_zh} (not in the file, still in use)"))
        else:
            changes.append(Change("delete", code, n.name_zh))
    return changes


def import_csv(session: Session, actor: Actor, data: bytes, *, now: datetime, dry_run: bool = False) -> list[Change]:
    """Import catalogue CSV bytes (the module's format) as the whole catalogue; returns the changes made (or,
    with `dry_run`, that would be made, changing nothing). CatalogueInvalid, with every problem and nothing
    changed, when the file breaks a rule. Each change is audited; the caller commits."""
    rows = parse_csv(decode(data))
    changes = plan_import(session, rows)
    if dry_run:
        return changes
    wanted = {r.code: r for r in rows}
    for ch in changes:
        r = wanted.get(ch.code)
        if ch.kind == "add":
            assert r is not None
            up = parent_code(r.code)
            parent = _by_code(session, up) if up else None
            node = Classification(
                code=r.code, parent=parent, level=level_of(r.code), name_zh=r.name_zh, name_en=r.name_en,
                created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(node)
            session.flush()
            audit(session, actor, "classification_add", None, now, code=r.code, name_zh=r.name_zh, name_en=r.name_en)
        elif ch.kind == "rename":
            assert r is not None
            node = _by_code(session, ch.code)
            audit(
                session, actor, "classification_rename", None, now,
                code=ch.code, old_zh=node.name_zh, old_en=node.name_en, name_zh=r.name_zh, name_en=r.name_en,
            )  # fmt: skip
            node.name_zh, node.name_en, node.updated_at = r.name_zh, r.name_en, now
            session.flush()
        elif ch.kind == "retire":
            node = _by_code(session, ch.code)
            node.retired_at, node.updated_at = now, now
            audit(session, actor, "classification_retire", None, now, code=ch.code, name_zh=node.name_zh)
        elif ch.kind == "restore":
            node = _by_code(session, ch.code)
            node.retired_at, node.updated_at = None, now
            audit(session, actor, "classification_restore", None, now, code=ch.code, name_zh=node.name_zh)
        else:
            node = _by_code(session, ch.code)
            audit(session, actor, "classification_delete", None, now, code=ch.code, name_zh=node.name_zh)
            session.delete(node)
            session.flush()
    session.flush()
    return changes
