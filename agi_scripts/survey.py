"""The satisfaction survey (FastAGI route `survey`): the agent hung up first; the citizen rates the call
on the keypad: 1 satisfied, 2 basically satisfied, 3 unsatisfied.

Robust by contract: a missing channel variable, a database error, the citizen hanging up, a wrong key or
no key at all each end the script cleanly with a log line naming the call; the dialplan thanks the caller
if the script could not, so the call is never left in silence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from schema.surveys import Satisfaction, SurveyResponse

log = logging.getLogger(__name__)

KEYS = {"1": Satisfaction.SATISFIED, "2": Satisfaction.BASICALLY, "3": Satisfaction.UNSATISFIED}
TRIES = 2
KEY_TIMEOUT_MS = 6000


class AgiRequest(Protocol):
    headers: dict[str, str]

    async def send_command(self, command: str) -> dict[str, Any]: ...


class CallerHungUp(Exception):
    pass


def _checked(reply: dict[str, Any]) -> tuple[str, str]:
    """(`result=` value, the value in parentheses) of an AGI reply; CallerHungUp when the channel is gone
    (`HANGUP`, `result=-1`, or 511 on a dead channel)."""
    if reply.get("error") in ("AGIResultHangup", "AGIAppError") or reply.get("status_code") == 511:
        raise CallerHungUp
    result = reply.get("result")
    if not isinstance(result, tuple):
        return "", ""
    return str(result[0]), str(result[1])


async def _variable(request: AgiRequest, name: str) -> str:
    found, value = _checked(await request.send_command(f"GET VARIABLE {name}"))
    return value if found == "1" else ""


class Survey:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] | None = None) -> None:
        self.sessions = sessions
        self.clock = clock or (lambda: datetime.now(UTC))

    async def __call__(self, request: AgiRequest) -> None:
        call_id = "?"
        try:
            call_id = await _variable(request, "CHANNEL(linkedid)") or "?"
            sounds = await _variable(request, "HOTLINE_SOUNDS")
            lang = await _variable(request, "PROMPT_LANG")
            if call_id == "?" or not sounds:
                log.error("survey for call %s: channel variables missing (HOTLINE_SOUNDS=%r)", call_id, sounds)
                return
            prompt = f"{sounds}/{lang or 'zh'}"
            rating = await self._ask(request, prompt, call_id)
            if rating is None:
                return
            stored = self._store(call_id, rating)
            await request.send_command(f'STREAM FILE {prompt}/survey-thanks ""')
            if not stored:
                log.error("survey for call %s: answer %s could not be stored", call_id, rating.value)
        except CallerHungUp:
            log.info("survey for call %s: the caller hung up", call_id)
        except (ConnectionError, OSError) as exc:
            log.warning("survey for call %s: connection to Asterisk lost (%s)", call_id, exc)

    async def _ask(self, request: AgiRequest, prompt: str, call_id: str) -> Satisfaction | None:
        for attempt in range(TRIES):
            key, _ = _checked(await request.send_command(f"GET DATA {prompt}/survey-question {KEY_TIMEOUT_MS} 1"))
            if key in KEYS:
                return KEYS[key]
            log.info("survey for call %s: %s (attempt %d)", call_id, f"key {key!r}" if key else "no key", attempt + 1)
            if key:
                await request.send_command(f'STREAM FILE {prompt}/survey-invalid ""')
        log.info("survey for call %s: no valid answer", call_id)
        return None

    def _store(self, call_id: str, rating: Satisfaction) -> bool:
        try:
            with self.sessions.begin() as s:
                s.add(SurveyResponse(call_id=call_id, rating=rating.value, answered_at=self.clock()))
        except IntegrityError:
            log.info("survey for call %s: already answered", call_id)
            return True
        except SQLAlchemyError:
            log.exception("survey for call %s: database error", call_id)
            return False
        log.info("survey for call %s: %s", call_id, rating.value)
        return True
