"""The cooperating units an admin keeps (ari_app.cases.units) on SQLite: levels from the parent (2 at the
top, 3 under a level-2 unit, nothing under level 3), names unique, hotlines configured and shared with the
parent, contacts edited and removed, disabling that takes the units below and keeps the rows, enabling only
under an enabled parent, the CSV export and import (round trip, every problem with its line and column and
nothing changed, a unit left out disabled, two names swapped, a dry run), and each change audited."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.actor import Actor
from ari_app.cases.errors import CatalogueInvalid
from ari_app.cases.units import (
    active_unit,
    add_unit,
    disable_unit,
    edit_unit,
    enable_unit,
    export_csv,
    import_csv,
    units,
)
from schema.cases import AuditEntry, CooperatingUnit
from schema.db import make_engine, make_sessionmaker
from schema.users import Role
from tests.support.db import migrated_sqlite

ADMIN = Actor(user_id=None, login="cli:root", role=Role.ADMIN)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOTLINES = ("12345", "12319")
HEADER = "id,name,parent,hotline,contact_phone,contact_person,status\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("units") / "template.db"
    migrated_sqlite(path).engine.dispose()
    return path


@pytest.fixture
def session(template: Path, tmp_path: Path) -> Iterator[Session]:
    path = tmp_path / "units.db"
    shutil.copyfile(template, path)
    engine = make_engine(f"sqlite:///{path}")
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def add(s: Session, name: str, **kw: object) -> CooperatingUnit:
    return add_unit(s, ADMIN, name, hotlines=HOTLINES, now=NOW, **kw)  # type: ignore[arg-type]


def problems(exc: pytest.ExceptionInfo[CatalogueInvalid]) -> list[tuple[int | None, str | None, str]]:
    return [(p["line"], p["column"], p["message"]) for p in exc.value.detail["problems"]]


def audit_rows(s: Session) -> list[tuple[str, dict[str, object]]]:
    rows = s.execute(select(AuditEntry.action, AuditEntry.detail).order_by(AuditEntry.id)).all()
    return [(a, json.loads(d) if d else {}) for a, d in rows]


def test_add_takes_its_level_and_hotline_from_the_parent(session: Session) -> None:
    water = add(session, "市水务局", contact_phone=" 0991-1234567 ", contact_person="王工")
    supply = add(session, "供水所", parent="市水务局")
    city = add(session, "城管委", hotline="12319")
    squad = add(session, "执法队", parent=str(city.id))
    assert (water.level, water.hotline, water.contact_phone, water.contact_person) == (2, None, "0991-1234567", "王工")
    assert (supply.level, supply.parent_id) == (3, water.id)
    assert (squad.level, squad.parent_id, squad.hotline) == (3, city.id, "12319")
    added = [d for a, d in audit_rows(session) if a == "unit_add"]
    assert [d["name"] for d in added] == ["市水务局", "供水所", "城管委", "执法队"]
    assert added[1]["parent"] == "市水务局" and added[1]["level"] == 3


def test_add_refusals(session: Session) -> None:
    add(session, "市水务局")
    add(session, "供水所", parent="市水务局")
    add(session, "城管委", hotline="12319")
    with pytest.raises(CatalogueInvalid) as exc:
        add(session, "小组", parent="供水所")
    assert problems(exc) == [(None, "parent", "供水所 is a level-3 unit: no units go under it")]
    with pytest.raises(CatalogueInvalid, match="there is a unit named 市水务局 already"):
        add(session, " 市水务局 ")
    with pytest.raises(CatalogueInvalid, match="99999 is not a configured hotline"):
        add(session, "价格监督所", hotline="99999")
    with pytest.raises(CatalogueInvalid, match="a unit under a unit of hotline 12319 belongs to it too"):
        add(session, "执法队", parent="城管委", hotline="12345")
    with pytest.raises(CatalogueInvalid, match="no unit '999'"):
        add(session, "执法队", parent="999")
    with pytest.raises(CatalogueInvalid, match="a name is required"):
        add(session, "  ")
    with pytest.raises(CatalogueInvalid, match="longer than 40 characters"):
        add(session, "执法队", contact_phone="1" * 41)
    disable_unit(session, ADMIN, "市水务局", now=NOW)
    with pytest.raises(CatalogueInvalid, match="the parent 市水务局 is disabled"):
        add(session, "排水所", parent="市水务局")
    assert [u.name for u in units(session)] == ["市水务局", "供水所", "城管委"]


def test_edit_renames_and_removes_a_contact(session: Session) -> None:
    water = add(session, "市水务局", contact_phone="0991-1234567", contact_person="王工")
    add(session, "城管委")
    edit_unit(session, ADMIN, water.id, name="市水务局（水利）", contact_phone="", now=NOW)
    assert (water.name, water.contact_phone, water.contact_person) == ("市水务局（水利）", None, "王工")
    with pytest.raises(CatalogueInvalid, match="there is a unit named 城管委 already"):
        edit_unit(session, ADMIN, water.id, name="城管委", now=NOW)
    edit_unit(session, ADMIN, water.id, contact_person="王工", now=NOW)  # no change, no audit row
    (edit,) = [d for a, d in audit_rows(session) if a == "unit_edit"]
    assert edit["changed"] == {
        "name": {"old": "市水务局", "new": "市水务局（水利）"},
        "contact_phone": {"old": "0991-1234567", "new": None},
    }


def test_disable_takes_the_units_below_and_enable_needs_an_enabled_parent(session: Session) -> None:
    water = add(session, "市水务局")
    supply = add(session, "供水所", parent="市水务局")
    done = disable_unit(session, ADMIN, str(water.id), now=NOW)
    assert [u.name for u in done] == ["市水务局", "供水所"]
    assert disable_unit(session, ADMIN, water.id, now=NOW) == []
    with pytest.raises(CatalogueInvalid, match="供水所's parent 市水务局 is disabled"):
        enable_unit(session, ADMIN, supply.id, now=NOW)
    with pytest.raises(CatalogueInvalid, match="unit 1 市水务局 is disabled"):
        active_unit(session, 1)
    enable_unit(session, ADMIN, water.id, now=NOW)
    assert (water.active, supply.active) == (True, False)
    assert active_unit(session, "市水务局") is water
    actions = [a for a, _ in audit_rows(session) if a != "unit_add"]
    assert actions == ["unit_disable", "unit_disable", "unit_enable"]


def test_csv_round_trip_and_a_whole_import(session: Session) -> None:
    add(session, "市水务局", contact_phone="0991-1234567", contact_person="王工")
    add(session, "城管委", hotline="12319")
    add(session, "供水所", parent="市水务局")
    text = export_csv(session)
    assert text == (
        HEADER + "1,市水务局,,,0991-1234567,王工,active\n3,供水所,市水务局,,,,active\n2,城管委,,12319,,,active\n"
    )
    assert import_csv(session, ADMIN, text.encode("utf-8-sig"), hotlines=HOTLINES, now=NOW) == []

    wanted = HEADER + "1,市水务局,,,0991-7654321,,active\n,排水所,市水务局,,,,disabled\n2,执法队,,12319,,,active\n"
    dry = import_csv(session, ADMIN, wanted.encode(), hotlines=HOTLINES, now=NOW, dry_run=True)
    assert export_csv(session) == text
    done = import_csv(session, ADMIN, wanted.encode(), hotlines=HOTLINES, now=NOW)
    assert [(c.kind, c.unit) for c in done] == [(c.kind, c.unit) for c in dry]
    assert [(c.kind, c.unit) for c in done] == [
        ("edit", "市水务局"),
        ("add", "排水所"),
        ("disable", "排水所"),
        ("edit", "执法队"),
        ("disable", "供水所"),
    ]
    assert export_csv(session) == (
        HEADER + "1,市水务局,,,0991-7654321,,active\n"
        "3,供水所,市水务局,,,,disabled\n"
        "4,排水所,市水务局,,,,disabled\n"
        "2,执法队,,12319,,,active\n"
    )
    session.flush()
    assert len(units(session)) == 4  # the unit left out is disabled, never deleted


def test_import_swaps_two_names(session: Session) -> None:
    add(session, "城管委", hotline="12319")
    add(session, "执法队", parent="城管委")
    swapped = HEADER + "1,执法队,,12319,,,active\n2,城管委,执法队,12319,,,active\n"
    done = import_csv(session, ADMIN, swapped.encode(), hotlines=HOTLINES, now=NOW)
    assert [c.detail for c in done] == ["name 城管委 → 执法队", "name 执法队 → 城管委"]
    assert export_csv(session) == swapped


def test_a_bad_file_changes_nothing_and_names_every_line(session: Session) -> None:
    add(session, "市水务局")
    add(session, "供水所", parent="市水务局")
    add(session, "城管委")
    before = export_csv(session)
    bad = (
        HEADER + "1,市水务局,,,,,active\n"  # line 2
        "2,供水所,市水务局,,,,active\n"  # line 3
        "9,燃气所,,,,,active\n"  # line 4: no unit 9
        ",小组,供水所,,,,active\n"  # line 5: under a level-3 unit
        ",城管委,,,,,active\n"  # line 6: the name of a unit the file leaves out
        "1,价格所,,99999,,,retired\n"  # line 7: unit 1 twice, hotline and status wrong
        ",排水所,后来者,,,,active\n"  # line 8: parent comes later, and is disabled
        ",后来者,,,,,disabled\n"  # line 9
        ",后来者,,,,,active\n"  # line 10: name twice
    )
    with pytest.raises(CatalogueInvalid) as exc:
        import_csv(session, ADMIN, bad.encode(), hotlines=HOTLINES, now=NOW)
    assert [(line, col) for line, col, _ in problems(exc)] == [
        (4, "id"),
        (5, "parent"),
        (6, "name"),
        (7, "id"),
        (7, "status"),
        (7, "hotline"),
        (8, "parent"),
        (8, "status"),
        (10, "name"),
    ]
    assert str(exc.value).startswith("line 4, id: no unit '9'")
    with pytest.raises(CatalogueInvalid, match="line 1, status: the column status is missing"):
        import_csv(session, ADMIN, b"id,name,parent,hotline,contact_phone,contact_person\n", hotlines=HOTLINES, now=NOW)
    with pytest.raises(CatalogueInvalid, match="line 3, status: active under the disabled 市水务局"):
        text = HEADER + "1,市水务局,,,,,disabled\n2,供水所,市水务局,,,,active\n3,城管委,,,,,active\n"
        import_csv(session, ADMIN, text.encode(), hotlines=HOTLINES, now=NOW)
    with pytest.raises(CatalogueInvalid, match="line 3, parent: units left out of the file are under it: 供水所"):
        text = HEADER + "3,城管委,,,,,active\n1,市水务局,城管委,,,,active\n"
        import_csv(session, ADMIN, text.encode(), hotlines=HOTLINES, now=NOW)
    assert export_csv(session) == before
    assert [a for a, _ in audit_rows(session)] == ["unit_add"] * 3
