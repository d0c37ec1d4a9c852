"""The survey script against scripted AGI replies (the lines Asterisk sends, parsed by panoramisk): each
failure path ends cleanly, with the call id in the log, and stores at most one answer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from panoramisk.utils import parse_agi_result
from sqlalchemy import select

from agi_scripts.survey import Survey
from schema.db import make_engine, make_sessionmaker, upgrade
from schema.surveys import SurveyResponse


class ScriptedAgi:
    """Answers each AGI command with the next scripted reply line, recording the commands."""

    def __init__(self, replies: dict[str, list[str]]) -> None:
        self.replies = replies
        self.commands: list[str] = []
        self.headers: dict[str, str] = {}

    async def send_command(self, command: str) -> dict[str, Any]:
        self.commands.append(command)
        for prefix, lines in self.replies.items():
            if command.startswith(prefix) and lines:
                return parse_agi_result(lines.pop(0))  # type: ignore[no-any-return]
        return parse_agi_result("200 result=0")  # type: ignore[no-any-return]


VARS = {
    "GET VARIABLE CHANNEL(linkedid)": ["200 result=1 (1795930000.7)"],
    "GET VARIABLE HOTLINE_SOUNDS": ["200 result=1 (/var/lib/hotline/sounds)"],
    "GET VARIABLE PROMPT_LANG": ["200 result=1 (zh)"],
}


@pytest.fixture
def survey(tmp_path: Path) -> Survey:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    return Survey(make_sessionmaker(engine))


def _ratings(survey: Survey) -> list[tuple[str, str]]:
    with survey.sessions() as s:
        return [tuple(r) for r in s.execute(select(SurveyResponse.call_id, SurveyResponse.rating))]  # type: ignore[misc]


async def test_answer_stored_once_and_thanked(survey: Survey) -> None:
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=2"]})
    await survey(agi)
    assert _ratings(survey) == [("1795930000.7", "basically_satisfied")]
    assert agi.commands[-2] == "GET DATA /var/lib/hotline/sounds/zh/survey-question 6000 1"
    assert agi.commands[-1].startswith("STREAM FILE /var/lib/hotline/sounds/zh/survey-thanks")
    again = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=3"]})
    await survey(again)  # the same call cannot rate twice
    assert _ratings(survey) == [("1795930000.7", "basically_satisfied")]


async def test_bad_key_then_timeout(survey: Survey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    agi = ScriptedAgi({**{k: list(v) for k, v in VARS.items()}, "GET DATA": ["200 result=7", "200 result= (timeout)"]})
    await survey(agi)
    assert _ratings(survey) == []
    assert [c for c in agi.commands if c.startswith("STREAM FILE")] == [
        'STREAM FILE /var/lib/hotline/sounds/zh/survey-invalid ""'
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
    assert agi.commands[-1].startswith("STREAM FILE")  # still thanked: never silence
    assert "survey for call 1795930000.7: database error" in caplog.text
