"""Three-way calls for direct resolution (三方通话): the agent brings a cooperating unit into the call.

The server marks the call as a conference in the tracker, sets CONF_ROOM on the citizen's and the agent's
channels, moves both into [hotline-conference] (AMI Redirect with ExtraChannel) and calls the unit into the
same ConfBridge room through the outbound trunk (AMI Originate). The citizen's MixMonitor goes on across
the move, so the recording covers the whole call. Who joins and leaves is written to
`conference_participants` from the ConfbridgeJoin / ConfbridgeLeave events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallEvent, ConferenceChanged, ConferenceStored, QueueMemberChanged
from ari_app.calls.numbers import NumberError
from ari_app.calls.tracker import CallTracker
from ari_app.config import Partner
from ari_app.protocol import DomainError, ErrorId, iso
from schema.calls import CallDirection, CallState
from schema.conferences import ConferenceParticipant

log = logging.getLogger(__name__)


class ConferenceError(DomainError):
    """A three-way call refused or failed."""


class Ami(Protocol):
    async def action(self, **fields: Any) -> Any: ...

    async def originate_async(self, **fields: Any) -> None: ...


class ThreeWay:
    def __init__(
        self,
        tracker: CallTracker,
        ami: Ami,
        sessions: sessionmaker[Session],
        trunk: str,
        publish: Callable[[object], None] | None = None,
        partners: Mapping[str, Partner] | None = None,
    ) -> None:
        self.tracker = tracker
        self.partners = dict(partners or {})
        """联动: the emergency and police partners by key (config.yaml `linkage`), called in by their dial string."""
        self.ami = ami
        self.sessions = sessions
        self.trunk = trunk
        self.publish = publish or tracker.bus.publish
        self._dialled: dict[str, str] = {}  # room -> the unit number called in last

    def _call(self, call_id: str) -> Any:
        call = self.tracker.calls.get(call_id)
        if call is None or call.state != CallState.CONNECTED or not call.channel or not call.agent_channel:
            raise ConferenceError(f"call {call_id} is not connected to an agent", error_id=ErrorId.CALL_NOT_CONNECTED)
        if call.direction is CallDirection.OUTBOUND:  # its citizen is the dialled leg, not the call's own channel
            raise ConferenceError(f"call {call_id} is your own call to a citizen", error_id=ErrorId.CALL_OUTBOUND)
        return call

    async def start(self, call_id: str, number: str | None = None, *, partner: str | None = None) -> str:
        """Bring `number` (a unit's contact number) or `partner` (a linkage partner's key: its configured number
        through its trunk, `Partner.dial`) into the call; returns the room's name."""
        if partner is not None:
            found = self.partners.get(partner)
            if found is None:
                raise ConferenceError(f"{partner!r} is not a linkage partner", error_id=ErrorId.PARTNER_UNKNOWN)
            number, dial = found.number, found.dial
        else:
            try:
                number = self.tracker.numbers.outbound(number or "", self.trunk)
            except NumberError as exc:
                raise ConferenceError(str(exc), error_id=ErrorId.INVALID_NUMBER) from None
            dial = f"PJSIP/{number}@{self.trunk}"
        call = self._call(call_id)
        room = call.conference or f"hotline-{call_id}"
        if call.conference is None:
            self.tracker.start_conference(call_id, room)
            for channel, role in ((call.channel, "citizen"), (call.agent_channel, "agent")):
                await self.ami.action(Action="Setvar", Channel=channel, Variable="CONF_ROOM", Value=room)
                await self.ami.action(Action="Setvar", Channel=channel, Variable="CONF_ROLE", Value=role)
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
            Variable=[f"CONF_ROOM={room}", "CONF_ROLE=unit", f"CONF_NUMBER={number}"],
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
        await self.ami.action(Action="ConfbridgeKick", Conference=call.conference, Channel="all")

    # --- participants ----------------------------------------------------------------------------------
    async def on_event(self, event: CallEvent | QueueMemberChanged) -> None:
        if isinstance(event, ConferenceChanged):
            self.record(event)
            self.publish(ConferenceStored(event.call_id, event.at))

    def record(self, event: ConferenceChanged) -> None:
        call = self.tracker.calls.get(event.call_id)
        role, number = "unit", self._dialled.get(event.room, event.number)
        if call is not None and event.channel == call.channel:
            role, number = "citizen", event.number
        elif (
            call is not None
            and event.channel == call.agent_channel
            and (call.agent_interface is None or event.channel.startswith(call.agent_interface + "-"))
        ):  # the agent's leg; a unit's leg a transfer put through stands in the agent's place but is a unit
            role, number = "agent", event.number
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
