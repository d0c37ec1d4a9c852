"""Click-to-dial: whom an agent's call from a case or a missed-call task goes to, and placing it.

`target_of_case` and `target_of_task` read, in the agent's own transaction, the number to call (the case's
contact, else its caller; the task's caller), the hotline whose number the citizen sees, and what the call
serves; they refuse a person who may not call citizens (the centre's agents and supervisors), a case or
task they may not see, a number that cannot be called (withheld, none), a closed task, and a call outside
the centre's calling hours (config `callback.calling_hours`, 08:00-21:00 by default, in the centre's time
zone: the hours national practice allows for calls to citizens). `OutboundDialer.dial` then has Asterisk
call the agent's phone first (AMI Originate) into [hotline-outbound], which records the call both sides
apart, tells the tracker (UserEvent HotlineOutbound) and dials the citizen through the callback trunk with
the hotline's number as caller id. The call is tracked and stored as an `outbound` call linked to the case
(ari_app.calls.tracker), so its recording is checked and transcribed as any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ari_app.cases.access import load_case
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.missed.errors import MissedCallClosed, MissedCallNotFound
from ari_app.protocol import DomainError, ErrorId
from schema.calls import OutboundPurpose
from schema.missed import MissedCall, MissedStatus
from schema.users import Role

DIAL_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
"""Who may call a citizen from the desktop: the centre's people with a phone on the queue's side."""

AGENT_RING_SECONDS = 30
"""How long the agent's own phone rings before the call is given up (AMI Originate's timeout)."""
CITIZEN_RING_SECONDS = 45
"""How long the citizen's phone rings ([hotline-outbound]'s Dial timeout): about nine rings."""


class DialRefused(DomainError):
    """A call the platform will not place; `error_id` says why (docs/protocol.md, `dial_citizen`)."""

    error_id = ErrorId.DIAL_FAILED


@dataclass(frozen=True)
class DialTarget:
    """One outbound call to place: `number` canonical (ari_app.calls.numbers: the form the trunk dials),
    the `hotline` whose number the citizen sees, and what it serves."""

    number: str
    hotline: str
    purpose: OutboundPurpose
    case_id: int | None = None
    case_number: str | None = None
    missed_call_id: int | None = None

    def variables(self, agent: str, trunk: str) -> list[str]:
        """[hotline-outbound]'s channel variables."""
        return [
            f"OUTBOUND_NUMBER={self.number}",
            f"OUTBOUND_TRUNK={trunk}",
            f"OUTBOUND_HOTLINE={self.hotline}",
            f"OUTBOUND_CASE={self.case_id or ''}",
            f"OUTBOUND_PURPOSE={self.purpose.value}",
            f"OUTBOUND_MISSED={self.missed_call_id or ''}",
            f"OUTBOUND_AGENT={agent}",
            f"OUTBOUND_RING_SECONDS={CITIZEN_RING_SECONDS}",
        ]


def _callable(number: str | None) -> str:
    digits = (number or "").lstrip("+")
    if not digits.isdigit():
        raise DialRefused(
            "this citizen has no number to call back (withheld or none given)",
            error_id=ErrorId.INVALID_NUMBER,
        )
    return number or ""


def check_calling_hours(now: datetime, zone: str, hours: tuple[time, time]) -> None:
    """DialRefused (`outside_calling_hours`, the hours in the detail) outside `hours` in the centre's `zone`."""
    local = now.astimezone(ZoneInfo(zone)).time()
    if not hours[0] <= local < hours[1]:
        opening, closing = (h.strftime("%H:%M") for h in hours)
        raise DialRefused(
            f"citizens are called between {opening} and {closing} ({zone})",
            error_id=ErrorId.OUTSIDE_CALLING_HOURS,
            opening=opening,
            closing=closing,
        )


def _allowed(actor: Actor) -> None:
    if actor.role not in DIAL_ROLES:
        raise DialRefused("only the centre's agents and supervisors call citizens", error_id=ErrorId.NOT_PERMITTED)


def target_of_case(session: Session, actor: Actor, case_id: int, purpose: OutboundPurpose, now: datetime) -> DialTarget:
    """The call to `case_id`'s citizen: its contact number, else the number it called from. CaseNotFound for
    a case `actor` may not see; DialRefused otherwise (see the module). Audited (`dial_citizen`)."""
    _allowed(actor)
    case = load_case(session, actor, case_id)
    number = _callable(case.contact or case.caller)
    audit(session, actor, "dial_citizen", case.id, now, purpose=purpose.value, number=number)
    return DialTarget(number, case.hotline, purpose, case_id=case.id, case_number=case.number)


def target_of_task(session: Session, actor: Actor, task_id: int, now: datetime) -> DialTarget:
    """The call back of missed-call task `task_id` (漏接回拨): its caller, as the hotline it missed.
    MissedCallNotFound, MissedCallClosed, DialRefused. Audited (`dial_citizen`)."""
    _allowed(actor)
    task = session.scalar(select(MissedCall).where(MissedCall.id == task_id))
    if task is None:
        raise MissedCallNotFound(f"no missed-call task {task_id}", task=task_id)
    if task.status != MissedStatus.OPEN:
        raise MissedCallClosed(f"missed-call task {task_id} is closed", task=task_id, status=str(task.status))
    number = _callable(task.caller)
    audit(session, actor, "dial_citizen", None, now, purpose="missed_call", task=task.id, number=number)
    return DialTarget(number, task.hotline, OutboundPurpose.MISSED_CALL, missed_call_id=task.id)


class Originator(Protocol):
    async def originate_async(self, **fields: Any) -> None:
        """AMI Originate (asynchronous: returns once Asterisk took the action). Raises when it did not."""
        ...


class OutboundDialer:
    """Places the calls: the agent's phone (`interface`, `PJSIP/1001`) first, then the citizen through
    `trunk` (config `callback.trunk`, the trunk callbacks use)."""

    def __init__(self, ami: Originator, trunk: str) -> None:
        self.ami = ami
        self.trunk = trunk

    async def dial(self, agent: str, interface: str, target: DialTarget) -> None:
        """DialRefused (`dial_failed`) when Asterisk did not take the Originate."""
        label = target.case_number or f"missed {target.missed_call_id}"
        try:
            await self.ami.originate_async(
                Channel=interface,
                Context="hotline-outbound",
                Exten="s",
                Priority="1",
                CallerID=f'"{label}" <{target.number}>',  # what the agent's phone shows while it rings
                Timeout=str(AGENT_RING_SECONDS * 1000),
                Variable=target.variables(agent, self.trunk),
            )
        except Exception as exc:
            raise DialRefused(f"Asterisk did not place the call: {exc}", error_id=ErrorId.DIAL_FAILED) from None
