"""Refusals of the missed-call worklist; each carries its stable `ErrorId` (docs/protocol.md, "Errors")."""

from __future__ import annotations

from ari_app.protocol import DomainError, ErrorId


class MissedCallError(DomainError):
    """Base of every refusal of the missed-call worklist."""

    error_id = ErrorId.MISSED_CALL_NOT_FOUND


class MissedCallNotFound(MissedCallError):
    error_id = ErrorId.MISSED_CALL_NOT_FOUND


class MissedCallClaimed(MissedCallError):
    """Another agent's claim on the task has not lapsed yet (`claimed_by`, `claim_until` in the detail)."""

    error_id = ErrorId.MISSED_CALL_CLAIMED


class MissedCallClosed(MissedCallError):
    """The task is closed (`status` in the detail): called back, the citizen got through, or a wrong number."""

    error_id = ErrorId.MISSED_CALL_CLOSED


class MissedCallPermissionDenied(MissedCallError):
    """Only the centre's agents and supervisors (and administrators) work the worklist."""

    error_id = ErrorId.MISSED_CALL_PERMISSION_DENIED
