"""Live updates inside `hotline serve`: a committed case event reaches exactly the listening pages of its
audience (`Audience.includes`, as the desktop link's `case_event` pushes), ids and numbers only."""

from __future__ import annotations

from datetime import UTC, datetime

from ari_app.cases.events import Audience, CaseDispatched, CaseStatusChanged
from ari_app.cases.queries import UserRecord
from ari_app.web.live import LiveHub
from schema.users import Role

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def person(login: str, role: Role, units: frozenset[int] = frozenset(), hotline: str | None = None) -> UserRecord:
    unit = min(units) if units else None
    return UserRecord(1, login, login, role, hotline, unit, None, 0, units)


async def test_a_case_event_reaches_only_the_pages_of_its_audience() -> None:
    hub = LiveHub()
    water = hub.listen(person("water", Role.DEPARTMENT, frozenset({1, 3})))  # 供水所 and its 3rd-level 一站
    lights = hub.listen(person("lights", Role.DEPARTMENT, frozenset({2})))
    unit_12350 = hub.listen(person("u12350", Role.HOTLINE_UNIT, hotline="12350"))
    agent = hub.listen(person("1001", Role.AGENT))

    to_station = Audience(frozenset({Role.DEPARTMENT}), units=frozenset({3}))
    assert hub.on_case_event(CaseDispatched(7, "12345-20261201-0007", AT, to_station, 3, AT)) == 1
    assert water.queue.get_nowait() == {"case_id": 7, "number": "12345-20261201-0007", "kind": "dispatched"}
    assert lights.queue.empty() and unit_12350.queue.empty() and agent.queue.empty()

    handled = Audience(frozenset({Role.AGENT, Role.SUPERVISOR}))
    event = CaseStatusChanged(7, "12345-20261201-0007", AT, handled, "handle", "in_progress", "handled")
    assert hub.on_case_event(event) == 1
    assert agent.queue.get_nowait()["kind"] == "status_changed"
    assert water.queue.empty() and lights.queue.empty()

    hub.drop(water)
    assert hub.on_case_event(CaseDispatched(8, "12345-20261201-0008", AT, to_station, 3, AT)) == 0
    hub.close()
    assert agent.queue.get_nowait() is None  # every stream ends when the server stops
