"""The three-way call's FastAGI script against scripted AGI replies (the lines Asterisk sends, parsed by
panoramisk): each role hears its announcement and enters the room with its own profile; the unit's person
hears the case's number; a leg never stays out of its call because of a prompt, and a hang-up ends the
script without joining."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agi_scripts.conference import Conference
from schema.cases import Case
from schema.db import make_engine, make_sessionmaker, upgrade
from tests.support.calls import ScriptedAgi

SOUNDS = "/var/lib/hotline/sounds"
ROOM = "hotline-1795930000.7"


@pytest.fixture
def script(tmp_path: Path) -> Conference:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        s.add(
            Case(number="12345-20261202-0007", channel="phone", hotline="12345", call_id="1795930000.7",
                 request="路灯不亮", urgency="normal", language="zh", handling="dispatch", status="received",
                 created_by_login="1001")
        )  # fmt: skip
    return Conference(sessions)


def agi(role: str, *, intro: bool = True, call: str = "", **more: list[str]) -> ScriptedAgi:
    values = {"CONF_ROOM": ROOM, "CONF_ROLE": role, "CONF_INTRO": "1" if intro else "", "CONF_CALL": call}
    values |= {"HOTLINE_SOUNDS": SOUNDS, "PROMPT_LANG": "zh"}
    replies = {f"GET VARIABLE {k}": [f"200 result=1 ({v})" if v else "200 result=0"] for k, v in values.items()}
    made = ScriptedAgi({**replies, **more})
    made.headers = {"agi_channel": "PJSIP/carrier-telecom-0000000a"}
    return made


def played(agi: ScriptedAgi) -> list[str]:
    return [c for c in agi.commands if c.startswith(("EXEC", "SET"))]


async def test_the_citizen_is_told_and_joins_as_the_citizen(
    script: Conference, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    a = agi("citizen")
    await script(a)
    assert played(a) == [
        f'EXEC Playback "{SOUNDS}/zh/conference-connecting"',
        "SET VARIABLE CONF_JOINED 1",
        f'EXEC ConfBridge "{ROOM},hotline_bridge,hotline_citizen"',
    ]
    assert f"three-way call {ROOM}: citizen PJSIP/carrier-telecom-0000000a joins (hotline_citizen)" in caplog.text
    assert f"three-way call {ROOM}: PJSIP/carrier-telecom-0000000a left" in caplog.text


async def test_the_unit_hears_who_calls_and_the_case_number(script: Conference) -> None:
    a = agi("unit", call="1795930000.7")
    await script(a)
    digits = "&".join(f"{SOUNDS}/zh/digit-{d}" for d in "12345202612020007")
    assert played(a) == [
        f'EXEC Playback "{SOUNDS}/zh/conference-unit-intro&{SOUNDS}/zh/conference-case-number&{digits}'
        f'&{SOUNDS}/zh/conference-joining"',
        "SET VARIABLE CONF_JOINED 1",
        f'EXEC ConfBridge "{ROOM},hotline_bridge,hotline_unit"',
    ]


async def test_a_call_without_a_case_announces_the_unit_without_a_number(script: Conference) -> None:
    a = agi("unit", call="1795930099.1")
    await script(a)
    assert played(a)[0] == f'EXEC Playback "{SOUNDS}/zh/conference-unit-intro&{SOUNDS}/zh/conference-joining"'


async def test_the_agent_and_a_transfer_leg_join_without_a_word(script: Conference) -> None:
    for role, intro, profile in (
        ("agent", True, "hotline_agent"),
        ("unit", False, "hotline_unit"),
        ("", False, "hotline_user"),
    ):
        a = agi(role, intro=intro)
        await script(a)
        assert played(a) == ["SET VARIABLE CONF_JOINED 1", f'EXEC ConfBridge "{ROOM},hotline_bridge,{profile}"']


async def test_a_prompt_that_fails_is_skipped_and_the_leg_still_joins(
    script: Conference, caplog: pytest.LogCaptureFixture
) -> None:
    a = agi("citizen", **{"EXEC Playback": ["200 result=-1"]})
    await script(a)
    assert played(a)[-2:] == ["SET VARIABLE CONF_JOINED 1", f'EXEC ConfBridge "{ROOM},hotline_bridge,hotline_citizen"']
    assert "a prompt could not be played" in caplog.text


async def test_a_citizen_hanging_up_during_the_prompt_never_joins(script: Conference) -> None:
    a = agi("citizen", **{"EXEC Playback": ["200 result=-1"], "CHANNEL STATUS": ["HANGUP"]})
    await script(a)
    assert "SET VARIABLE CONF_JOINED 1" not in a.commands and not any("ConfBridge" in c for c in a.commands)


async def test_no_room_no_join(script: Conference, caplog: pytest.LogCaptureFixture) -> None:
    a = agi("citizen", **{"GET VARIABLE CONF_ROOM": ["200 result=0"]})
    await script(a)
    assert not any(c.startswith(("EXEC", "SET")) for c in a.commands)
    assert "has no CONF_ROOM" in caplog.text
