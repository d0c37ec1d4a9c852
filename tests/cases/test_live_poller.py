"""The standalone web front's live updates read the audit trail by id (ari_app.web.live.AuditPoller). Ids are
handed out at insert and committed in any order (PostgreSQL), so a change whose id is below one already read
must still be told, once; a gap that never fills (a rolled-back insert) is given up after GAP_WAIT."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, text

from ari_app.cases.events import Audience
from ari_app.web.live import GAP_WAIT, AuditPoller
from schema.cases import AuditEntry, Case
from tests.support.cases import Db

T = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Notices:
    def __init__(self) -> None:
        self.told: list[tuple[int, str]] = []

    def notify(self, case_id: int, number: str, audience: Audience, kind: str) -> int:
        self.told.append((case_id, kind))
        return 1


def _case(db: Db, number: str) -> int:
    with db.session() as s, s.begin():
        case = Case(number=number, channel="phone", hotline="12345", request="路灯不亮", urgency="normal",
                    language="zh", handling="dispatch", status="received", created_by_login="1001")  # fmt: skip
        s.add(case)
        s.flush()
        return case.id


def _audit(db: Db, case_id: int, action: str, id_: int | None = None) -> int:
    with db.session() as s, s.begin():
        entry = AuditEntry(at=T, login="1001", role="agent", action=action, case_id=case_id)
        if id_ is not None:
            entry.id = id_
        s.add(entry)
        s.flush()
        return entry.id


async def test_a_change_committed_after_a_later_one_is_still_told(db: Db) -> None:
    a, b, c = _case(db, "12345-20261202-0001"), _case(db, "12345-20261202-0002"), _case(db, "12345-20261202-0003")
    now = [0.0]
    notices = Notices()
    poller = AuditPoller(db.session, notices, 0.5, clock=lambda: now[0])  # type: ignore[arg-type]
    await poller.poll()  # starts after what is there
    with db.session() as s:
        top = s.scalar(select(func.max(AuditEntry.id))) or 0
    _audit(db, a, "dispatch", top + 1)
    _audit(db, c, "dispatch", top + 3)  # top + 2 is still being committed
    await poller.poll()
    assert notices.told == [(a, "dispatch"), (c, "dispatch")]
    _audit(db, b, "dispatch", top + 2)
    now[0] += 1
    await poller.poll()
    assert notices.told[2:] == [(b, "dispatch")]
    await poller.poll()
    assert len(notices.told) == 3  # once

    _audit(db, a, "handle", top + 5)  # top + 4 rolled back: never comes
    await poller.poll()
    now[0] += GAP_WAIT
    _audit(db, b, "handle", top + 4)  # too late: given up
    await poller.poll()
    assert notices.told[3:] == [(a, "handle")]

    if db.backend == "postgres":  # the real thing: two transactions committing out of id order
        with db.session() as s, s.begin():  # the sequence past the ids given by hand above
            s.execute(text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), (SELECT max(id) FROM audit_log))"))
        first = db.session()
        with first.begin():
            early = AuditEntry(at=T, login="1001", role="agent", action="accept", case_id=c)
            first.add(early)
            first.flush()
            later = _audit(db, a, "accept")
            assert later > early.id
            await poller.poll()
            assert notices.told[-1] == (a, "accept")
        await poller.poll()
        assert notices.told[-1] == (c, "accept")
        first.close()
