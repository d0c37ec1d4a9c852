"""Three-way calls for direct resolution (三方通话): the agent brings a cooperating unit into the call.

The server marks the call as a conference in the tracker, sets CONF_ROOM, CONF_ROLE and CONF_INTRO on the
citizen's and the agent's channels, moves both into [hotline-conference] (AMI Redirect with ExtraChannel)
and calls the unit into the same room through the outbound trunk (AMI Originate, with CONF_CALL so the
unit's person hears the case's number). There the FastAGI script `conference` (agi_scripts/conference.py)
announces each leg and enters it into the ConfBridge with its role's profile. The citizen's MixMonitor goes
on across the move, so the recording covers the whole call. Who joins and leaves is written to
`conference_participants` from the ConfbridgeJoin / ConfbridgeLeave events; when someone leaves a room
this service started, the others hear who left (`conference-<role>-left`) through an announcer channel
(AMI Originate of Local/s@hotline-conference-announce, see the dialplan), except while the room is being
ended. Rooms are known to the process that started them: after a restart of the CTI server the call goes on,
but leaving it is no longer announced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallEvent, ConferenceChanged, ConferenceStored, QueueMemberChanged
from ari_app.calls.onward import CallOnward
from ari_app.calls.tracker import ANNOUNCER_CONTEXT, CallTracker
from ari_app.config import Partner
from ari_app.protocol import DomainError, ErrorId, iso
from schema.conferences import ConferenceParticipant

log = logging.getLogger(__name__)


class ConferenceError(DomainError):
    """A three-way call refused or failed."""


class Ami(Protocol):
    async def action(self, **fields: Any) -> Any: ...

    async def originate_async(self, **fields: Any) -> None: ...


class ThreeWay(CallOnward[Ami]):
    def __init__(
        self,
        tracker: CallTracker,
        ami: Ami,
        sessions: sessionmaker[Session],
        trunk: str,
        publish: Callable[[object], None] | None = None,
        partners: Mapping[str, Partner] | None = None,
    ) -> None:
        super().__init__(tracker, ami, sessions, trunk, partners)
        self.publish = publish or tracker.bus.publish
        self._dialled: dict[str, str] = {}  # room -> the unit number called in last
        self._ending: set[str] = set()  # rooms being ended for everyone: nobody is told who left

    async def start(self, call_id: str, number: str | None = None, *, partner: str | None = None) -> str:
        """Bring `number` (a unit's contact number) or `partner` (a linkage partner's key: its configured number
        through its trunk, `Partner.dial`) into the call; returns the room's name."""
        dial, number = self.dial_out(number, partner, ConferenceError)
        call = self.tracker.connected_call(call_id, ConferenceError)
        room = call.conference or f"hotline-{call_id}"
        if call.conference is None:
            self.tracker.start_conference(call_id, room)
            for channel, role in ((call.channel, "citizen"), (call.agent_channel, "agent")):
                for name, value in (("CONF_ROOM", room), ("CONF_ROLE", role), ("CONF_INTRO", "1")):
                    await self.ami.action(Action="Setvar", Channel=channel, Variable=name, Value=value)
            await self.ami.action(
                Action="Redirect",
                Channel=call.channel,
                ExtraChannel=call.agent_channel,
                Context="hotline-conference",
                Exten="s",
                Priority="1",
                ExtraContext="hotline-conference",
                ExtraExten="s",
                ExtraPriority="1",
            )
        self._dialled[room] = number
        await self.ami.originate_async(
            Channel=dial,
            Context="hotline-conference",
            Exten="s",
            Priority="1",
            CallerID=call.hotline or "",
            Timeout="30000",
            Variable=[
                f"CONF_ROOM={room}",
                "CONF_ROLE=unit",
                "CONF_INTRO=1",
                f"CONF_CALL={call_id}",
                f"CONF_NUMBER={number}",
            ],
        )
        log.info("three-way call %s: calling %s into %s", call_id, number, room)
        return room

    async def agent_leaves(self, call_id: str) -> None:
        """The agent steps out; the citizen and the unit stay together."""
        call = self.tracker.calls.get(call_id)
        if call is None or not call.conference or not call.agent_channel:
            raise ConferenceError(f"call {call_id} is not a three-way call", error_id=ErrorId.NOT_IN_CONFERENCE)
        await self.ami.action(Action="Hangup", Channel=call.agent_channel)

    async def end(self, call_id: str) -> None:
        """End the conference for everyone."""
        call = self.tracker.calls.get(call_id)
        if call is None or not call.conference:
            raise ConferenceError(f"call {call_id} is not a three-way call", error_id=ErrorId.NOT_IN_CONFERENCE)
        self._ending.add(call.conference)
        await self.ami.action(Action="ConfbridgeKick", Conference=call.conference, Channel="all")

    # --- participants ----------------------------------------------------------------------------------
    async def on_event(self, event: CallEvent | QueueMemberChanged) -> None:
        if isinstance(event, ConferenceChanged):
            role = self.role(event)
            self.record(event, role)
            self.publish(ConferenceStored(event.call_id, event.at))
            if not event.joined:
                await self._announce_leave(event, role)

    def role(self, event: ConferenceChanged) -> str:
        """citizen, agent or unit: whose leg `event.channel` is."""
        call = self.tracker.calls.get(event.call_id)
        if call is not None and event.channel == call.channel:
            return "citizen"
        if (
            call is not None
            and event.channel == call.agent_channel
            and (call.agent_interface is None or event.channel.startswith(call.agent_interface + "-"))
        ):  # the agent's leg; a unit's leg a transfer put through stands in the agent's place but is a unit
            return "agent"
        return "unit"

    async def _announce_leave(self, event: ConferenceChanged, role: str) -> None:
        """Tell those still in a room this service started that `role` left (the announcer channel of
        [hotline-conference-announce]); nothing when the room is empty or being ended."""
        room = event.room
        if not event.members:
            self._dialled.pop(room, None)
            self._ending.discard(room)
            return
        if room not in self._dialled or room in self._ending:
            return
        try:
            await self.ami.originate_async(
                Channel=f"Local/s@{ANNOUNCER_CONTEXT}",
                Context=ANNOUNCER_CONTEXT,
                Exten="play",
                Priority="1",
                Timeout="10000",
                Variable=[f"CONF_ROOM={room}", f"CONF_LEFT={role}"],
            )
        except Exception:  # the call goes on unannounced; never lost silently
            log.exception("three-way call %s: could not announce that the %s left %s", event.call_id, role, room)
            return
        log.info(
            "three-way call %s: announcing to %d in %s that the %s left", event.call_id, len(event.members), room, role
        )

    def record(self, event: ConferenceChanged, role: str) -> None:
        number = self._dialled.get(event.room, event.number) if role == "unit" else event.number
        with self.sessions.begin() as s:
            if event.joined:
                s.add(
                    ConferenceParticipant(
                        call_id=event.call_id,
                        room=event.room,
                        channel=event.channel,
                        role=role,
                        number=number,
                        joined_at=event.at,
                    )
                )
                return
            row = s.scalar(
                select(ConferenceParticipant)
                .where(
                    ConferenceParticipant.room == event.room,
                    ConferenceParticipant.channel == event.channel,
                    ConferenceParticipant.left_at.is_(None),
                )
                .order_by(ConferenceParticipant.id.desc())
            )
            if row is not None:
                row.left_at = event.at


def participants(session: Session, call_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ConferenceParticipant).where(ConferenceParticipant.call_id == call_id).order_by(ConferenceParticipant.id)
    )
    return [
        {
            "role": r.role,
            "number": r.number,
            "channel": r.channel,
            "joined_at": iso(r.joined_at),
            "left_at": iso(r.left_at),
        }
        for r in rows
    ]
