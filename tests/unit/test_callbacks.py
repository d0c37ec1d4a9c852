"""The callback dialer against a scripted dialer: order, one per free agent, retries, failure, restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ari_app.callbacks import CallbackService, list_callbacks
from ari_app.calls.events import CallbackRequested
from ari_app.config import load_config
from schema.db import make_engine, make_sessionmaker, upgrade
from tests.support.calls import ScriptedDialer

ROOT = Path(__file__).resolve().parents[2]


def _service(tmp_path: Path, dialer: ScriptedDialer, now: list[datetime]) -> CallbackService:
    engine = make_engine(f"sqlite:///{tmp_path / 'cb.db'}")
    upgrade(engine)
    return CallbackService(load_config(ROOT / "config.yaml"), make_sessionmaker(engine), dialer, clock=lambda: now[0])


async def _settle(service: CallbackService) -> None:
    while service._dialing:
        await asyncio.gather(*list(service._dialing))


async def test_oldest_first_one_per_free_agent_then_retry_and_fail(tmp_path: Path) -> None:
    now = [datetime(2026, 11, 29, 8, 0, tzinfo=UTC)]
    dialer = ScriptedDialer(free=1, answers=[True, False, False, False])
    svc = _service(tmp_path, dialer, now)
    await svc.on_event(CallbackRequested("2.1", now[0] + timedelta(seconds=5), "12319", "13900000002"))
    await svc.on_event(CallbackRequested("1.1", now[0], "12345", "13900000001"))
    await svc.on_event(CallbackRequested("1.1", now[0], "12345", "13900000001"))  # the same call asks once
    now[0] += timedelta(seconds=10)
    assert await svc.dial_due() == 1
    await _settle(svc)
    assert dialer.dialled == ["13900000001"]  # the oldest request first
    assert await svc.dial_due() == 1
    await _settle(svc)
    assert dialer.dialled == ["13900000001", "13900000002"]
    with svc.sessions() as s:
        rows = {r["number"]: r for r in list_callbacks(s)}
    assert rows["13900000001"]["status"] == "done"
    assert rows["13900000002"]["status"] == "pending" and rows["13900000002"]["last_error"] == "no answer"
    assert await svc.dial_due() == 0  # not before its retry time
    for _ in range(2):
        now[0] += timedelta(seconds=61)
        assert await svc.dial_due() == 1
        await _settle(svc)
    with svc.sessions() as s:
        rows = {r["number"]: r for r in list_callbacks(s)}
    assert rows["13900000002"]["status"] == "failed" and rows["13900000002"]["attempts"] == 3


async def test_no_free_agent_no_dialling_and_restart_redials(tmp_path: Path) -> None:
    now = [datetime(2026, 11, 29, 8, 0, tzinfo=UTC)]
    dialer = ScriptedDialer(free=0, answers=[True])
    svc = _service(tmp_path, dialer, now)
    svc.request("3.1", "12350", "13900000003", now[0])
    assert svc.request("4.1", "12350", "12*3", now[0])  # stored, but cannot be dialled
    assert await svc.dial_due() == 0 and dialer.dialled == []
    with svc.sessions.begin() as s:  # a server that died while dialling
        from schema.callbacks import CallbackRequest

        s.query(CallbackRequest).filter_by(call_id="3.1").update({"status": "dialing"})
    await svc.start()
    await svc.stop()
    with svc.sessions() as s:
        rows = {r["call_id"]: r for r in list_callbacks(s)}
    assert rows["3.1"]["status"] == "pending"
    assert rows["4.1"]["status"] == "failed" and "cannot be dialled" in rows["4.1"]["last_error"]
    dialer.free = 2
    assert await svc.dial_due() == 1
    await _settle(svc)
    assert dialer.dialled == ["13900000003"]


async def test_a_withheld_caller_is_never_dialled_back(tmp_path: Path) -> None:
    now = [datetime(2026, 11, 29, 8, 0, tzinfo=UTC)]
    dialer = ScriptedDialer(free=5, answers=[True] * 5)
    svc = _service(tmp_path, dialer, now)
    for i, number in enumerate(["anonymous", "<unknown>", "", "Restricted"]):
        await svc.on_event(CallbackRequested(f"{i}.1", now[0], "12345", number))
    now[0] += timedelta(seconds=10)
    assert await svc.dial_due() == 0
    await _settle(svc)
    assert dialer.dialled == []
    with svc.sessions() as s:
        rows = list_callbacks(s)
    assert len(rows) == 4
    assert {(r["number"], r["status"], r["last_error"]) for r in rows} == {
        ("withheld", "failed", "the caller withheld their number")
    }


async def test_a_number_the_trunk_cannot_dial_is_not_dialled_and_any_written_form_is(tmp_path: Path) -> None:
    """The number component decides (NumberPlan.outbound, as for transfers): not a hand-written pattern."""
    now = [datetime(2026, 11, 29, 8, 0, tzinfo=UTC)]
    dialer = ScriptedDialer(free=5, answers=[True] * 5)
    svc = _service(tmp_path, dialer, now)
    for i, number in enumerate(["+86 139-0000-0003", "12", "gateway-7"]):
        await svc.on_event(CallbackRequested(f"{i}.1", now[0], "12345", number))
    now[0] += timedelta(seconds=10)
    assert await svc.dial_due() == 1
    await _settle(svc)
    assert dialer.dialled == ["13900000003"]
    with svc.sessions() as s:
        rows = {r["call_id"]: r for r in list_callbacks(s)}
    assert (rows["0.1"]["status"], rows["0.1"]["number_raw"]) == ("done", "+86 139-0000-0003")
    for refused in ("1.1", "2.1"):
        assert rows[refused]["status"] == "failed", rows[refused]
        assert rows[refused]["last_error"].startswith("the caller's number cannot be dialled: "), rows[refused]


async def test_a_cancelled_request_is_never_dialled_and_the_cancel_is_audited(tmp_path: Path) -> None:
    from sqlalchemy import select

    from ari_app.callbacks import CallbackNotCancellable, cancel_callback
    from ari_app.cases.actor import Actor
    from schema.cases import AuditEntry
    from schema.users import Role

    now = [datetime(2026, 11, 29, 8, 0, tzinfo=UTC)]
    dialer = ScriptedDialer(free=2, answers=[True])
    svc = _service(tmp_path, dialer, now)
    await svc.on_event(CallbackRequested("1.1", now[0], "12345", "13900000001"))
    await svc.on_event(CallbackRequested("2.1", now[0], "12319", "13900000002"))
    admin = Actor(user_id=None, login="cli:ops", role=Role.ADMIN)
    with svc.sessions.begin() as s:
        cancel_callback(s, "1.1", admin, now[0], "reached by phone")
    now[0] += timedelta(seconds=10)
    assert await svc.dial_due() == 1
    await _settle(svc)
    assert dialer.dialled == ["13900000002"]  # only the other one
    with svc.sessions() as s:
        rows = {r["call_id"]: r for r in list_callbacks(s)}
        (entry,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "callback_cancelled"))
    assert rows["1.1"]["status"] == "cancelled"
    assert rows["1.1"]["last_error"] == "cancelled by cli:ops: reached by phone"
    assert rows["1.1"]["completed_at"] is not None and rows["1.1"]["attempts"] == 0
    assert entry.login == "cli:ops" and '"call_id": "1.1"' in (entry.detail or "")
    for call_id, status in (("1.1", "cancelled"), ("2.1", "done"), ("9.9", None)):
        with svc.sessions.begin() as s, pytest.raises(CallbackNotCancellable) as refused:
            cancel_callback(s, call_id, admin, now[0])
        assert refused.value.status == status
    with svc.sessions() as s:
        assert {r["call_id"]: r["status"] for r in list_callbacks(s)} == {"1.1": "cancelled", "2.1": "done"}


async def test_a_dial_task_that_fails_is_logged_not_lost(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    now = [datetime(2026, 11, 29, 8, 0, tzinfo=UTC)]
    dialer = ScriptedDialer(free=1, answers=[True])
    svc = _service(tmp_path, dialer, now)
    await svc.on_event(CallbackRequested("1.1", now[0], "12345", "13900000001"))
    dial = dialer.originate_callback

    def gone() -> object:
        raise RuntimeError("the database went away")

    async def answered_then_the_database_goes(**fields: str) -> tuple[bool, str]:
        result = await dial(**fields)
        svc.sessions.begin = gone  # type: ignore[method-assign]  # the write of the outcome fails
        return result

    dialer.originate_callback = answered_then_the_database_goes  # type: ignore[method-assign]
    with caplog.at_level("ERROR", logger="ari_app.callbacks.service"):
        assert await svc.dial_due() == 1
        await asyncio.gather(*list(svc._dialing), return_exceptions=True)
        await asyncio.sleep(0)  # the done callback
    assert not svc._dialing and dialer.dialled == ["13900000001"]
    (record,) = [r for r in caplog.records if "callback dial task failed" in r.message]
    assert record.exc_info is not None and "the database went away" in str(record.exc_info[1])
