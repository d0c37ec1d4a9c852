"""The classification catalogue and the request type: GB/T 39666-style codes checked against their parent,
a case keeping the names its node had when it was taken, retired nodes readable but not selectable, the
CSV import checked whole (line and column of every problem, nothing changed) and round-tripping with the
export, every admin change audited, and migration 0015 giving old cases the type `help`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ari_app.cases.actor import Actor
from ari_app.cases.catalogue import (
    add_node,
    code_problem,
    export_csv,
    import_csv,
    parent_code,
    rename_node,
    restore_node,
    retire_node,
)
from ari_app.cases.errors import CatalogueInvalid, ClassificationNotSelectable, InvalidInput
from ari_app.cases.lookups import get_case
from schema.cases import AuditEntry, Case, Classification, RequestType
from schema.users import Role
from tests.support.cases import Db, intake

ADMIN = Actor(user_id=None, login="cli:root", role=Role.ADMIN)
HEADER = "code,parent_code,name_zh,name_en,status\n"
TREE = (
    HEADER + "010000,,城乡建设,Urban construction,active\n"
    "010100,010000,市政设施,Municipal facilities,active\n"
    "010101,010100,路灯,Street lights,active\n"
    "010102,010100,井盖,Manhole covers,active\n"
    "020000,,环境保护,,active\n"
)


def load(db: Db, csv_text: str = TREE, *, dry_run: bool = False) -> list[str]:
    with db.session() as s, s.begin():
        return [f"{c.kind} {c.code}" for c in import_csv(s, ADMIN, csv_text.encode(), now=db.clock.t, dry_run=dry_run)]


def exported(db: Db) -> str:
    with db.session() as s:
        return export_csv(s)


def audit_actions(db: Db) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.mark.parametrize(
    ("code", "parent", "problem"),
    [
        ("010000", None, False),
        ("010100", "010000", False),
        ("010101", "010100", False),
        ("990199", "990100", False),
        ("000000", None, True),
        ("000100", None, True),
        ("010001", None, True),
        ("01010", None, True),
        ("0101011", None, True),
        ("01a100", None, True),
    ],
)
def test_codes_have_two_digits_a_level_and_name_their_parent(code: str, parent: str | None, problem: bool) -> None:
    assert (code_problem(code) is not None) is problem
    if not problem:
        assert parent_code(code) == parent


def test_a_node_goes_only_under_the_parent_its_code_names(db: Db) -> None:
    t = db.clock.t
    with db.session() as s, s.begin():
        add_node(s, ADMIN, "010000", "城乡建设", "Urban construction", now=t)
        add_node(s, ADMIN, "010100", "市政设施", None, now=t)
    for code, why in [("020100", "parent 020000 is not"), ("010100", "already"), ("010001", "third level")]:
        with db.session() as s, s.begin(), pytest.raises(CatalogueInvalid) as err:
            add_node(s, ADMIN, code, "x", None, now=t)
        assert why in err.value.message
        assert err.value.error_id == "catalogue_invalid"
    with db.session() as s, s.begin(), pytest.raises(CatalogueInvalid, match="already named"):
        add_node(s, ADMIN, "010200", "市政设施", None, now=t)
    with db.session() as s, s.begin():
        retire_node(s, ADMIN, "010100", now=t)
    with db.session() as s, s.begin(), pytest.raises(CatalogueInvalid, match="retired"):
        add_node(s, ADMIN, "010101", "路灯", None, now=t)
    assert audit_actions(db) == ["classification_add", "classification_add", "classification_retire"]


def test_a_case_keeps_the_names_its_classification_had_when_taken(db: Db) -> None:
    load(db)
    old = intake(db, classification="010101", request_type="complaint")
    assert (old.classification_name, old.classification_path) == ("路灯", "城乡建设 / 市政设施 / 路灯")
    assert old.request_type is RequestType.COMPLAINT
    db.clock.t += timedelta(hours=1)
    with db.session() as s, s.begin():
        rename_node(s, ADMIN, "010101", "道路照明", "Road lighting", now=db.clock.t)
        rename_node(s, ADMIN, "010000", "住房和城乡建设", None, now=db.clock.t)
    new = intake(db, classification="010101")
    assert new.classification_path == "住房和城乡建设 / 市政设施 / 道路照明"
    assert new.classification_id == old.classification_id
    with db.session() as s:
        again = get_case(s, db.world.actors["agent"], old.id)
        assert (again.classification_name, again.classification_path) == ("路灯", "城乡建设 / 市政设施 / 路灯")
        renames = s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "classification_rename")).all()
    assert any('"old_zh": "路灯"' in (d or "") and '"name_zh": "道路照明"' in (d or "") for d in renames)


def test_a_retired_node_stays_readable_but_cannot_be_chosen(db: Db) -> None:
    load(db)
    old = intake(db, classification="010102")
    with db.session() as s, s.begin():
        assert [n.code for n in retire_node(s, ADMIN, "010100", now=db.clock.t)] == ["010100", "010101", "010102"]
    for code in ("010102", "010100", "999999"):
        with pytest.raises(ClassificationNotSelectable) as err:
            intake(db, classification=code)
        assert err.value.error_id == "classification_not_selectable"
        assert err.value.detail["field"] == "classification"
        assert err.value.detail["retired"] is (code != "999999")
    with db.session() as s:
        assert get_case(s, db.world.actors["agent"], old.id).classification_name == "井盖"
        assert s.scalar(select(Classification.retired_at).where(Classification.code == "010102")) is not None
    with db.session() as s, s.begin(), pytest.raises(CatalogueInvalid, match="parent 010100 is retired"):
        restore_node(s, ADMIN, "010102", now=db.clock.t)
    with db.session() as s, s.begin():
        restore_node(s, ADMIN, "010100", now=db.clock.t)
        restore_node(s, ADMIN, "010102", now=db.clock.t)
    assert intake(db, classification="010102").classification_name == "井盖"


def test_request_type_and_location_are_checked(db: Db) -> None:
    case = intake(db, district="天山区", street="胜利路街道", grid_cell="TS-0102-07", latitude=43.79, longitude=87.6)
    assert case.request_type is RequestType.HELP
    assert (case.district, case.street, case.grid_cell) == ("天山区", "胜利路街道", "TS-0102-07")
    assert (case.latitude, case.longitude) == (43.79, 87.6)
    bad = [
        ({"request_type": "gossip"}, "request_type"),
        ({"latitude": 91.0, "longitude": 0.0}, "latitude"),
        ({"latitude": 0.0, "longitude": -180.5}, "longitude"),
        ({"latitude": float("nan"), "longitude": 0.0}, "latitude"),
        ({"latitude": 43.0}, "longitude"),
        ({"grid_cell": "x" * 65}, "grid_cell"),
    ]
    for kw, field in bad:
        with pytest.raises(InvalidInput) as err:
            intake(db, **kw)
        assert err.value.detail["field"] == field, kw


def test_import_then_export_is_the_file(db: Db) -> None:
    assert load(db, dry_run=True) == ["add 010000", "add 010100", "add 010101", "add 010102", "add 020000"]
    assert exported(db) == HEADER
    assert load(db)[0] == "add 010000"
    assert exported(db) == TREE
    assert load(db) == []  # the same file again changes nothing
    assert audit_actions(db) == ["classification_add"] * 5


def test_an_import_with_any_problem_changes_nothing_and_names_line_and_column(db: Db) -> None:
    load(db)
    before = exported(db), audit_actions(db)
    bad = (
        HEADER + "010000,,城乡建设,Urban construction,active\n"
        "010100,020000,市政设施,,active\n"  # line 3: the wrong parent
        "010101,010100,,,active\n"  # line 4: no name
        "010101,010100,路灯,,active\n"  # line 5: listed twice
        "030100,030000,交通,,active\n"  # line 6: its parent is not in the file
        "010200,010000,燃气,,closed\n"  # line 7: no such status
        "0102x0,010000,供暖,,active\n"  # line 8: not a code
    )
    with pytest.raises(CatalogueInvalid) as err:
        load(db, bad)
    where = [(p["line"], p["column"]) for p in err.value.detail["problems"]]
    assert where == [(3, "parent_code"), (4, "name_zh"), (5, "code"), (6, "parent_code"), (7, "status"), (8, "code")]
    assert err.value.message.startswith("line 3, parent_code:")
    assert (exported(db), audit_actions(db)) == before
    for data, line, column in [
        ("code,name_zh\n010000,x\n", 1, "parent_code"),
        (HEADER + "010000,,甲,,active\n010100,010000,乙,,retired\n010101,010100,丙,,active\n", 4, "status"),
        (HEADER + "010000,,甲,,active\n020000,,甲,,active\n", 3, "name_zh"),
        (HEADER + "010000,,甲,,active,extra\n", 2, None),
    ]:
        with pytest.raises(CatalogueInvalid) as err:
            load(db, data)
        assert (err.value.detail["problems"][0]["line"], err.value.detail["problems"][0]["column"]) == (line, column)
    with db.session() as s, s.begin(), pytest.raises(CatalogueInvalid) as err:
        import_csv(s, ADMIN, HEADER.encode() + "010000,,城乡建设,,active\n".encode("gb18030"), now=db.clock.t)
    assert err.value.detail["problems"][0]["line"] == 2
    assert (exported(db), audit_actions(db)) == before


def test_an_import_that_drops_a_node_in_use_retires_it(db: Db) -> None:
    load(db)
    intake(db, classification="010101")
    smaller = HEADER + "010000,,城乡建设,Urban construction,active\n020000,,生态环境,,active\n"
    changes = load(db, smaller)
    assert changes == [
        "rename 020000",
        "delete 010102",
        "retire 010101",
        "retire 010100",
    ]
    out = exported(db)
    assert "010101,010100,路灯,Street lights,retired" in out
    assert "010100,010000,市政设施,Municipal facilities,retired" in out  # kept: a node in use is below it
    assert "010102" not in out
    assert audit_actions(db)[-4:] == [
        "classification_rename",
        "classification_delete",
        "classification_retire",
        "classification_retire",
    ]


names = st.text(alphabet="市政设施路灯井盖环境保护交通供水供热燃气", min_size=1, max_size=6)


@st.composite
def catalogues(draw: st.DrawFn) -> str:
    """A valid catalogue CSV in export's form: codes sorted, names unique among siblings, retired nodes
    only with retired descendants."""
    rows: list[tuple[str, str, str, str, str]] = []
    for a in draw(st.lists(st.integers(1, 99), min_size=1, max_size=4, unique=True)):
        top = f"{a:02d}0000"
        top_retired = draw(st.booleans())
        rows.append((top, "", draw(names) + f"{a}", draw(st.sampled_from(["", "Topic"])), top_retired))  # type: ignore[arg-type]
        for b in draw(st.lists(st.integers(1, 99), max_size=3, unique=True)):
            mid = f"{a:02d}{b:02d}00"
            mid_retired = top_retired or draw(st.booleans())
            rows.append((mid, top, draw(names) + f"{b}", "", mid_retired))  # type: ignore[arg-type]
            for c in draw(st.lists(st.integers(1, 99), max_size=2, unique=True)):
                leaf_retired = mid_retired or draw(st.booleans())
                rows.append((f"{a:02d}{b:02d}{c:02d}", mid, draw(names) + f"{c}", "", leaf_retired))  # type: ignore[arg-type]
    rows.sort()
    lines = [f"{c},{p},{zh},{en},{'retired' if r else 'active'}\n" for c, p, zh, en, r in rows]
    return HEADER + "".join(lines)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=catalogues(), second=catalogues())
def test_import_round_trips_from_any_catalogue_to_any_other(db: Db, first: str, second: str) -> None:
    db.reset()
    load(db, first)
    assert exported(db) == first
    load(db, second)
    assert exported(db) == second


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(renames=st.lists(st.tuples(st.sampled_from(["010000", "010100", "010101"]), names), max_size=6))
def test_every_case_keeps_the_names_of_its_moment(db: Db, renames: list[tuple[str, str]]) -> None:
    db.reset()
    load(db)
    expected: dict[int, str] = {}
    for code, name in renames:
        path = _current_path(db)
        expected[intake(db, classification="010101").id] = path
        with db.session() as s, s.begin():
            rename_node(s, ADMIN, code, name + code, None, now=db.clock.t)
    expected[intake(db, classification="010101").id] = _current_path(db)
    with db.session() as s:
        got = dict(s.execute(select(Case.id, Case.classification_path)).all())
    assert got == expected


def _current_path(db: Db) -> str:
    with db.session() as s:
        names = dict(s.execute(select(Classification.code, Classification.name_zh)).all())
    return " / ".join(names[c] for c in ("010000", "010100", "010101"))
