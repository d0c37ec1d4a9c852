"""The call tracker: Asterisk's AMI events in, call state transitions and typed domain events out.

The tracker knows AMI's event and header names (that is the language Asterisk speaks) but not how they
arrive: the AMI adapter (ari_app/ami.py) feeds it mappings, tests feed it recorded traffic. It keeps the
calls in progress in memory, keyed by Linkedid, and hands every change to a `CallSink` (the store) and
every domain event to its subscribers.

Which calls are tracked: those the dialplan marks with `UserEvent(HotlineCall)` (a hotline call),
`UserEvent(HotlineRejected)` (a number that is not a hotline) or `UserEvent(HotlineOverflow)` (a hotline
call refused by admission control). Agent-to-agent calls are not hotline calls.

Numbers: the caller id and the dialed number are read by the number component (ari_app.calls.numbers)
with the rules of the trunk the call came through (the channel's endpoint), and stored both as received
(`caller_raw`, `dialed_raw`) and in their canonical form (`caller`, `dialed`: the hotline number for a
hotline call). The dialed number as received is the `Exten` of the caller's channel when it was created in
[from-carrier] (Newchannel), before the dialplan replaced it with the canonical hotline number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ari_app.bus import EventBus
from ari_app.calls.events import (
    CallArrived,
    CallbackRequested,
    CallConnected,
    CallEnded,
    CallEvent,
    CallLegChanged,
    CallQueued,
    CallRinging,
    ConferenceChanged,
    QueueMemberChanged,
)
from ari_app.calls.model import Call, CallStateError, TransferLeg
from ari_app.calls.numbers import NumberPlan
from ari_app.protocol import DomainError, ErrorId
from schema.calls import CallDirection, CallState, EndReason, OutboundPurpose

log = logging.getLogger(__name__)

ANNOUNCER_CONTEXT = "hotline-conference-announce"
"""The dialplan context whose Local channels play a prompt into a three-way call's room (the conference
service originates them); they are no participant of the call."""


def is_announcer(channel: str) -> bool:
    """Whether `channel` is one half of an announcer (`Local/s@hotline-conference-announce-0000001a;2`)."""
    return channel.startswith("Local/") and f"@{ANNOUNCER_CONTEXT}-" in channel


Event = Mapping[str, str]
Clock = Callable[[], datetime]


class CallSink(Protocol):
    """Where the tracker writes calls (the database store; a list in tests)."""

    def save(self, call: Call) -> None: ...


class AgentLookup(Protocol):
    def agent_id_for(self, interface: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class LiveChannel:
    """One channel Asterisk reports in `CoreShowChannels`, as the resynchronisation needs it."""

    channel: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    application: str
    caller: str
    accountcode: str
    bridge_id: str
    duration_seconds: int


def _event_time(event: Event, clock: Clock) -> datetime:
    stamp = event.get("Timestamp")
    if stamp:
        try:
            return datetime.fromtimestamp(float(stamp), UTC)
        except ValueError:
            pass
    return clock()


def _interface_of(channel: str) -> str:
    """`PJSIP/1001-0000002a` -> `PJSIP/1001`."""
    return channel.rsplit("-", 1)[0] if "-" in channel else channel


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


OUTBOUND_DIAL_ENDS = {
    "NOANSWER": EndReason.NO_ANSWER,
    "CANCEL": EndReason.NO_ANSWER,  # the agent hung up while the citizen's phone rang
    "BUSY": EndReason.BUSY,
    "CONGESTION": EndReason.FAILED,
    "CHANUNAVAIL": EndReason.FAILED,
}
"""How an outbound call the citizen never answered ends, by Dial's DIALSTATUS (Asterisk's app_dial)."""

SOFTHANGUP_SHUTDOWN = "4"
"""AST_SOFTHANGUP_SHUTDOWN, the `Cause` of the SoftHangupRequest Asterisk sends for each channel it hangs up
because it is shutting down (include/asterisk/channel.h)."""


class CallTracker:
    def __init__(
        self,
        sink: CallSink,
        agents: AgentLookup,
        hotlines: Iterable[str],
        clock: Clock | None = None,
        numbers: NumberPlan | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.sink = sink
        self.bus = bus if bus is not None else EventBus()
        """Where `publish_pending` sends the domain events (the server's one bus)."""
        self.agents = agents
        self.hotlines = set(hotlines)
        self.numbers = numbers or NumberPlan(hotlines=self.hotlines)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.calls: dict[str, Call] = {}
        self._left_queue: set[str] = set()
        self._abandoned: set[str] = set()  # QueueCallerAbandon seen, the call not yet hung up or back in the queue
        self._callback_requested: set[str] = set()
        self._cut_by_shutdown: set[str] = set()
        self._arrivals: dict[str, datetime] = {}  # Newchannel time of a channel that may become a call
        self._dialed: dict[str, str] = {}  # the number a carrier's channel was created for, as received
        self._outbound_end: dict[str, EndReason] = {}  # outbound call -> how it ends when its agent leg hangs up
        self._pending: list[CallEvent | QueueMemberChanged] = []
        self.events_seen = 0
        self._handlers: dict[str, Callable[[Event, datetime], None]] = {
            "newchannel": self._on_newchannel,
            "userevent": self._on_user_event,
            "queuecallerjoin": self._on_queue_join,
            "agentcalled": self._on_agent_called,
            "agentringnoanswer": self._on_ring_no_answer,
            "agentconnect": self._on_agent_connect,
            "agentcomplete": self._on_agent_complete,
            "queuecallerabandon": self._on_abandon,
            "queuecallerleave": self._on_queue_leave,
            "hangup": self._on_hangup,
            "queuememberadded": self._on_member,
            "queuememberremoved": self._on_member,
            "queuememberpause": self._on_member,
            "confbridgejoin": self._on_conference,
            "confbridgeleave": self._on_conference,
            "dialbegin": self._on_dial,
            "dialend": self._on_dial,
            "hanguprequest": self._on_hangup_request,
            "softhanguprequest": self._on_soft_hangup_request,
        }
        self._legs: dict[str, str] = {}  # channel a transfer dialled -> call id
        self._rooms: dict[str, str] = {}  # ConfBridge room -> call id
        self._members: dict[str, list[str]] = {}  # room -> channels in it

    # --- publishing ------------------------------------------------------------------------------------
    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def drain(self) -> list[CallEvent | QueueMemberChanged]:
        """Domain events produced since the last drain (for synchronous callers and tests)."""
        out, self._pending = self._pending, []
        return out

    def publish_pending(self) -> None:
        """Hand the produced domain events to the bus, in order (it delivers them; this does not wait)."""
        for event in self.drain():
            self.bus.publish(event)

    # --- feeding ---------------------------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """Apply one AMI event. Unknown events are ignored; a transition the state machine refuses is
        logged and leaves the call as it was (Asterisk is the source of truth; resync repairs)."""
        self.events_seen += 1
        name = (event.get("Event") or "").lower()
        handler = self._handlers.get(name)
        if handler is None:
            return
        try:
            handler(event, _event_time(event, self.clock))
        except CallStateError as exc:
            log.warning("ignored out-of-order AMI %s: %s", event.get("Event"), exc)

    def _emit(self, event: CallEvent | QueueMemberChanged) -> None:
        self._pending.append(event)

    def _save(self, call: Call) -> None:
        self.sink.save(call)
        if call.state.terminal:
            self.calls.pop(call.id, None)
            self._left_queue.discard(call.id)
            self._callback_requested.discard(call.id)
            self._outbound_end.pop(call.id, None)
            for channel in [ch for ch, cid in self._legs.items() if cid == call.id]:
                del self._legs[channel]

    def _call(self, event: Event) -> Call | None:
        return self.calls.get(event.get("Linkedid", ""))

    # --- handlers --------------------------------------------------------------------------------------
    def _on_newchannel(self, event: Event, at: datetime) -> None:
        if event.get("Uniqueid") and event.get("Uniqueid") == event.get("Linkedid"):
            self._arrivals[event["Uniqueid"]] = at
            if event.get("Context") == "from-carrier" and event.get("Exten"):
                self._dialed[event["Uniqueid"]] = event["Exten"]
            if len(self._arrivals) > 10000:  # channels that never became calls; keep memory bounded
                for key in list(self._arrivals)[:5000]:
                    del self._arrivals[key]
                    self._dialed.pop(key, None)

    def _on_user_event(self, event: Event, at: datetime) -> None:
        kind = event.get("UserEvent", "")
        linkedid = event.get("Linkedid", "")
        if kind == "HotlineOverflow" and linkedid in self.calls:  # the queue was full after the call arrived
            self._end(self.calls[linkedid], CallState.REJECTED, EndReason.OVERFLOW, at)
            return
        if kind == "HotlineQueueAnnouncement":
            # the caller is told their place out of Queue() (on joining behind another caller, or having left it
            # with a timeout only to hear it) and then goes in: a queued call, still waiting, so hanging up now
            # is abandoning, not the queue having given up
            self._left_queue.discard(linkedid)
            self._abandoned.discard(linkedid)
            known = self.calls.get(linkedid)
            if known is not None and known.state == CallState.ARRIVED:
                known.move(CallState.QUEUED)
                known.queue = event.get("Queue") or known.queue
                known.queued_at = known.queued_at or at
                self._save(known)
                self._emit(CallQueued(known.id, at, known.queue or "", int(event.get("Position") or 0)))
            return
        if kind == "HotlineCallbackRequested":
            known = self.calls.get(linkedid)
            if known is not None:
                self._callback_requested.add(linkedid)
                self._emit(CallbackRequested(linkedid, at, known.hotline, known.caller, known.caller_raw))
            return
        if kind == "HotlineOutbound":
            if linkedid and linkedid not in self.calls:
                self._outbound(event, linkedid, at)
            return
        if kind not in ("HotlineCall", "HotlineRejected", "HotlineOverflow") or not linkedid or linkedid in self.calls:
            return
        arrived = self._arrivals.pop(event.get("Uniqueid", ""), at)
        dialed_raw = self._dialed.pop(event.get("Uniqueid", ""), None)
        trunk = self.numbers.trunk_of(event.get("Channel"))
        caller = self.numbers.caller(event.get("Caller") or event.get("CallerIDNum"), trunk)
        call = Call(
            id=linkedid,
            arrived_at=arrived,
            channel=event.get("Channel"),
            caller=caller.canonical,
            caller_raw=caller.raw,
        )
        if kind == "HotlineCall":
            call.hotline = event.get("Hotline") or None
            call.dialed = call.hotline
            call.dialed_raw = dialed_raw
            call.recording = event.get("Recording") or None
            call.callback_of = event.get("Callback") or None
            self.calls[call.id] = call
            self._save(call)
            self._emit(CallArrived(call.id, at, call.hotline, call.caller, call.dialed))
        else:
            overflow = kind == "HotlineOverflow"
            if overflow:
                call.hotline = event.get("Hotline") or None
                call.dialed = call.hotline
                call.dialed_raw = dialed_raw
            else:
                dialed = self.numbers.dialed(dialed_raw or event.get("Dialed"), trunk)
                call.dialed = dialed.canonical or None
                call.dialed_raw = dialed.raw or None
            reason = EndReason.OVERFLOW if overflow else EndReason.NOT_A_HOTLINE
            call.move(CallState.REJECTED)
            call.end_reason = reason
            call.ended_at = at
            self._save(call)
            self._emit(CallEnded(call.id, at, call.state, reason, None, None))

    def _outbound(self, event: Event, linkedid: str, at: datetime) -> None:
        """[hotline-outbound] tells of a call an agent placed to a citizen (UserEvent HotlineOutbound, on the
        agent's channel once their phone answered): the call starts `arrived` while the citizen's phone rings.
        `caller` is the number the citizen sees (the hotline's), `dialed` the citizen's number."""
        self._dialed.pop(event.get("Uniqueid", ""), None)
        arrived = self._arrivals.pop(event.get("Uniqueid", ""), at)
        channel = event.get("Channel") or ""
        interface = _interface_of(channel)
        purpose = event.get("Purpose") or ""
        call = Call(
            id=linkedid,
            arrived_at=arrived,
            channel=channel or None,
            hotline=event.get("Hotline") or None,
            caller=event.get("Hotline") or None,
            dialed=event.get("Number") or None,
            agent=self.agents.agent_id_for(interface) or event.get("Agent") or None,
            agent_interface=interface or None,
            agent_channel=channel or None,
            recording=event.get("Recording") or None,
            direction=CallDirection.OUTBOUND,
            case_id=_int_or_none(event.get("Case")),
            purpose=OutboundPurpose(purpose) if purpose in OutboundPurpose.__members__.values() else None,
            missed_call_id=_int_or_none(event.get("Missed")),
        )
        self.calls[call.id] = call
        self._save(call)

    def _on_outbound_dial(self, call: Call, event: Event, at: datetime) -> None:
        """The citizen's phone answered (DialEnd ANSWER: connected, CallConnected for the agent's desktop) or
        did not (its DialStatus kept for the end reason when the agent's channel hangs up)."""
        if (event.get("Event") or "").lower() != "dialend":
            return
        status = event.get("DialStatus") or ""
        if status == "ANSWER" and call.state == CallState.ARRIVED:
            call.move(CallState.CONNECTED)
            call.answered_at = at
            self._save(call)
            self._emit(CallConnected(call.id, at, call.agent, call.agent_interface or "", 0.0, call.case_id))
        elif status and status != "ANSWER":
            self._outbound_end[call.id] = OUTBOUND_DIAL_ENDS.get(status, EndReason.FAILED)

    def _on_queue_join(self, event: Event, at: datetime) -> None:
        call = self._call(event)
        if call is None:
            return
        if call.state != CallState.QUEUED:  # already queued: back from the exit context (a withheld caller's key)
            call.move(CallState.QUEUED)
        self._left_queue.discard(call.id)
        self._abandoned.discard(call.id)
        call.queue = event.get("Queue")
        call.queued_at = call.queued_at or at
        self._save(call)
        self._emit(CallQueued(call.id, at, call.queue or "", int(event.get("Position") or 0)))

    def _to_agent(self, event: Event, state: CallState) -> tuple[Call, str] | None:
        """The call of a queue event about an agent's phone (AgentCalled, AgentConnect), moved to `state` with
        that agent on it, and the agent's interface; None if the call is not one this tracker follows."""
        call = self._call(event)
        if call is None:
            return None
        interface = event.get("Interface") or _interface_of(event.get("DestChannel", ""))
        call.move(state)
        call.agent_interface = interface
        call.agent = self.agents.agent_id_for(interface) or event.get("MemberName") or interface
        return call, interface

    def _on_agent_called(self, event: Event, at: datetime) -> None:
        reached = self._to_agent(event, CallState.RINGING)
        if reached is None:
            return
        call, interface = reached
        self._save(call)
        waited = round((at - call.arrived_at).total_seconds(), 3)
        self._emit(CallRinging(call.id, at, call.agent, interface, call.hotline, call.caller, waited, call.callback_of))

    def _on_ring_no_answer(self, event: Event, at: datetime) -> None:
        call = self._call(event)
        if call is None or call.state != CallState.RINGING:
            return
        call.move(CallState.QUEUED)
        call.agent = None
        call.agent_interface = None
        self._save(call)
        self._emit(CallQueued(call.id, at, call.queue or "", 0))

    def _on_agent_connect(self, event: Event, at: datetime) -> None:
        reached = self._to_agent(event, CallState.CONNECTED)
        if reached is None:
            return
        call, interface = reached
        call.agent_channel = event.get("DestChannel") or None
        call.answered_at = at
        self._save(call)
        self._emit(CallConnected(call.id, at, call.agent, interface, call.wait_seconds or 0.0))

    def _on_agent_complete(self, event: Event, at: datetime) -> None:
        call = self._call(event)
        if call is None or call.state != CallState.CONNECTED or call.conference or call.transfer:
            return  # a call moved into a three-way conference or transferred goes on
        reason = {"agent": EndReason.AGENT_HANGUP}.get(event.get("Reason", ""), EndReason.CALLER_HANGUP)
        self._end(call, CallState.ENDED, reason, at)

    def _on_abandon(self, event: Event, at: datetime) -> None:
        """app_queue reports a caller leaving Queue() on its timeout as abandoned too, and the queue announcement
        ([hotline-queue-announce]) cuts the wait into such slices: the call has abandoned only if it then hangs up
        (the caller's Hangup ends it); it goes on if it rejoins or hears an announcement."""
        call = self._call(event)
        if call is None:
            return
        self._abandoned.add(call.id)

    def _on_queue_leave(self, event: Event, at: datetime) -> None:
        call = self._call(event)
        if call is not None and call.state in (CallState.QUEUED, CallState.RINGING):
            self._left_queue.add(call.id)

    def _on_hangup(self, event: Event, at: datetime) -> None:
        self._arrivals.pop(event.get("Uniqueid", ""), None)
        self._dialed.pop(event.get("Uniqueid", ""), None)
        call = self._call(event)
        channel = event.get("Channel", "")
        if call is not None and channel and self._legs.get(channel) == call.id:
            del self._legs[channel]
            self._emit(self._leg(call, channel, "hangup", at))
        if call is None or event.get("Uniqueid") != call.id:
            return  # only the caller's own channel ends the call (its Uniqueid is the Linkedid)
        if call.direction is CallDirection.OUTBOUND:  # the agent's channel: the citizen's went first, or never was
            reason = self._outbound_end.pop(call.id, None)
            default = EndReason.CALLER_HANGUP if call.state == CallState.CONNECTED else EndReason.NO_ANSWER
            self._end(call, CallState.ENDED, reason or default, at)
            return
        if call.state == CallState.CONNECTED:
            self._end(call, CallState.ENDED, EndReason.CALLER_HANGUP, at)
        elif call.id in self._callback_requested and call.state != CallState.ARRIVED:
            self._end(call, CallState.ENDED, EndReason.CALLBACK_REQUESTED, at)
        elif call.id in self._abandoned:
            self._end(call, CallState.ABANDONED, EndReason.ABANDONED, at)
        elif call.state in (CallState.QUEUED, CallState.RINGING) and call.id in self._left_queue:
            self._end(call, CallState.ENDED, EndReason.QUEUE_TIMEOUT, at)
        else:
            self._end(call, CallState.ABANDONED, EndReason.ABANDONED, at)

    def _on_hangup_request(self, event: Event, at: datetime) -> None:
        """A phone hung up (HangupRequest: its BYE, not Asterisk tearing down the other side). For a call whose
        agent side is a leg a transfer dialled, that leg hanging up first ends the call as the agent's, just as
        the queue's AgentComplete does for the agent it connected."""
        call = self._call(event)
        if (
            call is not None
            and call.direction is CallDirection.OUTBOUND
            and call.state == CallState.CONNECTED
            and event.get("Channel") == call.channel
        ):
            self._outbound_end.setdefault(call.id, EndReason.AGENT_HANGUP)  # the agent's phone hung up first
            return
        if (
            call is not None
            and call.state == CallState.CONNECTED
            and call.transfer is TransferLeg.CONNECTED
            and event.get("Channel")
            and event.get("Channel") == call.agent_channel
        ):
            self._end(call, CallState.ENDED, EndReason.AGENT_HANGUP, at)

    def _on_soft_hangup_request(self, event: Event, at: datetime) -> None:
        """Asterisk is shutting down or restarting (`core restart now`, `core stop gracefully`): it hangs up
        every channel with the soft-hangup cause SHUTDOWN (4). The Hangup and AgentComplete events that follow
        look like an ordinary end of the call; the call was cut, and is recorded `lost`."""
        if event.get("Cause") == SOFTHANGUP_SHUTDOWN and event.get("Linkedid") in self.calls:
            self._cut_by_shutdown.add(event["Linkedid"])

    def _end(self, call: Call, state: CallState, reason: EndReason, at: datetime) -> None:
        self._abandoned.discard(call.id)
        if call.id in self._cut_by_shutdown:
            self._cut_by_shutdown.discard(call.id)
            if state is not CallState.REJECTED:
                state, reason = CallState.ENDED, EndReason.LOST
        call.move(state)
        call.end_reason = reason
        call.ended_at = at
        self._save(call)
        self._emit(CallEnded(call.id, at, state, reason, call.agent, call.talk_seconds))

    def connected_call(self, call_id: str, refusal: type[DomainError], agent: str | None = None) -> Call:
        """The citizen's call `call_id`, connected to an agent (to `agent`, when given), for a transfer or a
        three-way call; else `refusal` with `call_not_connected`, `call_not_yours` or `call_outbound`."""
        call = self.calls.get(call_id)
        if call is None or call.state != CallState.CONNECTED or not call.channel or not call.agent_channel:
            raise refusal(f"call {call_id} is not connected to an agent", error_id=ErrorId.CALL_NOT_CONNECTED)
        if agent is not None and call.agent != agent:
            raise refusal(f"call {call_id} is not connected to {agent}", error_id=ErrorId.CALL_NOT_YOURS)
        if call.direction is CallDirection.OUTBOUND:  # its citizen is the dialled leg, not the call's own channel
            raise refusal(f"call {call_id} is your own call to a citizen", error_id=ErrorId.CALL_OUTBOUND)
        return call

    def start_conference(self, call_id: str, room: str) -> None:
        """The server is moving this call into a three-way conference (before it redirects the channels)."""
        call = self.calls.get(call_id)
        if call is not None:
            call.conference = room
            self._rooms[room] = call_id

    def _on_conference(self, event: Event, at: datetime) -> None:
        room = event.get("Conference", "")
        call_id = self._rooms.get(room)
        channel = event.get("Channel", "")
        if call_id is None or is_announcer(channel):
            return
        joined = (event.get("Event") or "").lower() == "confbridgejoin"
        members = self._members.setdefault(room, [])
        if joined and channel not in members:
            members.append(channel)
        elif not joined and channel in members:
            members.remove(channel)
        number = event.get("CallerIDNum") or None
        self._emit(ConferenceChanged(call_id, at, room, channel, number, joined, tuple(members)))
        if not members:
            self._rooms.pop(room, None)
            self._members.pop(room, None)

    def mark_transfer(
        self,
        call_id: str,
        leg: TransferLeg | None,
        *,
        agent: str | None = None,
        interface: str | None = None,
        channel: str | None = None,
    ) -> None:
        """The transfer service moves the call's agent side: while `moving` the old agent leg ending does not
        end the call; once `connected`, `channel` (the leg dialled) is the agent side and `agent` (when the
        leg is an agent's phone) the call's agent, stored with the call."""
        call = self.calls.get(call_id)
        if call is None:
            return
        call.transfer = leg
        if channel is not None:
            call.agent_channel = channel
        if interface is not None:
            call.agent_interface = interface
        if agent is not None:
            call.agent = agent
        self._save(call)

    def _leg(self, call: Call, channel: str, status: str, at: datetime) -> CallLegChanged:
        interface = _interface_of(channel)
        return CallLegChanged(call.id, at, channel, interface, self.agents.agent_id_for(interface), status)

    def _on_dial(self, event: Event, at: datetime) -> None:
        """Legs dialled while a call is being transferred (the queue's own ringing is AgentCalled), and the
        citizen's leg of an outbound call."""
        call = self.calls.get(event.get("Linkedid") or event.get("DestLinkedid") or "")
        if (
            call is not None
            and call.direction is CallDirection.OUTBOUND
            and call.transfer is None
            and event.get("Channel") == call.channel
        ):
            self._on_outbound_dial(call, event, at)
            return
        channel = event.get("DestChannel", "")
        if call is None or call.transfer is None or not channel:
            return
        if (event.get("Event") or "").lower() == "dialbegin":
            self._legs[channel] = call.id
            self._emit(self._leg(call, channel, "ringing", at))
            return
        status = event.get("DialStatus") or ""
        if not status:
            return
        if status != "ANSWER":
            self._legs.pop(channel, None)
        self._emit(self._leg(call, channel, status, at))

    def _on_member(self, event: Event, at: datetime) -> None:
        interface = event.get("Interface") or event.get("StateInterface") or ""
        name = (event.get("Event") or "").lower()
        self._emit(
            QueueMemberChanged(
                queue=event.get("Queue", ""),
                interface=interface,
                agent_id=self.agents.agent_id_for(interface),
                in_queue=name != "queuememberremoved",
                paused=event.get("Paused") == "1",
                reason=event.get("PausedReason", "") or event.get("Reason", ""),
                at=at,
            )
        )

    # --- resynchronisation -----------------------------------------------------------------------------
    def adopt(self, calls: Iterable[Call]) -> None:
        """Take back the calls a previous run left open (loaded from the store at start-up)."""
        for call in calls:
            if not call.state.terminal:
                self.calls.setdefault(call.id, call)

    def resync(self, live: Iterable[LiveChannel], now: datetime | None = None) -> tuple[list[Call], list[Call]]:
        """Reconcile with what Asterisk has now (after a (re)connect): calls Asterisk no longer has are
        ended as `lost`; hotline calls Asterisk has that the tracker does not know are adopted.
        Returns (ended, adopted)."""
        now = now or self.clock()
        by_link: dict[str, list[LiveChannel]] = {}
        for ch in live:
            by_link.setdefault(ch.linkedid, []).append(ch)
        ended = []
        for call in list(self.calls.values()):
            if call.id not in by_link:
                self._end(call, CallState.ENDED, EndReason.LOST, now)
                ended.append(call)
        adopted = []
        for linkedid, channels in by_link.items():
            if linkedid in self.calls:
                self._refresh(self.calls[linkedid], channels, now)
                continue
            caller_ch = next((c for c in channels if c.uniqueid == linkedid), None)
            if caller_ch is None or caller_ch.accountcode not in self.hotlines:
                continue
            caller = self.numbers.caller(caller_ch.caller, self.numbers.trunk_of(caller_ch.channel))
            call = Call(
                id=linkedid,
                arrived_at=now - timedelta(seconds=caller_ch.duration_seconds),
                channel=caller_ch.channel,
                hotline=caller_ch.accountcode,
                dialed=caller_ch.accountcode,
                caller=caller.canonical,
                caller_raw=caller.raw,
            )
            self.calls[linkedid] = call
            self._refresh(call, channels, now)
            self._save(call)
            self._emit(CallArrived(call.id, call.arrived_at, call.hotline, call.caller, call.dialed))
            adopted.append(call)
        return ended, adopted

    def _refresh(self, call: Call, channels: list[LiveChannel], now: datetime) -> None:
        """Bring a known call's state in line with its live channels (bridged to an agent, or queued)."""
        caller_ch = next((c for c in channels if c.uniqueid == call.id), None)
        agent_ch = next((c for c in channels if c.uniqueid != call.id and c.bridge_id), None)
        if caller_ch is not None and caller_ch.bridge_id and agent_ch is not None:
            if call.state != CallState.CONNECTED:
                if call.state == CallState.ARRIVED:
                    call.move(CallState.QUEUED)
                call.move(CallState.CONNECTED)
                call.answered_at = call.answered_at or now
                call.agent_interface = _interface_of(agent_ch.channel)
                call.agent = self.agents.agent_id_for(call.agent_interface) or call.agent_interface
                self._save(call)
        elif caller_ch is not None and caller_ch.application == "Queue" and call.state == CallState.ARRIVED:
            call.move(CallState.QUEUED)
            call.queued_at = call.queued_at or now
            self._save(call)
