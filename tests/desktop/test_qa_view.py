"""The QA view (录音质检) driven with qtbot against a real LinkServer and database: a QA reviewer finds a call
by a word said in it, the recording comes over the link and loads into QMediaPlayer (headless: Qt's FFmpeg
backend decodes and keeps time with no sound device), a click on a sentence seeks there, the sentence being
spoken is highlighted as it plays, and a score is saved and audited. Hotline units listen but do not score;
agents do not see the view. Screenshots go to var/screenshots/.

Runs on the standard asyncio loop like test_unit_view.py; QMediaPlayer's signals come from its own threads
through Qt's event queue, so the waits here let Qt process its events."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtMultimedia import QMediaPlayer
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ari_app.auth import hash_password
from ari_app.link import LinkServer
from cti_desktop.qa_view import CURRENT_BACKGROUND
from cti_desktop.window import MainWindow
from schema.cases import AuditEntry
from schema.qa import QaScore
from schema.users import Role, User
from tests.support.desks import Open, desks
from tests.support.qa_calls import WATER_SENTENCES, seed
from tests.support.qt import qt_until, type_text
from tests.support.users import FAST_HASH, PASSWORD

until = functools.partial(qt_until, within=5.0, interval=0.01)
"""Wait for a condition, letting Qt deliver its queued events (the media player's) meanwhile."""


@pytest.fixture
def calls(sessions: sessionmaker[Session], tmp_path: Path) -> dict[str, Any]:
    with sessions() as s, s.begin():
        s.add(
            User(
                login="hu12350",
                display_name="安监热线 张科长",
                role=Role.HOTLINE_UNIT,
                hotline="12350",
                password_hash=hash_password(PASSWORD, **FAST_HASH),
            )
        )
    return seed(sessions, tmp_path / "recordings")


@pytest.fixture
async def open_desk(server: LinkServer, qtbot: QtBot, tmp_path: Path, calls: Any) -> AsyncIterator[Open]:
    def unload(window: MainWindow) -> None:
        window.qa.player.unload()

    async with desks(server.url, qtbot, tmp_path, ready=lambda w: bool(w.agent), seed=7, before_close=unload) as open_:
        yield open_


def click_cell(view: Any, row: int, col: int, qtbot: QtBot) -> None:
    rect = view.visualRect(view.model().index(row, col))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


async def test_qa_finds_a_call_by_a_word_listens_seeks_and_scores(
    open_desk: Open, qtbot: QtBot, shot: Any, sessions: sessionmaker[Session]
) -> None:
    window = await open_desk("qa")
    qa = window.qa
    # the QA role starts on the QA view with the newest recorded calls listed
    assert window.tabs.currentIndex() == window.qa_tab and window.tabs.tabText(window.qa_tab) == "录音质检"
    await until(lambda: qa.model.rowCount() == 3)
    assert qa.save_score.isEnabled() is False or qa.call is None  # nothing picked yet

    qa.words.setFocus()
    type_text(qa.words, "停水")
    qtbot.mouseClick(qa.search_button, Qt.MouseButton.LeftButton)
    await until(lambda: [c["call_id"] for c in qa.model.calls] == ["qa-water"])
    assert qa.found.text() == "找到 1 通电话"

    click_cell(qa.table, 0, 0, qtbot)
    await until(lambda: qa.call is not None and qa.loaded == ("qa-water", "mix"))
    player = qa.player.player
    loaded = (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia)
    await until(lambda: player.mediaStatus() in loaded and abs(player.duration() - 6600) < 100, what="the 6.6 s mix")
    assert qa.transcript.rowCount() == len(WATER_SENTENCES)
    assert [qa.transcript.item(r, 1).text() for r in range(4)] == ["坐席", "市民", "坐席", "市民"]
    assert qa.transcript.item(1, 2).text() == "小区 停水 三天 了"
    assert "12345-20261129-0001" in qa.cases.text()

    # a click on the citizen's last sentence seeks to where it starts, and highlights it
    click_cell(qa.transcript, 3, 2, qtbot)
    await until(lambda: abs(player.position() - 5000) < 70 and qa.current_sentence == 3)
    assert qa.transcript.item(3, 2).background().color() == CURRENT_BACKGROUND
    assert qa.player.time_label.text().startswith("00:05")

    # playing from the citizen's first sentence: the highlight follows the player into the next sentence
    click_cell(qa.transcript, 1, 2, qtbot)
    await until(lambda: qa.current_sentence == 1)
    assert qa.transcript.item(3, 2).background().color() != CURRENT_BACKGROUND
    qtbot.mouseClick(qa.player.play_button, Qt.MouseButton.LeftButton)
    await until(lambda: player.playbackState() == QMediaPlayer.PlaybackState.PlayingState)
    assert qa.player.play_button.text() == "⏸ 暂停"
    await until(lambda: player.position() > 3700 and qa.current_sentence == 2, within=8)
    qtbot.mouseClick(qa.player.play_button, Qt.MouseButton.LeftButton)
    await until(lambda: player.playbackState() == QMediaPlayer.PlaybackState.PausedState)
    assert qa.player.slider.value() == player.position() or abs(qa.player.slider.value() - player.position()) < 100

    # the citizen's side alone, from the moment the reviewer was at; a click on a sentence seeks in it
    click_cell(qa.transcript, 3, 2, qtbot)
    await until(lambda: abs(player.position() - 5000) < 70)
    qa.player.side.setCurrentIndex(qa.player.side.findData("caller"))
    await until(lambda: qa.loaded == ("qa-water", "caller") and player.duration() > 0)
    await until(lambda: abs(player.position() - 5000) < 70 and qa.current_sentence == 3)
    click_cell(qa.transcript, 1, 2, qtbot)
    await until(lambda: abs(player.position() - 1600) < 70 and qa.current_sentence == 1)

    qa.score.setValue(92)
    qa.comment.setFocus()
    type_text(qa.comment, "开场白规范，地址核实完整")
    shot(window, "20_qa_view_zh")
    qtbot.mouseClick(qa.save_score, Qt.MouseButton.LeftButton)
    await until(lambda: "92" in qa.scores.toPlainText())
    assert qa.score_error.text() == "已保存评分 92" and "地址核实完整" in qa.scores.toPlainText()
    assert qa.model.index(0, qa.model.SCORE).data() == "92"
    with sessions() as s:
        assert [(r.login, r.score, r.comment) for r in s.scalars(select(QaScore))] == [
            ("qa", 92, "开场白规范，地址核实完整")
        ]
        actions = [(a.action, json.loads(a.detail or "{}").get("side")) for a in s.scalars(select(AuditEntry))]
    assert ("qa_playback", "mix") in actions and ("qa_playback", "caller") in actions
    assert ("qa_score", None) in actions

    window.toggle_language()
    assert window.tabs.tabText(window.qa_tab) == "Call QA"
    assert [qa.transcript.item(r, 1).text() for r in range(2)] == ["Agent", "Citizen"]
    assert qa.save_score.text() == "Save score" and qa.player.side.currentData() == "caller"
    assert qa.found.text() == "Calls found: 1" and qa.score_error.text() == "Score 92 saved"
    assert qa.current_sentence == 1 and qa.transcript.item(1, 2).background().color() == CURRENT_BACKGROUND
    shot(window, "21_qa_view_en")


async def test_hotline_unit_listens_to_its_own_calls_without_scoring_and_agents_have_no_qa_view(
    open_desk: Open, qtbot: QtBot
) -> None:
    hu = await open_desk("hu12350")
    assert hu.tabs.isTabVisible(hu.qa_tab)
    hu.tabs.setCurrentIndex(hu.qa_tab)
    qtbot.mouseClick(hu.qa.search_button, Qt.MouseButton.LeftButton)
    await until(lambda: [c["call_id"] for c in hu.qa.model.calls] == ["qa-safety"])
    click_cell(hu.qa.table, 0, 0, qtbot)
    await until(lambda: hu.qa.loaded == ("qa-safety", "mix") and hu.qa.player.player.duration() > 0)
    assert not hu.qa.save_score.isEnabled() and hu.qa.score_error.text() == "您的角色只能查看和收听，不能评分"

    agent = await open_desk("1001")
    assert not agent.tabs.isTabVisible(agent.qa_tab)


async def test_the_player_s_status_line_follows_a_language_switch(open_desk: Open, shot: Any) -> None:
    window = await open_desk("qa")
    qa = window.qa
    window.spawn(qa.open_call("qa-unrecorded"))
    await until(lambda: qa.call is not None and qa.player.status.text() == "录音不可用（未录音或已过保存期限）")
    window.toggle_language()
    assert qa.player.status.text() == "No recording (not recorded, or past retention)"
    shot(window, "22_qa_no_recording_en")
    window.toggle_language()
    assert qa.player.status.text() == "录音不可用（未录音或已过保存期限）"
