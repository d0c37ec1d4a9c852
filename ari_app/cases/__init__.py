"""The government case path (issue 4): intake, dispatch to cooperating units, deadlines and supervision,
follow-up, review and closure, in each hotline's mode (collaborative, exchange, sub-platform).

    machine.py     the one state machine: statuses, the transition table and who may make each move
    access.py      who sees which cases, loading a visible case, reading a request's fields, checking an
                   action, `transition` (the one place a status changes)
    audit.py       the audit entries; a refused request audited in a transaction of its own (`transaction`,
                   `refusals_audited`, `record_refusal`)
    intake.py      受理: numbering, the category, the request type, the classification, `create_case`
    catalogue.py   the classification catalogue (GB/T 39666-style codes): nodes added, renamed, retired,
                   the CSV import and export
    routing.py     the dispatch catalogue (派单目录): rules classification × area → lead and co-units, which
                   one fits a case (`suggest`), admins' edits and the CSV import and export
    workflow.py    every move after intake (派单, 签收, 退回, 办结, 回访, 审核, 督办, 转办, 保密) and `allowed_actions`
    disclosure.py  who sees a case's citizen (保密工单): `citizen_fields`, the one outward view of the name,
                   contact and caller for a viewer; `matchable` for searches; the audited `reveal_contact`
    merging.py     并单: the likely duplicates of a case, merging into a master case, the follow-up due list
    lookups.py     one case, a caller's earlier cases, a search: `get_case`, `caller_history`, `histories`,
                   `search_cases`
    queries.py     what a desktop asks for, each request in its own transaction; sign-in's user record; the
                   push each case event becomes (desk.py puts them on the link)
    events.py      the typed case events with their audience, published after each commit
    deadlines.py   time left, overdue escalation (督办) with levels, on an injected clock
    exchange.py    Open311 GeoReport v2 outbox and the status updates coming back
    linkage.py     联动: a call handed to 110/119/120, the case's work order pushed to the partner's receiver
    surveys.py     keypad survey answers become the follow-up of the call's case
    runner.py      the periodic work: overdue escalation, the exchange outbox, survey answers
    kpi.py         intake, handling, closure, on-time and satisfaction rates; report.py writes them out
    oversight.py   the read-mostly views: overdue and problem work orders, the KPI report in the reader's
                   scope (a hotline unit's hotline), the unit ranking
    trail.py       reading the audit trail (`hotline audit`)
    settings.py    what the workflow needs from the deployment, riding on the Session; actor.py, errors.py

The operations in intake, workflow and lookups take a Session, the acting user and their arguments; check
on the server side that the actor may see the case and may make the move (machine, through access); and
write the audit entry in the same transaction as the change (audit).

Transactions: these functions flush but never commit. The caller owns the transaction (`with
session.begin(): ...` or `session.commit()`), so a change and its audit entry are committed together or not
at all; after the commit, `ari_app.cases.events.take_events(session)` hands over who must act next.
The session must carry the case settings (`ari_app.cases.configure`). Whoever runs a request for a person
runs it inside `audit.transaction(...)`, so a refusal is rolled back and then audited on its own. The
desktop link does so for every request (queries.py); a web front would do the same.
"""

from ari_app.cases.actor import SYSTEM, Actor
from ari_app.cases.errors import (
    CaseError,
    CaseNotFound,
    InvalidInput,
    NotConfigured,
    PermissionDenied,
    TransitionForbidden,
    UnknownHotline,
)
from ari_app.cases.machine import Action, CaseState
from ari_app.cases.settings import CaseSettings, EscalationPolicy, configure

__all__ = [
    "SYSTEM",
    "Action",
    "Actor",
    "CaseError",
    "CaseNotFound",
    "CaseSettings",
    "CaseState",
    "EscalationPolicy",
    "InvalidInput",
    "NotConfigured",
    "PermissionDenied",
    "TransitionForbidden",
    "UnknownHotline",
    "configure",
]
