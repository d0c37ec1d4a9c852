"""Visibility: a hotline unit's staff see only their hotline's cases (sub-platform), a department only the
cases dispatched to it (or its 3rd-level units); the centre sees all. Checked on the server side for every
way in: search, caller history, get, and acting."""

from __future__ import annotations

import pytest

from ari_app.cases import Action, CaseNotFound
from ari_app.cases.lookups import caller_history, get_case, search_cases
from ari_app.config import HotlineMode
from tests.support.cases import Db
from tests.support.flows import Flow


def test_isolation_between_hotline_units_and_departments(db: Db) -> None:
    c, sp = Flow(db, HotlineMode.COLLABORATIVE), Flow(db, HotlineMode.SUB_PLATFORM)
    c1, c2, s1 = c.create(caller="1"), c.create(caller="1"), sp.create(caller="1")
    c.do(Action.DISPATCH, c.dispatcher, c1, units=[db.world.units["A1"]])
    c.do(Action.DISPATCH, c.dispatcher, c2, units=[db.world.units["B"]])
    sp.do(Action.DISPATCH, sp.dispatcher, s1)
    seen = {
        "agent": {c1, c2, s1},
        "supervisor": {c1, c2, s1},
        "qa": {c1, c2, s1},
        "hu12350": {s1},
        "hu12345": {c1, c2},
        "deptA": {c1},
        "deptA1": {c1},
        "deptB": {c2},
        "deptS": {s1},
        "deptS2": set(),
    }
    with db.session() as s, s.begin():
        for login, expected in seen.items():
            actor = db.world.actors[login]
            assert {x.id for x in search_cases(s, actor)} == expected, login
            assert {x.id for x in caller_history(s, actor, "1")} == expected, login
            for cid in (c1, c2, s1):
                if cid in expected:
                    assert get_case(s, actor, cid).id == cid
                else:
                    with pytest.raises(CaseNotFound):
                        get_case(s, actor, cid)


def test_hotline_unit_cannot_act_on_another_hotlines_case(db: Db) -> None:
    c = Flow(db, HotlineMode.COLLABORATIVE)
    cid = c.create()
    with pytest.raises(CaseNotFound):
        c.do(Action.DISPATCH, db.world.actors["hu12350"], cid)
    with pytest.raises(CaseNotFound):
        c.do(Action.ACCEPT, db.world.actors["deptB"], cid)
