"""Alarms to supervisors over the link, and failed recordings in the QA requests, against a real server and
database: the recordings disk's alarm comes once per change of its state (not per probe) and only to
supervisors and admins; a failed recording raises one; every alarm is audited and kept in the wallboard
snapshot; a failed recording is never listed as available nor served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ari_app.health import judge_disk
from ari_app.link import LinkServer
from ari_app.protocol import ErrorId, Msg
from recordings.service import RecordingFailure
from schema.calls import CallRecord
from schema.cases import AuditEntry
from tests.support.link import Desktop
from tests.support.qa_calls import T_OLD, add_call
from tests.support.waiting import until

GIB = 1 << 30


async def signed_in(desktop: Any, login: str) -> Desktop:
    d: Desktop = await desktop()
    assert (await d.sign_in(login))["type"] == Msg.SIGNED_IN
    return d


def alarm_audits(sessions: sessionmaker[Session]) -> list[tuple[str, dict[str, Any]]]:
    with sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "alarm").order_by(AuditEntry.id))
        return [(r.login, json.loads(r.detail or "{}")) for r in rows]


async def test_disk_alarms_once_per_change_to_supervisors_only(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    sup = await signed_in(desktop, "sup")
    agent = await signed_in(desktop, "1001")
    fine = judge_disk("/rec", 50 * GIB, 100 * GIB, GIB, 5.0)
    low = judge_disk("/rec", 3 * GIB, 100 * GIB, GIB, 5.0)
    full = judge_disk("/rec", 0, 100 * GIB, GIB, 5.0)

    await server.supervisor.on_recordings_disk(fine)  # a good start says nothing
    await server.supervisor.on_recordings_disk(low)
    first = await sup.push(Msg.ALARM)
    assert first["kind"] == "recordings_disk_low" and first["severity"] == "warning"
    assert first["message"].startswith("recordings disk low: /rec has 3.0 GiB free")
    assert first["detail"]["previous"] == "ok" and first["detail"]["free_bytes"] == 3 * GIB
    for _ in range(3):  # the next probes find it as low as before: no new alarm
        await server.supervisor.on_recordings_disk(low)
    await server.supervisor.on_recordings_disk(full)
    second = await sup.push(Msg.ALARM)
    assert second["kind"] == "recordings_disk_full" and second["severity"] == "critical"
    await server.supervisor.on_recordings_disk(fine)
    third = await sup.push(Msg.ALARM)
    assert third["kind"] == "recordings_disk_ok" and third["severity"] == "info" and "room again" in third["message"]
    assert [m for m in sup.pushes if m["type"] == Msg.ALARM] == []

    pong = await agent.request(Msg.PING)  # everything pushed before the pong has arrived
    assert pong["type"] == Msg.PONG
    assert [m for m in agent.pushes if m["type"] == Msg.ALARM] == []

    kinds = [(login, d["kind"], d["sent_to"]) for login, d in alarm_audits(sessions)]
    assert kinds == [
        ("system", "recordings_disk_low", 1),
        ("system", "recordings_disk_full", 1),
        ("system", "recordings_disk_ok", 1),
    ]
    board = await sup.request(Msg.WALLBOARD_SUBSCRIBE)
    assert [a["kind"] for a in board["alarms"]] == ["recordings_disk_low", "recordings_disk_full", "recordings_disk_ok"]


async def test_a_failed_recording_alarms_and_is_never_served(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    call = add_call(sessions, tmp_path / "rec", "rec-bad", hotline="12345", agent="1001", arrived_at=T_OLD)
    assert call.recording is not None
    open(call.recording, "wb").close()  # noqa: ASYNC230 - test setup; the mix Asterisk could not write; the sides are still there
    reason = f"{Path(call.recording).name}: 0 bytes"
    with sessions.begin() as s:
        s.execute(
            update(CallRecord)
            .where(CallRecord.linkedid == "rec-bad")
            .values(recording_status="failed", recording_error=reason)
        )
    sup = await signed_in(desktop, "sup")
    await server.supervisor.on_recording_failed(RecordingFailure("rec-bad", "12345", call.recording, reason))
    alarm = await sup.push(Msg.ALARM)
    assert alarm["kind"] == "recording_failed" and alarm["detail"] == {
        "call_id": "rec-bad",
        "hotline": "12345",
        "reason": reason,
    }

    qa = await signed_in(desktop, "qa")
    rows = (await qa.request(Msg.QA_SEARCH_CALLS))["calls"]
    row = next(r for r in rows if r["call_id"] == "rec-bad")
    assert row["recording_available"] is False
    assert row["recording_status"] == "failed" and row["recording_error"] == reason
    detail = (await qa.request(Msg.QA_GET_CALL, call_id="rec-bad"))["call"]
    assert detail["recording_sides"] == [] and detail["recording_status"] == "failed"  # not even the sides
    for side in ("mix", "caller"):
        refused = await qa.request(Msg.QA_OPEN_RECORDING, call_id="rec-bad", side=side)
        assert refused["type"] == Msg.ERROR and refused["error_id"] == ErrorId.RECORDING_UNAVAILABLE
        assert refused["detail"]["recording_status"] == "failed" and "0 bytes" in refused["message"]


async def test_recordings_failing_one_after_another_alarm_once_then_gathered(
    desktop: Any, server: LinkServer, sessions: sessionmaker[Session]
) -> None:
    """A full disk fails every call that ends: the first failure alarms at once, the next ones come as one
    `recordings_failed` per window with their count, and once failures stop the next one alarms at once."""
    sup = await signed_in(desktop, "sup")
    server.supervisor.failure_window = 0.4

    def failure(n: int) -> RecordingFailure:
        return RecordingFailure(f"call-{n}", "12345" if n % 2 else "12319", f"/rec/{n}.wav", f"{n}.wav: 0 bytes")

    await server.supervisor.on_recording_failed(failure(0))
    first = await sup.push(Msg.ALARM)
    assert first["kind"] == "recording_failed" and first["detail"]["call_id"] == "call-0"
    for n in range(1, 6):
        await server.supervisor.on_recording_failed(failure(n))
    assert [m for m in await sup.nothing_pending() if m["type"] == Msg.ALARM] == []  # gathered, not pushed
    gathered = await sup.push(Msg.ALARM, within=3)
    assert gathered["kind"] == "recordings_failed" and gathered["severity"] == "critical"
    assert gathered["detail"] == {
        "count": 5,
        "window_seconds": 0.4,
        "call_ids": ["call-1", "call-2", "call-3", "call-4", "call-5"],
        "hotlines": ["12319", "12345"],
    }
    assert gathered["message"] == "5 more recordings failed in the last 0.4 s (5 × 0 bytes)"
    # the window closes once a whole one passes without a failure; the next failure alarms at once again
    await until(lambda: server.supervisor._failures is None, within=3)
    await server.supervisor.on_recording_failed(failure(9))
    again = await sup.push(Msg.ALARM)
    assert again["kind"] == "recording_failed" and again["detail"]["call_id"] == "call-9"
    kinds = [d["kind"] for _, d in alarm_audits(sessions)]
    assert kinds == ["recording_failed", "recordings_failed", "recording_failed"]
