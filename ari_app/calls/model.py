"""The call as an explicit state machine.

    arrived ──> queued ──> ringing ──> connected ──> ended
       │          │  ^        │  │
       │          │  └────────┘  │  (agent did not answer: back to queued)
       │          └──────────────┴──> abandoned   (caller hung up while waiting)
       └──> rejected  (not a configured hotline, or over an admission limit)
    arrived ──> abandoned  (caller hung up before reaching the queue)

An outbound call (an agent calling a citizen from a case, `direction` outbound) has no queue:
    arrived (the agent's phone answered, the citizen's ringing) ──> connected ──> ended
       └──> ended (no_answer, busy, failed: the citizen never answered)

Any state can end as `ended` with reason `lost` when Asterisk no longer has the call after a reconnect.

The states (`CallState`) and end reasons (`EndReason`) are values stored in the call table, so they are
defined with it, in schema.calls; this module holds the transitions between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ari_app.protocol import ErrorId, MoveError
from schema.calls import CallDirection, CallState, EndReason, OutboundPurpose

TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    CallState.ARRIVED: frozenset({CallState.QUEUED, CallState.REJECTED, CallState.ABANDONED, CallState.ENDED}),
    CallState.QUEUED: frozenset({CallState.RINGING, CallState.CONNECTED, CallState.ABANDONED, CallState.ENDED}),
    CallState.RINGING: frozenset(
        {CallState.QUEUED, CallState.RINGING, CallState.CONNECTED, CallState.ABANDONED, CallState.ENDED}
    ),
    CallState.CONNECTED: frozenset({CallState.ENDED}),
    CallState.ENDED: frozenset(),
    CallState.ABANDONED: frozenset(),
    CallState.REJECTED: frozenset(),
}
OUTBOUND_TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    CallState.ARRIVED: frozenset({CallState.CONNECTED, CallState.ENDED}),
    CallState.CONNECTED: frozenset({CallState.ENDED}),
}
"""An outbound call's moves: no queue; the citizen answers, or never does."""


class TransferLeg(StrEnum):
    """Where a transfer leaves the call's agent side (ari_app/transfer.py).

    moving: the citizen's or the agent's channel is being moved; the old agent leg ending (AgentComplete, its
    hangup) does not end the call. connected: a leg the transfer dialled is now the call's agent side
    (`agent_channel`); its hangup ends the call as the agent's."""

    MOVING = "moving"
    CONNECTED = "connected"


class CallStateError(MoveError[CallState]):
    """A transition the state machine does not allow (`CallStateError(call_id, current, target)`)."""

    error_id = ErrorId.CALL_STATE_FORBIDDEN
    subject = "call"

    def __init__(self, call_id: str, current: CallState, target: CallState) -> None:
        super().__init__(call_id, current, target)
        self.call_id = call_id


@dataclass
class Call:
    """What the platform knows about one call, keyed by Asterisk's Linkedid."""

    id: str
    arrived_at: datetime
    state: CallState = CallState.ARRIVED
    channel: str | None = None
    hotline: str | None = None
    dialed: str | None = None  # canonical (ari_app.calls.numbers): the hotline number for a hotline call
    caller: str | None = None  # canonical: 13812345678, 09914567890, +16502530000, or `withheld`
    queue: str | None = None
    agent: str | None = None
    agent_interface: str | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    recording: str | None = None
    callback_of: str | None = None  # for a callback the platform placed: the call that asked for it
    agent_channel: str | None = None  # the agent's leg while connected (AgentConnect DestChannel)
    conference: str | None = None  # the ConfBridge room while the call is a three-way call
    transfer: TransferLeg | None = None  # set while the call is being, or has been, transferred
    caller_raw: str | None = None  # the caller id as the carrier delivered it (+8613812345678, anonymous)
    dialed_raw: str | None = None  # the number as the carrier delivered it (+86099112345); None when not seen
    direction: CallDirection = CallDirection.INBOUND
    case_id: int | None = None  # an outbound call's case
    purpose: OutboundPurpose | None = None  # what an outbound call serves
    missed_call_id: int | None = None  # the missed-call task an outbound call works on

    def move(self, target: CallState) -> None:
        table = OUTBOUND_TRANSITIONS if self.direction is CallDirection.OUTBOUND else TRANSITIONS
        if target not in table.get(self.state, frozenset()):
            raise CallStateError(self.id, self.state, target)
        self.state = target

    @property
    def wait_seconds(self) -> float | None:
        """Time from arrival until an agent answered, or until the caller gave up."""
        end = self.answered_at or (self.ended_at if self.state == CallState.ABANDONED else None)
        if end is None:
            return None
        return round(max(0.0, (end - self.arrived_at).total_seconds()), 3)

    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return round(max(0.0, (self.ended_at - self.answered_at).total_seconds()), 3)
