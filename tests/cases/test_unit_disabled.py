"""A unit disabled with `hotline units disable` (ari_app.cases.units.disable_unit) gets no new dispatch and
is not offered for one, while the share it already has stays; enabled again, it is dispatched to."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ari_app.cases import Action
from ari_app.cases.errors import InvalidInput
from ari_app.cases.units import disable_unit, enable_unit
from ari_app.config import HotlineMode
from schema.cases import CooperatingUnit, Dispatch
from tests.support.cases import Db
from tests.support.flows import Flow


def test_a_disabled_unit_keeps_its_share_and_gets_no_new_one(db: Db) -> None:
    f = Flow(db, HotlineMode.COLLABORATIVE)
    admin = db.world.actors["admin"]
    first = f.create()
    f.do(Action.DISPATCH, f.dispatcher, first, units=[f.unit2])
    with db.session() as s, s.begin():
        disabled = disable_unit(s, admin, f.unit2, now=db.clock.t)
        assert [u.id for u in disabled] == [f.unit2]
    second = f.create()
    with pytest.raises(InvalidInput, match=f"no active unit {f.unit2}"):
        f.do(Action.DISPATCH, f.dispatcher, second, units=[f.unit2])
    with db.session() as s:
        (share,) = s.scalars(select(Dispatch).where(Dispatch.case_id == first)).all()
        assert share.unit_id == f.unit2 and share.status == "pending"
        assert s.get(CooperatingUnit, f.unit2) is not None
    with db.session() as s, s.begin():
        enable_unit(s, admin, f.unit2, now=db.clock.t)
    f.do(Action.DISPATCH, f.dispatcher, second, units=[f.unit2])
