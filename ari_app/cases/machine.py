"""The case as one explicit state machine: every allowed transition, and who may make it, in one table.

    received ──resolve_directly──────────────────────────────────────────────> closed
       │ ──forward (exchange mode)──> exchanged ──exchange_update(closed)────> closed
       │                       forward ^   │ exchange_refused (the receiver's 4xx: back on the centre's list)
       │                               returned ──resolve_directly──> closed        (exchange mode)
       └─dispatch─> dispatched ──accept──> in_progress ──handle──> handled ──follow_up──> followed_up
                      │   ^                    ^                                              │
                      │   └─dispatch─ returned │                                    approve──┴──send_back
                      └─accept_return (all)──┘ └───────────────── send_back ────────────────────┘
                                                                              approve ──> closed

A unit's `return` (退单) is a request: the case stays where it is until the reviewer's `accept_return` (the
share ends; with no unit left the case is `returned`) or `reject_return` (the unit keeps it). Extensions
(`request_extension`, then `approve_extension` or `refuse_extension`) change no status, nor does a unit's
progress report (阶段性回复, `report_progress`) on its signed-for share of a case in progress.

    received, returned ──merge──> merged ──master_closed──> closed          (并单: a duplicate of a master case)
                                    │  ^ follow_up (the master handled)
                                    │  └─┘
                                    └──unmerge──> received

A duplicate merged into a master case (ari_app.cases.merging) waits in `merged`: it has no unit work of its
own (only a case without open shares may be merged), its shown progress is the master's, and it is followed
up like the master once the master is handled. When the master closes, each of its duplicates closes with
it (`master_closed`, made by whoever closed the master, in the same transaction). A supervisor may take a
duplicate out again while its master is open (`unmerge`: back to `received`, to be handled on its own).

Coordinated cases (归口协办) have several dispatches; the case moves on when the last open one does, which
is why some actions list more than one target: the workflow computes the target, this table says whether
it is allowed. Self-loops (supervise, escalate, escalate_to_leader, report_progress, a co-unit accepting)
change no status but are checked and audited like any other action.

Who may act depends on the hotline's mode: in *collaborative* mode the centre's agents and supervisors
dispatch, follow up and review; in *sub-platform* mode the hotline unit's staff do; in *exchange* mode the
hotline's own system does, and its updates arrive as the platform's system actor (role admin).
Department staff act only on their own unit's dispatches (checked by ari_app.cases.workflow).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ari_app.cases.errors import PermissionDenied, TransitionForbidden
from ari_app.config import HotlineMode
from schema.users import Role


class CaseState(StrEnum):
    RECEIVED = "received"  # 受理: taken, not yet dispatched
    DISPATCHED = "dispatched"  # 派遣: waiting for the unit(s) to accept
    RETURNED = "returned"  # 退回: every unit said it is not theirs; waiting to be dispatched again
    IN_PROGRESS = "in_progress"  # 办理: a unit is working on it
    HANDLED = "handled"  # the unit(s) reported a result; waiting for follow-up
    FOLLOWED_UP = "followed_up"  # 回访 done; waiting for review
    EXCHANGED = "exchanged"  # with the hotline's own system (exchange mode)
    MERGED = "merged"  # 并单: a duplicate following its master case (cases.master_case_id)
    CLOSED = "closed"  # 办结

    @property
    def open(self) -> bool:
        return self is not CaseState.CLOSED


class Action(StrEnum):
    RESOLVE_DIRECTLY = "resolve_directly"
    DISPATCH = "dispatch"
    FORWARD = "forward"
    ACCEPT = "accept"
    RETURN = "return"
    HANDLE = "handle"
    FOLLOW_UP = "follow_up"
    APPROVE = "approve"
    SEND_BACK = "send_back"
    SUPERVISE = "supervise"
    ESCALATE = "escalate"
    ESCALATE_TO_LEADER = "escalate_to_leader"
    EXCHANGE_UPDATE = "exchange_update"
    EXCHANGE_REFUSED = "exchange_refused"
    MERGE = "merge"
    UNMERGE = "unmerge"
    MASTER_CLOSED = "master_closed"
    ACCEPT_RETURN = "accept_return"
    REJECT_RETURN = "reject_return"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REFUSE_EXTENSION = "refuse_extension"
    REPORT_PROGRESS = "report_progress"


@dataclass(frozen=True)
class Rule:
    """From `source`, `action` may lead to any of `targets`, made by `roles[mode]`."""

    action: Action
    source: CaseState
    targets: frozenset[CaseState]
    roles: Mapping[HotlineMode, frozenset[Role]]


_C, _X, _S = HotlineMode.COLLABORATIVE, HotlineMode.EXCHANGE, HotlineMode.SUB_PLATFORM
S = CaseState
_NONE: frozenset[Role] = frozenset()
CENTRE = frozenset({Role.AGENT, Role.SUPERVISOR})
SUPERVISOR = frozenset({Role.SUPERVISOR})
HOTLINE_UNIT = frozenset({Role.HOTLINE_UNIT})
DEPARTMENT = frozenset({Role.DEPARTMENT})
SYSTEM = frozenset({Role.ADMIN})


def _who(
    collaborative: frozenset[Role] = _NONE, exchange: frozenset[Role] = _NONE, sub_platform: frozenset[Role] = _NONE
) -> dict[HotlineMode, frozenset[Role]]:
    return {_C: collaborative, _X: exchange, _S: sub_platform}


_DISPATCHER = _who(collaborative=CENTRE, sub_platform=HOTLINE_UNIT)
_REVIEWER = _who(collaborative=SUPERVISOR, sub_platform=HOTLINE_UNIT)
_UNIT = _who(collaborative=DEPARTMENT, sub_platform=DEPARTMENT)
_CLOCK = _who(collaborative=SYSTEM, sub_platform=SYSTEM)


def _rule(
    action: Action, source: CaseState, targets: set[CaseState], roles: dict[HotlineMode, frozenset[Role]]
) -> Rule:
    return Rule(action, source, frozenset(targets), roles)


def _stays(
    action: Action,
    roles: dict[HotlineMode, frozenset[Role]],
    sources: tuple[CaseState, ...] = (S.DISPATCHED, S.IN_PROGRESS),
) -> tuple[Rule, ...]:
    """`action` from each of `sources` (by default a case with units on it), leaving the case where it is."""
    return tuple(_rule(action, source, {source}, roles) for source in sources)


RULES: tuple[Rule, ...] = (
    _rule(Action.RESOLVE_DIRECTLY, S.RECEIVED, {S.CLOSED}, _who(CENTRE, CENTRE, CENTRE | HOTLINE_UNIT)),
    _rule(Action.FORWARD, S.RECEIVED, {S.EXCHANGED}, _who(exchange=CENTRE | SYSTEM)),
    _rule(Action.EXCHANGE_UPDATE, S.EXCHANGED, {S.EXCHANGED, S.CLOSED}, _who(exchange=SYSTEM)),
    # The hotline's own system refused the request for good (GeoReport v2 4xx): back to the centre, which
    # forwards it again once corrected, or answers it itself.
    _rule(Action.EXCHANGE_REFUSED, S.EXCHANGED, {S.RETURNED}, _who(exchange=SYSTEM)),
    _rule(Action.FORWARD, S.RETURNED, {S.EXCHANGED}, _who(exchange=CENTRE | SYSTEM)),
    _rule(Action.RESOLVE_DIRECTLY, S.RETURNED, {S.CLOSED}, _who(exchange=CENTRE)),
    _rule(Action.DISPATCH, S.RECEIVED, {S.DISPATCHED}, _DISPATCHER),
    _rule(Action.DISPATCH, S.RETURNED, {S.DISPATCHED}, _DISPATCHER),
    *_stays(Action.DISPATCH, _DISPATCHER),  # a co-unit of a coordinated case
    _rule(Action.ACCEPT, S.DISPATCHED, {S.IN_PROGRESS}, _UNIT),
    _rule(Action.ACCEPT, S.IN_PROGRESS, {S.IN_PROGRESS}, _UNIT),
    # 退单 (ari_app.cases.returns): the unit asks; the centre reviews (派单异议审核, 国办发〔2020〕53号). Accepted,
    # the share ends and the case goes back to be re-dispatched when no unit is left; rejected, the unit keeps it.
    *_stays(Action.RETURN, _UNIT),
    _rule(Action.ACCEPT_RETURN, S.DISPATCHED, {S.RETURNED, S.DISPATCHED, S.IN_PROGRESS}, _REVIEWER),
    _rule(Action.ACCEPT_RETURN, S.IN_PROGRESS, {S.RETURNED, S.DISPATCHED, S.IN_PROGRESS, S.HANDLED}, _REVIEWER),
    *_stays(Action.REJECT_RETURN, _REVIEWER),
    # 延期 (ari_app.cases.extensions): the unit asks before its deadline; the centre (the hotline unit) decides.
    *_stays(Action.REQUEST_EXTENSION, _UNIT),
    *_stays(Action.APPROVE_EXTENSION, _REVIEWER),
    *_stays(Action.REFUSE_EXTENSION, _REVIEWER),
    # 阶段性回复 (ari_app.cases.workflow.report_progress): a unit whose share is signed for tells how far it got.
    _rule(Action.REPORT_PROGRESS, S.IN_PROGRESS, {S.IN_PROGRESS}, _UNIT),
    _rule(Action.HANDLE, S.IN_PROGRESS, {S.IN_PROGRESS, S.HANDLED}, _UNIT),
    _rule(Action.FOLLOW_UP, S.HANDLED, {S.HANDLED, S.FOLLOWED_UP}, _DISPATCHER),
    _rule(Action.FOLLOW_UP, S.CLOSED, {S.CLOSED}, _who(CENTRE, CENTRE, CENTRE | HOTLINE_UNIT)),
    _rule(Action.APPROVE, S.FOLLOWED_UP, {S.CLOSED}, _REVIEWER),
    _rule(Action.SEND_BACK, S.FOLLOWED_UP, {S.IN_PROGRESS}, _REVIEWER),
    *_stays(Action.SUPERVISE, _REVIEWER, (S.DISPATCHED, S.RETURNED, S.IN_PROGRESS)),
    *_stays(Action.ESCALATE, _CLOCK),
    *_stays(Action.ESCALATE_TO_LEADER, _REVIEWER),
    # 并单 (ari_app.cases.merging): the centre merges a duplicate without unit work of its own into a master.
    _rule(Action.MERGE, S.RECEIVED, {S.MERGED}, _who(CENTRE, CENTRE, CENTRE)),
    _rule(Action.MERGE, S.RETURNED, {S.MERGED}, _who(CENTRE, CENTRE, CENTRE)),
    _rule(Action.UNMERGE, S.MERGED, {S.RECEIVED}, _who(SUPERVISOR, SUPERVISOR, SUPERVISOR)),
    _rule(Action.FOLLOW_UP, S.MERGED, {S.MERGED}, _who(CENTRE, CENTRE, CENTRE | HOTLINE_UNIT)),
)

_CLOSERS = frozenset(
    role
    for r in RULES
    if S.CLOSED in r.targets and r.source is not S.CLOSED
    for roles in r.roles.values()
    for role in roles
)
"""Everyone who may close some case: the master's closing, by any of them, closes its duplicates."""
RULES += (_rule(Action.MASTER_CLOSED, S.MERGED, {S.CLOSED}, _who(_CLOSERS, _CLOSERS, _CLOSERS)),)

TABLE: dict[tuple[Action, CaseState], Rule] = {(r.action, r.source): r for r in RULES}
assert len(TABLE) == len(RULES), "one rule per (action, source)"


def rule_for(action: Action, source: CaseState) -> Rule | None:
    return TABLE.get((action, source))


def allowed_roles(action: Action, source: CaseState, mode: HotlineMode) -> frozenset[Role]:
    rule = TABLE.get((action, source))
    return rule.roles[mode] if rule else _NONE


def check(action: Action, source: CaseState, target: CaseState, role: Role, mode: HotlineMode) -> None:
    """Raise TransitionForbidden if the table has no such move, PermissionDenied if `role` may not make it."""
    rule = TABLE.get((action, source))
    if rule is None or target not in rule.targets:
        raise TransitionForbidden(
            f"a case that is {source} cannot be {action} (to {target})",
            action=str(action),
            status=str(source),
            target=str(target),
        )
    if role not in rule.roles[mode]:
        raise PermissionDenied(
            f"role {role} may not {action} a {source} case of a {mode} hotline",
            action=str(action),
            status=str(source),
            role=str(role),
            mode=str(mode),
        )


def actions_for(source: CaseState, role: Role, mode: HotlineMode) -> list[Action]:
    """What `role` may do to a case in `source` (the desktop enables its buttons from this)."""
    return [r.action for r in RULES if r.source is source and role in r.roles[mode]]
