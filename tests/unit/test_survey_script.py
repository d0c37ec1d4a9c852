"""The survey script against scripted AGI replies (the lines Asterisk sends, parsed by panoramisk): each
failure path ends cleanly, with the call id in the log, and stores at most one answer, only for a call that
is at its survey (a hotline call an agent answered and hung up on just now, not yet rated)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from agi_scripts.survey import Survey
from schema.calls import CallRecord
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.surveys import SurveyResponse
from tests.support.calls import VARS, ScriptedAgi, store_call


@pytest.fixture
def survey(tmp_path: Path) -> Survey:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    made = Survey(make_sessionmaker(engine), settle=0.3)
    store_call(made, "1795930000.7")
    return made


def _ratings(survey: Survey) -> list[tuple[str, str]]:
    with survey.sessions() as s:
        return [tuple(r) for r in s.execute(select(SurveyResponse.call_id, SurveyResponse.rating))]  # type: ignore[misc]


async def test_answer_stored_once_and_thanked(survey: Survey) -> None:
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=2"]})
    await survey(agi)
    assert _ratings(survey) == [("1795930000.7", "basically_satisfied")]
    assert agi.commands[-3:] == [
        "GET DATA /var/lib/hotline/sounds/zh/survey-question 6000 1",
        'STREAM FILE /var/lib/hotline/sounds/zh/survey-thanks ""',
        "SET VARIABLE SURVEY_THANKED 1",
    ]
    with survey.sessions() as s:  # the key pressed and its five-level rating (一次一评) beside the answer
        assert s.execute(select(SurveyResponse.digit, SurveyResponse.level)).one() == ("2", "basically_satisfied")
    again = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=3"]})
    await survey(again)  # the same call cannot rate twice
    assert _ratings(survey) == [("1795930000.7", "basically_satisfied")]


async def test_bad_key_then_timeout(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=7", "200 result= (timeout)"]})
    await survey(agi)
    assert _ratings(survey) == []
    assert [c for c in agi.commands if c.startswith("STREAM FILE")] == [
        'STREAM FILE /var/lib/hotline/sounds/zh/survey-invalid ""',
        'STREAM FILE /var/lib/hotline/sounds/zh/survey-thanks ""',  # thanked even without an answer
    ]
    assert "survey for call 1795930000.7: no valid answer" in caplog.text


async def test_hangup_mid_script(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["HANGUP"]})
    await survey(agi)
    assert _ratings(survey) == []
    assert "survey for call 1795930000.7: the caller hung up" in caplog.text


async def test_missing_variables_end_cleanly(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    agi = ScriptedAgi({"GET VARIABLE CHANNEL(linkedid)": ["200 result=1 (1795930000.8)"]})
    await survey(agi)
    assert not [c for c in agi.commands if c.startswith("GET DATA")]
    assert "survey for call 1795930000.8: channel variables missing" in caplog.text


async def test_database_unreachable(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'never-migrated.db'}")  # no tables: every write fails
    survey = Survey(make_sessionmaker(engine))
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=1"]})
    await survey(agi)
    assert agi.commands[-2].startswith("STREAM FILE")  # still thanked: never silence
    assert "survey for call 1795930000.7: database error" in caplog.text


class BlockedSessions:
    """A database that does not answer (a lock held elsewhere, a server gone without a reset): every
    transaction waits until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def begin(self) -> Any:
        self.release.wait(10)
        raise OperationalError("INSERT", {}, Exception("database is locked"))


async def test_database_not_answering_still_thanks_in_time(caplog: pytest.LogCaptureFixture) -> None:
    blocked = BlockedSessions()
    survey = Survey(blocked, db_timeout=0.3)  # type: ignore[arg-type]
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=1"]})
    started = time.monotonic()
    try:
        await survey(agi)
    finally:
        blocked.release.set()
    assert time.monotonic() - started < 3
    assert agi.commands[-2:] == [
        'STREAM FILE /var/lib/hotline/sounds/zh/survey-thanks ""',
        "SET VARIABLE SURVEY_THANKED 1",
    ]
    assert "survey for call 1795930000.7: database did not answer within 0 s; answer satisfied not confirmed" in (
        caplog.text
    )


class SilentAgi(ScriptedAgi):
    """Asterisk that stops answering at GET DATA (a wedged channel thread)."""

    async def send_command(self, command: str) -> dict[str, Any]:
        if command.startswith("GET DATA"):
            self.commands.append(command)
            await asyncio.sleep(60)
        return await super().send_command(command)


async def test_asterisk_not_answering_ends_the_script(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    survey.command_timeout = 0.2
    agi = SilentAgi({k: list(v) for k, v in VARS.items()})
    await asyncio.wait_for(survey(agi), 5)
    assert _ratings(survey) == []
    assert "SET VARIABLE SURVEY_THANKED 1" not in agi.commands  # the dialplan thanks instead
    assert "survey for call 1795930000.7: Asterisk did not answer within 0 s" in caplog.text


async def test_connection_closed_by_asterisk(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": [""]})  # end of stream
    await survey(agi)
    assert agi.commands[-1].startswith("GET DATA")
    assert "survey for call 1795930000.7: connection to Asterisk lost" in caplog.text


async def test_prompt_that_cannot_be_played(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    """`result=-1` on a live channel: not a hang-up; the script stops without the thanks flag, so the
    dialplan thanks with its fallback prompt."""
    replies = {
        **{k: list(v) for k, v in VARS.items()},
        "GET DATA": ["200 result=-1"],
        "CHANNEL STATUS": ["200 result=6"],
    }
    agi = ScriptedAgi(replies)
    await survey(agi)
    assert agi.commands[-1] == "CHANNEL STATUS" and "SET VARIABLE SURVEY_THANKED 1" not in agi.commands
    assert "survey for call 1795930000.7: a prompt could not be played" in caplog.text


async def test_hangup_reported_as_failed_command(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    replies = {**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=-1"], "CHANNEL STATUS": ["HANGUP"]}
    await survey(ScriptedAgi(replies))
    assert "survey for call 1795930000.7: the caller hung up" in caplog.text


async def test_unexpected_error_is_logged_with_the_call(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(ScriptedAgi):
        async def send_command(self, command: str) -> dict[str, Any]:
            if command.startswith("GET DATA"):
                raise RuntimeError("boom")
            return await super().send_command(command)

    await survey(Broken({k: list(v) for k, v in VARS.items()}))
    assert "survey for call 1795930000.7: unexpected error" in caplog.text


async def test_missing_linkedid_is_logged_and_ends(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    agi = ScriptedAgi({"GET VARIABLE CHANNEL(linkedid)": ["200 result=0"]})
    await survey(agi)
    assert [c for c in agi.commands if not c.startswith("GET VARIABLE")] == []
    assert "survey for call ?: channel variables missing" in caplog.text


def _answer(linkedid: str, key: str = "3") -> ScriptedAgi:
    replies = {k: list(v) for k, v in VARS.items()}
    replies["GET VARIABLE CHANNEL(linkedid)"] = [f"200 result=1 ({linkedid})"]
    replies["GET DATA"] = [f"200 result={key}"]
    return ScriptedAgi(replies)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        (None, "no such call"),
        ({"hotline": None}, "not a hotline call"),
        ({"answered_at": None, "agent": None, "state": "abandoned", "end_reason": "abandoned"}, "not answered"),
        ({"end_reason": "caller_hangup"}, "not at its survey (ended, caller_hangup)"),
        ({"state": "connected", "end_reason": None, "ended_at": None}, "not at its survey (still connected)"),
        ({"ended_at": datetime.now(UTC) - timedelta(hours=2)}, "survey is over"),
    ],
)
async def test_only_a_call_at_its_survey_is_rated(
    survey: Survey, caplog: pytest.LogCaptureFixture, changes: dict[str, Any] | None, why: str
) -> None:
    """A request naming a call that does not exist, was not answered, was not ended by the agent, is still
    going on or ended long ago stores nothing, and says why; the citizen is still thanked."""
    if changes is not None:
        store_call(survey, "1795930000.9", **changes)
    agi = _answer("1795930000.9")
    await survey(agi)
    assert _ratings(survey) == []
    assert agi.commands[-1] == "SET VARIABLE SURVEY_THANKED 1"
    assert "survey for call 1795930000.9: answer unsatisfied not stored: " in caplog.text and why in caplog.text


async def test_a_rated_call_keeps_its_first_answer(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await survey(_answer("1795930000.7", "1"))
    await survey(_answer("1795930000.7", "3"))
    assert _ratings(survey) == [("1795930000.7", "satisfied")]
    assert "survey for call 1795930000.7: already answered" in caplog.text


async def test_a_key_before_the_hang_up_is_stored_waits_for_it(survey: Survey) -> None:
    """The tracker stores the agent's hang-up a moment after Asterisk reports it; an answer keyed at once
    waits for it (up to `settle`) instead of being refused."""
    store_call(survey, "1795930000.10", state="connected", end_reason=None, ended_at=None)
    survey.settle = 5.0

    def hang_up() -> None:
        time.sleep(0.3)
        with survey.sessions.begin() as s:
            row = s.scalars(select(CallRecord).where(CallRecord.linkedid == "1795930000.10")).one()
            row.state, row.end_reason, row.ended_at = "ended", "agent_hangup", datetime.now(UTC)

    worker = threading.Thread(target=hang_up)
    worker.start()
    await survey(_answer("1795930000.10", "2"))
    worker.join()
    assert ("1795930000.10", "basically_satisfied") in _ratings(survey)
