"""Transfers of a citizen's call (转接) from the desktop: blind or attended, to another agent or to a unit.

Both kinds move channels with AMI `Redirect`, the same move the three-way call makes, into contexts of
dialplan/extensions.conf; the citizen's channel is never replaced, so its MixMonitor recording and its
Linkedid (the call id every case links to) go on across the transfer.

blind:    the citizen's channel goes to [hotline-transfer], which dials the target (the agent's phone, or the
          unit's number through the outbound trunk); the old agent leg ends at once. If the target does
          not answer, the dialplan rings the agent who transferred the call again.
attended: the citizen waits in the call's ConfBridge room with music on hold ([hotline-transfer-hold]) and
          the agent's channel dials the target ([hotline-transfer-consult]). `complete` redirects the
          target's leg into the room with the citizen and the agent's leg hangs up; `cancel` (or the target
          hanging up, or not answering) sends the agent back into the room with the citizen.

Why not AMI `Atxfer`/`CancelAtxfer`: they work by playing the attended-transfer feature codes (`atxfer`,
`atxferabort`) into the agent's channel as DTMF, which needs the queue to hand the agent the DTMF transfer
features (Queue option `t`), and completing still means hanging the agent's phone up. `BlindTransfer`
redirects every channel bridged to the agent, which in a three-way room would include the unit. Redirect names
exactly the channel to move and leaves every step to the server.

    ringing ──> answered ──> completed        (attended: the agent completes)
       │           └───────> cancelled        (the agent cancels, or the target hangs up)
       ├──> completed                          (blind: the target answered)
       ├──> cancelled                          (attended: cancelled before the target answered)
       └──> failed                             (the target did not answer, was busy, or the call ended)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import CallEnded, CallEvent, CallLegChanged, QueueMemberChanged, TransferChanged
from ari_app.calls.model import TransferLeg
from ari_app.calls.onward import CallOnward
from ari_app.calls.tracker import CallTracker
from ari_app.config import Partner
from ari_app.protocol import DomainError, ErrorId
from schema.transfers import CallTransfer

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class TransferKind(StrEnum):
    BLIND = "blind"
    ATTENDED = "attended"


class TransferState(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (TransferState.COMPLETED, TransferState.CANCELLED, TransferState.FAILED)


_S = TransferState
TRANSITIONS: dict[TransferState, frozenset[TransferState]] = {
    _S.RINGING: frozenset({_S.ANSWERED, _S.COMPLETED, _S.CANCELLED, _S.FAILED}),
    _S.ANSWERED: frozenset({_S.COMPLETED, _S.CANCELLED, _S.FAILED}),
    _S.COMPLETED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.FAILED: frozenset(),
}


class TransferError(DomainError):
    """A transfer refused or failed; nothing about the call changed."""


class Ami(Protocol):
    async def action(self, **fields: Any) -> Any: ...


@dataclass
class Transfer:
    id: int
    call_id: str
    kind: TransferKind
    from_agent: str
    target_agent: str | None
    target_number: str | None
    state: TransferState
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    target_channel: str | None = None
    room: str | None = None  # attended: the ConfBridge room the citizen waits in

    @property
    def target(self) -> str:
        return self.target_agent or self.target_number or ""

    def event(self, at: datetime) -> TransferChanged:
        return TransferChanged(
            call_id=self.call_id,
            at=at,
            transfer_id=self.id,
            kind=str(self.kind),
            state=str(self.state),
            from_agent=self.from_agent,
            target=self.target,
            target_agent=self.target_agent,
            started_at=self.started_at,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
        )


class Transfers(CallOnward[Ami]):
    """Starts, completes and cancels transfers and follows their legs from the tracker's events.

    The caller (the desktop link) checks who may ask and that a target agent is ready; this service checks
    the call (connected, and the asking agent's), the target, and that no other transfer is under way."""

    def __init__(
        self,
        tracker: CallTracker,
        ami: Ami,
        sessions: sessionmaker[Session],
        trunk: str,
        agent_interfaces: Mapping[str, str],
        clock: Clock | None = None,
        partners: Mapping[str, Partner] | None = None,
    ) -> None:
        super().__init__(tracker, ami, sessions, trunk, partners)
        self.agent_interfaces = dict(agent_interfaces)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._active: dict[str, Transfer] = {}  # call id -> its transfer under way (or last one)
        self._rooms: dict[str, str] = {}  # call id -> the room an attended transfer used
        self.publish = tracker.bus.publish
        """Where TransferChanged events go: the tracker's bus (the server's one bus)."""

    def current(self, call_id: str) -> Transfer | None:
        """The call's transfer under way, if any."""
        transfer = self._active.get(call_id)
        return transfer if transfer is not None and not transfer.state.terminal else None

    # --- requests --------------------------------------------------------------------------------------
    def _dial(
        self, from_agent: str, agent: str | None, number: str | None, partner: str | None = None
    ) -> tuple[str, str | None]:
        """The channel to dial for the target, and the number as dialled (None for an agent)."""
        if sum(1 for x in (agent, number, partner) if x) != 1:
            raise TransferError(
                "give exactly one target: an agent, a number or a partner", error_id=ErrorId.TRANSFER_TARGET_INVALID
            )
        if agent:
            interface = self.agent_interfaces.get(agent)
            if interface is None:
                raise TransferError(f"{agent!r} is not an agent", error_id=ErrorId.TRANSFER_TARGET_INVALID)
            if agent == from_agent:
                raise TransferError(
                    "a call cannot be transferred to the agent who has it", error_id=ErrorId.TRANSFER_TARGET_INVALID
                )
            return interface, None
        return self.dial_out(number, partner or None, TransferError)

    async def start(
        self,
        call_id: str,
        from_agent: str,
        kind: TransferKind,
        *,
        agent: str | None = None,
        number: str | None = None,
        partner: str | None = None,
    ) -> Transfer:
        """Start a transfer of `call_id` by `from_agent` to `agent` (id), `number` (a unit's, in any form an
        agent types it: `NumberPlan.outbound`; kept as dialled) or `partner` (a linkage partner's key: its
        configured number through its trunk, `Partner.dial`)."""
        dial, number = self._dial(from_agent, agent, number, partner)
        call = self.tracker.connected_call(call_id, TransferError, from_agent)
        if self.current(call_id) is not None:
            raise TransferError(f"call {call_id} is already being transferred", error_id=ErrorId.TRANSFER_IN_PROGRESS)
        if call.conference and self._rooms.get(call_id) != call.conference:
            raise TransferError("end the three-way call before transferring", error_id=ErrorId.CALL_IN_CONFERENCE)
        assert call.channel is not None and call.agent_channel is not None
        citizen, agent_leg = call.channel, call.agent_channel
        from_interface = call.agent_interface or self.agent_interfaces.get(from_agent, "")
        try:
            if kind is TransferKind.BLIND:
                await self._set(citizen, TRANSFER_DIAL=dial, TRANSFER_BACK=from_interface)
                room = None
            else:
                room = call.conference or f"hotline-{call_id}"
                await self._set(citizen, CONF_ROOM=room, CONF_ROLE="citizen")
                await self._set(agent_leg, CONF_ROOM=room, CONF_ROLE="agent", TRANSFER_DIAL=dial, TRANSFER_DONE="")
        except Exception as exc:
            raise TransferError(f"Asterisk did not take the transfer: {exc}", error_id=ErrorId.TRANSFER_FAILED) from exc
        now = self.clock()
        transfer = Transfer(0, call_id, kind, from_agent, agent, number, TransferState.RINGING, now, room=room)
        previous = call.transfer
        self.tracker.mark_transfer(call_id, TransferLeg.MOVING)
        # Known (stored, active, published) before Asterisk is asked to move the call: the legs it dials can be
        # reported by the next AMI events, before the Redirect's own response is read.
        transfer.id = self._insert(transfer)
        self._active[call_id] = transfer
        self._publish(transfer, now)
        try:
            if kind is TransferKind.BLIND:
                await self.ami.action(
                    Action="Redirect", Channel=citizen, Context="hotline-transfer", Exten="s", Priority="1"
                )
            else:
                assert room is not None
                if call.conference is None:
                    self.tracker.start_conference(call_id, room)
                self._rooms[call_id] = room
                await self.ami.action(
                    Action="Redirect",
                    Channel=citizen,
                    ExtraChannel=agent_leg,
                    Context="hotline-transfer-hold",
                    Exten="s",
                    Priority="1",
                    ExtraContext="hotline-transfer-consult",
                    ExtraExten="s",
                    ExtraPriority="1",
                )
        except Exception as exc:
            self.tracker.mark_transfer(call_id, previous)
            self._active.pop(call_id, None)
            await self._move(transfer, TransferState.FAILED)
            raise TransferError(f"Asterisk did not move the call: {exc}", error_id=ErrorId.TRANSFER_FAILED) from exc
        if kind is TransferKind.BLIND and call.conference:
            await self._hangup(agent_leg)  # out of a room the old agent leg would stay behind alone
        log.info("call %s: %s transfer by %s to %s", call_id, kind, from_agent, transfer.target)
        return transfer

    async def complete(self, call_id: str, from_agent: str) -> Transfer:
        """Attended: the agent has talked to the target; the citizen goes to the target, the agent leaves."""
        transfer = self._attended(call_id, from_agent)
        if transfer.state is not TransferState.ANSWERED or not transfer.target_channel:
            raise TransferError(
                "the target has not answered yet; wait, or cancel", error_id=ErrorId.TRANSFER_NOT_ANSWERED
            )
        call = self.tracker.calls.get(call_id)
        if call is None or not call.agent_channel or transfer.room is None:
            raise TransferError(f"call {call_id} has ended", error_id=ErrorId.CALL_NOT_CONNECTED)
        target = transfer.target_channel
        try:
            await self._set(call.agent_channel, TRANSFER_DONE="1")
            await self._set(target, CONF_ROOM=transfer.room, CONF_ROLE="agent" if transfer.target_agent else "unit")
            self.tracker.mark_transfer(
                call_id,
                TransferLeg.CONNECTED,
                agent=transfer.target_agent,
                interface=_interface_of(target) if transfer.target_agent else None,
                channel=target,
            )
            await self.ami.action(
                Action="Redirect", Channel=target, Context="hotline-conference", Exten="s", Priority="1"
            )
        except Exception as exc:
            self.tracker.mark_transfer(call_id, TransferLeg.MOVING, agent=from_agent, channel=call.agent_channel)
            raise TransferError(
                f"Asterisk did not complete the transfer: {exc}", error_id=ErrorId.TRANSFER_FAILED
            ) from exc
        await self._move(transfer, TransferState.COMPLETED)
        return transfer

    async def cancel(self, call_id: str, from_agent: str) -> Transfer:
        """Attended: the agent gives up on the target and gets the citizen back."""
        transfer = self._attended(call_id, from_agent)
        if transfer.target_channel is None:
            raise TransferError(
                "the target's phone is not ringing yet; try again", error_id=ErrorId.TRANSFER_NOT_RINGING
            )
        try:
            await self.ami.action(Action="Hangup", Channel=transfer.target_channel)
        except Exception as exc:
            raise TransferError(
                f"Asterisk did not cancel the transfer: {exc}", error_id=ErrorId.TRANSFER_FAILED
            ) from exc
        self.tracker.mark_transfer(call_id, None)
        await self._move(transfer, TransferState.CANCELLED)
        return transfer

    def _attended(self, call_id: str, from_agent: str) -> Transfer:
        transfer = self.current(call_id)
        if transfer is None or transfer.kind is not TransferKind.ATTENDED:
            raise TransferError(f"call {call_id} has no attended transfer under way", error_id=ErrorId.NO_TRANSFER)
        if transfer.from_agent != from_agent:
            raise TransferError(
                "only the agent who started the transfer may finish it", error_id=ErrorId.CALL_NOT_YOURS
            )
        return transfer

    # --- the legs, from the tracker ----------------------------------------------------------------------
    async def on_event(self, event: CallEvent | QueueMemberChanged) -> None:
        if isinstance(event, CallLegChanged):
            await self._on_leg(event)
        elif isinstance(event, CallEnded):
            await self._on_ended(event)

    async def _on_leg(self, leg: CallLegChanged) -> None:
        transfer = self._active.get(leg.call_id)
        if transfer is None:
            return
        is_target = leg.channel == transfer.target_channel
        if leg.status == "ringing":
            if transfer.target_channel is None and not transfer.state.terminal and self._is_target(transfer, leg):
                transfer.target_channel = leg.channel
            return
        if leg.status == "ANSWER":
            if is_target and transfer.kind is TransferKind.BLIND:
                self.tracker.mark_transfer(
                    leg.call_id,
                    TransferLeg.CONNECTED,
                    agent=transfer.target_agent,
                    interface=leg.interface,
                    channel=leg.channel,
                )
                await self._move(transfer, TransferState.COMPLETED, answered=True)
            elif is_target:
                await self._move(transfer, TransferState.ANSWERED, answered=True)
            elif transfer.kind is TransferKind.BLIND:  # the dialplan rang the agent who transferred it again
                self.tracker.mark_transfer(
                    leg.call_id, TransferLeg.CONNECTED, agent=leg.agent_id, interface=leg.interface, channel=leg.channel
                )
            return
        if not is_target or transfer.state.terminal:
            return
        if leg.status == "hangup":  # the target left the consultation: the agent is back with the citizen
            self.tracker.mark_transfer(leg.call_id, None)
            await self._move(transfer, TransferState.CANCELLED)
        else:  # NOANSWER, BUSY, CHANUNAVAIL, CONGESTION, ...
            if transfer.kind is TransferKind.ATTENDED:
                self.tracker.mark_transfer(leg.call_id, None)
            await self._move(transfer, TransferState.FAILED)

    def _is_target(self, transfer: Transfer, leg: CallLegChanged) -> bool:
        if transfer.target_agent:
            return leg.agent_id == transfer.target_agent
        return leg.agent_id is None

    async def _on_ended(self, event: CallEnded) -> None:
        transfer = self._active.get(event.call_id)
        if transfer is not None and not transfer.state.terminal:
            await self._move(transfer, TransferState.FAILED)
        self._active.pop(event.call_id, None)
        room = self._rooms.pop(event.call_id, None)
        if room is not None:  # whoever is left in the room of an attended transfer
            try:
                await self.ami.action(Action="ConfbridgeKick", Conference=room, Channel="all")
            except Exception as exc:
                log.debug("room %s already empty: %s", room, exc)

    # --- helpers ---------------------------------------------------------------------------------------
    async def _set(self, channel: str, **variables: str) -> None:
        for name, value in variables.items():
            await self.ami.action(Action="Setvar", Channel=channel, Variable=name, Value=value)

    async def _hangup(self, channel: str) -> None:
        try:
            await self.ami.action(Action="Hangup", Channel=channel)
        except Exception as exc:
            log.debug("hangup of %s: %s", channel, exc)

    async def _move(self, transfer: Transfer, target: TransferState, answered: bool = False) -> None:
        if target not in TRANSITIONS[transfer.state]:
            log.warning("transfer %s of %s: ignored %s -> %s", transfer.id, transfer.call_id, transfer.state, target)
            return
        now = self.clock()
        transfer.state = target
        if answered:
            transfer.answered_at = now
        if target.terminal:
            transfer.ended_at = now
        self._update(transfer)
        log.info("transfer %s of call %s: %s", transfer.id, transfer.call_id, target)
        self._publish(transfer, now)

    def _publish(self, transfer: Transfer, at: datetime) -> None:
        self.publish(transfer.event(at))

    def _insert(self, t: Transfer) -> int:
        with self.sessions.begin() as s:
            row = CallTransfer(
                call_id=t.call_id,
                kind=str(t.kind),
                from_agent=t.from_agent,
                target_agent=t.target_agent,
                target_number=t.target_number,
                state=str(t.state),
                started_at=t.started_at,
            )
            s.add(row)
            s.flush()
            return row.id

    def _update(self, t: Transfer) -> None:
        with self.sessions.begin() as s:
            row = s.get(CallTransfer, t.id)
            if row is not None:
                row.state = str(t.state)
                row.answered_at = t.answered_at
                row.ended_at = t.ended_at


def _interface_of(channel: str) -> str:
    return channel.rsplit("-", 1)[0] if "-" in channel else channel
