"""The case workflow after intake: 派单 `dispatch`, 签收 `accept`, 退单 `return_case` and its review
`review_return`, 延期 `request_extension` and `decide_extension`, 办结 `handle` and `resolve_directly`, 回访
`follow_up`, 阶段性回复 `report_progress`, 审核 `review`, 督办 `supervise` and `escalate_to_leader`, 转办 `forward`;
and `allowed_actions`, what an actor may do to a case now. Every function takes a Session, the acting user
and its arguments; checks on the server side that the actor may see the case and may make the move
(ari_app.cases.machine, through ari_app.cases.access); and writes the audit entry in the same transaction
as the change (`access.transition`, ari_app.cases.audit).

Flushes, never commits: the caller owns the transaction (the package's contract, ari_app.cases).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ari_app.cases import disclosure, follow_ups, machine
from ari_app.cases.access import (
    ACTIVE_DISPATCH,
    OPEN_DISPATCH,
    audience_for,
    begin,
    load_case,
    mode_of,
    read_enum,
    read_text,
    require_action,
    transition,
    unit_scope,
)
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.cases.deadlines import check_problem, share_due
from ari_app.cases.errors import (
    FollowUpUnsatisfied,
    InvalidInput,
    PermissionDenied,
    ProgressNotSignedFor,
    ProgressTextInvalid,
    TransitionForbidden,
)
from ari_app.cases.events import Audience, CaseDispatched, CaseStatusChanged, SupervisionRaised, emit
from ari_app.cases.exchange import check_intake, enqueue_request, receiver_services, rerender_pending
from ari_app.cases.machine import Action, CaseState
from ari_app.cases.routing import suggest
from ari_app.cases.settings import CaseSettings, settings_of
from ari_app.config import HotlineMode
from schema.calls import CallDirection, CallRecord
from schema.cases import (
    Case,
    CaseNotice,
    CooperatingUnit,
    Dispatch,
    DispatchReturn,
    DispatchStatus,
    Extension,
    FollowUp,
    FollowUpChannel,
    Handling,
    ProgressReport,
    Rating,
    RequestStatus,
    ReturnReason,
    Review,
    Satisfaction,
    Supervision,
)
from schema.users import Role

R = TypeVar("R", DispatchReturn, Extension)


def _open_dispatches(case: Case) -> list[Dispatch]:
    return [d for d in case.dispatches if d.status in OPEN_DISPATCH]


def _held(d: Dispatch) -> DispatchStatus:
    """A share's status as the case sees it: one whose return waits for review counts as what it was."""
    if d.status == DispatchStatus.RETURN_REQUESTED:
        return DispatchStatus.PENDING if d.accepted_at is None else DispatchStatus.ACCEPTED
    return d.status


def _aggregate(case: Case) -> CaseState:
    """The status a dispatched case is in, given its units' shares."""
    live = _open_dispatches(case)
    if not live:
        return CaseState.RETURNED
    if all(d.status == DispatchStatus.HANDLED for d in live):
        return CaseState.HANDLED
    if any(_held(d) in (DispatchStatus.ACCEPTED, DispatchStatus.HANDLED) for d in live):
        return CaseState.IN_PROGRESS
    return CaseState.DISPATCHED


def _refresh_deadline(case: Case) -> None:
    active = [d.deadline_at for d in case.dispatches if d.status in ACTIVE_DISPATCH]
    case.deadline_at = min(active) if active else None


def _deadline(
    settings: CaseSettings, case: Case, now: datetime, deadline_at: datetime | None, deadline_hours: float | None
) -> datetime:
    """A share's handling deadline: `deadline_at`, else `deadline_hours` from now, else the hotline's limit for
    the case's request type (config `cases.deadlines.handling`), else the category's hours, else the default."""
    if deadline_at is not None:
        if deadline_at.tzinfo is None or deadline_at <= now:
            raise InvalidInput("deadline_at must be an aware time in the future", field="deadline_at")
        return deadline_at
    limits = share_due(settings, case, now) if deadline_hours is None else None
    if limits is not None:
        return limits.handling
    if deadline_hours is None:
        deadline_hours = case.category.deadline_hours if case.category else settings.default_deadline_hours
    if not 0 < deadline_hours <= 24 * 365:
        raise InvalidInput("deadline_hours must be between 0 and a year", field="deadline_hours")
    return now + timedelta(hours=deadline_hours)


def dispatch(
    session: Session,
    actor: Actor,
    case_id: int | str,
    *,
    units: Sequence[int] = (),
    deadline_hours: float | None = None,
    deadline_at: datetime | None = None,
    instructions: str | None = None,
    rule_id: int | None = None,
    now: datetime | None = None,
) -> Case:
    """派遣: send the case to one unit (or several: a coordinated case, the first is the lead) with a
    deadline: `deadline_at`, else `deadline_hours`, else the hotline's limit for the request type (config
    `cases.deadlines`, which also gives each share its sign-for and first-feedback deadlines), else the
    category's, else the default. A dispatch of a case some unit's accepted return sent back is a
    re-dispatch (改派): `redispatch_count` rises, and at `cases.problem_threshold` the case becomes a problem
    work order (deadlines.check_problem). Without `units`
    the dispatch catalogue's rule for the case is used (ari_app.cases.routing, lead and co-units), else the
    category's default unit; else InvalidInput (`units`): the centre chooses. `rule_id` names the rule the
    units came from, for the audit entry. Adding a unit to a case already with units makes it
    coordinated."""
    settings = settings_of(session)
    now, case, source = begin(session, actor, case_id, Action.DISPATCH, now)
    mode = mode_of(settings, case)
    unit_ids = list(dict.fromkeys(units))
    if not unit_ids:
        rule = suggest(session, case, mode)
        if rule is not None:
            unit_ids, rule_id = rule.units, rule.rule_id
        elif case.category is None or case.category.default_unit_id is None:
            raise InvalidInput(
                "no unit given, no dispatch rule for the case and the category has no default unit", field="units"
            )
        else:
            unit_ids = [case.category.default_unit_id]
    open_now = _open_dispatches(case)
    taken = {d.unit_id for d in open_now}
    rows: list[CooperatingUnit] = []
    for uid in unit_ids:
        unit = session.get(CooperatingUnit, uid)
        if unit is None or not unit.active:
            raise InvalidInput(f"no active unit {uid}", field="units")
        if unit.hotline is not None and unit.hotline != case.hotline:
            raise InvalidInput(f"unit {unit.name} belongs to hotline {unit.hotline}", field="units")
        if mode is HotlineMode.SUB_PLATFORM and unit.hotline != case.hotline:
            raise InvalidInput(f"unit {unit.name} is not a unit of hotline {case.hotline}", field="units")
        if uid in taken:
            raise InvalidInput(f"unit {unit.name} already has this case", field="units")
        rows.append(unit)
    due = _deadline(settings, case, now, deadline_at, deadline_hours)
    note = read_text(instructions, "instructions")
    if len(rows) + len(open_now) > 1:
        case.handling = Handling.COORDINATED
    elif case.handling == Handling.DIRECT:
        case.handling = Handling.DISPATCH
    target = source if source in (CaseState.DISPATCHED, CaseState.IN_PROGRESS) else CaseState.DISPATCHED
    by_rule = {} if rule_id is None else {"rule": rule_id}
    limits = share_due(settings, case, now)
    redispatch = source is CaseState.RETURNED and any(d.status == DispatchStatus.RETURNED for d in case.dispatches)
    if redispatch:
        case.redispatch_count += 1
        by_rule["redispatch_count"] = case.redispatch_count
    transition(session, actor, case, Action.DISPATCH, target, now, units=unit_ids, deadline=due.isoformat(), **by_rule)
    for i, unit in enumerate(rows):
        d = Dispatch(
            unit_id=unit.id,
            lead=(i == 0 and not open_now),
            status=DispatchStatus.PENDING,
            dispatched_at=now,
            dispatched_by=actor.user_id,
            deadline_at=due,
            instructions=note,
            sign_for_deadline_at=limits.sign_for if limits else None,
            feedback_deadline_at=limits.feedback if limits else None,
        )
        case.dispatches.append(d)
        audience = Audience(frozenset({Role.DEPARTMENT}), units=frozenset({unit.id}))
        emit(session, CaseDispatched(case.id, case.number, now, audience, unit.id, due))
    _refresh_deadline(case)
    if redispatch:
        check_problem(session, actor, case, now)
    session.flush()
    return case


def _own_shares(session: Session, actor: Actor, case: Case) -> list[Dispatch]:
    """The case's shares held by the actor's units (a department's own and the 3rd-level units under it)."""
    scope = set(session.scalars(unit_scope(actor)))
    return [d for d in case.dispatches if d.unit_id in scope]


def _own_dispatch(session: Session, actor: Actor, case: Case, statuses: Sequence[DispatchStatus]) -> Dispatch:
    mine = _own_shares(session, actor, case)
    if not mine:
        raise PermissionDenied(f"case {case.number} was not dispatched to your unit")
    for d in mine:
        if d.status in statuses:
            return d
    raise TransitionForbidden(
        f"your unit's share of case {case.number} is {mine[-1].status}", status=str(mine[-1].status)
    )


def _target_if(
    session: Session, actor: Actor, case: Case, action: Action, d: Dispatch, status: DispatchStatus
) -> CaseState:
    """The status the case would reach if share `d` became `status`, checked against the table before
    anything is changed, so a refusal leaves the session untouched even if the caller keeps using it."""
    old = d.status
    d.status = status
    try:
        target = _aggregate(case)
    finally:
        d.status = old
    machine.check(action, CaseState(case.status), target, actor.role, mode_of(settings_of(session), case))
    return target


def accept(session: Session, actor: Actor, case_id: int | str, *, now: datetime | None = None) -> Case:
    """签收: the unit signs for (takes on) its share of the case; whether it did so by the share's sign-for
    deadline is kept for the on-time sign-for rate (按时签收率: `Dispatch.signed_on_time`, None without one)."""
    now, case, _ = begin(session, actor, case_id, Action.ACCEPT, now)
    d = _own_dispatch(session, actor, case, (DispatchStatus.PENDING,))
    target = _target_if(session, actor, case, Action.ACCEPT, d, DispatchStatus.ACCEPTED)
    d.status = DispatchStatus.ACCEPTED
    d.accepted_at = now
    if d.sign_for_deadline_at is not None:
        d.signed_on_time = now <= d.sign_for_deadline_at
    on_time = {} if d.signed_on_time is None else {"on_time": d.signed_on_time}
    transition(session, actor, case, Action.ACCEPT, target, now, unit=d.unit_id, **on_time)
    session.flush()
    return case


def return_case(
    session: Session,
    actor: Actor,
    case_id: int | str,
    *,
    reason: str,
    reason_code: str | None = None,
    now: datetime | None = None,
) -> Case:
    """退单: the unit asks to return its share as not theirs, with a reason from the list (schema.cases.
    ReturnReason; None is `other`) and text. The share waits (`return_requested`, its deadline still running)
    for the centre's review (`review_return`); the case's status does not change. One request per share at
    a time: a share already waiting is refused (TransitionForbidden)."""
    now, case, _ = begin(session, actor, case_id, Action.RETURN, now)
    why = read_text(reason, "reason", required=True, limit=4000)
    code = read_enum(ReturnReason, reason_code or ReturnReason.OTHER, "reason_code")
    d = _own_dispatch(session, actor, case, (DispatchStatus.PENDING, DispatchStatus.ACCEPTED))
    target = _target_if(session, actor, case, Action.RETURN, d, DispatchStatus.RETURN_REQUESTED)
    d.status = DispatchStatus.RETURN_REQUESTED
    request = _request(session, DispatchReturn, d, actor, why, now, reason_code=code)
    transition(
        session, actor, case, Action.RETURN, target, now, unit=d.unit_id, reason_code=str(code), reason=why,
        request=request.id,
    )  # fmt: skip
    session.flush()
    return case


def _pending_return(session: Session, case: Case) -> tuple[DispatchReturn, Dispatch]:
    waiting = [d for d in case.dispatches if d.status == DispatchStatus.RETURN_REQUESTED]
    if not waiting:
        raise TransitionForbidden(f"no unit's return of case {case.number} waits for review", status=str(case.status))
    d = waiting[0]
    request = session.scalars(
        select(DispatchReturn)
        .where(DispatchReturn.dispatch_id == d.id, DispatchReturn.status == RequestStatus.PENDING)
        .order_by(DispatchReturn.id.desc())
    ).first()
    if request is None:  # pragma: no cover - written together by return_case
        raise TransitionForbidden(f"the return of case {case.number} has no request", status=str(case.status))
    return request, d


def _request(
    session: Session, kind: type[R], d: Dispatch, actor: Actor, reason: str | None, now: datetime, **fields: Any
) -> R:
    """A unit's request on its share `d` (a return, an extension: `kind`, with its own `fields`) by `actor`,
    waiting for the centre's decision (`_decide`); added and flushed, so it has its id."""
    assert reason is not None  # read as required
    request = kind(
        case_id=d.case_id,
        dispatch_id=d.id,
        unit_id=d.unit_id,
        reason=reason,
        requested_at=now,
        requested_by=actor.user_id,
        status=RequestStatus.PENDING,
        **fields,
    )
    session.add(request)
    session.flush()
    return request


def _decide(request: DispatchReturn | Extension, actor: Actor, approved: bool, note: str | None, now: datetime) -> None:
    """A unit's request (a return, an extension) decided by `actor`: approved or refused, when, and why."""
    request.status = RequestStatus.APPROVED if approved else RequestStatus.REFUSED
    request.decided_at = now
    request.decided_by = actor.user_id
    request.decision_note = note


def review_return(
    session: Session,
    actor: Actor,
    case_id: int | str,
    *,
    approved: bool,
    note: str | None = None,
    now: datetime | None = None,
) -> Case:
    """派单异议审核: the centre (the hotline unit on a sub-platform) decides the oldest return waiting on the
    case. Accepted (`accept_return`): the share ends (`returned`), the lead passes to the next unit, and with
    no unit left the case is `returned`, to be re-dispatched (改派, counted by `dispatch`). Rejected
    (`reject_return`, a `note` required): the unit keeps its share as it was (pending or accepted) and the
    return counts as improper against the unit (`improper_returns`)."""
    action = Action.ACCEPT_RETURN if approved else Action.REJECT_RETURN
    now, case, _ = begin(session, actor, case_id, action, now)
    why = read_text(note, "note", required=not approved, limit=4000)
    request, d = _pending_return(session, case)
    back = DispatchStatus.RETURNED if approved else _held(d)
    target = _target_if(session, actor, case, action, d, back)
    d.status = back
    _decide(request, actor, approved, why, now)
    if approved:
        d.returned_at = now
        d.return_reason = request.reason
        if d.lead:
            d.lead = False
            rest = _open_dispatches(case)
            if rest:
                rest[0].lead = True
    _refresh_deadline(case)
    transition(
        session, actor, case, action, target, now, unit=d.unit_id, request=request.id,
        reason_code=str(request.reason_code), note=why,
    )  # fmt: skip
    session.flush()
    return case


def improper_returns(session: Session, unit_id: int) -> int:
    """How many of the unit's returns the centre rejected (不当退单, counted against the unit)."""
    count = session.scalar(
        select(func.count(DispatchReturn.id)).where(
            DispatchReturn.unit_id == unit_id, DispatchReturn.status == RequestStatus.REFUSED
        )
    )
    return int(count or 0)


def request_extension(
    session: Session,
    actor: Actor,
    case_id: int | str,
    *,
    reason: str,
    deadline_at: datetime | str,
    now: datetime | None = None,
) -> Case:
    """延期: the unit asks for a later deadline (`deadline_at`, aware, or ISO 8601 text with its offset, after
    the share's current one) for its
    share, with a reason, before the current deadline has passed (after it: TransitionForbidden). One
    request per share waits at a time. The centre (the hotline unit) decides (`decide_extension`)."""
    now, case, _ = begin(session, actor, case_id, Action.REQUEST_EXTENSION, now)
    why = read_text(reason, "reason", required=True, limit=4000)
    if isinstance(deadline_at, str):
        deadline_at = _moment(deadline_at, "deadline_at")
    d = _own_dispatch(session, actor, case, ACTIVE_DISPATCH)
    if now >= d.deadline_at:
        raise TransitionForbidden(
            f"the deadline of case {case.number} ({d.deadline_at.isoformat()}) has passed: too late to extend",
            action=str(Action.REQUEST_EXTENSION),
            status=str(case.status),
        )
    if deadline_at.tzinfo is None or deadline_at <= d.deadline_at:
        raise InvalidInput("deadline_at must be an aware time after the current deadline", field="deadline_at")
    if deadline_at > d.deadline_at + timedelta(days=366):
        raise InvalidInput("deadline_at is more than a year after the current deadline", field="deadline_at")
    if _pending_extension(session, d) is not None:
        raise TransitionForbidden(
            f"an extension of case {case.number} already waits for a decision",
            action=str(Action.REQUEST_EXTENSION),
            status=str(case.status),
        )
    ext = _request(session, Extension, d, actor, why, now, deadline_before=d.deadline_at, deadline_asked=deadline_at)
    transition(
        session, actor, case, Action.REQUEST_EXTENSION, CaseState(case.status), now, unit=d.unit_id,
        request=ext.id, deadline=deadline_at.isoformat(), reason=why,
    )  # fmt: skip
    session.flush()
    return case


def _moment(text: str, field: str) -> datetime:
    """An ISO 8601 moment with its offset (`2026-10-16T17:30:00+08:00`); InvalidInput otherwise."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO 8601 time with its offset, got {text!r}", field=field) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{field} must be an ISO 8601 time with its offset, got {text!r}", field=field)
    return value


def _pending_extension(session: Session, d: Dispatch) -> Extension | None:
    return session.scalars(
        select(Extension).where(Extension.dispatch_id == d.id, Extension.status == RequestStatus.PENDING)
    ).first()


def decide_extension(
    session: Session,
    actor: Actor,
    case_id: int | str,
    *,
    approved: bool,
    note: str | None = None,
    now: datetime | None = None,
) -> Case:
    """The centre (the hotline unit on a sub-platform) approves or refuses (a `note` required) the oldest
    extension waiting on the case. Approved: the share's deadline becomes the one asked (the case's
    `deadline_at` follows), and a notice to the citizen is due now (`case_notices`, kind `extension`;
    confidential cases too: the notice is the centre's). A request whose share is no longer held by its
    unit (handled, returned) is refused with TransitionForbidden."""
    action = Action.APPROVE_EXTENSION if approved else Action.REFUSE_EXTENSION
    now, case, _ = begin(session, actor, case_id, action, now)
    why = read_text(note, "note", required=not approved, limit=4000)
    ext = session.scalars(
        select(Extension)
        .where(Extension.case_id == case.id, Extension.status == RequestStatus.PENDING)
        .order_by(Extension.id)
    ).first()
    if ext is None:
        raise TransitionForbidden(f"no extension of case {case.number} waits for a decision", action=str(action))
    d = session.get(Dispatch, ext.dispatch_id)
    if approved and (d is None or d.status not in ACTIVE_DISPATCH):
        raise TransitionForbidden(
            f"the share of case {case.number} the extension was asked for is no longer held", action=str(action)
        )
    _decide(ext, actor, approved, why, now)
    if approved and d is not None:
        d.deadline_at = ext.deadline_asked
        _refresh_deadline(case)
        session.add(CaseNotice(case_id=case.id, kind="extension", due_at=now, created_at=now))
    transition(
        session, actor, case, action, CaseState(case.status), now, unit=ext.unit_id, request=ext.id,
        deadline=ext.deadline_asked.isoformat(), note=why,
    )  # fmt: skip
    session.flush()
    return case


def handle(session: Session, actor: Actor, case_id: int | str, *, result: str, now: datetime | None = None) -> Case:
    """办理: the unit reports its result. The case is handled when every unit still on it has reported."""
    now, case, _ = begin(session, actor, case_id, Action.HANDLE, now)
    text = read_text(result, "result", required=True)
    d = _own_dispatch(session, actor, case, (DispatchStatus.ACCEPTED,))
    target = _target_if(session, actor, case, Action.HANDLE, d, DispatchStatus.HANDLED)
    d.status = DispatchStatus.HANDLED
    d.handled_at = now
    d.handled_by = actor.user_id
    d.result = text
    if target is CaseState.HANDLED:
        case.handled_at = now
        case.resolution = "\n".join(x.result or "" for x in _open_dispatches(case))
    _refresh_deadline(case)
    transition(session, actor, case, Action.HANDLE, target, now, unit=d.unit_id, on_time=now <= d.deadline_at)
    session.flush()
    return case


PROGRESS_TEXT_LIMIT = 2000
"""Characters of one progress report (阶段性回复), after stripping: a note, not the result."""


def report_progress(
    session: Session, actor: Actor, case_id: int | str, *, text: str | None, now: datetime | None = None
) -> Case:
    """阶段性回复: a department user tells how far the unit has got with its signed-for share (`accepted`,
    not yet handled) of a case in progress; stored (`progress_reports`) with the share, the unit, the time
    and the user, audited (`report_progress`, the report's id and text), and told to the centre, the hotline
    unit of a sub-platform hotline and every unit on the case (a `case_event` whose status stays the same).
    Any number per share. Refusals, in this order: CaseNotFound for a case the actor may not see (another
    unit's), ProgressNotSignedFor when none of the actor's units holds a signed-for share of it (pending,
    its return waiting, handled, returned), PermissionDenied / TransitionForbidden from the workflow table
    (another role; a case not in progress), ProgressTextInvalid (`text`) when the text is empty or over
    `PROGRESS_TEXT_LIMIT` characters. Returns the case (its reports: `progress_reports`)."""
    settings = settings_of(session)
    now = settings.now(now)
    case = load_case(session, actor, case_id, lock=True)
    mode = mode_of(settings, case)
    share: Dispatch | None = None
    if actor.role is Role.DEPARTMENT:
        mine = _own_shares(session, actor, case)
        share = next((d for d in mine if d.status == DispatchStatus.ACCEPTED), None)
        if share is None:
            held = str(mine[-1].status) if mine else "none"
            raise ProgressNotSignedFor(
                f"your unit holds no signed-for share of case {case.number} (its share is {held})",
                case=case.number,
                status=held,
            )
    state = require_action(Action.REPORT_PROGRESS, case, actor, mode)
    assert share is not None  # only a department may report (the workflow table)
    body = (text or "").strip()
    if not body or len(body) > PROGRESS_TEXT_LIMIT:
        raise ProgressTextInvalid(
            f"a progress report is 1 to {PROGRESS_TEXT_LIMIT} characters, got {len(body)}",
            field="text",
            limit=PROGRESS_TEXT_LIMIT,
            length=len(body),
        )
    report = ProgressReport(
        case_id=case.id,
        dispatch_id=share.id,
        unit_id=share.unit_id,
        text=body,
        reported_at=now,
        reported_by=actor.user_id,
        reported_by_login=actor.login,
    )
    session.add(report)
    session.flush()
    transition(
        session, actor, case, Action.REPORT_PROGRESS, state, now, unit=share.unit_id, report=report.id, text=body
    )
    audience = audience_for(case, state, mode)
    emit(session, CaseStatusChanged(case.id, case.number, now, audience, str(Action.REPORT_PROGRESS), state, state))
    session.flush()
    return case


def progress_reports(session: Session, case: Case) -> list[ProgressReport]:
    """The case's progress reports (阶段性回复) from every unit, oldest first (with their unit loaded)."""
    return list(
        session.scalars(select(ProgressReport).where(ProgressReport.case_id == case.id).order_by(ProgressReport.id))
    )


def resolve_directly(
    session: Session, actor: Actor, case_id: int | str, *, resolution: str, now: datetime | None = None
) -> Case:
    """直接办理: answered on the spot (or in a three-way call with the department); the case closes."""
    now, case, _ = begin(session, actor, case_id, Action.RESOLVE_DIRECTLY, now)
    case.resolution = read_text(resolution, "resolution", required=True)
    case.handling = Handling.DIRECT
    case.handled_at = now
    case.closed_at = now
    case.exchange_refusal = None  # answered by the centre: the receiver's refusal no longer stands (kept in the outbox)
    transition(session, actor, case, Action.RESOLVE_DIRECTLY, CaseState.CLOSED, now)
    session.flush()
    return case


def follow_up(
    session: Session,
    actor: Actor,
    case_id: int | str,
    *,
    reached: bool,
    solved: bool | None = None,
    satisfaction: str | None = None,
    rating: str | None = None,
    channel: str = FollowUpChannel.PHONE,
    notes: str | None = None,
    call_id: str | None = None,
    now: datetime | None = None,
) -> Case:
    """回访: record the call back (or the SMS, `channel` phone or sms) to the citizen. Reached: the citizen's
    answer, `solved` and the five-level `rating` of the case (一事一评, a `Rating` value; a three-level
    `satisfaction` alone is read as the level of the same words, both given must agree), and the case goes to
    review; not reached: it stays waiting for another try, still due (ari_app.cases.follow_ups). An unsatisfied
    rating (不满意, 非常不满意) leaves the case to the reviewer's send back (发回重办: `approve` is refused).
    A closed case may be followed up too (satisfaction of direct answers), and a merged duplicate once its
    master is handled (it stays `merged`; ari_app.cases.merging). InvalidInput (`rating`, `satisfaction`,
    `channel`) for a missing or unknown answer; `call_id` names the outbound call it was made on (click-to-dial),
    one to this case's citizen (InvalidInput `call_id` otherwise)."""
    now, case, source = begin(session, actor, case_id, Action.FOLLOW_UP, now)
    if source is CaseState.MERGED:
        master = session.get(Case, case.master_case_id) if case.master_case_id is not None else None
        if master is None or master.handled_at is None:
            raise TransitionForbidden(
                f"case {case.number} follows case {master.number if master else '?'}, which is not handled yet",
                action=str(Action.FOLLOW_UP),
                status=str(source),
            )
    how = read_enum(FollowUpChannel, channel, "channel")
    if call_id is not None and not _outbound_call_of(session, case, call_id):
        raise InvalidInput(f"call {call_id} is no call to the citizen of case {case.number}", field="call_id")
    level: Rating | None = None
    if reached:
        level = _rating(rating, satisfaction, solved)
        case.follow_up_rating = level
        case.follow_up_due_at = None
    session.add(
        FollowUp(
            case_id=case.id,
            at=now,
            by=actor.user_id,
            reached=reached,
            solved=solved if reached else None,
            satisfaction=level.satisfaction if level is not None else None,
            rating=level,
            channel=how,
            notes=read_text(notes, "notes"),
            call_id=call_id,
        )
    )
    target: CaseState
    if source in (CaseState.CLOSED, CaseState.MERGED):
        target = source
    else:
        target = CaseState.FOLLOWED_UP if reached else CaseState.HANDLED
    sat = level.satisfaction if level is not None else None
    back = {"send_back": True} if level is not None and level.unsatisfied and target is CaseState.FOLLOWED_UP else {}
    detail = {"reached": reached, "satisfaction": sat, "rating": level, "channel": how, **back}
    transition(session, actor, case, Action.FOLLOW_UP, target, now, **detail)
    session.flush()
    return case


def _outbound_call_of(session: Session, case: Case, call_id: str) -> bool:
    """`call_id` is a stored outbound call to `case`'s citizen."""
    found = session.scalar(
        select(CallRecord.id).where(
            CallRecord.linkedid == call_id,
            CallRecord.case_id == case.id,
            CallRecord.direction == CallDirection.OUTBOUND,
        )
    )
    return found is not None


def _rating(rating: str | None, satisfaction: str | None, solved: bool | None) -> Rating:
    """The five-level answer of a reached citizen from the request's `rating` and/or `satisfaction`."""
    if (rating is None and satisfaction is None) or solved is None:
        raise InvalidInput("a reached citizen's answer needs solved and a rating", field="rating")
    sat = read_enum(Satisfaction, satisfaction, "satisfaction") if satisfaction is not None else None
    if rating is None:
        assert sat is not None
        return Rating.of_satisfaction(sat)
    level: Rating = read_enum(Rating, rating, "rating")
    if sat is not None and level.satisfaction is not sat:
        raise InvalidInput(f"rating {level} is not satisfaction {sat}", field="satisfaction")
    return level


def review(
    session: Session,
    actor: Actor,
    case_id: int | str,
    *,
    approved: bool,
    reason: str | None = None,
    deadline_hours: float | None = None,
    now: datetime | None = None,
) -> Case:
    """审核: approve (办结, the case closes) or send back to the unit(s) with a reason; sent back, each unit
    gets a fresh share with a new deadline, the old one stays as history, and `send_back_count` rises (at
    `cases.problem_threshold` the case becomes a problem work order, deadlines.check_problem)."""
    settings = settings_of(session)
    action = Action.APPROVE if approved else Action.SEND_BACK
    now, case, _ = begin(session, actor, case_id, action, now)
    if approved and follow_ups.needs_send_back(case):
        raise FollowUpUnsatisfied(
            f"the citizen rated case {case.number} {case.follow_up_rating}: it is sent back (发回重办), not approved",
            case=case.number,
            rating=str(case.follow_up_rating),
        )
    why = read_text(reason, "reason", required=not approved)
    session.add(Review(case_id=case.id, at=now, by=actor.user_id, approved=approved, reason=why))
    if approved:
        case.closed_at = now
        transition(session, actor, case, action, CaseState.CLOSED, now)
    else:
        due = _deadline(settings, case, now, None, deadline_hours)
        for old in _open_dispatches(case):
            old.status = DispatchStatus.WITHDRAWN
            case.dispatches.append(
                Dispatch(
                    unit_id=old.unit_id,
                    lead=old.lead,
                    status=DispatchStatus.ACCEPTED,
                    dispatched_at=now,
                    dispatched_by=actor.user_id,
                    deadline_at=due,
                    instructions=why,
                    accepted_at=now,
                )
            )
        case.handled_at = None
        case.send_back_count += 1
        _refresh_deadline(case)
        transition(
            session, actor, case, action, CaseState.IN_PROGRESS, now, reason=why, send_back_count=case.send_back_count
        )
        check_problem(session, actor, case, now)
    session.flush()
    return case


def supervise(
    session: Session, actor: Actor, case_id: int | str, *, instructions: str, now: datetime | None = None
) -> Case:
    """督办 by a person: an instruction to the units working on the case."""
    return _supervise(session, actor, case_id, Action.SUPERVISE, instructions, now)


def escalate_to_leader(
    session: Session, actor: Actor, case_id: int | str, *, instructions: str, now: datetime | None = None
) -> Case:
    """A coordinated case the units cannot settle goes to the responsible city leader."""
    return _supervise(session, actor, case_id, Action.ESCALATE_TO_LEADER, instructions, now)


def _supervise(
    session: Session, actor: Actor, case_id: int | str, action: Action, instructions: str, now: datetime | None
) -> Case:
    now, case, _ = begin(session, actor, case_id, action, now)
    note = read_text(instructions, "instructions", required=True)
    leader = action is Action.ESCALATE_TO_LEADER
    if leader:
        if case.handling != Handling.COORDINATED:
            raise InvalidInput("only a coordinated case goes to the city leader", field="handling")
        case.leader_escalated = True
    level = max(case.supervision_level, 1)
    case.supervision_level = level
    session.add(
        Supervision(
            case_id=case.id, at=now, by=actor.user_id, level=level, overdue=False, leader=leader, instructions=note
        )
    )
    transition(session, actor, case, action, CaseState(case.status), now, instructions=note)
    units: list[int | None] = [d.unit_id for d in case.dispatches if d.status in ACTIVE_DISPATCH] or [None]
    for uid in units:
        if leader:
            audience = Audience(frozenset({Role.SUPERVISOR}))
        else:
            audience = Audience(frozenset({Role.DEPARTMENT}), units=frozenset() if uid is None else frozenset({uid}))
        emit(session, SupervisionRaised(case.id, case.number, now, audience, level, uid, False, leader, note))
    session.flush()
    return case


def forward(
    session: Session, actor: Actor, case_id: int | str, *, address: str | None = None, now: datetime | None = None
) -> Case:
    """Send a case of an exchange-mode hotline to the hotline's own system: done at intake unless the case
    was taken for direct handling and turned out to need the hotline's unit after all, or again once the
    centre has corrected a case that system refused (status `returned`, `cases.exchange_refusal`); `address`
    replaces the case's address first (the location GeoReport v2 requires). Raises ExchangeRequirement when
    the system would refuse the case as it stands (`exchange.check_intake`)."""
    now, case, _ = begin(session, actor, case_id, Action.FORWARD, now)
    services = receiver_services(session, case.hotline)
    if address is not None:
        case.address = read_text(address, "address", limit=256)
    if case.handling == Handling.DIRECT:
        case.handling = Handling.DISPATCH
    check_intake(session, case, services)
    transition(session, actor, case, Action.FORWARD, CaseState.EXCHANGED, now, address_changed=address is not None)
    enqueue_request(session, case, now)
    session.flush()
    return case


def allowed_actions(session: Session, actor: Actor, case: Case) -> list[str]:
    """What the actor may do to the case now (for enabling the desktop's buttons); the server still checks."""
    mode = mode_of(settings_of(session), case)
    actions = machine.actions_for(CaseState(case.status), actor.role, mode)
    if follow_ups.needs_send_back(case):  # 发回重办: the citizen was not satisfied
        actions = [a for a in actions if a is not Action.APPROVE]
    return [str(a) for a in actions]


def set_confidential(
    session: Session,
    actor: Actor,
    case_ref: int | str,
    confidential: bool,
    reason: str | None = None,
    now: datetime | None = None,
) -> Case:
    """保密工单 after intake: mark a case confidential (the centre's roles, `disclosure.MARK_ROLES`) or lift
    it (`disclosure.UNMARK_ROLES`, supervisor or admin, with a `reason`: the citizen's own word). Audited
    (`confidential_set` / `confidential_unset`, with the reason); asking for what the case already is
    changes and audits nothing, so the flag is never lifted without an entry saying who and why. Marking
    re-renders the case's Open311 requests still `pending` in the outbox (`exchange.rerender_pending`), so
    none leaves with the contact; one the hotline's own system already has keeps what it got (docs/cases.md).
    The status does not change. Refusals: `PermissionDenied` for another role, `InvalidInput` (`reason`)
    when lifting without one, `CaseNotFound` for a case the actor may not see."""
    allowed = disclosure.MARK_ROLES if confidential else disclosure.UNMARK_ROLES
    action = disclosure.MARK if confidential else disclosure.UNMARK
    if actor.role not in allowed:
        raise PermissionDenied(
            f"role {actor.role} may not {'mark' if confidential else 'lift'} a confidential work order",
            action=action,
            role=str(actor.role),
        )
    why = read_text(reason, "reason", required=not confidential, limit=4000)
    now = settings_of(session).now(now)
    case = load_case(session, actor, case_ref, lock=True)
    if case.confidential is confidential:
        return case
    case.confidential = confidential
    case.updated_at = now
    audit(session, actor, action, case.id, now, reason=why)
    if confidential:
        rerender_pending(session, case)
    session.flush()
    return case
