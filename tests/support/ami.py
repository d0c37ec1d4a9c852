"""Asterisk's own AMI events for the end-to-end tests that time what Asterisk did: `AmiEvents` keeps the queue
and agent events a test names besides the UserEvents, on one AMI session that also sends actions, and
`stamped` reads when Asterisk sent an event (not when the test got round to looking)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.support.e2e import AmiUserEvents


def stamped(event: dict[str, str]) -> float:
    """When Asterisk sent `event`, in seconds since the epoch: its Timestamp header (manager.conf's
    timestampevents=yes, dialplan/manager.conf.template), taken as Asterisk stamped it, so a span between two
    events is Asterisk's time whatever the test's process was doing meanwhile."""
    assert "Timestamp" in event, f"an AMI event without Timestamp (manager.conf timestampevents=yes?): {event}"
    return float(event["Timestamp"])


class AmiEvents(AmiUserEvents):
    """Every UserEvent, as `AmiUserEvents` keeps them, and also the AMI events named in `names` (Event header:
    QueueCallerJoin, AgentConnect, ...) of the event classes `classes` (manager.conf read classes; the AMI user
    of `config` receives only the events its eventfilter lets through). The session logs in as AmiUserEvents
    does and then widens its event mask with the Events action before __enter__ returns; `action` sends an
    action on the same session, so what a test does is not delayed by a process start or a new login.

    `events` holds (time.monotonic() on arrival, headers) pairs in arrival order."""

    def __init__(self, config: Path, names: Iterable[str], classes: str = "user,agent") -> None:
        super().__init__(config)
        self._names = frozenset(names) | {"UserEvent"}
        self._classes = classes
        self._responses: dict[str, dict[str, str]] = {}
        self._arrived = threading.Condition()
        self._sent = 0

    def __enter__(self) -> AmiEvents:
        super().__enter__()
        try:
            reply = self.action("Events", EventMask=self._classes)
            assert reply.get("Response") == "Success", f"AMI Events {self._classes} refused: {reply}"
        except BaseException:
            self.__exit__()
            raise
        return self

    def _read(self, reader: Any) -> None:
        try:
            while True:
                msg = self._block(reader)
                with self._arrived:
                    if msg.get("Event") in self._names:
                        self.events.append((time.monotonic(), msg))
                    elif "Response" in msg and "ActionID" in msg:
                        self._responses[msg["ActionID"]] = msg
                    self._arrived.notify_all()
        except (OSError, ValueError, ConnectionError):
            return  # closed by __exit__

    def action(self, name: str, within: float = 10, **fields: str) -> dict[str, str]:
        """Send the AMI action `name` with `fields` and return Asterisk's response (its headers); fail after
        `within` seconds without one."""
        assert self._sock is not None, "AmiEvents used outside its with block"
        self._sent += 1
        action_id = f"e2e-events-{self._sent}"
        lines = [f"Action: {name}", f"ActionID: {action_id}", *(f"{k}: {v}" for k, v in fields.items())]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        with self._arrived:
            if not self._arrived.wait_for(lambda: action_id in self._responses, within):
                raise AssertionError(f"no AMI response to {name} within {within} s")
            return self._responses.pop(action_id)

    def wait(self, event: str, within: float, what: str, after: float = 0.0, **headers: str) -> dict[str, str]:
        """The first `event` (Event header) with all of `headers`, stamped by Asterisk after `after` (epoch
        seconds; 0: any), waited for on the reader's notification; fail naming `what` after `within` seconds."""
        return self.first(
            lambda e: (
                e.get("Event") == event
                and all(e.get(k) == v for k, v in headers.items())
                and (not after or stamped(e) > after)
            ),
            within,
            f"{what} (AMI {event} {headers})",
        )

    def first(
        self, wanted: Callable[[dict[str, str]], bool], within: float, what: str, since: int = 0
    ) -> dict[str, str]:
        """The first event kept that is `wanted` (from `events[since]` on), waited for on the reader's
        notification; fail naming `what` after `within` seconds."""
        with self._arrived:
            match = self._arrived.wait_for(
                lambda: next((e for _at, e in self.events[since:] if wanted(e)), None), within
            )
        if match is None:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        return match
