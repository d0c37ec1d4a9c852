"""Typed domain events the call tracker publishes. Transports (websocket link, logs) subscribe to these;
nothing here knows about AMI, websockets or Qt. `transfer_info` is a transfer as the protocol tells it, from
its event, the service's record or its stored row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ari_app.protocol import TransferInfo
from schema.calls import CallState, EndReason

if TYPE_CHECKING:
    from ari_app.transfers.service import Transfer
    from schema.transfers import CallTransfer


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Base of every call event: which call (Linkedid) and when Asterisk said it happened."""

    call_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallArrived(CallEvent):
    hotline: str | None
    caller: str | None
    dialed: str | None


@dataclass(frozen=True, slots=True)
class CallQueued(CallEvent):
    queue: str
    position: int


@dataclass(frozen=True, slots=True)
class CallRinging(CallEvent):
    """The queue rings an agent: the moment of the screen-pop."""

    agent_id: str | None
    interface: str
    hotline: str | None
    caller: str | None
    waited_seconds: float
    callback_of: str | None = None  # set when this is a callback: the call that asked for it


@dataclass(frozen=True, slots=True)
class CallConnected(CallEvent):
    agent_id: str | None
    interface: str
    wait_seconds: float
    case_id: int | None = None
    """An outbound call's case (click-to-dial): the citizen answered the agent's call about it."""


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    state: CallState
    reason: EndReason
    agent_id: str | None
    talk_seconds: float | None


@dataclass(frozen=True, slots=True)
class CallbackRequested(CallEvent):
    """A caller waiting in the queue pressed the callback key and is leaving the queue."""

    hotline: str | None
    number: str | None  # the caller, canonical (ari_app.calls.numbers)
    number_raw: str | None = None  # the caller id as the carrier delivered it


@dataclass(frozen=True, slots=True)
class ConferenceChanged(CallEvent):
    """Someone joined or left the call's three-way conference (ConfbridgeJoin / ConfbridgeLeave)."""

    room: str
    channel: str
    number: str | None
    joined: bool
    members: tuple[str, ...]  # channels in the room after the change


@dataclass(frozen=True, slots=True)
class ConferenceStored(CallEvent):
    """The three-way service has stored a ConferenceChanged: the call's participants in the database are
    current (published by ari_app.conference.ThreeWay, after its write)."""


@dataclass(frozen=True, slots=True)
class CallLegChanged(CallEvent):
    """A leg dialled for a call being transferred (DialBegin / DialEnd / Hangup of that leg).

    `status` is `ringing`, `hangup`, or Asterisk's DIALSTATUS at the end of the dial (`ANSWER`, `NOANSWER`,
    `BUSY`, `CANCEL`, ...). `agent_id` is set when the leg rings an agent's phone."""

    channel: str
    interface: str
    agent_id: str | None
    status: str


@dataclass(frozen=True, slots=True)
class TransferChanged(CallEvent):
    """A transfer of the call started or moved on (published by ari_app.transfers.Transfers).

    `kind` is `blind` or `attended`; `state` one of ari_app.transfers.TransferState; `target` the agent id
    or the unit's number; `target_agent` the agent id when the target is an agent."""

    transfer_id: int
    kind: str
    state: str
    from_agent: str
    target: str
    target_agent: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None


def transfer_info(t: Transfer | CallTransfer | TransferChanged) -> TransferInfo:
    """A transfer as the protocol tells it (the `transfer_state` push, the pop of a transferred call, the case
    detail), from the service's record, a stored row or the event that moved it on."""
    if isinstance(t, TransferChanged):
        transfer_id, target_number = t.transfer_id, None if t.target_agent else t.target
    else:
        transfer_id, target_number = t.id, t.target_number
    return TransferInfo(
        id=transfer_id,
        kind=str(t.kind),
        state=str(t.state),
        from_agent=t.from_agent,
        target_agent=t.target_agent,
        target_number=target_number,
        started_at=t.started_at.isoformat(),
        answered_at=t.answered_at.isoformat() if t.answered_at else None,
        ended_at=t.ended_at.isoformat() if t.ended_at else None,
    )


@dataclass(frozen=True, slots=True)
class QueueMemberChanged:
    """An agent's membership of the queue changed in Asterisk (from any desktop, or the CLI)."""

    queue: str
    interface: str
    agent_id: str | None
    in_queue: bool
    paused: bool
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class QueueMembership:
    """One member of the queue as Asterisk reports it now (AMI QueueStatus), keyed by its interface."""

    interface: str
    paused: bool
    reason: str


class QueueControl(Protocol):
    """What the server may ask of Asterisk's queue for agent sign-in and states (AMI Queue* actions)."""

    async def queue_add(self, queue: str, interface: str, member_name: str, paused: bool = False) -> None: ...

    async def queue_remove(self, queue: str, interface: str) -> None: ...

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str = "") -> None: ...

    async def queue_members(self, queue: str) -> dict[str, QueueMembership]:
        """The queue's members as Asterisk has them now (AMI QueueStatus), by lower-case interface."""
        ...
