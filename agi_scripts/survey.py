"""The satisfaction survey (FastAGI route `survey`): the agent hung up first; the citizen rates the call
on the keypad: 1 satisfied, 2 basically satisfied, 3 unsatisfied. This is the call's rating (一次一评); it is
stored with the key pressed and its level on the five-level scale (`Satisfaction.level`: 满意, 基本满意,
不满意; the prompt offers no 非常满意 or 非常不满意, docs/calls.md).

Robust by contract: a missing channel variable, the database failing or too slow, the citizen hanging up,
a wrong key, no key at all, Asterisk not answering a command or closing the connection each end the script
cleanly with a log line naming the call. The script sets `SURVEY_THANKED=1` once the caller has heard the
thanks; when it has not (and when the script could not be reached at all), [hotline-survey] in the dialplan
plays the thanks itself, so the call is never left in silence.

The answer is stored with the call (`survey_responses`) and, when the call has a case, put on the case as
its follow-up satisfaction record; the case side's step (ari_app.cases.surveys.link_call) is handed in by
the server's wiring as `on_answer`, so this package knows the tables only. Only for a call that is at its
survey, checked against the call records in the transaction that stores the answer: the call exists, is a
hotline call an agent answered, ended by the agent hanging up (the dialplan sends only those callers here)
no longer than SURVEY_WINDOW ago, and has no answer yet. Anything else is logged and nothing is stored, so a
request that names another call cannot rate it, nor take the place of its citizen's real answer. The
database work runs in a worker thread with a deadline, so a slow or unreachable database neither stalls the
CTI server's event loop nor keeps the citizen waiting: the thanks is played while the answer is being
stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agi_scripts.commands import AgiRequest, AsteriskGone, CallerHungUp, PromptFailed, command, variable
from schema.calls import CallRecord, CallState, EndReason
from schema.cases import FollowUp
from schema.surveys import DIGITS, KEYS, Satisfaction, SurveyResponse

log = logging.getLogger(__name__)

TRIES = 2
KEY_TIMEOUT_MS = 6000
COMMAND_TIMEOUT = KEY_TIMEOUT_MS / 1000 + 30.0
"""Longest wait for Asterisk's reply to one command (the question itself lasts about 8 s)."""
DB_TIMEOUT = 5.0
"""Longest wait for the answer to be stored before the script gives up on it (the thanks plays meanwhile)."""
SURVEY_WINDOW = timedelta(minutes=10)
"""How long after the agent hung up a call is still at its survey (the survey itself lasts under a minute)."""
SETTLE = 2.0
"""Seconds to wait for the call's record to show the agent's hang-up: the call tracker stores it a fraction
of a second after Asterisk's event, and a key pressed at once can come first."""
ALREADY_ANSWERED = "already answered"
NOT_ENDED_YET = "the call is not at its survey (still connected)"


AnswerLink = Callable[[Session, str, datetime], FollowUp | None]
"""The case side's step for a stored answer, run in a transaction of its own: (session, call id, now) ->
the follow-up it put on the call's case, or None (no case, or already on one)."""


def no_case_link(session: Session, call_id: str, now: datetime) -> FollowUp | None:
    """The default `on_answer`: the answer stays a call-level rating until the case runner's pass links it
    (ari_app.cases.surveys.link_pending)."""
    return None


def not_at_survey(session: Session, call_id: str, now: datetime) -> str | None:
    """Why call `call_id` (its Linkedid) may not be rated at `now`, or None when it may."""
    call = session.scalars(select(CallRecord).where(CallRecord.linkedid == call_id)).one_or_none()
    if call is None:
        return "no such call"
    if not call.hotline:
        return "not a hotline call"
    if call.answered_at is None or not call.agent:
        return "not answered by an agent"
    if session.scalar(select(exists().where(SurveyResponse.call_id == call_id))):
        return ALREADY_ANSWERED
    if call.state == CallState.CONNECTED:
        return NOT_ENDED_YET
    if call.state != CallState.ENDED or call.end_reason != EndReason.AGENT_HANGUP:
        return f"the call is not at its survey ({call.state}, {call.end_reason})"
    if call.ended_at is None or now - call.ended_at > SURVEY_WINDOW:
        return "the call's survey is over"
    return None


class Survey:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] | None = None,
        *,
        command_timeout: float = COMMAND_TIMEOUT,
        db_timeout: float = DB_TIMEOUT,
        settle: float = SETTLE,
        on_answer: AnswerLink = no_case_link,
    ) -> None:
        self.sessions = sessions
        self.on_answer = on_answer
        self.clock = clock or (lambda: datetime.now(UTC))
        self.command_timeout = command_timeout
        self.db_timeout = db_timeout
        self.settle = settle

    async def __call__(self, request: AgiRequest) -> None:
        call_id = "?"
        try:
            call_id = await self._variable(request, "CHANNEL(linkedid)") or "?"
            sounds = await self._variable(request, "HOTLINE_SOUNDS")
            lang = await self._variable(request, "PROMPT_LANG")
            if call_id == "?" or not sounds:
                log.error("survey for call %s: channel variables missing (HOTLINE_SOUNDS=%r)", call_id, sounds)
                return
            prompt = f"{sounds}/{lang or 'zh'}"
            rating = await self._ask(request, prompt, call_id)
            storing = None
            if rating is not None:
                storing = asyncio.create_task(self._store_in_time(call_id, rating))
            try:
                await self._command(request, f'STREAM FILE {prompt}/survey-thanks ""')
                await self._command(request, "SET VARIABLE SURVEY_THANKED 1")
            finally:
                if storing is not None:
                    await storing
        except CallerHungUp:
            log.info("survey for call %s: the caller hung up", call_id)
        except PromptFailed:
            await self._after_failed_command(request, call_id)
        except TimeoutError:  # before OSError, of which it is a subclass
            log.error("survey for call %s: Asterisk did not answer within %.0f s", call_id, self.command_timeout)
        except (AsteriskGone, ConnectionError, OSError) as exc:
            log.warning("survey for call %s: connection to Asterisk lost (%s)", call_id, exc)
        except Exception:
            log.exception("survey for call %s: unexpected error", call_id)

    async def _command(self, request: AgiRequest, text: str) -> tuple[str, str]:
        return await command(request, text, self.command_timeout)

    async def _variable(self, request: AgiRequest, name: str) -> str:
        return await variable(request, name, self.command_timeout)

    async def _after_failed_command(self, request: AgiRequest, call_id: str) -> None:
        """A command answered `result=-1`: the caller hung up, or a prompt could not be played (the
        dialplan then thanks the caller itself). CHANNEL STATUS tells which."""
        try:
            await self._command(request, "CHANNEL STATUS")
        except Exception:
            log.info("survey for call %s: the caller hung up", call_id)
            return
        log.error("survey for call %s: a prompt could not be played", call_id)

    async def _ask(self, request: AgiRequest, prompt: str, call_id: str) -> Satisfaction | None:
        for attempt in range(TRIES):
            key, _ = await self._command(request, f"GET DATA {prompt}/survey-question {KEY_TIMEOUT_MS} 1")
            if key in KEYS:
                return KEYS[key]
            log.info("survey for call %s: %s (attempt %d)", call_id, f"key {key!r}" if key else "no key", attempt + 1)
            if key:
                await self._command(request, f'STREAM FILE {prompt}/survey-invalid ""')
        log.info("survey for call %s: no valid answer", call_id)
        return None

    async def _store_in_time(self, call_id: str, rating: Satisfaction) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._store, call_id, rating), self.db_timeout)
        except TimeoutError:
            log.error(
                "survey for call %s: database did not answer within %.0f s; answer %s not confirmed",
                call_id,
                self.db_timeout,
                rating.value,
            )

    def _insert(self, call_id: str, rating: Satisfaction) -> tuple[str | None, datetime]:
        """Store the answer if the call is at its survey: (None, when) if stored, else (why not, when)."""
        deadline = time.monotonic() + self.settle
        while True:
            now = self.clock()
            with self.sessions.begin() as s:
                why = not_at_survey(s, call_id, now)
                if why is None:
                    s.add(
                        SurveyResponse(
                            call_id=call_id,
                            rating=rating.value,
                            digit=DIGITS[rating],
                            level=rating.level,
                            answered_at=now,
                        )
                    )
                    return None, now
            if why != NOT_ENDED_YET or time.monotonic() >= deadline:
                return why, now
            time.sleep(0.1)

    def _store(self, call_id: str, rating: Satisfaction) -> bool:
        """Store the answer, then (own transaction) put it on the call's case; a failure of the second step
        is left to the case runner's next pass."""
        try:
            why, now = self._insert(call_id, rating)
        except IntegrityError:
            why = ALREADY_ANSWERED
        except Exception:
            log.exception("survey for call %s: database error; answer %s not stored", call_id, rating.value)
            return False
        if why == ALREADY_ANSWERED:
            log.info("survey for call %s: already answered", call_id)
            return True
        if why is not None:
            log.warning("survey for call %s: answer %s not stored: %s", call_id, rating.value, why)
            return False
        log.info("survey for call %s: %s", call_id, rating.value)
        try:
            with self.sessions.begin() as s:
                follow_up = self.on_answer(s, call_id, now)
            if follow_up is not None:
                log.info("survey for call %s: on case %s as its follow-up", call_id, follow_up.case_id)
        except SQLAlchemyError:
            log.exception("survey for call %s: could not put the answer on the case (retried later)", call_id)
        return True
