"""The government case path (issue 4): intake, dispatch to cooperating units, deadlines and supervision,
follow-up, review and closure, in each hotline's mode (collaborative, exchange, sub-platform).

    machine.py     the one state machine: statuses, the transition table and who may make each move
    service.py     the operations (Session + Actor + arguments), with visibility, permission and audit
    deadlines.py   time left, overdue escalation (督办) with levels, on an injected clock
    exchange.py    Open311 GeoReport v2 outbox and the status updates coming back
    kpi.py         intake, handling, closure, on-time and satisfaction rates; report.py writes them out
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
