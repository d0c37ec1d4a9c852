"""Alarms on the supervisor's wallboard tab, driven with qtbot against a real LinkServer and database: the
recordings disk going full and a call whose recording failed arrive as `alarm` pushes and are shown at once,
newest first, in Chinese and in English; the QA view marks the failed recording and does not offer it.
Screenshots go to var/screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from ari_app.health import judge_disk
from ari_app.link import LinkServer
from cti_desktop.i18n import Tr
from cti_desktop.qa_view import QaCallTableModel
from cti_desktop.window import MainWindow
from recordings.service import RecordingFailure
from tests.support.desks import dispose, open_supervisor
from tests.support.waiting import until

GIB = 1 << 30


async def test_alarms_are_shown_in_chinese_and_english(
    server: LinkServer, qtbot: QtBot, tmp_path: Path, shot: Any
) -> None:
    window = await open_supervisor(server.url, qtbot, tmp_path)
    try:
        view = window.wallboard
        window.tabs.setCurrentIndex(MainWindow.WALLBOARD_TAB)
        assert not view.alarm_banner.isVisible()
        await server.supervisor.on_recordings_disk(judge_disk("/srv/hotline/recordings", 50 * GIB, 100 * GIB, GIB, 5))
        await server.supervisor.on_recordings_disk(judge_disk("/srv/hotline/recordings", 0, 100 * GIB, GIB, 5))
        await until(lambda: view.alarm_banner.isVisible() and "录音磁盘已满" in view.alarm_banner.text())
        reason = "1764.42.wav: 0 bytes; 1764.42-caller.wav: 0 bytes"
        server.supervisor.failure_window = 0.3
        await server.supervisor.on_recording_failed(
            RecordingFailure("1764.42", "12345", "/srv/hotline/recordings/1764.42.wav", reason)
        )
        await until(lambda: "通话 1764.42（12345）录音失败" in view.alarm_banner.text())
        for n, hotline in ((43, "12319"), (44, "12345")):  # the next failures come gathered into one alarm
            await server.supervisor.on_recording_failed(
                RecordingFailure(
                    f"1764.{n}", hotline, f"/srv/hotline/recordings/1764.{n}.wav", f"1764.{n}.wav: 0 bytes"
                )
            )
        await until(lambda: "最近 0.3 秒内又有 2 个通话录音失败（热线 12319, 12345）" in view.alarm_banner.text())
        text = view.alarm_banner.text()
        assert text.index("又有 2 个") < text.index("通话 1764.42") < text.index("录音磁盘已满"), text  # newest first
        assert "/srv/hotline/recordings 剩余 0 B" in text and "1764.42-caller.wav: 0 bytes" in text
        shot(window, "30_wallboard_alarms_zh")

        window.toggle_language()
        await until(lambda: "Recordings disk full: /srv/hotline/recordings has 0 B free" in view.alarm_banner.text())
        assert "The recording of call 1764.42 (12345) failed" in view.alarm_banner.text()
        assert "2 more recordings failed in the last 0.3 s (hotlines 12319, 12345)" in view.alarm_banner.text()
        shot(window, "31_wallboard_alarms_en")
        # the wallboard's next snapshot carries the same alarms: still shown once each
        before = view.alarm_banner.text()
        view.set_board(await server.supervisor.snapshot())
        assert view.alarm_banner.text() == before and len(view.alarms) == 3
    finally:
        await dispose(window)


def test_a_failed_recording_is_marked_in_the_qa_list() -> None:
    for lang, mark in (("zh", "✖ 录音失败"), ("en", "✖ recording failed")):
        model = QaCallTableModel(Tr(lang))
        model.set_rows(
            [
                {
                    "call_id": "1764.42",
                    "arrived_at": "2026-11-30T09:00:00+00:00",
                    "recording_available": False,
                    "recording_status": "failed",
                    "snippet": "",
                },
                {"call_id": "1764.43", "arrived_at": "2026-11-30T09:01:00+00:00", "recording_available": True},
            ]
        )
        said = QaCallTableModel.SAID
        assert model.index(0, said).data().startswith(mark)
        assert "✖" not in model.index(1, said).data()
