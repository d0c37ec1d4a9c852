"""Stand-ins around the call tracker and its neighbours: a sink that keeps what the tracker saves, the agent
directory, a scripted callback dialer, scripted AGI replies for the survey, a stored call at its survey, an
ended call's record, and a ringing event as the tracker publishes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from panoramisk.utils import parse_agi_result

from agi_scripts.survey import Survey
from ari_app.calls.events import CallRinging
from ari_app.calls.model import Call
from ari_app.calls.tracker import LiveChannel
from schema.calls import CallRecord
from tests.support.clock import T0


class ListSink:
    def __init__(self) -> None:
        self.saved: dict[str, Call] = {}
        self.writes = 0

    def save(self, call: Call) -> None:
        self.saved[call.id] = Call(**vars(call))
        self.writes += 1


class Agents:
    def agent_id_for(self, interface: str) -> str | None:
        return interface.split("/")[-1] if interface.startswith("PJSIP/10") else None


class ScriptedDialer:
    def __init__(self, free: int, answers: list[bool]) -> None:
        self.free = free
        self.answers = answers
        self.dialled: list[str] = []

    async def free_agents(self, queue: str) -> int:
        return self.free

    async def originate_callback(self, *, number: str, trunk: str, hotline: str, callback_of: str) -> tuple[bool, str]:
        self.dialled.append(number)
        answered = self.answers.pop(0)
        return answered, "answered" if answered else "no answer"


class ScriptedAgi:
    """Answers each AGI command with the next scripted reply line, recording the commands."""

    def __init__(self, replies: dict[str, list[str]]) -> None:
        self.replies = replies
        self.commands: list[str] = []
        self.headers: dict[str, str] = {}

    async def send_command(self, command: str) -> dict[str, Any]:
        self.commands.append(command)
        for prefix, lines in self.replies.items():
            if command.startswith(prefix) and lines:
                return parse_agi_result(lines.pop(0))  # type: ignore[no-any-return]
        return parse_agi_result("200 result=0")  # type: ignore[no-any-return]


VARS = {
    "GET VARIABLE CHANNEL(linkedid)": ["200 result=1 (1795930000.7)"],
    "GET VARIABLE HOTLINE_SOUNDS": ["200 result=1 (/var/lib/hotline/sounds)"],
    "GET VARIABLE PROMPT_LANG": ["200 result=1 (zh)"],
}
"""The channel variables the survey script reads first, as Asterisk answers them."""


def store_call(survey: Survey, linkedid: str, now: datetime | None = None, **changes: Any) -> None:
    """A call as the tracker stores it when the agent hangs up first and the caller stays for the survey
    (`now`: when the survey runs, by default the real time)."""
    now = now or datetime.now(UTC)
    row = ended_record(
        linkedid,
        hotline="12345",
        agent="1001",
        caller="13900000001",
        arrived_at=now - timedelta(seconds=90),
        answered_after=10,
        talked=78,
        recording=None,
        end_reason="agent_hangup",
    )
    for key, value in changes.items():
        setattr(row, key, value)
    with survey.sessions.begin() as s:
        s.add(row)


def ended_record(
    linkedid: str,
    *,
    hotline: str,
    agent: str | None,
    caller: str,
    arrived_at: datetime,
    answered_after: float,
    talked: float,
    recording: Path | None,
    end_reason: str = "caller_hangup",
    **fields: Any,
) -> CallRecord:
    """A call that was answered `answered_after` s after it arrived in the hotline queue and ended after
    `talked` s (`end_reason`: by default the caller's hang-up), as the tracker stores it (not added to any
    session)."""
    return CallRecord(
        linkedid=linkedid,
        hotline=hotline,
        dialed=hotline,
        caller=caller,
        queue="hotline",
        agent=agent,
        state="ended",
        arrived_at=arrived_at,
        answered_at=arrived_at + timedelta(seconds=answered_after),
        ended_at=arrived_at + timedelta(seconds=answered_after + talked),
        talk_seconds=talked,
        end_reason=end_reason,
        recording=str(recording) if recording else None,
        **fields,
    )


def ringing(call_id: str = "1764378000.1", agent: str | None = "1001", **kw: Any) -> CallRinging:
    base: dict[str, Any] = dict(
        call_id=call_id,
        at=T0,
        agent_id=agent,
        interface=f"PJSIP/{agent or '1001'}",
        hotline="12319",
        caller="13800000001",
        waited_seconds=4.5,
    )
    base.update(kw)
    return CallRinging(**base)


def live_channel(
    linkedid: str,
    uniqueid: str,
    channel: str,
    bridge: str = "",
    app: str = "Queue",
    account: str = "12345",
    caller: str = "13900000000",
    duration: int = 30,
) -> LiveChannel:
    """A channel as CoreShowChannels reports it at a resync, in the hotline's inbound context."""
    return LiveChannel(
        channel=channel,
        uniqueid=uniqueid,
        linkedid=linkedid,
        context="hotline-inbound",
        exten="12345",
        application=app,
        caller=caller,
        accountcode=account,
        bridge_id=bridge,
        duration_seconds=duration,
    )
