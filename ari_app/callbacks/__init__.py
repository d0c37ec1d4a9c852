"""Callback instead of waiting: store each request durably, and call the citizens back, oldest first, as
agents become free.

A request is stored when the tracker reports `CallbackRequested` (the caller pressed the callback key in
the queue). The dialer looks for due requests whenever something may have freed an agent (a call ended, a
queue member changed) and every few seconds; for each free agent it asks Asterisk to call one citizen back
(AMI Originate into [hotline-inbound] with CALLBACK_OF set, so the answered callback is queued ahead of
everyone and its screen-pop says it is a callback). Unanswered callbacks are retried after
`callback.retry_seconds`, up to `callback.max_attempts`.

After a restart, requests that were being dialled when the server stopped are dialled again: a citizen may
be called twice, never not at all.

Numbers: a request stores the caller's canonical number (ari_app.calls.numbers) and the caller id as the
carrier delivered it (`number_raw`); the callback dials the number in the form the callback trunk dials
(`NumberPlan.dial_string`: 13812345678, 09914567890, 0016502530000).

    service.py   CallbackService: stores the requests (CallbackRequested events) and runs the dialer (its
                 AMI side behind the Dialer port)
    admin.py     the administrator's operations: list the requests, cancel a pending one (`hotline callbacks`)

Neither knows the link or AMI (contract in pyproject.toml).
"""

from ari_app.callbacks.admin import CallbackNotCancellable, cancel_callback, list_callbacks
from ari_app.callbacks.service import CallbackService, Dialer

__all__ = ["CallbackNotCancellable", "CallbackService", "Dialer", "cancel_callback", "list_callbacks"]
