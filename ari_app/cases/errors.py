"""Domain errors of the case workflow. Each carries a stable `error_id` the desktop and the protocol can
act on; the message is for people."""

from __future__ import annotations

from typing import Any


class CaseError(Exception):
    """Base of every refusal from the case workflow."""

    error_id = "case_error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class CaseNotFound(CaseError):
    """No such case, or one the actor may not see (the two are not told apart, so nothing leaks)."""

    error_id = "case_not_found"


class PermissionDenied(CaseError):
    """The actor may see the case but not do this to it."""

    error_id = "case_permission_denied"


class TransitionForbidden(CaseError):
    """The state machine has no such transition from the case's current status."""

    error_id = "case_transition_forbidden"


class InvalidInput(CaseError):
    """An argument is missing or out of range; `detail['field']` names it."""

    error_id = "case_invalid_input"


class UnknownHotline(CaseError):
    error_id = "case_unknown_hotline"


class NotConfigured(CaseError):
    """The session was not given the case settings at wiring time (see ari_app.cases.settings.configure)."""

    error_id = "cases_not_configured"


class ExchangeRequirement(InvalidInput):
    """Exchange mode: the hotline's own system would refuse the case as it stands (GeoReport v2: a request
    needs a location; its service definition may require attributes, or it may not offer the service).
    `detail['field']` names what is missing: `address`, `category`, or `attribute:<code>`;
    `detail['requirement']` the receiver's own words for it when it gave any."""

    error_id = "case_exchange_requires"
