"""The server's side of the recordings package (recordings.service): which ended calls get their recording
checked, and the audit entry of a recording that failed its check. Wired in ari_app/server.py:

    service = TranscriptionService(sessions, cfg.recordings_path, audit_failure=audit_recording_failure)
    bus.subscribe(stored_first(store, check_when_ended(service)), CallEnded)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from ari_app.calls.events import CallEnded, CallEvent, QueueMemberChanged
from ari_app.cases.actor import SYSTEM
from ari_app.cases.audit import audit
from recordings.service import RecordingFailure, TranscriptionService
from schema.calls import CallState


def check_when_ended(service: TranscriptionService) -> Callable[[CallEvent | QueueMemberChanged], None]:
    """A call tracker subscriber: a CallEnded starts the check of the call's recording (`service.call_ended`).
    Subscribe it through `stored_first` (ari_app.server): the call store has written the ended call before it
    runs. A refused call (overflow, not a hotline) was never recorded: in a storm those are most calls, and
    cost no database read."""

    def on_call_event(event: CallEvent | QueueMemberChanged) -> None:
        if isinstance(event, CallEnded) and event.state is not CallState.REJECTED:
            service.call_ended(event.call_id)

    return on_call_event


def audit_recording_failure(session: Session, failure: RecordingFailure, now: datetime) -> None:
    """The audit entry of a recording that failed its check (`recording_failed`, by `system`), in the
    transaction that marks the call."""
    audit(session, SYSTEM, "recording_failed", None, now, call_id=failure.call_id, recording=failure.recording,
          reason=failure.reason)  # fmt: skip
