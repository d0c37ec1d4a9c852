"""The case queries and operations a desktop may ask for (through intake, the lookups and the workflow,
which check roles and visibility and write the audit), reading users for sign-in, and the push each
committed case event becomes. Plain blocking functions: the desks run them in a worker thread so the event
loop keeps routing.

Each request runs in `transaction(..., request=<message type>)` (ari_app.cases.audit): a refusal rolls the
request back and leaves one `refused` audit entry, written in its own transaction."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.calls.events import transfer_info
from ari_app.cases import attachments, catalogue, follow_ups, intake, lookups, merging, workflow
from ari_app.cases.access import ACTIVE_DISPATCH, OPEN_DISPATCH, load_case, mode_of, unit_scope, visible
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit, transaction
from ari_app.cases.disclosure import Viewer, citizen_fields, matchable, participant_number, reveal_contact, revealed
from ari_app.cases.errors import InvalidInput
from ari_app.cases.events import (
    CaseCreated,
    CaseDispatched,
    CaseEvent,
    CaseStatusChanged,
    ExchangeAlert,
    ExchangeRefused,
    ExchangeStalled,
    ShareEvent,
    SupervisionRaised,
)
from ari_app.cases.exchange import stalled_cases
from ari_app.cases.linkage import linkage_of
from ari_app.cases.machine import CENTRE, CaseState
from ari_app.cases.routing import suggest
from ari_app.cases.settings import settings_of
from ari_app.conference import participants
from ari_app.config import HotlineMode
from ari_app.protocol import (
    ACTION_REQUESTS,
    ATTACHMENT_CHUNK,
    RULE_REQUESTS,
    AttachmentInfo,
    CaseDetail,
    CaseListItem,
    CaseRef,
    CaseSummary,
    ClassificationInfo,
    DispatchInfo,
    DispatchSuggestion,
    ExtensionInfo,
    FollowUpInfo,
    MergeCandidate,
    MergeSignals,
    Msg,
    ProgressReportInfo,
    ReturnInfo,
    RevealedContact,
    ReviewInfo,
    SupervisionInfo,
    TransferInfo,
    UnitInfo,
    UnitRequestInfo,
    iso,
)
from schema.cases import (
    Case,
    CooperatingUnit,
    Dispatch,
    DispatchReturn,
    DispatchStatus,
    Extension,
    Handling,
    RequestStatus,
)
from schema.transfers import CallTransfer
from schema.users import Role, User

SUMMARY_REQUEST_CHARS = 500


@dataclass(frozen=True)
class UserRecord:
    user_id: int
    login: str
    display_name: str
    role: Role
    hotline: str | None
    unit_id: int | None
    password_hash: str | None
    session_epoch: int = 0
    units: frozenset[int] = frozenset()
    """The units a department user acts for (`access.unit_scope`), read at sign-in."""

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, login=self.login, role=self.role, hotline=self.hotline, unit_id=self.unit_id)


def load_user(sessions: sessionmaker[Session], login: str) -> UserRecord | None:
    """The active user with this login, or None."""
    with sessions() as s:
        u = s.scalars(select(User).where(User.login == login, User.active.is_(True))).first()
        if u is None:
            return None
        record = UserRecord(
            u.id, u.login, u.display_name, Role(u.role), u.hotline, u.unit_id, u.password_hash, u.session_epoch or 0
        )
        if record.role is Role.DEPARTMENT and record.unit_id is not None:
            record = replace(record, units=frozenset(s.scalars(unit_scope(record.actor))))
        return record


def summary(case: Case, viewer: Viewer) -> CaseSummary:
    """The case as `viewer` may see it in any list: every outward view of a case is built on this, and its
    citizen (`caller`, `citizen_name`, `contact`, `confidential`) only by `disclosure.citizen_fields`."""
    request = case.request
    if len(request) > SUMMARY_REQUEST_CHARS:
        request = request[: SUMMARY_REQUEST_CHARS - 1] + "…"
    return CaseSummary(
        id=case.id,
        number=case.number,
        hotline=case.hotline,
        status=str(case.status),
        created_at=case.created_at.isoformat(),
        category=case.category.name if case.category is not None else None,
        request=request,
        address=case.address,
        urgency=str(case.urgency),
        handling=str(case.handling),
        **citizen_fields(case, viewer),
        call_id=case.call_id,
        created_by=case.created_by_login,
        request_type=str(case.request_type),
        classification=case.classification.code if case.classification is not None else None,
        classification_name=case.classification_path,
        district=case.district,
        street=case.street,
        grid_cell=case.grid_cell,
        latitude=case.latitude,
        longitude=case.longitude,
    )


CASE_FIELDS = (
    "hotline",
    "caller",
    "call_id",
    "category",
    "request",
    "address",
    "urgency",
    "citizen_name",
    "contact",
    "language",
    "handling",
    "confidential",
)


OPTIONAL_CASE_FIELDS = ("request_type", "classification", "district", "street", "grid_cell", "latitude", "longitude")
"""Fields of `create_case` since 1.6: left out, intake's defaults apply (request type `help`)."""


def create_case(
    sessions: sessionmaker[Session], actor: Actor, fields: Mapping[str, Any]
) -> tuple[CaseSummary, list[MergeCandidate]]:
    """受理, and the likely duplicates of the case just taken (并单: for the centre's roles, who may merge;
    empty for others), in the same transaction."""
    kwargs: dict[str, Any] = {k: fields.get(k) for k in CASE_FIELDS}
    kwargs.update({k: fields[k] for k in OPTIONAL_CASE_FIELDS if fields.get(k) is not None})
    with transaction(sessions, actor, Msg.CREATE_CASE) as s:
        kwargs["confidential"] = bool(kwargs["confidential"])
        case = intake.create_case(s, actor, **kwargs)
        found = merging.candidates(s, actor, case.id, limit=5) if actor.role in CENTRE else []
        return summary(case, actor.role), [candidate_row(c, actor.role) for c in found]


def suggest_dispatch(sessions: sessionmaker[Session], actor: Actor, case_id: int) -> DispatchSuggestion:
    """The dispatch catalogue's rule for a case the actor may see (ari_app.cases.routing.suggest): its lead
    and co-units, or none (the centre dispatches by hand)."""
    with transaction(sessions, actor, Msg.SUGGEST_DISPATCH, case=case_id) as s:
        case = load_case(s, actor, case_id)
        rule = suggest(s, case, mode_of(settings_of(s), case))
        if rule is None:
            return DispatchSuggestion(case_id=case.id, rule_id=None, automatic=False, units=[])
        units = [s.get(CooperatingUnit, u) for u in rule.units]
        return DispatchSuggestion(
            case_id=case.id,
            rule_id=rule.rule_id,
            automatic=rule.automatic,
            units=[UnitInfo(id=u.id, name=u.name, level=u.level, parent_id=u.parent_id) for u in units if u],
        )


def classifications(sessions: sessionmaker[Session]) -> list[ClassificationInfo]:
    """The nodes a new case may name (not retired), parents before their children (ari_app.cases.catalogue)."""
    with sessions() as s:
        return [
            ClassificationInfo(code=n.code, name_zh=n.name_zh, name_en=n.name_en, level=n.level)
            for n in catalogue.nodes(s)
            if n.retired_at is None
        ]


def candidate_row(c: merging.Candidate, viewer: Viewer) -> MergeCandidate:
    sig = c.signals
    return MergeCandidate(
        case=summary(c.case, viewer),
        score=round(c.score, 4),
        signals=MergeSignals(
            text=round(sig.text, 4), address=round(sig.address, 4), category=sig.category, number=sig.number
        ),
        mergeable=c.mergeable,
    )


def merge_candidates(
    sessions: sessionmaker[Session], actor: Actor, case_id: int, limit: int = 10
) -> list[MergeCandidate]:
    """The likely duplicates of one case (ari_app.cases.merging.candidates), audited as a lookup."""
    with transaction(sessions, actor, Msg.MERGE_CANDIDATES, case=case_id) as s:
        found = merging.candidates(s, actor, case_id, limit=limit)
        audit(s, actor, "merge_candidates", case_id, settings_of(s).now(), found=[c.case.number for c in found])
        return [candidate_row(c, actor.role) for c in found]


def follow_ups_due(
    sessions: sessionmaker[Session], actor: Actor, limit: int = 100, offset: int = 0, overdue: bool = False
) -> list[CaseListItem]:
    """The follow-up due list (ari_app.cases.merging.follow_ups_due): handled cases and the duplicates of
    handled masters whose citizen has not been reached, the earliest due first, paged (`offset`, `limit`);
    `overdue`: only those past their due time. Audited as a lookup."""
    with transaction(sessions, actor, Msg.FOLLOW_UPS_DUE) as s:
        now = settings_of(s).now()
        found = merging.follow_ups_due(s, actor, now, overdue_only=overdue, limit=limit, offset=offset)
        audit(s, actor, "follow_ups_due", None, now, found=len(found), offset=offset, overdue=overdue)
        stalled = stalled_cases(s, [c.id for c in found])
        return [list_item(c, actor.role, now, stalled) for c in found]


def _ref(case: Case) -> CaseRef:
    return CaseRef(id=case.id, number=case.number, status=str(case.status), handled_at=iso(case.handled_at))


def caller_history(sessions: sessionmaker[Session], actor: Actor, caller: str, limit: int = 10) -> list[CaseSummary]:
    with transaction(sessions, actor, Msg.CALLER_HISTORY) as s:
        return [summary(c, actor.role) for c in lookups.caller_history(s, actor, caller, limit=limit)]


def pop_histories(sessions: sessionmaker[Session], callers: Iterable[str], limit: int) -> dict[str, list[CaseSummary]]:
    """The screen-pop's history of each caller (`lookups.histories`: the centre's view, unaudited), read in one
    session; the link audits each pop that shows one. The pop goes to centre agents only (ari_app.agents.desk),
    so confidential cases come masked (`disclosure.citizen_fields` for an agent)."""
    with sessions() as s:
        return {
            caller: [summary(c, Role.AGENT) for c in found]
            for caller, found in lookups.histories(s, callers, limit).items()
        }


def search_cases(
    sessions: sessionmaker[Session], actor: Actor, text: str | None, mine: bool, limit: int = 50
) -> list[CaseSummary]:
    with transaction(sessions, actor, Msg.SEARCH_CASES) as s:
        return [summary(c, actor.role) for c in lookups.search_cases(s, actor, text, limit=limit, mine=mine)]


# --- the unit / supervisor view: listing, one case in full, and the workflow actions ---------------------


def _overdue(case: Case, now: datetime) -> bool:
    return case.deadline_at is not None and case.status != CaseState.CLOSED and case.deadline_at < now


def list_item(case: Case, viewer: Viewer, now: datetime, stalled: Mapping[int, str]) -> CaseListItem:
    """A work-list row as `viewer` may see it (`summary`); `stalled` is `exchange.stalled_cases` for (at
    least) this case."""
    base = summary(case, viewer)
    return CaseListItem(
        **base,
        deadline_at=iso(case.deadline_at),
        overdue=_overdue(case, now),
        supervision_level=case.supervision_level,
        exchange_refusal=case.exchange_refusal,
        exchange_stalled=stalled.get(case.id),
        follow_up_due_at=iso(case.follow_up_due_at),
        follow_up_overdue=case.follow_up_due_at is not None and case.follow_up_due_at < now,
        follow_up_rating=str(case.follow_up_rating) if case.follow_up_rating is not None else None,
        send_back_required=follow_ups.needs_send_back(case),
    )


def list_cases(
    sessions: sessionmaker[Session],
    actor: Actor,
    *,
    status: str | None = None,
    statuses: Sequence[str] = (),
    open_only: bool = False,
    overdue: bool = False,
    return_pending: bool = False,
    extension_pending: bool = False,
    text: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[CaseListItem]:
    """The cases the actor may see (`access.visible`), filtered; most urgent first: those the hotline's own
    system refused (exchange mode, back with the centre), then by deadline (overdue first), then newest.
    `statuses`: any of these; `return_pending`: a unit's return (退单) waits for review; `extension_pending`:
    an extension (延期) waits for a decision; `offset`: rows of that order skipped (a page of a list).
    Audited as one lookup, like a search."""
    with transaction(sessions, actor, Msg.LIST_CASES) as s:
        settings = settings_of(s)
        now = settings.now()
        stmt = select(Case)
        cond = visible(actor, many=True)
        if cond is not None:
            stmt = stmt.where(cond)
        if status:
            stmt = stmt.where(Case.status == status)
        if statuses:
            stmt = stmt.where(Case.status.in_(list(statuses)))
        if return_pending:
            waiting = select(Dispatch.id).where(
                Dispatch.case_id == Case.id, Dispatch.status == DispatchStatus.RETURN_REQUESTED
            )
            stmt = stmt.where(waiting.exists())
        if extension_pending:
            asked = select(Extension.id).where(Extension.case_id == Case.id, Extension.status == RequestStatus.PENDING)
            stmt = stmt.where(asked.exists())
        if open_only:
            stmt = stmt.where(Case.status != CaseState.CLOSED)
        if overdue:
            stmt = stmt.where(Case.deadline_at.is_not(None), Case.deadline_at < now, Case.status != CaseState.CLOSED)
        if text and text.strip():
            like = f"%{text.strip()}%"
            stmt = stmt.where(
                or_(
                    Case.number.ilike(like),
                    Case.request.ilike(like),
                    Case.address.ilike(like),
                    matchable(actor.role, Case.caller.ilike(like)),
                )
            )
        stmt = stmt.order_by(
            Case.exchange_refusal.is_(None),
            Case.deadline_at.is_(None),
            Case.deadline_at,
            Case.created_at.desc(),
            Case.id.desc(),
        )
        found = list(s.scalars(stmt.limit(max(1, min(limit, 200))).offset(max(0, offset))))
        waits: dict[str, Any] = {"statuses": list(statuses)} if statuses else {}
        waits |= {"return_pending": True} if return_pending else {}
        waits |= {"extension_pending": True} if extension_pending else {}
        audit(
            s, actor, "list", None, now, status=status, open=open_only, overdue=overdue, text=text, found=len(found),
            **waits,
        )  # fmt: skip
        stalled = stalled_cases(s, [c.id for c in found])
        return [list_item(c, actor.role, now, stalled) for c in found]


def _own_units(s: Session, actor: Actor) -> set[int]:
    if actor.role is not Role.DEPARTMENT or actor.unit_id is None:
        return set()
    return set(s.scalars(unit_scope(actor)))


def _actions_now(s: Session, actor: Actor, case: Case) -> list[str]:
    """workflow.allowed_actions, narrowed for a department to what its own share of the case allows (a unit
    whose share is already accepted is not offered `accept` again), to coordinated cases for
    `escalate_to_leader`, to a merged case's master being handled for `follow_up`, and to actions a desktop
    makes."""
    actions = [a for a in workflow.allowed_actions(s, actor, case) if a in ACTION_REQUESTS or a in RULE_REQUESTS]
    waiting = {d.status for d in case.dispatches}
    if DispatchStatus.RETURN_REQUESTED not in waiting:  # nothing to review
        actions = [a for a in actions if a not in ("accept_return", "reject_return")]
    if not _pending_extensions(s, case):
        actions = [a for a in actions if a not in ("approve_extension", "refuse_extension")]
    if case.handling != Handling.COORDINATED:
        actions = [a for a in actions if a != "escalate_to_leader"]  # the workflow refuses it for these
    if case.status == CaseState.MERGED:  # followed up once the master is handled (ari_app.cases.merging)
        master = merging.master_of(s, case)
        if master is None or master.handled_at is None:
            actions = [a for a in actions if a != "follow_up"]
    if actor.role is Role.DEPARTMENT:
        own = [d for d in case.dispatches if d.unit_id in _own_units(s, actor)]
        mine = [d.status for d in own]
        need = {
            "accept": {DispatchStatus.PENDING},
            "return": {DispatchStatus.PENDING, DispatchStatus.ACCEPTED},
            "handle": {DispatchStatus.ACCEPTED},
            "report_progress": {DispatchStatus.ACCEPTED},
        }
        actions = [a for a in actions if a not in need or any(st in need[a] for st in mine)]
        if not _may_extend(s, own):
            actions = [a for a in actions if a != "request_extension"]
    return actions


def _may_extend(s: Session, own: list[Dispatch]) -> bool:
    """One of the unit's active shares may still ask for an extension: before its deadline, with none
    waiting (what workflow.request_extension checks)."""
    now = settings_of(s).now()
    open_shares = [d.id for d in own if d.status in ACTIVE_DISPATCH and d.deadline_at > now]
    if not open_shares:
        return False
    waiting = s.scalars(
        select(Extension.dispatch_id).where(
            Extension.dispatch_id.in_(open_shares), Extension.status == RequestStatus.PENDING
        )
    ).all()
    return bool(set(open_shares) - set(waiting))


def _pending_extensions(s: Session, case: Case) -> bool:
    found = s.scalar(
        select(Extension.id).where(Extension.case_id == case.id, Extension.status == RequestStatus.PENDING).limit(1)
    )
    return found is not None


def _request(r: DispatchReturn | Extension) -> UnitRequestInfo:
    return UnitRequestInfo(
        id=r.id,
        unit_id=r.unit_id,
        reason=r.reason,
        requested_at=r.requested_at.isoformat(),
        status=str(r.status),
        decided_at=iso(r.decided_at),
        decision_note=r.decision_note,
    )


def _returns(s: Session, case: Case) -> list[ReturnInfo]:
    rows = s.scalars(select(DispatchReturn).where(DispatchReturn.case_id == case.id).order_by(DispatchReturn.id))
    return [ReturnInfo(**_request(r), reason_code=str(r.reason_code)) for r in rows]


def _extensions(s: Session, case: Case) -> list[ExtensionInfo]:
    rows = s.scalars(select(Extension).where(Extension.case_id == case.id).order_by(Extension.id))
    return [
        ExtensionInfo(
            **_request(e),
            deadline_before=e.deadline_before.isoformat(),
            deadline_asked=e.deadline_asked.isoformat(),
        )
        for e in rows
    ]


def _progress_reports(s: Session, case: Case) -> list[ProgressReportInfo]:
    """The units' progress reports (阶段性回复) on the case, for everyone who may see it: a co-unit (协办) sees
    the lead's and the others' too, as it sees their shares."""
    lead = {d.id: d.lead for d in case.dispatches}
    return [
        ProgressReportInfo(
            id=r.id,
            dispatch_id=r.dispatch_id,
            unit_id=r.unit_id,
            unit_name=r.unit.name,
            lead=lead.get(r.dispatch_id, False),
            text=r.text,
            reported_at=r.reported_at.isoformat(),
        )
        for r in workflow.progress_reports(s, case)
    ]


def _dispatch_units(s: Session, case: Case) -> list[UnitInfo]:
    """The units workflow.dispatch would take for this case: active, of no hotline or the case's (only the
    case's hotline's own units on a sub-platform hotline), and not already on it."""
    own = CooperatingUnit.hotline == case.hotline
    if settings_of(s).mode(case.hotline) is not HotlineMode.SUB_PLATFORM:
        own = or_(CooperatingUnit.hotline.is_(None), own)
    stmt = (
        select(CooperatingUnit)
        .where(CooperatingUnit.active.is_(True), own)
        .order_by(CooperatingUnit.level, CooperatingUnit.name, CooperatingUnit.id)
        .limit(500)
    )
    taken = {d.unit_id for d in case.dispatches if d.status in OPEN_DISPATCH}
    return [
        UnitInfo(id=u.id, name=u.name, level=u.level, parent_id=u.parent_id)
        for u in s.scalars(stmt)
        if u.id not in taken
    ]


def detail(s: Session, actor: Actor, case: Case) -> CaseDetail:
    """The whole case for the person asking: its history records and what they may do now."""
    now = settings_of(s).now()
    actions = _actions_now(s, actor, case)
    row = list_item(case, actor.role, now, stalled_cases(s, [case.id]))
    row["request"] = case.request  # in full, not the summary's first 500 characters
    return CaseDetail(
        **row,
        language=case.language,
        channel=str(case.channel),
        updated_at=case.updated_at.isoformat(),
        handled_at=iso(case.handled_at),
        closed_at=iso(case.closed_at),
        resolution=case.resolution,
        leader_escalated=case.leader_escalated,
        dispatches=[
            DispatchInfo(
                id=d.id,
                unit_id=d.unit_id,
                unit_name=d.unit.name,
                lead=d.lead,
                status=str(d.status),
                dispatched_at=d.dispatched_at.isoformat(),
                deadline_at=d.deadline_at.isoformat(),
                overdue=d.status in ACTIVE_DISPATCH and d.deadline_at < now,
                instructions=d.instructions,
                accepted_at=iso(d.accepted_at),
                returned_at=iso(d.returned_at),
                return_reason=d.return_reason,
                handled_at=iso(d.handled_at),
                result=d.result,
                sign_for_deadline_at=iso(d.sign_for_deadline_at),
                signed_on_time=d.signed_on_time,
                feedback_deadline_at=iso(d.feedback_deadline_at),
            )
            for d in case.dispatches
        ],
        follow_ups=[
            FollowUpInfo(
                at=f.at.isoformat(),
                reached=f.reached,
                solved=f.solved,
                satisfaction=str(f.satisfaction) if f.satisfaction is not None else None,
                rating=str(f.rating) if f.rating is not None else None,
                channel=str(f.channel) if f.channel is not None else None,
                notes=f.notes,
                call_id=f.call_id,
            )
            for f in case.follow_ups
        ],
        reviews=[ReviewInfo(at=r.at.isoformat(), approved=r.approved, reason=r.reason) for r in case.reviews],
        supervisions=[
            SupervisionInfo(
                at=v.at.isoformat(), level=v.level, overdue=v.overdue, leader=v.leader, instructions=v.instructions
            )
            for v in case.supervisions
        ],
        allowed_actions=actions,
        dispatch_units=_dispatch_units(s, case) if "dispatch" in actions else [],
        transfers=transfers_of(s, case.call_id) if case.call_id else [],
        conference=[
            {**p, "number": participant_number(case, actor.role, p["role"], p["number"])}  # type: ignore[typeddict-item]
            for p in (participants(s, case.call_id) if case.call_id else [])
        ],
        master=_ref(m) if (m := merging.master_of(s, case)) is not None else None,
        duplicates=[_ref(d) for d in merging.duplicates_of(s, case.id)],
        attachments=[attachments.info(a) for a in attachments.of_case(s, case.id)],
        dispatch_deadline_at=iso(case.dispatch_deadline_at),
        redispatch_count=case.redispatch_count,
        send_back_count=case.send_back_count,
        problem_at=iso(case.problem_at),
        returns=_returns(s, case),
        extensions=_extensions(s, case),
        linkage=linkage_of(s, case),
        progress_reports=_progress_reports(s, case),
    )


def get_case(sessions: sessionmaker[Session], actor: Actor, case_id: int) -> CaseDetail:
    with transaction(sessions, actor, Msg.GET_CASE, case=case_id) as s:
        return detail(s, actor, lookups.get_case(s, actor, case_id))


_OPERATIONS: dict[Msg, tuple[Callable[..., Case], tuple[str, ...], tuple[str, ...]]] = {
    Msg.DISPATCH_CASE: (workflow.dispatch, (), ("units", "deadline_hours", "instructions")),
    Msg.ACCEPT_CASE: (workflow.accept, (), ()),
    Msg.RETURN_CASE: (workflow.return_case, ("reason",), ("reason_code",)),
    Msg.REVIEW_RETURN: (workflow.review_return, ("approved",), ("note",)),
    # deadline_at is read by the workflow, so a refusal is audited
    Msg.REQUEST_EXTENSION: (workflow.request_extension, ("reason", "deadline_at"), ()),
    Msg.DECIDE_EXTENSION: (workflow.decide_extension, ("approved",), ("note",)),
    Msg.HANDLE_CASE: (workflow.handle, ("result",), ()),
    Msg.REPORT_PROGRESS: (workflow.report_progress, ("text",), ()),
    Msg.FOLLOW_UP_CASE: (
        workflow.follow_up,
        ("reached",),
        ("solved", "satisfaction", "rating", "channel", "notes", "call_id"),
    ),
    Msg.REVIEW_CASE: (workflow.review, ("approved",), ("reason", "deadline_hours")),
    Msg.SUPERVISE_CASE: (workflow.supervise, ("instructions",), ()),
    Msg.ESCALATE_TO_LEADER: (workflow.escalate_to_leader, ("instructions",), ()),
    Msg.RESOLVE_DIRECTLY: (workflow.resolve_directly, ("resolution",), ()),
    Msg.FORWARD_CASE: (workflow.forward, (), ("address",)),
    Msg.SET_CONFIDENTIAL: (workflow.set_confidential, ("confidential",), ("reason",)),
    Msg.MERGE_CASES: (merging.merge, ("master_id",), ()),
    Msg.UNMERGE_CASE: (merging.unmerge, ("reason",), ()),
}
"""Each workflow request: the function it calls, the request's fields it must carry and those it may."""

WORKFLOW_REQUESTS = frozenset(_OPERATIONS)


def _operation(msg_type: str, fields: Mapping[str, Any]) -> tuple[Callable[..., Case], dict[str, Any]]:
    """The workflow function a workflow request calls, and its keyword arguments from the request (a field it
    may leave out is None, but for `units`, empty, and `channel`, phone)."""
    if msg_type not in WORKFLOW_REQUESTS:
        raise ValueError(f"{msg_type} is not a workflow request")
    op, required, optional = _OPERATIONS[Msg(msg_type)]
    kwargs = {name: fields[name] for name in required} | {name: fields.get(name) for name in optional}
    if "units" in kwargs:
        kwargs["units"] = list(kwargs["units"] or ())
    if "channel" in kwargs:
        kwargs["channel"] = kwargs["channel"] or "phone"
    return op, kwargs


def act(sessions: sessionmaker[Session], actor: Actor, msg_type: str, fields: Mapping[str, Any]) -> CaseDetail:
    """Run one workflow request (ari_app.cases.workflow) as `actor` in one transaction: it checks the
    role, the case's visibility and the transition, and audits; a refusal rolls everything back and is
    audited on its own (`refused`, with the request and the case asked for)."""
    op, kwargs = _operation(msg_type, fields)
    with transaction(sessions, actor, msg_type, case=fields["case_id"]) as s:
        case = op(s, actor, fields["case_id"], **kwargs)
        return detail(s, actor, case)


def reveal(sessions: sessionmaker[Session], actor: Actor, case_id: int) -> RevealedContact:
    """`reveal_contact`: the case's citizen in clear for a centre role, with one `reveal_contact` audit entry
    in the same transaction (`disclosure.reveal_contact`); any other role is refused
    (`case_contact_confidential`) with one `refused` entry, as every refusal."""
    with transaction(sessions, actor, Msg.REVEAL_CONTACT, case=case_id) as s:
        return revealed(reveal_contact(s, actor, case_id))


def add_attachment(sessions: sessionmaker[Session], actor: Actor, fields: Mapping[str, Any]) -> AttachmentInfo:
    """`add_attachment`: a file (base64 in `data`) on a case or a unit's result (ari_app.cases.attachments:
    its checks, its audit); a refusal is audited on its own, as every refusal, and writes no file."""
    case_id = fields["case_id"]
    with transaction(sessions, actor, Msg.ADD_ATTACHMENT, case=case_id) as s:
        try:
            data = base64.b64decode(fields["data"], validate=True)
        except ValueError:
            raise InvalidInput("data is not base64", field="data") from None
        row = attachments.add_attachment(
            s, actor, case_id, fields.get("filename"), data, dispatch_id=fields.get("dispatch_id")
        )
        return attachments.info(row)


def add_file(
    sessions: sessionmaker[Session], actor: Actor, case_id: int, filename: str | None, data: bytes
) -> AttachmentInfo:
    """`add_attachment` with the file's bytes as they are (the web front's upload, a multipart form): the
    same checks, audit and refusals; a department's file goes on its own share (its result)."""
    with transaction(sessions, actor, Msg.ADD_ATTACHMENT, case=case_id) as s:
        return attachments.info(attachments.add_attachment(s, actor, case_id, filename, data))


def list_attachments(sessions: sessionmaker[Session], actor: Actor, case_id: int) -> list[AttachmentInfo]:
    with transaction(sessions, actor, Msg.LIST_ATTACHMENTS, case=case_id) as s:
        return [attachments.info(a) for a in attachments.list_attachments(s, actor, case_id)]


def get_attachment(
    sessions: sessionmaker[Session], actor: Actor, token: str, offset: int = 0
) -> tuple[AttachmentInfo, bytes]:
    """`get_attachment`: the attachment of `token` and up to ATTACHMENT_CHUNK of its bytes from `offset`,
    for someone who may see its case. The first piece (offset 0) is audited (`attachment_read`); a refusal
    (`attachment_not_found`, also for another unit's case) is audited against the case the token names, so
    the case's trail shows who tried."""
    with sessions() as s:
        named = attachments.case_of_token(s, token)
    with transaction(sessions, actor, Msg.GET_ATTACHMENT, case=named) as s:
        opened = attachments.open_attachment(s, actor, token, audited=offset == 0)
        return attachments.info(opened.attachment), opened.read(offset, ATTACHMENT_CHUNK)


def attachment_file(sessions: sessionmaker[Session], actor: Actor, token: str) -> tuple[AttachmentInfo, Path]:
    """`get_attachment` for a reader that sends the whole file itself (the web front's download): the
    attachment of `token` and the file its bytes are in, for someone who may see its case; audited
    (`attachment_read`), and a refusal (`attachment_not_found`, also for another unit's case) against the
    case the token names."""
    with sessions() as s:
        named = attachments.case_of_token(s, token)
    with transaction(sessions, actor, Msg.GET_ATTACHMENT, case=named) as s:
        opened = attachments.open_attachment(s, actor, token)
        return attachments.info(opened.attachment), opened.path


def push_for(event: CaseEvent) -> dict[str, Any] | None:
    """The push a committed case event becomes (docs/protocol.md, "Live case updates"): `case_event` for the
    workflow's moves, `case_alert` for what the platform's own exchange work found; None for an event no
    desktop is told of. Ids, numbers and states only: the free text of a case is read with `get_case`,
    which checks and audits the read."""
    base: dict[str, Any] = {"case_id": event.case_id, "number": event.number, "at": event.at.isoformat()}
    fields: dict[str, Any]
    if isinstance(event, ExchangeAlert):
        if isinstance(event, ExchangeRefused):
            errors = [{"code": c, "description": d} for c, d in event.errors]
            fields = {"kind": "exchange_refused", "http_status": event.http_status, "errors": errors}
        elif isinstance(event, ExchangeStalled):
            fields = {"kind": "exchange_stalled", "attempts": event.attempts, "error": event.error}
        else:
            return None
        return base | {"type": Msg.CASE_ALERT, "hotline": event.hotline} | fields
    if isinstance(event, CaseCreated):
        fields = {"event": "created", "hotline": event.hotline}
    elif isinstance(event, CaseStatusChanged):
        fields = {"event": "status_changed", "action": event.action, "from": event.old, "to": event.new}
    elif isinstance(event, ShareEvent):
        fields = {
            "event": "dispatched" if isinstance(event, CaseDispatched) else "deadline_approaching",
            "unit_id": event.unit_id,
            "deadline_at": event.deadline_at.isoformat(),
        }
    elif isinstance(event, SupervisionRaised):
        fields = {
            "event": "supervision_raised",
            "level": event.level,
            "unit_id": event.unit_id,
            "overdue": event.overdue,
            "leader": event.leader,
        }
    else:
        return None
    return base | {"type": Msg.CASE_EVENT} | fields


def transfers_of(session: Session, call_id: str) -> list[TransferInfo]:
    """The call's transfers (ari_app.transfers), oldest first, as the case detail shows them."""
    rows = session.scalars(select(CallTransfer).where(CallTransfer.call_id == call_id).order_by(CallTransfer.id))
    return [transfer_info(r) for r in rows]
