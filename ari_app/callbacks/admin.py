"""The administrator's operations on the callback requests (`hotline callbacks`): list them, and call off a
pending one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ari_app.callbacks.service import rows_changed
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.protocol import DomainError, ErrorId
from schema.callbacks import CallbackRequest, CallbackStatus


class CallbackNotCancellable(DomainError):
    """`cancel_callback` refused: no request for that call, or one that is not pending (`status` says which)."""

    error_id = ErrorId.CALLBACK_NOT_PENDING

    def __init__(self, call_id: str, status: str | None) -> None:
        why = "there is no callback request" if status is None else f"the callback request is {status}, not pending"
        super().__init__(f"call {call_id}: {why}", call_id=call_id, status=status)
        self.status = status


def cancel_callback(session: Session, call_id: str, by: Actor, now: datetime, reason: str = "") -> None:
    """Call off the pending callback request of call `call_id` (the citizen was reached another way, or asked by
    mistake): status `cancelled`, never dialled, `completed_at` now, `last_error` who and why; audited as
    `callback_cancelled`. Raises CallbackNotCancellable when there is no such request or it is not pending (a
    request being dialled is the dialer's until the attempt ends)."""
    cancelled = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.call_id == call_id, CallbackRequest.status == CallbackStatus.PENDING.value)
        .values(
            status=CallbackStatus.CANCELLED.value,
            completed_at=now,
            last_error=f"cancelled by {by.login}{': ' + reason if reason else ''}"[:200],
        )
    )
    if not rows_changed(cancelled):
        status = session.scalar(select(CallbackRequest.status).where(CallbackRequest.call_id == call_id))
        raise CallbackNotCancellable(call_id, status)
    audit(session, by, "callback_cancelled", None, now, call_id=call_id, reason=reason)


def list_callbacks(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.scalars(select(CallbackRequest).order_by(CallbackRequest.requested_at.desc()).limit(limit))
    return [
        {
            "call_id": r.call_id,
            "hotline": r.hotline,
            "number": r.number,
            "number_raw": r.number_raw,
            "status": r.status,
            "requested_at": r.requested_at.isoformat(),
            "attempts": r.attempts,
            "last_error": r.last_error,
            "completed_at": r.completed_at.isoformat() if r.completed_at else None,
        }
        for r in rows
    ]
