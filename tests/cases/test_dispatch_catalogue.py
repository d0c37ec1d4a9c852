"""The dispatch catalogue (派单目录): the most specific rule wins (node before subtree, deeper node first,
then grid cell, street, district), an automatic rule dispatches at intake through the ordinary dispatch
(state, deadline, audit naming the rule), a suggested one only when asked, an unknown combination falls
back to the centre's manual dispatch, rules whose units do not fit the case are passed over, and the CSV
import is checked whole and round-trips; every admin change audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ari_app.cases.actor import Actor
from ari_app.cases.catalogue import import_csv as import_catalogue
from ari_app.cases.catalogue import retire_node
from ari_app.cases.errors import CatalogueInvalid, InvalidInput
from ari_app.cases.machine import CaseState
from ari_app.cases.routing import RuleSpec, add_rule, export_csv, import_csv, remove_rule, suggest
from ari_app.cases.workflow import dispatch
from ari_app.config import HotlineMode
from schema.cases import AuditEntry, Case, CooperatingUnit, Dispatch, Handling
from schema.users import Role
from tests.support.cases import Db, intake

ADMIN = Actor(user_id=None, login="cli:root", role=Role.ADMIN)
TREE = (
    "code,parent_code,name_zh,name_en,status\n"
    "010000,,城乡建设,,active\n"
    "010100,010000,市政设施,,active\n"
    "010101,010100,路灯,,active\n"
    "010102,010100,井盖,,active\n"
    "020000,,安全生产,,active\n"
    "020100,020000,危险化学品,,active\n"
)
RULES_HEADER = "classification_code,subtree,district,street,grid_cell,lead_unit,co_units,automatic\n"


@pytest.fixture
def cat(db: Db) -> Db:
    with db.session() as s, s.begin():
        import_catalogue(s, ADMIN, TREE.encode(), now=db.clock.t)
    return db


def rule(db: Db, code: str, *units: str, subtree: bool = False, automatic: bool = False, **area: str) -> int:
    u = db.world.units
    spec = RuleSpec(
        code,
        subtree,
        area.get("district"),
        area.get("street"),
        area.get("grid_cell"),
        tuple(u[x] for x in units),
        automatic,
    )
    with db.session() as s, s.begin():
        return add_rule(s, ADMIN, spec, now=db.clock.t).id


def suggested(db: Db, case: Case, mode: HotlineMode = HotlineMode.COLLABORATIVE) -> tuple[int, ...] | None:
    with db.session() as s:
        got = suggest(s, s.get(Case, case.id), mode)  # type: ignore[arg-type]
    return None if got is None else tuple(got.units)


def test_the_most_specific_rule_wins(cat: Db) -> None:
    u = cat.world.units
    rule(cat, "010000", "B", subtree=True)
    rule(cat, "010100", "A1", subtree=True, district="天山区")
    rule(cat, "010100", "A", subtree=True)
    rule(cat, "010101", "A", "B", district="天山区")
    rule(cat, "010101", "B", street="胜利路街道")
    rule(cat, "010101", "A1", grid_cell="TS-07")
    where = dict(district="天山区", street="胜利路街道", grid_cell="TS-07")
    assert suggested(cat, intake(cat, classification="010101", **where)) == (u["A1"],)  # grid cell
    assert suggested(cat, intake(cat, classification="010101", district="天山区", street="胜利路街道")) == (u["B"],)
    assert suggested(cat, intake(cat, classification="010101", district="天山区")) == (u["A"], u["B"])
    # the node's own rules do not match: the deeper subtree rule before the shallower, then by area
    assert suggested(cat, intake(cat, classification="010101", district="水磨沟区")) == (u["A"],)
    assert suggested(cat, intake(cat, classification="010102", district="天山区")) == (u["A1"],)
    assert suggested(cat, intake(cat, classification="010000")) == (u["B"],)


def test_an_automatic_rule_dispatches_at_intake_through_the_ordinary_dispatch(cat: Db) -> None:
    u = cat.world.units
    rid = rule(cat, "010101", "A", "B", automatic=True, district="天山区")
    case = intake(cat, classification="010101", district="天山区", category=None)
    assert case.status == CaseState.DISPATCHED
    assert case.handling == Handling.COORDINATED
    with cat.session() as s:
        shares = s.scalars(select(Dispatch).where(Dispatch.case_id == case.id).order_by(Dispatch.id)).all()
        assert [(d.unit_id, d.lead) for d in shares] == [(u["A"], True), (u["B"], False)]
        assert shares[0].deadline_at == cat.clock.t + timedelta(hours=cat.settings.default_deadline_hours)
        entries = s.execute(
            select(AuditEntry.action, AuditEntry.login, AuditEntry.detail).where(AuditEntry.case_id == case.id)
        ).all()
    assert [(a, login) for a, login, _ in entries] == [("create", "agent"), ("dispatch", "agent")]
    assert json.loads(entries[1][2])["rule"] == rid
    direct = intake(cat, classification="010101", district="天山区", handling="direct")
    assert direct.status == CaseState.RECEIVED  # answered on the spot: no dispatch


def test_a_suggested_rule_waits_for_the_agent_and_is_used_when_no_unit_is_given(cat: Db) -> None:
    u = cat.world.units
    rule(cat, "010102", "B")
    case = intake(cat, classification="010102", category=None)
    assert case.status == CaseState.RECEIVED
    assert suggested(cat, case) == (u["B"],)
    with cat.session() as s, s.begin():
        done = dispatch(s, cat.world.actors["agent"], case.id)
        assert [d.unit_id for d in done.dispatches] == [u["B"]]


def test_an_unknown_combination_falls_back_to_the_centres_manual_dispatch(cat: Db) -> None:
    u = cat.world.units
    rule(cat, "010101", "A", automatic=True, district="天山区")
    case = intake(cat, classification="010102", district="沙依巴克区", category=None)
    assert case.status == CaseState.RECEIVED
    assert suggested(cat, case) is None
    unclassified = intake(cat, category=None, district="天山区")
    assert suggested(cat, unclassified) is None
    with cat.session() as s, s.begin(), pytest.raises(InvalidInput) as err:
        dispatch(s, cat.world.actors["agent"], case.id)
    assert err.value.detail["field"] == "units"
    with cat.session() as s, s.begin():
        assert dispatch(s, cat.world.actors["agent"], case.id, units=[u["B"]]).status == CaseState.DISPATCHED
    # the category's default unit still serves when no rule does (the behaviour before the catalogue)
    by_category = intake(cat, classification="010102")
    with cat.session() as s, s.begin():
        assert [d.unit_id for d in dispatch(s, cat.world.actors["agent"], by_category.id).dispatches] == [u["A"]]


def test_rules_whose_units_do_not_fit_the_case_are_passed_over(cat: Db) -> None:
    u = cat.world.units
    rule(cat, "020100", "S", automatic=True)  # a unit of the sub-platform hotline 12350
    rule(cat, "020000", "B", subtree=True)
    on_12345 = intake(cat, classification="020100")
    assert on_12345.status == CaseState.RECEIVED
    assert suggested(cat, on_12345) == (u["B"],)
    # on 12350 (sub-platform) the agent takes the case but only the hotline's staff dispatch it
    on_12350 = intake(cat, hotline="12350", category="安全隐患", classification="020100")
    assert on_12350.status == CaseState.RECEIVED
    assert suggested(cat, on_12350, HotlineMode.SUB_PLATFORM) == (u["S"],)
    by_staff = intake(cat, actor="hu12350", hotline="12350", category="安全隐患", classification="020100")
    assert by_staff.status == CaseState.DISPATCHED
    with cat.session() as s, s.begin():
        s.get(CooperatingUnit, u["S"]).active = False  # type: ignore[union-attr]
    assert suggested(cat, on_12350, HotlineMode.SUB_PLATFORM) is None


def test_rules_are_checked_and_every_change_audited(cat: Db) -> None:
    rid = rule(cat, "010101", "A", district="天山区")
    with pytest.raises(CatalogueInvalid, match="exists"):
        rule(cat, "010101", "B", district="天山区")
    with pytest.raises(CatalogueInvalid, match="not in the catalogue"):
        rule(cat, "030000", "A")
    with pytest.raises(CatalogueInvalid, match="twice"):
        rule(cat, "010102", "A", "A")
    with cat.session() as s, s.begin():
        retire_node(s, ADMIN, "010102", now=cat.clock.t)
    with pytest.raises(CatalogueInvalid, match="retired"):
        rule(cat, "010102", "A")
    with cat.session() as s, s.begin():
        remove_rule(s, ADMIN, rid, now=cat.clock.t)
    with cat.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("dispatch_rule%"))).all()
    assert actions == ["dispatch_rule_add", "dispatch_rule_remove"]


def load_rules(db: Db, text: str, *, dry_run: bool = False) -> list[str]:
    with db.session() as s, s.begin():
        return [c.kind for c in import_csv(s, ADMIN, text.encode(), now=db.clock.t, dry_run=dry_run)]


def exported(db: Db) -> str:
    with db.session() as s:
        return export_csv(s)


def test_the_csv_import_is_checked_whole(cat: Db) -> None:
    good = RULES_HEADER + "010100,yes,天山区,,,市政管理处,环境卫生处;市政管理处一所,yes\n010101,no,,,,环境卫生处,,no\n"
    assert load_rules(cat, good, dry_run=True) == ["add", "add"]
    assert exported(cat) == RULES_HEADER
    assert load_rules(cat, good) == ["add", "add"]
    assert exported(cat) == good
    assert load_rules(cat, good) == []
    bad = (
        RULES_HEADER + "010100,yes,天山区,,,市政管理处,,maybe\n"  # line 2
        "019999,no,,,,市政管理处,,no\n"  # line 3: not in the catalogue
        "010101,no,,,,无此单位,,no\n"  # line 4: no such unit
        "010101,no,天山区,,,环境卫生处,环境卫生处,no\n"  # line 5: a unit twice
        "010100,yes,天山区,,,环境卫生处,,no\n"  # line 6: the same key as line 2
    )
    with pytest.raises(CatalogueInvalid) as err:
        load_rules(cat, bad)
    where = [(p["line"], p["column"]) for p in err.value.detail["problems"]]
    assert where == [(2, "automatic"), (3, "classification_code"), (4, "lead_unit"), (5, "co_units"), (6, None)]
    assert exported(cat) == good
    assert load_rules(cat, RULES_HEADER + "010101,no,,,,环境卫生处,,yes\n") == ["remove", "remove", "add"]
    with cat.session() as s, s.begin():
        retire_node(s, ADMIN, "010101", now=cat.clock.t)
    kept = exported(cat)
    assert load_rules(cat, kept) == []  # a rule on a node retired since stays, and its file imports again
    with pytest.raises(CatalogueInvalid, match="010101 is retired"):
        load_rules(cat, RULES_HEADER + "010101,no,天山区,,,环境卫生处,,yes\n")


units = st.sampled_from(["市政管理处", "市政管理处一所", "环境卫生处"])
areas = st.sampled_from(["", "天山区", "水磨沟区"])


@st.composite
def rule_files(draw: st.DrawFn) -> str:
    lines = {}
    for _ in range(draw(st.integers(0, 6))):
        code = draw(st.sampled_from(["010000", "010100", "010101", "010102"]))
        subtree = draw(st.sampled_from(["yes", "no"]))
        district, grid = draw(areas), draw(st.sampled_from(["", "TS-07"]))
        lead = draw(units)
        co = ";".join(draw(st.lists(units.filter(lambda n, lead=lead: n != lead), max_size=2, unique=True)))
        key = (code, subtree, district, grid)
        lines[key] = f"{code},{subtree},{district},,{grid},{lead},{co},{draw(st.sampled_from(['yes', 'no']))}\n"
    return RULES_HEADER + "".join(lines[k] for k in sorted(lines, key=lambda k: (k[0], k[1] == "yes", k[2], k[3])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=rule_files(), second=rule_files())
def test_rule_import_then_export_round_trips(db: Db, first: str, second: str) -> None:
    db.reset()
    with db.session() as s, s.begin():
        import_catalogue(s, ADMIN, TREE.encode(), now=db.clock.t)
    load_rules(db, first)
    assert exported(db) == first
    load_rules(db, second)
    assert exported(db) == second
