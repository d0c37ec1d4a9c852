"""The server as `hotline serve` builds it (ari_app.server.build_server, not started): a missed call the
tracker publishes on the bus becomes a task once its call is stored, and the citizen's answered call closes
it, through the wiring alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from ari_app.config import load_config
from ari_app.protocol import Msg
from ari_app.server import build_server
from schema.missed import MissedCall
from tests.support.commands import config_on
from tests.support.missed import store_answered, store_miss

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


async def test_the_built_server_opens_and_closes_tasks_from_the_bus(tmp_path: Path) -> None:
    server = build_server(load_config(config_on(tmp_path)))
    assert server.missed is not None and server.link is not None
    for kind in (Msg.LIST_MISSED_CALLS, Msg.CLAIM_MISSED_CALL, Msg.MISSED_CALL_ATTEMPT):
        assert kind in server.link.routes._handlers
    server.bus.start()
    try:
        server.bus.publish(store_miss(server.sessions, "1.1", "13900000001", T0))
        await server.bus.settle()
        with server.sessions() as s:
            (task,) = s.scalars(select(MissedCall)).all()
        assert (task.status, task.due_at) == ("open", T0 + timedelta(minutes=30))
        server.bus.publish(store_answered(server.sessions, "1.2", "13900000001", T0 + timedelta(minutes=5)))
        await server.bus.settle()
        with server.sessions() as s:
            (task,) = s.scalars(select(MissedCall)).all()
        assert (task.status, task.closed_by_call) == ("closed_by_contact", "1.2")
    finally:
        await server.bus.stop()
        server.engine.dispose()
